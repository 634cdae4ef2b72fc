// install, rollback and uninstall as root against a local user who attacks them: directories on the way
// to the install that the user can write, and a state.json edited to point outside the prefix. The
// attacker's steps run as nobody (setpriv); the tool must refuse and leave everything outside alone.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, makePrefix, removePrefix } from "../helpers/install-env.ts";

setDefaultTimeout(180_000);

const NOBODY = 65534;
const canAttack = process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status === 0;

let bucket: FakeBucket;
let prefix: string;
let outside: string;
beforeAll(async () => {
  bucket = await startFakeBucket({ throttleBps: 2 << 20 });
}, 180_000);
afterAll(() => bucket?.close());
beforeEach(() => {
  prefix = makePrefix();
  outside = mkdtempSync("/tmp/gvd-test-outside-");
});
afterEach(() => {
  removePrefix(prefix);
  rmSync(outside, { recursive: true, force: true });
});

const env = cleanEnv();
const install = (version: string, mirror = bucket.mirror(), extra: Record<string, string> = {}) =>
  gvd(["install", "--mirror", mirror, "--prefix", prefix, "--version", version, "--no-configure"], {
    ...env,
    ...extra,
  });

/** A shell loop run as nobody until killed. */
function asNobodyLoop(script: string): ChildProcess {
  const argv = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "sh", "-c", script];
  return spawn("setpriv", argv, { stdio: "ignore" });
}

describe.skipIf(!canAttack)("a directory of the prefix writable by another user", () => {
  test("lib/gvisor owned by nobody: install refuses naming it and the fix; a 0600 secret elsewhere stays 0600", async () => {
    const lib = join(prefix, "lib/gvisor");
    mkdirSync(lib, { recursive: true, mode: 0o755 });
    chownSync(lib, NOBODY, NOBODY);
    const secrets = join(outside, "secrets");
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, "key"), "secret\n", { mode: 0o600 });
    // The attacker swaps every staging directory root makes for a symlink to the secrets.
    const attacker = asNobodyLoop(
      `i=0; while :; do for d in ${lib}/.staging-*; do case "$d" in *'*'*|*.moved*) continue;; esac; ` +
        `[ -L "$d" ] && continue; i=$((i+1)); mv "$d" "$d.moved$i" 2>/dev/null && ln -s ${secrets} "$d"; done; done`,
    );
    let r;
    try {
      r = await install(RELEASES.current, bucket.mirror("throttle"));
    } finally {
      attacker.kill("SIGKILL");
    }
    expect(statSync(join(secrets, "key")).mode & 0o777).toBe(0o600);
    expect(statSync(secrets).mode & 0o777).toBe(0o700);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to install into ${prefix} as root: ${lib} is writable by a user other than`);
    expect(r.stderr).toContain(`chown root: ${lib} && chmod go-w ${lib}`);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(false);
  });

  test("a group-writable prefix (no sticky bit) is refused too; a sticky, world-writable /tmp above it is fine", async () => {
    chmodSync(prefix, 0o775);
    const r = await install(RELEASES.legacy);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${prefix} is writable by a user other than root`);
    chmodSync(prefix, 0o755);
    expect((await install(RELEASES.legacy)).code).toBe(0);
  });
});

describe("state.json is checked before any of it is used as a path", () => {
  const state = () => join(prefix, "lib/gvisor/state.json");
  const edit = (f: (s: any) => void) => {
    const s = JSON.parse(readFileSync(state(), "utf8"));
    f(s);
    writeFileSync(state(), JSON.stringify(s));
  };
  /** A directory outside the prefix that a `..` version entry names. */
  const victim = () => {
    const v = join(outside, "victim");
    mkdirSync(v);
    writeFileSync(join(v, "data"), "keep me\n");
    return `${"../".repeat(10)}${outside.slice(1)}/victim`;
  };

  test("a version named with .. : install and uninstall stop naming the file and the entry, and delete nothing", async () => {
    expect((await install(RELEASES.legacy)).code).toBe(0);
    const name = victim();
    edit((s) => (s.versions[name] = { ...s.versions[RELEASES.legacy], dir: name }));
    const before = readFileSync(state(), "utf8");
    for (const r of [await install(RELEASES.current), await gvd(["uninstall", "--prefix", prefix], env)]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${state()}: version ${JSON.stringify(name)} is not a version directory name`);
      expect(readFileSync(join(outside, "victim/data"), "utf8")).toBe("keep me\n");
    }
    expect(readFileSync(state(), "utf8")).toBe(before);
    expect(spawnSync(join(prefix, "bin/runsc"), ["--version"]).status).toBe(0);
  });

  test("a history entry with .. is refused by rollback", async () => {
    expect((await install(RELEASES.legacy)).code).toBe(0);
    edit((s) => s.history.unshift("../.."));
    const r = await gvd(["rollback", "--prefix", prefix], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${state()}: history entry "../.." is not a version directory name`);
  });

  test("a hostile replaced entry: uninstall moves no file into place and stops naming the entry", async () => {
    expect((await install(RELEASES.legacy)).code).toBe(0);
    const planted = join(outside, "planted");
    writeFileSync(planted, "#!/bin/sh\necho owned\n", { mode: 0o755 });
    const target = join(outside, "cron-job");
    const entry = { path: target, backup: planted };
    edit((s) => s.replaced.push(entry));
    const r = await gvd(["uninstall", "--prefix", prefix], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${state()}: replaced entry ${JSON.stringify(entry)} has a path that is not one of`);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(planted)).toBe(true);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(true);
  });

  test("a replaced entry whose backup lies outside bin/ is refused even for a real link path", async () => {
    expect((await install(RELEASES.legacy)).code).toBe(0);
    rmSync(join(prefix, "bin/runsc"));
    const planted = join(outside, "planted");
    writeFileSync(planted, "#!/bin/sh\necho owned\n", { mode: 0o755 });
    edit((s) => s.replaced.push({ path: "bin/runsc", backup: planted }));
    const r = await gvd(["uninstall", "--prefix", prefix], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`has a backup that is not ${join(prefix, "bin/runsc")}.gvisor-doctor-<time>.bak`);
    expect(existsSync(planted)).toBe(true);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(false);
  });

  test.skipIf(!canAttack)("as root, a state.json owned by another user is not trusted", async () => {
    expect((await install(RELEASES.legacy)).code).toBe(0);
    chownSync(state(), NOBODY, NOBODY);
    const r = await gvd(["uninstall", "--prefix", prefix], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not owned by root and writable by root only");
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(true);
  });
});

describe("the install lock is held, not named", () => {
  test("a .lock naming a live process that holds nothing (pid reuse) does not make install wait", async () => {
    mkdirSync(join(prefix, "lib/gvisor"), { recursive: true });
    writeFileSync(join(prefix, "lib/gvisor/.lock"), "1\n"); // before: waited, then "stop process 1"
    const t0 = Date.now();
    const r = await install(RELEASES.legacy, bucket.mirror(), { GVISOR_DOCTOR_LOCK_WAIT: "3" });
    expect(r.stderr).not.toContain("waiting for another gvisor-doctor");
    expect(r.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(existsSync(join(prefix, "lib/gvisor/.lock"))).toBe(false);
  });
});
