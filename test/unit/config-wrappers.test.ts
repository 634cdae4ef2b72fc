// A wrapper belongs to the config it was written for: configure on a second config does not
// take over (and rewrite) a wrapper another config still runs, and --remove on one config
// never deletes a wrapper another live config uses.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configureEngines } from "../../src/commands/configure.ts";
import { quietIO } from "../helpers/configure.ts";
import { renderWrapper, wrapperOwner } from "../../platform/engines/edit/runtime-args.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-wrappers-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const podman = (config: string, extra: { runtimeArgs?: string[]; remove?: boolean }) =>
  configureEngines(
    { engines: ["podman"], configPath: config, runscPath: "/bin/sh", reload: false, verify: false, ...extra },
    quietIO(dir),
  );
const binaryIn = (config: string) => /runsc = \["([^"]+)"\]/.exec(readFileSync(config, "utf8"))?.[1];

describe("wrappers shared between configs", () => {
  test("a second config gets its own wrapper; --remove on either leaves the other's wrapper in place", async () => {
    const [a, b] = [join(dir, "a.conf"), join(dir, "b.conf")];
    writeFileSync(a, "[engine]\n");
    writeFileSync(b, "[engine]\n");
    await podman(a, { runtimeArgs: ["--network=none"] });
    const wa = binaryIn(a)!;
    const aWrapper = readFileSync(wa, "utf8");
    expect(wrapperOwner(aWrapper)).toBe(a);
    const rb = await podman(b, { runtimeArgs: ["--debug"] });
    expect(rb.engines[0].status).toBe("changed");
    const wb = binaryIn(b)!;
    expect(wb).not.toBe(wa);
    expect(readFileSync(wa, "utf8")).toBe(aWrapper); // not adopted, not rewritten with b's flags
    expect(readFileSync(wb, "utf8")).toContain("--debug");
    await podman(b, { remove: true });
    expect(existsSync(wb)).toBe(false);
    expect(readFileSync(wa, "utf8")).toBe(aWrapper);
    // a still owns its wrapper: its --remove deletes it.
    await podman(a, { remove: true });
    expect(existsSync(wa)).toBe(false);
  });

  test("a config that names another config's live wrapper (an older run shared it) does not delete it on --remove", async () => {
    const [a, b] = [join(dir, "a.conf"), join(dir, "b.conf")];
    writeFileSync(a, "[engine]\n");
    await podman(a, { runtimeArgs: ["--network=none"] });
    const wa = binaryIn(a)!;
    writeFileSync(b, readFileSync(a, "utf8"));
    const r = await podman(b, { remove: true });
    expect(r.engines[0].status).toBe("changed");
    expect(binaryIn(b)).toBeUndefined();
    expect(existsSync(wa)).toBe(true);
  });

  test("a wrapper from before wrappers named their config is kept for the config that names it, not taken by another", async () => {
    const [a, b] = [join(dir, "a.conf"), join(dir, "b.conf")];
    const w = join(dir, "wrappers", "podman-runsc");
    writeFileSync(a, `[engine.runtimes]\nrunsc = ["${w}"]\n`);
    const legacy = renderWrapper("podman", "runsc", "/bin/sh", ["--network=none"], "old");
    mkdirSync(join(dir, "wrappers"));
    writeFileSync(w, legacy, { mode: 0o755 });
    writeFileSync(b, "[engine]\n");
    await podman(b, { runtimeArgs: ["--debug"] });
    expect(binaryIn(b)).not.toBe(w);
    expect(readFileSync(w, "utf8")).toBe(legacy);
    // The config that names it still owns it: its --remove deletes it.
    await podman(a, { remove: true });
    expect(existsSync(w)).toBe(false);
  });
  test("a config naming a wrapper that was deleted is pointed at runsc again (what --fix runs for runtime-path-missing)", async () => {
    const a = join(dir, "a.conf");
    writeFileSync(a, `[engine.runtimes]\nrunsc = ["${join(dir, "wrappers", "podman-runsc")}"]\n`);
    const r = await podman(a, {});
    expect(r.engines[0]).toMatchObject({ status: "changed" });
    expect(binaryIn(a)).toBe("/bin/sh");
  });
});

describe("one rule for 'is this wrapper still used' (configure --remove and uninstall)", () => {
  test("users: the config the wrapper names and the known ones that name it outside comments; unreadable counts", async () => {
    const { wrapperUsers } = await import("../../platform/engines/edit/runtime-args.ts");
    const w = join(dir, "podman-runsc");
    const owner = join(dir, "owner.conf");
    const text = renderWrapper("podman", "runsc", "/bin/sh", ["--debug"], "test", owner);
    const files: Record<string, string> = {
      [owner]: `runsc = ["${w}"]\n`,
      [join(dir, "other.conf")]: `# runsc = ["${w}"]\n`,
      [join(dir, "k.conf")]: w,
    };
    const read = (p: string) => {
      if (p === join(dir, "odd.conf")) throw new Error("not a regular file");
      return files[p] ?? null;
    };
    expect(wrapperUsers(w, text, read)).toEqual([owner]);
    expect(wrapperUsers(w, text, read, [join(dir, "other.conf"), join(dir, "k.conf"), join(dir, "gone.conf")])).toEqual(
      [owner, join(dir, "k.conf")],
    );
    expect(wrapperUsers(w, text, read, [join(dir, "odd.conf")])).toEqual([owner, join(dir, "odd.conf")]);
    files[owner] = "";
    expect(wrapperUsers(w, text, read)).toEqual([]);
    expect(wrapperUsers(w, '#!/bin/sh\nexec runsc "$@"\n', read, [join(dir, "k.conf")])).toEqual([]); // not ours
  });
});

test("a wrapper configure reuses unchanged must still be there when the config is written (an uninstall may take it)", async () => {
  const { planWrapper } = await import("../../platform/engines/edit/runtime-args.ts");
  const { applyChanges, StalePlanError } = await import("../../platform/engines/edit/apply.ts");
  const { secureLockDir } = await import("../../platform/os/flock.ts");
  const [conf, wdir] = [join(dir, "c.conf"), join(dir, "w")];
  mkdirSync(wdir);
  const w = join(wdir, "podman-runsc");
  writeFileSync(w, renderWrapper("podman", "runsc", "/bin/sh", ["--debug"], "podman 4.3 has no runtimes_flags", conf));
  writeFileSync(conf, "");
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : null);
  const why = "podman 4.3 has no runtimes_flags";
  const p = planWrapper({
    engine: "podman",
    name: "runsc",
    runsc: "/bin/sh",
    args: ["--debug"],
    wrapperDir: wdir,
    oldBinary: null,
    read,
    why,
    config: conf,
  });
  expect(p.changes).toEqual([]);
  expect(p.relies).toEqual([{ path: w, text: readFileSync(w, "utf8") }]);
  rmSync(w); // uninstall took it back between configure's plan and its write
  const locks = secureLockDir(join(dir, "locks"));
  const change = { path: conf, before: "", after: `runsc = ["${w}"]\n`, action: "modify" as const, reason: "" };
  const opts = {
    now: new Date(),
    relies: p.relies,
    lockPath: join(locks, "c.lock"),
    wrappersLockPath: join(locks, "w.lock"),
  };
  expect(await applyChanges([change], opts).catch((e) => e)).toBeInstanceOf(StalePlanError);
  expect(readFileSync(conf, "utf8")).toBe(""); // configure plans again, and then writes the wrapper first
});
