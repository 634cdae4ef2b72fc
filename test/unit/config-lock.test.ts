// configure's lock: a flock(2) in a directory only root (or the user) can write, verified
// with lstat; a dead holder never blocks (the kernel drops its lock, no pid file to trust);
// a live one makes the run fail plainly, naming it; a planted file is never followed or read.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { applyChanges } from "../../platform/engines/edit/apply.ts";
import { LockDirError, secureLockDir, withLock } from "../../platform/os/flock.ts";
import { EngineConfigError } from "../../platform/engines/types.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-lock-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const root = process.getuid?.() === 0;

/** A child process that holds the flock on `lock` until killed. */
async function holder(lock: string) {
  const script = join(dir, "hold.ts");
  writeFileSync(
    script,
    `
    import { withLock } from ${JSON.stringify(join(import.meta.dirname, "../../platform/os/flock.ts"))};
    await withLock(${JSON.stringify(lock)}, async () => {
      process.stdout.write("held\\n");
      await new Promise(() => {});
    });
  `,
  );
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) =>
    child.stdout!.on("data", (b: Buffer) => b.toString().includes("held") && resolve()),
  );
  return child;
}

describe("configure's lock", () => {
  test("the lock directory is created 0700 and must be ours, a real directory, writable by no one else", () => {
    const d = join(dir, "locks");
    expect(secureLockDir(d)).toBe(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    const link = join(dir, "link");
    symlinkSync(d, link);
    expect(() => secureLockDir(link)).toThrow(/is a symlink/);
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o1777);
    expect(() => secureLockDir(open)).toThrow(/others may write to it \(mode 1777\)/);
    writeFileSync(join(dir, "file"), "");
    expect(() => secureLockDir(join(dir, "file"))).toThrow(LockDirError);
  });
  test.skipIf(!root)(
    "a lock directory another user made is refused (it could block or redirect root's configure)",
    () => {
      const theirs = join(dir, "theirs");
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      expect(() => secureLockDir(theirs)).toThrow(/belongs to uid 65534/);
    },
  );

  test("serialises, and a holder killed with SIGKILL leaves nothing that blocks the next run", async () => {
    const lock = join(secureLockDir(join(dir, "locks")), "x.lock");
    const child = await holder(lock);
    const t0 = Date.now();
    const waited: (number | null)[] = [];
    const next = withLock(
      lock,
      () => "ran",
      10_000,
      (h) => waited.push(h),
    );
    await Bun.sleep(300);
    child.kill("SIGKILL");
    expect(await next).toBe("ran");
    expect(waited).toEqual([child.pid!]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(existsSync(lock)).toBe(false);
  });

  test("a live holder: the run fails with a plain message naming it (EngineConfigError 'busy', exit 1), nothing written", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "{}\n");
    const lock = join(secureLockDir(join(dir, "locks")), "y.lock");
    const child = await holder(lock);
    try {
      const err = await applyChanges([{ path: f, before: "{}\n", after: '{"a": 1}\n', action: "modify", reason: "" }], {
        now: new Date(),
        lockPath: lock,
        lockWaitMs: 200,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(EngineConfigError);
      const message = `another gvisor-doctor (pid ${child.pid}) is still changing ${f}: nothing was changed`;
      expect(err).toMatchObject({ code: "busy", message });
      expect(readFileSync(f, "utf8")).toBe("{}\n");
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("a lock path planted as a symlink (to /dev/zero) or a FIFO is not followed nor read", async () => {
    const locks = secureLockDir(join(dir, "locks"));
    symlinkSync("/dev/zero", join(locks, "z.lock"));
    await expect(withLock(join(locks, "z.lock"), () => 1, 100)).rejects.toMatchObject({ code: "ELOOP" });
    spawnSync("mkfifo", [join(locks, "f.lock")]);
    await expect(withLock(join(locks, "f.lock"), () => 1, 100)).rejects.toBeInstanceOf(LockDirError);
  });
});

describe("one lock for install, uninstall and configure", () => {
  test("the flock(1) fallback (as under Deno) and libc's flock are the same lock: each waits for the other", async () => {
    const { useLockerForTests } = await import("../../platform/os/flock.ts");
    const lock = join(secureLockDir(join(dir, "locks")), "both.lock");
    const child = await holder(lock); // libc flock through bun:ffi
    try {
      useLockerForTests("binary");
      const err = await withLock(lock, () => 1, 200).catch((e) => e);
      const message = `another gvisor-doctor (pid ${child.pid}) holds ${lock}`;
      expect(err).toMatchObject({ holder: child.pid, message });
    } finally {
      child.kill("SIGKILL");
      useLockerForTests("default");
    }
  });
});

test("configure's write also takes the wrappers lock uninstall decides under: held, the run fails plainly", async () => {
  const f = join(dir, "containers.conf");
  writeFileSync(f, "");
  const locks = secureLockDir(join(dir, "locks"));
  const child = await holder(join(locks, "wrappers.lock"));
  try {
    const change = { path: f, before: "", after: "[engine]\n", action: "modify" as const, reason: "" };
    const opts = { now: new Date(), lockPath: join(locks, "c.lock"), wrappersLockPath: join(locks, "wrappers.lock") };
    const err = await applyChanges([change], { ...opts, lockWaitMs: 200 }).catch((e) => e);
    expect(err).toMatchObject({
      code: "busy",
      message: `another gvisor-doctor (pid ${child.pid}) is still changing ${f}: nothing was changed`,
    });
    expect(readFileSync(f, "utf8")).toBe("");
  } finally {
    child.kill("SIGKILL");
  }
});
