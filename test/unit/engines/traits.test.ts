// Each engine's traits (platform/engines/<engine>/adapter.ts), and what the checks, fixes and
// reports outside the engine folders make of them: the texts below are the ones users saw
// when each caller still asked `engine === "crio"` itself.
import { describe, expect, test } from "bun:test";
import { daemonLogHint } from "../../../checks/probe.ts";
import { registerFix, type Engine } from "../../../checks/rules.ts";
import { fixPhase } from "../../../checks/fix-actions.ts";
import { userOwnedFix } from "../../../checks/runner.ts";
import { ENGINES } from "../../../platform/engines/index.ts";
import { ENGINE_NAMES } from "../../../platform/engines/types.ts";
import type { HostFacts } from "../../../platform/facts/host-facts.ts";

const facts = { runsc: [], systemd: true } as unknown as HostFacts;

describe("engine traits", () => {
  test("every engine in ENGINE_NAMES has an adapter under its own name", () => {
    expect(Object.keys(ENGINES)).toEqual([...ENGINE_NAMES]);
    for (const n of ENGINE_NAMES) expect(ENGINES[n].name).toBe(n);
  });

  test("titles, live reload, drop-in directories", () => {
    const table = ENGINE_NAMES.map((n) => [n, ENGINES[n].title, ENGINES[n].liveReload, ENGINES[n].configDirs]);
    expect(table).toEqual([
      ["docker", "Docker", true, false],
      ["containerd", "containerd", false, false],
      ["podman", "Podman", true, true],
      ["crio", "CRI-O", false, true],
    ]);
  });

  test("an engine without live reload gets a fix that restarts it, and says so", () => {
    const fix = (engine: Engine) => registerFix({ facts, engine, runtime: "runsc" });
    expect(fix("crio").confirm).toBe("restarts CRI-O");
    expect(fix("crio").argv).toEqual(["configure", "crio", "--restart"]);
    expect(fix("containerd").confirm).toBe("restarts containerd");
    expect(fix("containerd").summary).toBe("Register runsc with containerd and restart it");
    for (const e of ["docker", "podman", "runsc"] as const) {
      expect(fix(e).confirm).toBeUndefined();
      expect(fix(e).action).not.toHaveProperty("restart");
    }
    expect(fix("docker").summary).toBe("Register runsc with docker and reload it");
  });

  test("runtime flags: Podman's fixes spell them bare, the others as runsc's argv", () => {
    expect(ENGINES.podman.runtimeFlag("network=none")).toBe("network=none");
    for (const e of ["docker", "containerd", "crio"] as const)
      expect(ENGINES[e].runtimeFlag("network=none")).toBe("--network=none");
  });

  test("where a container that did not start is explained", () => {
    const hint = (engine: Engine, systemd = true) => daemonLogHint({ engine, facts: { ...facts, systemd } });
    expect(hint("docker")).toBe("the daemon's log says why: journalctl -u docker.service -n 50");
    expect(hint("containerd")).toBe("the daemon's log says why: journalctl -u containerd.service -n 50");
    expect(hint("crio")).toBe("the daemon's log says why: journalctl -u crio.service -n 50");
    expect(hint("crio", false)).toBe("the daemon's log (its stderr) says why");
    expect(hint("podman")).toBe("rerun with podman --log-level=debug to see why");
    expect(hint("runsc")).toBe("rerun with runsc --debug --debug-log=/tmp/runsc/ to see why");
  });

  test("--fix registers with the engines in registry order, after install and chmod, before the cluster", () => {
    const phases = ENGINE_NAMES.map((e) => fixPhase({ kind: "configure", engines: [e] }));
    expect(phases).toEqual([2, 3, 4, 5]);
    expect(fixPhase({ kind: "install" })).toBe(0);
    expect(fixPhase({ kind: "kubectl-apply", manifest: "" })).toBe(6);
    expect(fixPhase({ kind: "configure", engines: ["all"] })).toBe(7);
  });

  test("who registers runsc: the user for Podman and a rootless dockerd, root for the daemons (sudo in the fix)", () => {
    const rootful = { docker: { info: { rootless: false } } } as unknown as HostFacts;
    const rootless = { docker: { info: { rootless: true } } } as unknown as HostFacts;
    expect(ENGINE_NAMES.map((n) => ENGINES[n].ownedByUser(rootful))).toEqual([false, false, true, false]);
    expect(ENGINE_NAMES.map((n) => ENGINES[n].ownedByUser(rootless))).toEqual([true, false, true, false]);
    const user = { ...rootless, user: { uid: 1000, root: false }, hostRoot: null } as unknown as HostFacts;
    const configure = (engine: Engine) => registerFix({ facts: user, engine, runtime: "runsc" });
    expect(userOwnedFix(configure("docker"), user)).toBe(true);
    expect(userOwnedFix(configure("containerd"), user)).toBe(false);
    expect(userOwnedFix(configure("podman"), { ...user, user: { uid: 0, root: true } })).toBe(false);
  });

  test("a runtime the running engine loaded: only dockerd reports one (its info lists --add-runtime flags too)", () => {
    const daemons = {
      docker: { info: { runtimes: { runsc: { path: "/opt/runsc", runtimeArgs: ["--network=none"] }, runc: {} } } },
    } as unknown as HostFacts;
    expect(ENGINES.docker.loadedRuntime("runsc", daemons)).toEqual({ path: "/opt/runsc", args: ["--network=none"] });
    expect(ENGINES.docker.loadedRuntime("runc", daemons)).toEqual({ path: null, args: [] });
    expect(ENGINES.docker.loadedRuntime("kata", daemons)).toBeNull();
    expect(ENGINES.docker.loadedRuntime("runsc", {})).toBeNull();
    for (const n of ["containerd", "podman", "crio"] as const)
      expect(ENGINES[n].loadedRuntime("runsc", daemons)).toBeNull();
  });
});
