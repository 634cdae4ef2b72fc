// The one lock of gvisor-doctor (install, uninstall, rollback, configure, --fix): flock(2) on a
// descriptor the holder keeps open. The kernel drops it when the holder dies, so there is no pid
// file to trust (pid reuse) and no stale-lock takeover to race. Taken through libc with bun:ffi,
// else through util-linux flock(1) on the held descriptor (Deno, or a libc FFI cannot load).
// Lock files are opened O_NOFOLLOW|O_NONBLOCK (no planted link or FIFO is followed or hangs us),
// must be regular files of ours, and only 32 bytes are ever read from them (the holder's pid).
// Shared lock directories come from secureLockDir (root's own /run/gvisor-doctor, or a per-uid one).
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLibc } from "./libc.ts";
import { sleep } from "./sleep.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const EINTR = 4;

export class LockBusyError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: number | null,
  ) {
    super(`another gvisor-doctor (pid ${holder ?? "?"}) holds ${lockPath}`);
  }
}

export class LockDirError extends Error {
  constructor(
    readonly dir: string,
    why: string,
  ) {
    super(`refusing the lock directory ${dir}: ${why}`);
  }
}

/** One non-blocking attempt on an open descriptor: locked, busy (someone holds it), or an error. */
interface Locker {
  tryLock(fd: number): { ok: boolean; busy: boolean; why: string };
  /** Before close (closing the last descriptor releases it anyway). */
  unlock(fd: number): void;
}

/** libc's flock through Bun's FFI (glibc or musl); null under Deno or where no libc loads. */
function ffiLocker(): Locker | null {
  const libc = openLibc<{ flock(fd: number, op: number): number; __errno_location(): unknown }>((t) => ({
    flock: { args: [t.i32, t.i32], returns: t.i32 },
    __errno_location: { args: [], returns: t.ptr },
  }));
  if (!libc) return null;
  const { ffi, symbols: lib } = libc;
  const flock = (fd: number, op: number) => {
    const r = lib.flock(fd, op);
    return r === 0 ? 0 : ffi.read.i32(lib.__errno_location(), 0);
  };
  return {
    tryLock(fd) {
      const errno = flock(fd, LOCK_EX | LOCK_NB);
      return { ok: errno === 0, busy: errno === EWOULDBLOCK || errno === EINTR, why: `errno ${errno}` };
    },
    unlock: (fd) => void flock(fd, LOCK_UN),
  };
}

/** flock(1) run on our descriptor: the lock belongs to the open file, which we keep; closing it unlocks. */
function binaryLocker(): Locker | null {
  const bin = ["/usr/bin/flock", "/bin/flock", "/usr/local/bin/flock", "/usr/sbin/flock"].find((p) => existsSync(p));
  if (!bin) return null;
  return {
    tryLock(fd) {
      const r = spawnSync(bin, ["--exclusive", "--nonblock", "3"], { stdio: ["ignore", "ignore", "pipe", fd] });
      const why = r.error?.message ?? (r.stderr?.toString().trim() || `exit ${r.status}`);
      return { ok: r.status === 0, busy: r.status === 1, why };
    },
    unlock() {},
  };
}

let locker: Locker | null | undefined;
function theLocker(): Locker | null {
  if (locker === undefined) locker = ffiLocker() ?? binaryLocker();
  return locker;
}

const euid = () => (typeof process.geteuid === "function" ? process.geteuid() : 0);

/** /run/gvisor-doctor where /run is root's alone (a scratch container image may have no /run). */
function rootRunDir(): string | null {
  for (const d of ["/run", "/var/run"]) {
    try {
      const st = statSync(d);
      if (st.isDirectory() && st.uid === 0 && !(st.mode & 0o022)) return join(d, "gvisor-doctor");
    } catch {}
  }
  return null;
}

/**
 * The directory for locks not tied to a prefix: /run/gvisor-doctor for root (/run is root's alone,
 * unlike the world-writable /run/lock), else (or without /run) a per-user one under the temp dir. Created 0700
 * and verified with lstat: a real directory (not a symlink), owned by us, writable by nobody else.
 */
export function secureLockDir(base?: string): string {
  const uid = euid();
  const dir = base ?? (uid === 0 ? rootRunDir() : null) ?? join(tmpdir(), `gvisor-doctor-locks-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) throw new LockDirError(dir, "it is a symlink");
  if (!st.isDirectory()) throw new LockDirError(dir, "it is not a directory");
  if (st.uid !== uid) throw new LockDirError(dir, `it belongs to uid ${st.uid}, not ${uid}`);
  if (st.mode & 0o022) throw new LockDirError(dir, `others may write to it (mode ${(st.mode & 0o7777).toString(8)})`);
  return dir;
}

/**
 * The lock configure's wrapper decisions and uninstall's take-back of wrappers share: whether a
 * wrapper is still used is read from the configs and acted on under it, so neither deletes a
 * wrapper the other is making a config name.
 */
export function wrappersLockPath(): string {
  return join(secureLockDir(), "wrappers.lock");
}

/** The pid a holder wrote into the lock file (at most 32 bytes read). */
function holderOf(fd: number): number | null {
  const buf = Buffer.alloc(32);
  try {
    const n = readSync(fd, buf, 0, buf.length, 0);
    return Number.parseInt(buf.subarray(0, n).toString("latin1"), 10) || null;
  } catch {
    return null;
  }
}

/**
 * Run `fn` holding an exclusive flock on `lockPath`, in a directory only its owner can write
 * (secureLockDir, or a prefix the installer verified). Waits up to `waitMs` for a holder, telling
 * `onWait` once; then LockBusyError naming it (callers turn that into a plain exit-1 failure).
 * The holder unlinks the file before it unlocks, so a waiter that locked the unlinked file sees
 * that (the path no longer names its inode) and starts over with the new one.
 */
export async function withLock<T>(
  lockPath: string,
  fn: () => Promise<T> | T,
  waitMs = 30_000,
  onWait?: (holder: number | null) => void,
): Promise<T> {
  const lk = theLocker();
  if (!lk) {
    const msg = `cannot lock ${lockPath}: neither libc's flock (bun:ffi) nor flock(1) (util-linux) is available`;
    throw Object.assign(new Error(msg), { code: "ENOLCK" });
  }
  const deadline = Date.now() + waitMs;
  let told = false;
  let fd: number;
  for (;;) {
    const flags = constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
    fd = openSync(lockPath, flags, 0o600);
    let locked = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.uid !== euid()) throw new LockDirError(lockPath, "the lock is not a regular file of ours");
      const r = lk.tryLock(fd);
      if (r.ok) {
        let now: ReturnType<typeof lstatSync> | null = null;
        try {
          now = lstatSync(lockPath);
        } catch {}
        if (now && now.ino === st.ino && now.dev === st.dev) {
          locked = true;
          break;
        }
        lk.unlock(fd);
        continue; // locked a file the previous holder already unlinked: take the new one
      }
      if (!r.busy) throw Object.assign(new Error(`flock ${lockPath} failed: ${r.why}`), { code: "ENOLCK" });
      const holder = holderOf(fd);
      if (Date.now() > deadline) throw new LockBusyError(lockPath, holder);
      if (!told) {
        told = true;
        onWait?.(holder);
      }
    } finally {
      if (!locked) closeSync(fd);
    }
    await sleep(100);
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return await fn();
  } finally {
    // Unlink before unlocking: a waiter that opened this file sees it gone after its flock and retries.
    try {
      unlinkSync(lockPath);
    } catch {}
    lk.unlock(fd);
    closeSync(fd);
  }
}

/** For tests: force the flock(1) path (as under Deno), or back to the default choice. */
export function useLockerForTests(kind: "binary" | "default"): void {
  locker = kind === "binary" ? binaryLocker() : undefined;
}
