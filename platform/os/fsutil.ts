// File-system primitives for changes that must never be half-done: atomic writes
// (temp file in the same directory + fsync + rename + directory fsync), timestamped
// backups, and atomic symlink switches (the lock that serialises runs is platform/os/flock.ts).
import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
  fchmodSync,
  fchownSync,
  utimesSync,
  readdirSync,
  linkSync,
  readlinkSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { pidAlive } from "./processes.ts";

/** Resolve symlinks so a write replaces the target file and the link stays a link. */
export function resolveForWrite(path: string, depth = 0): string {
  try {
    return realpathSync(path);
  } catch {
    // A dangling link: the file it names (created by the write; the link stays a link).
    try {
      if (depth < 40 && lstatSync(path).isSymbolicLink()) {
        return resolveForWrite(resolve(dirname(path), readlinkSync(path)), depth + 1);
      }
    } catch {}
    return path;
  }
}

/**
 * Whether two paths name the same file once symlinks are followed (a config named through a link, a socket
 * under /var/run → /run). A file that does not exist yet is named by its directory's real path.
 */
export function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    const r = resolveForWrite(p);
    if (r !== p) return r;
    try {
      return join(realpathSync(dirname(p)), basename(p));
    } catch {
      return p;
    }
  };
  return a === b || real(a) === real(b);
}

/** A file's text, or null when it cannot be read (a /proc or /sys file that is absent or denied). */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  /** Mode for a new file (an existing file keeps its mode and owner). Default 0644. */
  mode?: number;
  /** Called after the temp file is complete and synced, before the rename (tests inject crashes here). */
  beforeRename?: (tempPath: string) => void;
}

/**
 * A complete, synced temp file beside `target` (the name removeStaleTemps knows) with `data`,
 * `mode` and, when given, `owner`. Nothing is left behind when writing it fails (ENOSPC).
 */
function writeTemp(
  target: string,
  data: string | Uint8Array,
  mode: number,
  owner: { uid: number; gid: number } | null,
): string {
  const tmp = join(dirname(target), `.${basename(target)}.gvd-tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fchmodSync(fd, mode);
    if (owner) {
      try {
        fchownSync(fd, owner.uid, owner.gid);
      } catch {}
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  return tmp;
}

/**
 * Replace `path` with `data` atomically: readers see the old or the new content,
 * never a mix, even after a crash or SIGKILL. Keeps mode and owner of an existing
 * file, writes through symlinks. Returns the path actually written.
 */
export function atomicWriteFile(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): string {
  const target = resolveForWrite(path);
  const dir = dirname(target);
  let mode = opts.mode ?? 0o644;
  let owner: { uid: number; gid: number } | null = null;
  try {
    const st = statSync(target);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } catch {}
  const tmp = writeTemp(target, data, mode, owner);
  try {
    opts.beforeRename?.(tmp);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
  return target;
}

/** `<file>.gvisor-doctor-<UTC timestamp>.bak`, e.g. daemon.json.gvisor-doctor-20261123T160102Z.bak */
export function backupName(path: string, now = new Date()): string {
  const ts = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${path}.gvisor-doctor-${ts}.bak`;
}

/**
 * Copy `path` (through symlinks) to a timestamped backup beside it (or in `dir`), keeping
 * its mode, owner, group and mtime. Atomic: a complete temp file is linked to the backup
 * name (never replacing one), so a full disk or a crash leaves no empty or partial backup.
 * Returns the backup path.
 */
export function backupFile(path: string, now = new Date(), dir?: string): string {
  const target = resolveForWrite(path);
  if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = dir ? join(dir, basename(target)) : target;
  const st = statSync(target);
  const tmp = writeTemp(name, readFileSync(target), st.mode & 0o7777, { uid: st.uid, gid: st.gid });
  try {
    try {
      utimesSync(tmp, st.atime, st.mtime);
    } catch {}
    for (let i = 0; ; i++) {
      const dest = i ? backupName(name, now).replace(/\.bak$/, `.${i}.bak`) : backupName(name, now);
      try {
        linkSync(tmp, dest);
        fsyncDir(dirname(dest));
        return dest;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        // File systems without hard links (vfat): rename, after checking the name is free.
        if ((code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") || lstatOrNull(dest)) throw e;
        renameSync(tmp, dest);
        fsyncDir(dirname(dest));
        return dest;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Point `link` at `target` atomically (new symlink + rename over the old one). */
export function switchSymlink(link: string, target: string): void {
  mkdirSync(dirname(link), { recursive: true });
  const tmp = join(dirname(link), `.${basename(link)}.gvd-link-${process.pid}-${randomBytes(4).toString("hex")}`);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, link);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(link));
}

/**
 * Remove temp files `atomicWriteFile` left beside `path` when a writer was killed
 * (SIGKILL between create and rename). Only temps of processes that are gone.
 */
export function removeStaleTemps(path: string): string[] {
  const target = resolveForWrite(path);
  const prefix = `.${basename(target)}.gvd-tmp-`;
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number.parseInt(n.slice(prefix.length), 10);
    if (!pid || pidAlive(pid)) continue;
    try {
      rmSync(join(dirname(target), n), { force: true });
      removed.push(join(dirname(target), n));
    } catch {}
  }
  return removed;
}
