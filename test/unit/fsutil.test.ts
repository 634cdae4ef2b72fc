import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  lstatSync,
  readlinkSync,
  chmodSync,
} from "node:fs";
import { join } from "node:path";
import { atomicWriteFile, backupFile, sameFile, switchSymlink } from "../../platform/os/fsutil.ts";
import { LockBusyError, withLock } from "../../platform/os/flock.ts";
import { existsSync } from "node:fs";

const hasFlock = ["/usr/bin/flock", "/bin/flock"].some((p) => existsSync(p));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-fs-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("atomic writes", () => {
  test("replace content, keep the mode, leave no temp file", () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "old");
    chmodSync(f, 0o600);
    atomicWriteFile(f, "new");
    expect(readFileSync(f, "utf8")).toBe("new");
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["daemon.json"]);
  });
  test("write through a symlink: the link stays a link, the target changes", () => {
    const real = join(dir, "real.json");
    const link = join(dir, "link.json");
    writeFileSync(real, "old");
    symlinkSync("real.json", link);
    atomicWriteFile(link, "new");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, "utf8")).toBe("new");
  });
  test("a crash before the rename leaves the old file intact and no temp file", () => {
    const f = join(dir, "c.toml");
    writeFileSync(f, "old");
    expect(() =>
      atomicWriteFile(f, "new", {
        beforeRename: () => {
          throw new Error("crash");
        },
      }),
    ).toThrow("crash");
    expect(readFileSync(f, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["c.toml"]);
  });
  test("new files get the requested mode", () => {
    const f = join(dir, "n");
    atomicWriteFile(f, "x", { mode: 0o755 });
    expect(statSync(f).mode & 0o777).toBe(0o755);
  });
});

describe("backups", () => {
  test("timestamped copy beside the file, never overwriting an earlier one", () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "v1");
    const now = new Date("2026-11-23T16:01:02.345Z");
    const a = backupFile(f, now);
    const b = backupFile(f, now);
    expect(a).toBe(`${f}.gvisor-doctor-20261123T160102Z.bak`);
    expect(b).toBe(`${f}.gvisor-doctor-20261123T160102Z.1.bak`);
    expect(readFileSync(a, "utf8")).toBe("v1");
  });
});

describe("symlink switch", () => {
  test("atomically repoints an existing link", () => {
    const l = join(dir, "bin", "runsc");
    switchSymlink(l, "/a");
    switchSymlink(l, "/b");
    expect(readlinkSync(l)).toBe("/b");
    expect(readdirSync(join(dir, "bin"))).toEqual(["runsc"]);
  });
});

describe("same file", () => {
  test("a link and its target, a file under a linked directory (missing too), never two different files", () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "{}");
    symlinkSync(f, join(dir, "link.json"));
    symlinkSync(dir, join(dir, "run"));
    expect(sameFile(join(dir, "link.json"), f)).toBe(true);
    expect(sameFile(join(dir, "run", "daemon.json"), f)).toBe(true);
    // dockerd's default socket named both ways before the daemon has created it (/var/run → /run)
    expect(sameFile(join(dir, "run", "docker.sock"), join(dir, "docker.sock"))).toBe(true);
    expect(sameFile(join(dir, "docker.sock"), f)).toBe(false);
    expect(sameFile("/nowhere/a.sock", "/nowhere/b.sock")).toBe(false);
  });
});

describe("lock", () => {
  test("serialises two holders", async () => {
    const lock = join(dir, "lock");
    const events: string[] = [];
    const slow = withLock(lock, async () => {
      events.push("a+");
      await Bun.sleep(100);
      events.push("a-");
    });
    await Bun.sleep(10);
    const fast = withLock(lock, async () => {
      events.push("b+");
      events.push("b-");
    });
    await Promise.all([slow, fast]);
    expect(events).toEqual(["a+", "a-", "b+", "b-"]);
  });
  test("a lock left by a dead process is taken over", async () => {
    const lock = join(dir, "lock");
    writeFileSync(lock, "999999\n");
    expect(await withLock(lock, () => 42)).toBe(42);
  });
  // A live holder is one that holds the lock (flock(2) on an open descriptor), not a pid written in a file.
  test.skipIf(!hasFlock)("a live holder past the wait is a clear error naming it", async () => {
    const lock = join(dir, "lock");
    // One process (sh, then sleep by exec) holds the descriptor: killing it releases the lock.
    const holder = Bun.spawn(["sh", "-c", 'exec 9>>"$0"; flock -x 9; echo $$ >"$0"; exec sleep 5', lock]);
    while (!readFileSync(lock, { flag: "a+" }).length) await Bun.sleep(20);
    try {
      const err = await withLock(lock, () => 1, 300).catch((e) => e);
      expect(err).toBeInstanceOf(LockBusyError);
      expect(err.message).toMatch(/another gvisor-doctor \(pid \d+\) holds /);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    // Its death releases the lock at once: no stale lock to take over.
    expect(await withLock(lock, () => 7, 2_000)).toBe(7);
  });
  test.skipIf(!hasFlock)(
    "a lock file naming a live process that does not hold it (pid reuse) does not block",
    async () => {
      const lock = join(dir, "lock");
      writeFileSync(lock, "1\n"); // before: waited for pid 1 until the deadline, then "stop process 1"
      const t0 = Date.now();
      expect(await withLock(lock, () => 42, 5_000)).toBe(42);
      expect(Date.now() - t0).toBeLessThan(1_000);
    },
  );
  test.skipIf(!hasFlock)("a symlink in the lock's place is refused, not followed", async () => {
    const lock = join(dir, "lock");
    const target = join(dir, "target");
    writeFileSync(target, "keep\n");
    symlinkSync(target, lock);
    await expect(withLock(lock, () => 1, 200)).rejects.toThrow();
    expect(readFileSync(target, "utf8")).toBe("keep\n");
  });
});
