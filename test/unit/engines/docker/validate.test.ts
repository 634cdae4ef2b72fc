// configure validates daemon.json the way dockerd does before writing it: Docker >= 23
// (trixie's dockerd 26, run from the host-matrix tree) with `dockerd --validate`; this host's
// dockerd 20.10 has no --validate, and the plan says validation was syntax-only.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerAdapter, type DockerDetection } from "../../../../platform/engines/docker/adapter.ts";
import type { EngineContext, RuntimeRequest } from "../../../../platform/engines/types.ts";
import { validateDaemonJson } from "../../../../platform/engines/docker/validate.ts";
import { which } from "../../../../platform/os/which.ts";
import { treePath } from "../../../hosts/trees.ts";

const NEW_DOCKERD = join(treePath("trixie"), "usr/sbin/dockerd"); // 26.1.5
const OLD_DOCKERD = which("dockerd", "/usr/sbin:/usr/bin"); // bookworm: 20.10
const BAD = '{ "insecure-registries": "host:5000" }\n'; // valid JSON; dockerd wants a list
const dir = mkdtempSync(join(tmpdir(), "gvd-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const req: RuntimeRequest = {
  name: "runsc",
  runscPath: "/usr/bin/runsc",
  runtimeArgs: ["--network=none"],
  makeDefault: false,
  remove: false,
};
const ctx = (force = false) =>
  ({ env: process.env, daemons: null, wrapperDir: dir, force, now: () => new Date(), log: () => {} }) as EngineContext;
function det(binary: string, text: string): DockerDetection {
  const configPath = join(dir, `daemon-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(configPath, text);
  return {
    engine: "docker",
    installed: true,
    binary,
    running: false,
    pid: null,
    version: null,
    configPath,
    configSource: "--config",
    managedBy: null,
    systemdUnit: null,
    notes: [],
    host: "unix:///nonexistent",
    cli: null,
    daemonArgv: null,
    daemonConfigPath: null,
  } as DockerDetection;
}

describe.skipIf(!existsSync(NEW_DOCKERD))("dockerd 26 --validate", () => {
  test("a string where dockerd wants a list is valid JSON, and dockerd refuses it", async () => {
    const v = await validateDaemonJson(NEW_DOCKERD, BAD, "/etc/docker/daemon.json");
    expect(v.ok).toBe(false);
    expect(v.message).toContain("unable to configure the Docker daemon with file /etc/docker/daemon.json");
    expect(v.message).toContain("insecure-registries of type []string");
  });

  test("configure refuses to patch such a file (and says the current one is refused too); --force writes", async () => {
    const d = det(NEW_DOCKERD, BAD);
    const err = await dockerAdapter.plan(d, req, ctx()).then(
      () => null,
      (e) => e as Error,
    );
    const refused = `dockerd --validate refuses the planned ${d.configPath} (dockerd refuses the current file`;
    expect(err?.message).toContain(refused);
    expect(err?.message).toContain("insecure-registries");
    const forced = await dockerAdapter.plan(d, req, ctx(true));
    expect(forced.changes.length).toBe(1);
  });

  test("a good file: the plan notes dockerd's own verdict", async () => {
    const plan = await dockerAdapter.plan(det(NEW_DOCKERD, "{}\n"), req, ctx());
    expect(plan.notes).toContain("dockerd --validate: configuration OK");
  });
});

describe.skipIf(!OLD_DOCKERD)("dockerd 20.10 has no --validate", () => {
  test("the plan says validation was syntax-only", async () => {
    const plan = await dockerAdapter.plan(det(OLD_DOCKERD!, BAD), req, ctx());
    const said = (n: string) => n.includes("has no --validate (Docker < 23): validation was syntax-only");
    expect(plan.notes.some(said)).toBe(true);
  });
});
