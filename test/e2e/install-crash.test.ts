// Installs that are killed, that race each other, or that run without root: the
// previous version stays live and working, and the next install cleans up.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../bed/bed.ts";
import { BINARY } from "../helpers/cli.ts";
import { ARCH, RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, leftovers, makePrefix, removePrefix, start, tree } from "../helpers/install-env.ts";

setDefaultTimeout(180_000);

let bucket: FakeBucket;
let prefix: string;
beforeAll(async () => {
  bucket = await startFakeBucket({ throttleBps: 2 << 20 });
}, 180_000);
afterAll(() => bucket?.close());
afterEach(() => removePrefix(prefix));

const env = cleanEnv();
const runscVersion = () => spawnSync(join(prefix, "bin/runsc"), ["--version"], { encoding: "utf8" });
const live = () => realpathSync(join(prefix, "lib/gvisor/current")).split("/").pop();
const args = (mirror: string, version: string) => [
  "install",
  "--mirror",
  mirror,
  "--prefix",
  prefix,
  "--version",
  version,
  "--no-configure",
];
const staging = () =>
  readdirSync(join(prefix, "lib/gvisor"))
    .filter((n) => n.startsWith(".staging-"))
    .map((n) => join(prefix, "lib/gvisor", n));

describe("killed or interrupted at any point, the previous version stays live and working", () => {
  beforeEach(async () => {
    prefix = makePrefix();
    expect((await gvd(args(bucket.mirror(), RELEASES.legacy), env)).code).toBe(0);
  });

  async function afterKill(expectLive: string) {
    expect(runscVersion().status).toBe(0);
    expect(live()).toBe(expectLive);
    // The next install takes over the dead one's lock, removes its leftovers and completes.
    const r = await gvd(args(bucket.mirror(), RELEASES.current), env);
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(live()).toBe(RELEASES.current);
    expect(leftovers(prefix)).toEqual([]);
    expect(runscVersion().status).toBe(0);
  }

  test("mid-download and mid-extract (a partly written runsc in staging)", async () => {
    const p = start(args(bucket.mirror("throttle"), RELEASES.current), env);
    await waitFor(
      "a partly unpacked runsc",
      () => staging().some((s) => existsSync(join(s, "runsc")) && statSync(join(s, "runsc")).size > 0),
      60_000,
    );
    process.kill(p.pid, "SIGKILL");
    expect(await p.exit).toBe("SIGKILL");
    expect(staging().length).toBe(1);
    await afterKill(RELEASES.legacy);
  });

  test.each(["SIGINT", "SIGTERM"] as const)(
    "%s mid-download: exit 130, the staging directory removed, nothing changed",
    async (sig) => {
      const before = tree(prefix);
      const p = start(args(bucket.mirror("throttle"), RELEASES.current), env);
      await waitFor(
        "a partly unpacked runsc",
        () => staging().some((s) => existsSync(join(s, "runsc")) && statSync(join(s, "runsc")).size > 0),
        60_000,
      );
      process.kill(p.pid, sig);
      expect(await p.exit).toBe(130);
      expect(p.stderr()).toContain(`interrupted by ${sig}; nothing was changed`);
      expect(tree(prefix)).toEqual(before);
      expect(live()).toBe(RELEASES.legacy);
    },
  );

  test.each(["verified", "before-switch"])("at %s (hash matched, new version complete, not yet live)", async (step) => {
    const p = start(args(bucket.mirror(), RELEASES.current), cleanEnv({ GVISOR_DOCTOR_TEST_PAUSE: step }));
    await p.waitFor(new RegExp(`test pause at ${step}`));
    process.kill(p.pid, "SIGKILL");
    expect(await p.exit).toBe("SIGKILL");
    await afterKill(RELEASES.legacy);
  });

  test("just after the switch: the new version is live, and rollback still knows the old one", async () => {
    const p = start(args(bucket.mirror(), RELEASES.current), cleanEnv({ GVISOR_DOCTOR_TEST_PAUSE: "after-switch" }));
    await p.waitFor(/test pause at after-switch/);
    process.kill(p.pid, "SIGKILL");
    expect(await p.exit).toBe("SIGKILL");
    expect(runscVersion().status).toBe(0);
    expect(live()).toBe(RELEASES.current);
    const r = await gvd(["rollback", "--prefix", prefix], env);
    expect(r.code).toBe(0);
    expect(live()).toBe(RELEASES.legacy);
    expect(runscVersion().status).toBe(0);
  });
});

describe("concurrent installs serialise on the lock", () => {
  beforeEach(() => {
    prefix = makePrefix();
  });

  test("two installs of the same version: one downloads and installs, the other finds it live", async () => {
    const tarball = `release/${RELEASES.current}/${ARCH}/gvisor.tar.zstd`;
    const n = bucket.requests.filter((q) => q.path === tarball).length;
    const a = start([...args(bucket.mirror("throttle"), RELEASES.current), "--json"], env);
    const b = start([...args(bucket.mirror("throttle"), RELEASES.current), "--json"], env);
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
    const actions = [JSON.parse(a.stdout()).action, JSON.parse(b.stdout()).action].sort();
    expect(actions).toEqual(["installed", "unchanged"]);
    expect(bucket.requests.filter((q) => q.path === tarball).length - n).toBe(1);
    expect(tree(prefix).filter((p) => /^lib\/gvisor\/[^/]+\/$/.test(p))).toEqual([`lib/gvisor/${RELEASES.current}/`]);
    expect(leftovers(prefix)).toEqual([]);
  });

  test("two installs of different versions both complete, one after the other", async () => {
    const a = start(args(bucket.mirror("throttle"), RELEASES.current), env);
    await waitFor("the first install's lock", () => existsSync(join(prefix, "lib/gvisor/.lock")), 30_000);
    const b = start(args(bucket.mirror(), RELEASES.legacy), env);
    await b.waitFor(/waiting for another gvisor-doctor \(pid \d+\)/);
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
    expect(live()).toBe(RELEASES.legacy);
    expect((await gvd(["rollback", "--prefix", prefix], env)).code).toBe(0);
    expect(live()).toBe(RELEASES.current);
  });
});

const asNobody = (argv: string[], extraEnv: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", BINARY, ...argv], {
      env: cleanEnv({ HOME: "/nonexistent", ...extraEnv }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    child.on("close", (code: number | null) => resolve({ code, stdout, stderr }));
  });

describe.skipIf(process.getuid?.() !== 0 || spawnSync("setpriv", ["--version"]).status !== 0)("without root", () => {
  beforeEach(() => {
    prefix = makePrefix();
  });

  test("an unwritable prefix: exit 1 with the exact sudo command, or --prefix ~/.local", async () => {
    const r = await asNobody(args(bucket.mirror(), RELEASES.current), { HTTPS_PROXY: "http://proxy.example:3128" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot install into ${prefix}: ${prefix} is not writable (you are not root)`);
    expect(r.stderr).toContain(
      `run it as root:\n  sudo --preserve-env=HTTPS_PROXY ${BINARY} install --mirror ${bucket.mirror()} --prefix ${prefix} --version ${RELEASES.current} --no-configure`,
    );
    expect(r.stderr).toContain(
      `or install for yourself only:\n  ${BINARY} install --mirror ${bucket.mirror()} --version ${RELEASES.current} --no-configure --prefix ~/.local`,
    );
    expect(tree(prefix)).toEqual([]);
  });

  test("a prefix of its own: installs, and runsc runs", async () => {
    const own = join(prefix, "home");
    mkdirSync(own, { mode: 0o755 });
    chownSync(own, 65534, 65534);
    const r = await asNobody([
      "install",
      "--mirror",
      bucket.mirror(),
      "--prefix",
      own,
      "--version",
      RELEASES.current,
      "--no-configure",
    ]);
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(statSync(join(own, "lib/gvisor", RELEASES.current, "runsc")).uid).toBe(65534);
    expect(spawnSync(join(own, "bin/runsc"), ["--version"]).status).toBe(0);
  });
});
