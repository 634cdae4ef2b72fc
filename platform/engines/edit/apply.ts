// Writing a plan: under a per-file lock, check nothing changed since the plan was
// made, back up every file we modify or delete, write atomically (old or new content,
// never a mix), and undo the files already written when a later one fails.
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { atomicWriteFile, backupFile, removeStaleTemps, resolveForWrite } from "../../os/fsutil.ts";
import { LockBusyError, LockDirError, secureLockDir, withLock, wrappersLockPath } from "../../os/flock.ts";
import { decodeBytes, encodeBytes } from "./text.ts";
import { EngineConfigError, type AppliedFile, type FileChange } from "../types.ts";
import { SELF_ROOT, type HostRoot } from "../../os/host-root.ts";

/** The plan was made from content that has changed since (another run, or a person). */
export class StalePlanError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while gvisor-doctor was planning; run configure again`);
  }
}

/** Engine configs are small; anything larger is not one (and /dev/zero must not fill memory). */
export const MAX_CONFIG_BYTES = 8 << 20;
const READ_HINT = "pass the engine's config file (a regular file)";

/**
 * A config file's text (null when missing). Only a regular file of at most MAX_CONFIG_BYTES
 * is read: a FIFO, device, directory or endless /proc file is an EngineConfigError naming it.
 */
export function readOrNull(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const what = st.isDirectory()
        ? "a directory"
        : st.isFIFO()
          ? "a FIFO"
          : st.isCharacterDevice() || st.isBlockDevice()
            ? "a device"
            : st.isSocket()
              ? "a socket"
              : "not a regular file";
      const msg = `${path} is ${what}, not a config file`;
      throw new EngineConfigError(msg, { file: path }, READ_HINT, null, "not-a-file");
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(64 << 10);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const msg = `cannot read ${path}: ${(e as Error).message}`;
        throw new EngineConfigError(msg, { file: path }, READ_HINT, null, "unreadable");
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_CONFIG_BYTES) {
        const msg = `${path} is larger than ${MAX_CONFIG_BYTES >> 20} MiB: not an engine config`;
        throw new EngineConfigError(msg, { file: path }, READ_HINT, null, "too-large");
      }
      chunks.push(buf.subarray(0, n));
    }
    return decodeBytes(Buffer.concat(chunks));
  } finally {
    closeSync(fd);
  }
}

/** A file named by an absolute path in a config, for inspection: null when missing, relative or unreadable. */
export function readIfAbsolute(path: string | null | undefined, root: HostRoot = SELF_ROOT): string | null {
  if (!path || !path.startsWith("/")) return null;
  try {
    return readOrNull(root.local(path));
  } catch {
    return null;
  }
}

/** One lock per config file (by resolved path), so runs on different files never wait. */
export function lockPathFor(configPath: string): string {
  const key = createHash("sha256").update(resolveForWrite(configPath)).digest("hex").slice(0, 16);
  return join(secureLockDir(), `configure-${key}.lock`);
}

/** A file-system error as a message that names the file, the cause and the fix. */
export function explainWriteError(e: unknown, path: string): EngineConfigError {
  const err = e as NodeJS.ErrnoException;
  const dir = dirname(path);
  const spot = { file: path };
  switch (err.code) {
    case "EROFS":
      return new EngineConfigError(
        `cannot write ${path}: the file system holding ${dir} is read-only`,
        spot,
        `remount it read-write (mount -o remount,rw <mountpoint>), or point --config at a writable copy; nothing was changed`,
        null,
        "read-only",
      );
    case "EACCES":
    case "EPERM":
      return new EngineConfigError(
        `cannot write ${path}: permission denied in ${dir}`,
        spot,
        `run as root (sudo gvisor-doctor configure …); as root this means the file or directory is immutable (lsattr; chattr -i) or on a file system that refuses writes; nothing was changed`,
        null,
        "permission",
      );
    case "ENOSPC":
    case "EDQUOT":
      return new EngineConfigError(
        `cannot write ${path}: no space left on the file system holding ${dir}`,
        spot,
        "free some space and run configure again; nothing was changed",
        null,
        "no-space",
      );
    case "ENOTDIR":
    case "ENOENT":
      return new EngineConfigError(
        `cannot write ${path}: ${dir} does not exist or is not a directory`,
        spot,
        "create the directory or pass --config with the right path; nothing was changed",
        null,
        "no-dir",
      );
    default:
      return new EngineConfigError(
        `cannot write ${path}: ${err?.message ?? String(e)}`,
        spot,
        null,
        null,
        "write-failed",
      );
  }
}

export interface ApplyOptions {
  now: Date;
  /** Lock file; default lockPathFor(lockKey ?? the first change's path). */
  lockPath?: string;
  /** The config whose lock to take (the engine's config file). */
  lockKey?: string;
  /** Files the plan relies on without writing them: each must still hold this text (else StalePlanError). */
  relies?: { path: string; text: string }[];
  /** The lock shared with uninstall's take-back of wrappers; default wrappersLockPath(). */
  wrappersLockPath?: string;
  /** How long to wait for another run holding the lock (default 30 s). */
  lockWaitMs?: number;
  /** Test hook: runs after a temp file is complete, before it replaces the file. */
  beforeRename?: (tempPath: string) => void;
  /** Told once when another run holds the lock and we wait for it. */
  log?: (message: string) => void;
}

/**
 * Where a backup goes: beside the file, except in drop-in directories (`*.d`), where an
 * engine may read every file (a backup there could override the new content): then in
 * `<dir>.gvisor-doctor-backups/` beside the directory.
 */
export function backupDirFor(path: string): string | undefined {
  const dir = dirname(resolveForWrite(path));
  return dir.endsWith(".d") ? `${dir}.gvisor-doctor-backups` : undefined;
}

/** Run `write`; when it fails, the backup made for it goes too ("nothing was changed" leaves nothing behind). */
function withBackup(backup: string | null, write: () => void): string | null {
  try {
    write();
  } catch (e) {
    if (backup) rmSync(backup, { force: true });
    throw e;
  }
  return backup;
}

function writeOne(c: FileChange, opts: ApplyOptions): AppliedFile {
  removeStaleTemps(c.path);
  if (c.after === null) {
    const backup = c.backup === false ? null : backupFile(c.path, opts.now, backupDirFor(c.path));
    return { path: c.path, action: "delete", backup: withBackup(backup, () => rmSync(c.path, { force: true })) };
  }
  if (c.before === null) {
    mkdirSync(dirname(resolveForWrite(c.path)), { recursive: true, mode: 0o755 });
    atomicWriteFile(c.path, encodeBytes(c.after), { mode: c.mode ?? 0o644, beforeRename: opts.beforeRename });
    return { path: c.path, action: "create", backup: null };
  }
  const backup = backupFile(c.path, opts.now, backupDirFor(c.path));
  withBackup(backup, () => atomicWriteFile(c.path, encodeBytes(c.after!), { beforeRename: opts.beforeRename }));
  return { path: c.path, action: "modify", backup };
}

function undo(done: { change: FileChange; applied: AppliedFile }[]): string[] {
  const failed: string[] = [];
  for (const { change, applied } of [...done].reverse()) {
    try {
      if (applied.action === "create") rmSync(change.path, { force: true });
      else {
        const mode = applied.backup ? statSync(applied.backup).mode & 0o7777 : (change.mode ?? 0o644);
        atomicWriteFile(change.path, encodeBytes(change.before ?? ""), { mode });
      }
      // Restored: its backup is redundant, and the run reports that nothing changed.
      if (applied.backup) rmSync(applied.backup, { force: true });
    } catch {
      failed.push(change.path);
    }
  }
  return failed;
}

/**
 * Apply file changes in order, holding the lock. Every file must still hold the
 * content the plan was made from (StalePlanError otherwise, nothing written).
 */
export async function applyChanges(changes: FileChange[], opts: ApplyOptions): Promise<AppliedFile[]> {
  if (changes.length === 0) return [];
  let lockPath = "";
  let lockHeld = false;
  try {
    lockPath = opts.lockPath ?? lockPathFor(opts.lockKey ?? changes[0].path);
    const onWait = (holder: number | null) =>
      opts.log?.(`waiting for another gvisor-doctor (pid ${holder ?? "?"}) to finish with ${changes[0].path}…`);
    const wait = opts.lockWaitMs ?? 30_000;
    // Then the wrappers lock: uninstall decides which wrappers no config uses under it, so it never
    // decides while a config here is being made to name one.
    const wrappersLock = opts.wrappersLockPath ?? wrappersLockPath();
    const locked = <T>(fn: () => T) => withLock(lockPath, () => withLock(wrappersLock, fn, wait, onWait), wait, onWait);
    return await locked(() => {
      lockHeld = true;
      for (const c of changes) {
        let current: string | null;
        try {
          current = readOrNull(c.path);
        } catch (e) {
          throw e instanceof EngineConfigError ? e : explainWriteError(e, c.path);
        }
        if (current !== c.before) throw new StalePlanError(c.path);
      }
      for (const r of opts.relies ?? []) {
        if (readOrNull(r.path) !== r.text) throw new StalePlanError(r.path);
      }
      const done: { change: FileChange; applied: AppliedFile }[] = [];
      for (const c of changes) {
        try {
          done.push({ change: c, applied: writeOne(c, opts) });
        } catch (e) {
          const undoFailed = undo(done);
          const err = explainWriteError(e, c.path);
          if (done.length) {
            const restored = done.map((d) => d.change.path).filter((p) => !undoFailed.includes(p));
            const kept = done
              .filter((d) => undoFailed.includes(d.change.path))
              .map((d) => d.applied.backup)
              .filter(Boolean);
            const tail = undoFailed.length
              ? `; could NOT restore ${undoFailed.join(", ")} (backups: ${kept.join(", ")})`
              : `; restored ${restored.join(", ")}`;
            throw new EngineConfigError(err.message + tail, err.spot, err.hint, null, err.code);
          }
          throw err;
        }
      }
      return done.map((d) => d.applied);
    });
  } catch (e) {
    if (e instanceof StalePlanError || e instanceof EngineConfigError) throw e;
    if (e instanceof LockBusyError) {
      const file = changes[0].path;
      const msg = `another gvisor-doctor (pid ${e.holder ?? "?"}) is still changing ${file}: nothing was changed`;
      const who = e.holder ? ` (ps -p ${e.holder} -o pid,args shows it)` : "";
      const hint = `wait for it to finish, then run the command again${who}`;
      throw new EngineConfigError(msg, { file }, hint, null, "busy");
    }
    if (e instanceof LockDirError) {
      const hint = `remove ${e.dir} (as root) and run the command again; nothing was changed`;
      throw new EngineConfigError(e.message, { file: e.dir }, hint, null, "lock-dir");
    }
    // The lock itself could not be taken (read-only /run, permissions): explain like a write.
    if (!lockHeld && (e as NodeJS.ErrnoException).code) throw explainWriteError(e, lockPath);
    throw e;
  }
}

/**
 * After a removal: when `path` again holds exactly what it held before gvisor-doctor first
 * changed it (its oldest backup), every gvisor-doctor backup of it is redundant (each holds
 * that content or a state gvisor-doctor wrote): delete them, so an uninstall leaves the
 * directory as it found it. Returns the backups deleted (local paths).
 */
export function pruneBackups(path: string): string[] {
  const target = resolveForWrite(path);
  const current = readOrNull(target);
  if (current === null) return [];
  const dirs = [dirname(target), backupDirFor(path)].filter((d): d is string => !!d);
  const prefix = `${basename(target)}.gvisor-doctor-`;
  const backups = dirs.flatMap((d) => {
    try {
      return readdirSync(d)
        .filter((n) => n.startsWith(prefix) && n.endsWith(".bak"))
        .map((n) => join(d, n));
    } catch {
      return [];
    }
  });
  if (!backups.length) return [];
  // The timestamp in the name orders them; within one second, NAME.bak came before NAME.1.bak,
  // NAME.2.bak… (as text ".1.bak" sorts before ".bak", which made the newest look oldest).
  const order = (p: string) => {
    const m = basename(p).match(/-(\d{8}T\d{6}Z)(?:\.(\d+))?\.bak$/);
    return m ? `${m[1]}.${(m[2] ?? "0").padStart(6, "0")}` : basename(p);
  };
  const oldest = [...backups].sort((a, b) => order(a).localeCompare(order(b)))[0];
  if (readOrNull(oldest) !== current) return [];
  for (const b of backups) rmSync(b, { force: true });
  const dropInBackups = backupDirFor(path);
  if (dropInBackups) {
    try {
      rmdirSync(dropInBackups);
    } catch {} // not empty: other files' backups
  }
  return backups;
}

/**
 * An adapter's apply(): the plan's changes under the lock of the engine's config file.
 * With a host root the plan's host paths are written through it, and the result names
 * host paths again (backups included).
 */
export async function applyPlan(
  plan: { changes: FileChange[]; configPath: string; relies?: { path: string; text: string }[] },
  opts: Omit<ApplyOptions, "lockPath" | "lockKey"> & { root?: HostRoot },
): Promise<{ files: AppliedFile[] }> {
  const root = opts.root ?? SELF_ROOT;
  const changes = plan.changes.map((c) => ({ ...c, path: root.local(c.path) }));
  const relies = plan.relies?.map((r) => ({ ...r, path: root.local(r.path) }));
  const files = await applyChanges(changes, { ...opts, relies, lockKey: root.local(plan.configPath) });
  return { files: files.map((f) => ({ ...f, path: root.host(f.path), backup: f.backup && root.host(f.backup) })) };
}
