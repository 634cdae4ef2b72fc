// flock(2) locks for configure: the kernel drops a lock when its holder dies, so there is no
// pid file to trust (pid reuse) and no stale-lock takeover to race. The lock files live in a
// directory only the caller can write (verified with lstat: no symlink, owner, mode), are
// opened O_NOFOLLOW, and only a few bytes are ever read from them (the holder's pid).
import {
  closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, statSync, unlinkSync, writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LockBusyError } from "./fsutil.ts";

type Flock = (fd: number, op: number) => { ok: boolean; busy: boolean; errno: number };
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const EINTR = 4;

/** The part of bun:ffi used here (typed locally: the k8s manifests type-check without Bun's types). */
interface BunFfi {
  dlopen(name: string, defs: Record<string, { args: unknown[]; returns: unknown }>): {
    symbols: { flock(fd: number, op: number): number; __errno_location(): unknown };
  };
  FFIType: { i32: unknown; ptr: unknown };
  read: { i32(ptr: unknown, offset: number): number };
}

let flockFn: Flock | null | undefined;
/** libc's flock through Bun's FFI (glibc or musl); null where neither loads. */
function loadFlock(): Flock | null {
  if (flockFn !== undefined) return flockFn;
  flockFn = null;
  try {
    const { dlopen, FFIType, read } = require("bun:ffi") as BunFfi;
    const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
    for (const name of ["libc.so.6", `libc.musl-${arch}.so.1`, "libc.so"]) {
      try {
        const lib = dlopen(name, {
          flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
          __errno_location: { args: [], returns: FFIType.ptr },
        });
        flockFn = (fd, op) => {
          const r = lib.symbols.flock(fd, op);
          const errno = r === 0 ? 0 : read.i32(lib.symbols.__errno_location(), 0);
          return { ok: r === 0, busy: errno === EWOULDBLOCK, errno };
        };
        break;
      } catch {}
    }
  } catch {}
  return flockFn;
}

export class LockDirError extends Error {
  constructor(readonly dir: string, why: string) {
    super(`refusing the lock directory ${dir}: ${why}`);
  }
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
 * The directory for configure's locks: /run/gvisor-doctor for root (/run is root's alone,
 * unlike the world-writable /run/lock), else (or without /run) a per-user one under the temp dir. Created 0700
 * and verified: a real directory (not a symlink), owned by us, writable by nobody else.
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
 * Run `fn` holding an exclusive flock on `lockPath` (in a directory from secureLockDir).
 * Waits up to `waitMs` for a holder, telling `onWait` once; then LockBusyError naming it.
 * The holder unlinks the file before it unlocks, so a waiter that locked the unlinked file
 * sees that (the path no longer names its inode) and starts over with the new one.
 * Returns null (without running `fn`) where flock cannot be loaded: the caller falls back.
 */
export async function withFlock<T>(
  lockPath: string, fn: () => Promise<T> | T, waitMs = 30_000, onWait?: (holder: number | null) => void,
): Promise<{ value: T } | null> {
  const flock = loadFlock();
  if (!flock) return null;
  const deadline = Date.now() + waitMs;
  let told = false;
  let fd: number;
  for (;;) {
    // O_NONBLOCK: a FIFO planted there cannot hang the open.
    fd = openSync(lockPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    let locked = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.uid !== euid()) throw new LockDirError(lockPath, "the lock is not a regular file of ours");
      const r = flock(fd, LOCK_EX | LOCK_NB);
      if (r.ok) {
        let now: ReturnType<typeof lstatSync> | null = null;
        try {
          now = lstatSync(lockPath);
        } catch {}
        if (now && now.ino === st.ino && now.dev === st.dev) {
          locked = true;
          break;
        }
        continue; // locked a file the previous holder already unlinked: take the new one
      }
      if (!r.busy && r.errno !== EINTR) {
        throw Object.assign(new Error(`flock ${lockPath}: errno ${r.errno}`), { code: "ENOLCK" });
      }
      const holder = holderOf(fd);
      if (Date.now() > deadline) throw new LockBusyError(lockPath, holder);
      if (!told) {
        told = true;
        onWait?.(holder);
      }
    } finally {
      if (!locked) closeSync(fd);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return { value: await fn() };
  } finally {
    try {
      unlinkSync(lockPath);
    } catch {}
    flock(fd, LOCK_UN);
    closeSync(fd);
  }
}
