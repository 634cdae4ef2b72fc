// Broken hosts, for real (Docker): break the test bed in one way → `check --json`
// shows the failing check and the rule → `--fix` repairs it → `check` passes.
// Each scenario restores the bed's daemon.json and reloads dockerd afterwards.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { BED, RUNSC_DAEMON_JSON, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";

const DOCKER = ["--only", "docker"];

/** containerd shims and runsc sandboxes/gofers working for this bed (by their --root/-address under it). */
function bedProcesses(dir: string): string[] {
  const out = spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .filter((l) => l.includes(dir) && /containerd-shim|runsc-sandbox|runsc-gofer/.test(l))
    .map((l) => l.trim());
}
const GOOD = `${JSON.stringify(RUNSC_DAEMON_JSON, null, 2)}\n`;

describe.skipIf(!BED.ok)("broken Docker hosts: diagnosed, then fixed by --fix", () => {
  let bed: DockerBed;
  let scratch: string;
  beforeAll(async () => {
    bed = await startDockerBed();
    scratch = mkdtempSync("/tmp/gvd-test-scn-");
  });
  afterAll(async () => {
    await bed?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });
  afterEach(async () => {
    writeFileSync(bed.configFile, GOOD);
    await bed.reload();
  });

  const check = (env = bed.env) => {
    const r = gvd(["check", "--json", ...DOCKER], { env });
    assertReportSchema(r.json);
    return r;
  };
  const fix = (extra: string[] = [], env = bed.env) => gvd(["--fix", "--json", ...DOCKER, ...extra], { env });
  const breakWith = async (text: string, reload = true) => {
    writeFileSync(bed.configFile, text);
    if (reload) await bed.reload();
  };

  test("runtime missing from daemon.json → docker.runtime fails (runtime-unknown) → --fix registers it, and then adds --network=none when the hello container hits the sandbox-network failure", async () => {
    await breakWith('{ "runtimes": {} }\n');
    const before = check();
    expect(finding(before.json, "docker.runtime")).toMatchObject({
      status: "fail",
      diagnosis: { rule: "runtime-unknown", fix: { id: "docker.register-runtime", automatic: true } },
    });
    const r = fix();
    expect(r.json).toBeDefined();
    // Round 1 registers runsc; round 2 reacts to what the hello container says on this kernel.
    expect(r.json.fix.applied.map((a: any) => `${a.round}:${a.id}:${a.status}`)).toEqual([
      "1:docker.register-runtime:applied",
      "2:docker.register-runtime:applied",
    ]);
    expect(r.json.fix.applied[1].command).toContain("--runtime-arg=--network=none");
    expect(r.code).toBe(0);
    expect(r.json.ok).toBe(true);
    const after = check();
    expect(after.code).toBe(0);
    expect(finding(after.json, "docker.signature").status).toBe("pass");
    expect(JSON.parse(readFileSync(bed.configFile, "utf8")).runtimes.runsc.runtimeArgs).toEqual(["--network=none"]);
  });

  test("daemon.json edited but dockerd not reloaded → 'not reloaded' → --fix reloads it", async () => {
    await breakWith('{ "runtimes": {} }\n');
    await breakWith(GOOD, false);
    const before = check();
    const rt = finding(before.json, "docker.runtime");
    expect(rt.status).toBe("fail");
    expect(rt.message).toContain("has not loaded it");
    const r = fix();
    expect(r.code).toBe(0);
    expect(finding(check().json, "docker.runtime").status).toBe("pass");
  });

  test("the runtime path points at a missing file → docker.runtime-path fails (runtime-path-missing) → --fix points it at the real runsc", async () => {
    await breakWith(
      JSON.stringify({ runtimes: { runsc: { path: "/opt/gone/runsc", runtimeArgs: ["--network=none"] } } }),
    );
    const before = check();
    expect(finding(before.json, "docker.runtime-path")).toMatchObject({
      status: "fail",
      diagnosis: { rule: "runtime-path-missing" },
    });
    expect(finding(before.json, "docker.runtime-path").diagnosis.cause).toContain("/opt/gone/runsc");
    const r = fix();
    expect(r.code).toBe(0);
    const after = check();
    expect(finding(after.json, "docker.runtime-path").status).toBe("pass");
    expect(finding(after.json, "docker.signature").status).toBe("pass");
    // The user's runtime args survive the path change.
    expect(JSON.parse(readFileSync(bed.configFile, "utf8")).runtimes.runsc.runtimeArgs).toEqual(["--network=none"]);
  });

  test("the sandbox-network failure seen on this machine → docker.hello fails (netns-root) → --fix adds --network=none", async () => {
    await breakWith(JSON.stringify({ runtimes: { runsc: { path: "/usr/bin/runsc" } } }, null, 2));
    const before = check();
    const hello = finding(before.json, "docker.hello");
    expect(hello).toMatchObject({ status: "fail", diagnosis: { rule: "netns-root" } });
    expect(hello.message).toContain("cannot run with network enabled in root network namespace");
    // The failed start left no containerd shim or runsc sandbox behind (Docker alone would).
    expect(bedProcesses(bed.dir)).toEqual([]);
    const r = fix();
    expect(r.code).toBe(0);
    expect(r.json.fix.applied).toHaveLength(1);
    expect(finding(check().json, "docker.network")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("--network=none"),
    });
  });

  for (const [name, text] of [
    ["empty", ""],
    ["whitespace-only", "  \n\t\n"],
    ["UTF-8 BOM", `\ufeff${GOOD}`],
  ] as const) {
    test(`daemon.json ${name} → docker.config fails with what dockerd would say → --fix repairs it (with a backup)`, async () => {
      await breakWith(text, false);
      const before = check();
      const cfg = finding(before.json, "docker.config");
      expect(cfg.status).toBe("fail");
      expect(cfg.diagnosis.fix).toMatchObject({ id: "docker.repair-config", automatic: true });
      expect(cfg.message).toContain(bed.configFile);
      const r = fix();
      expect(r.code).toBe(0);
      const after = check();
      expect(finding(after.json, "docker.config").status).toBe("pass");
      expect(finding(after.json, "docker.signature").status).toBe("pass");
      // The broken file is kept as a timestamped backup beside it.
      const backups = readdirSync(bed.dir).filter(
        (f) => f.startsWith("daemon.json.gvisor-doctor-") && f.endsWith(".bak"),
      );
      expect(backups.some((b) => readFileSync(join(bed.dir, b), "utf8") === text)).toBe(true);
    });
  }

  test("daemon.json with a trailing comma → docker.config fails at file:line:col; --fix leaves it alone and says it needs a manual fix", async () => {
    const bad =
      '{\n  "runtimes": {\n    "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"] },\n  }\n}\n';
    await breakWith(bad, false);
    const before = check();
    const cfg = finding(before.json, "docker.config");
    expect(cfg.status).toBe("fail");
    expect(cfg.message).toMatch(new RegExp(`${bed.configFile}:4:3`));
    expect(cfg.message).toContain("invalid character '}' looking for beginning of object key string");
    expect(cfg.diagnosis.fix.automatic).toBe(false);
    const r = gvd(["--fix", ...DOCKER], { env: bed.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("need a manual fix");
    expect(readFileSync(bed.configFile, "utf8")).toBe(bad);
  });

  test("runsc not world-executable and a parent dir 0700 → runsc.permissions fails → --fix makes them a+rx", async () => {
    const bin = join(scratch, "private", "bin");
    mkdirSync(bin, { recursive: true });
    copyFileSync("/usr/bin/runsc", join(bin, "runsc"));
    chmodSync(join(bin, "runsc"), 0o700);
    chmodSync(join(scratch, "private"), 0o700);
    await breakWith(
      JSON.stringify({ runtimes: { runsc: { path: join(bin, "runsc"), runtimeArgs: ["--network=none"] } } }),
    );
    const env = { ...bed.env, PATH: `${bin}:${process.env.PATH}` };
    const r0 = gvd(["check", "--json", "--only", "runsc.permissions,docker"], { env });
    const perm = finding(r0.json, "runsc.permissions");
    expect(perm).toMatchObject({
      status: "fail",
      diagnosis: { rule: "sandbox-permissions", fix: { id: "runsc.fix-permissions", automatic: true } },
    });
    expect(perm.message).toContain(`${join(scratch, "private")} (0700)`);
    expect(perm.message).toContain(`${join(bin, "runsc")} (0700)`);
    // The real consequence: the sandbox (running as nobody) cannot start.
    expect(finding(r0.json, "docker.hello").status).toBe("fail");
    const r = gvd(["--fix", "--json", "--only", "runsc.permissions,docker"], { env });
    expect(r.code).toBe(0);
    const after = gvd(["check", "--json", "--only", "runsc.permissions,docker"], { env });
    expect(finding(after.json, "runsc.permissions").status).toBe("pass");
    expect(finding(after.json, "docker.signature").status).toBe("pass");
  });

  test("$TMPDIR a symlink → host.tmp fails and the sandbox dies at start (tmp-symlink) → not automatic: --fix says so and exits 1", () => {
    // Only the symlink is wrong: a 0700 scratch dir would be a second fault runsc's boot log reports
    // first (nobody cannot open the link: tmp-unreachable), now that runsc.smoke decodes those logs.
    chmodSync(scratch, 0o755);
    const real = join(scratch, "real-tmp");
    mkdirSync(real, { recursive: true });
    const link = join(scratch, "link-tmp");
    symlinkSync(real, link);
    const env = { ...bed.env, TMPDIR: link };
    const r0 = gvd(["check", "--json", "--only", "host.tmp,runsc.smoke"], { env });
    expect(finding(r0.json, "host.tmp")).toMatchObject({
      status: "fail",
      diagnosis: { rule: "tmp-symlink", fix: { automatic: false } },
    });
    const smoke = finding(r0.json, "runsc.smoke");
    expect(smoke).toMatchObject({ status: "fail", diagnosis: { rule: "tmp-symlink" } });
    expect(smoke.message).toContain("cannot read client sync file: waiting for sandbox to start: EOF");
    const r = gvd(["--fix", "--only", "host.tmp,runsc.smoke"], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Nothing to apply automatically");
    expect(r.stdout).toContain(`export TMPDIR=${real}`);
  });

  test("--fix --dry-run shows the diff and changes nothing", async () => {
    await breakWith('{ "runtimes": {} }\n');
    const r = gvd(["--fix", "--dry-run", ...DOCKER], { env: bed.env });
    expect(r.stdout).toContain("Would apply 1 fix");
    expect(r.stdout).toMatch(/^\s*\+.*"runsc"/m);
    expect(readFileSync(bed.configFile, "utf8")).toBe('{ "runtimes": {} }\n');
    expect(r.code).toBe(1);
  });
});
