// Where an installed release lives and how it goes live:
//   <prefix>/lib/gvisor/<version>/{runsc, containerd-shim-runsc-v1, gvisor-bin/}
//   <prefix>/lib/gvisor/current -> <version>            (the one atomic switch)
//   <prefix>/bin/runsc -> ../lib/gvisor/current/runsc   (and the shim; made once)
//   <prefix>/lib/gvisor/state.json, .lock, .staging-<pid>-<rand>/
// runsc finds gvisor-bin/ next to its real path, which the symlinks resolve to.
import {
  accessSync,
  closeSync,
  constants,
  chmodSync,
  existsSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  type Stats,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ActionError } from "../os/errors.ts";
import { atomicWriteFile, switchSymlink } from "../os/fsutil.ts";
import { pidAlive } from "../os/processes.ts";
import { RELEASE_BINARIES, VERSION_DIR_NAME } from "./channels.ts";

export interface LinkSpec {
  name: string;
  /** <prefix>/bin/<name> */
  path: string;
  /** What the link holds: ../lib/gvisor/current/<name> (relative, so the tree can move). */
  target: string;
}

export interface Layout {
  prefix: string;
  root: string;
  binDir: string;
  current: string;
  state: string;
  lock: string;
  links: LinkSpec[];
}

export function layoutFor(prefix: string): Layout {
  const p = resolve(prefix);
  const root = join(p, "lib", "gvisor");
  const binDir = join(p, "bin");
  const current = join(root, "current");
  return {
    prefix: p,
    root,
    binDir,
    current,
    state: join(root, "state.json"),
    lock: join(root, ".lock"),
    links: RELEASE_BINARIES.map((name) => ({
      name,
      path: join(binDir, name),
      target: relative(binDir, join(current, name)),
    })),
  };
}

/** The inverse of layoutFor: which prefix and version a resolved `<prefix>/lib/gvisor/<version>/<file>` belongs to. */
export function installedReleaseOf(realPath: string): { prefix: string; version: string } | null {
  const m = realPath.match(/^(.*)\/lib\/gvisor\/([^/]+)\/[^/]+$/);
  return m && m[2] !== "current" ? { prefix: m[1] || "/", version: m[2] } : null;
}

export interface VersionRecord {
  /** Directory name under <prefix>/lib/gvisor. */
  dir: string;
  /** What was asked for (--version), e.g. "latest". */
  requested: string;
  /** First line of `runsc --version` of the installed binary. */
  runscVersion: string | null;
  format: "zstd" | "bz2" | "loose" | "deb";
  /** The file the hash vouches for (tarball or runsc). */
  url: string;
  sha512: string;
  /** Whether the hash came from --sha512 rather than the mirror's .sha512 file. */
  pinned: boolean;
  installedAt: string;
  files: string[];
  /** How far the install could be trusted (absent in state written before trust levels). */
  trust?: import("./trust.ts").Trust;
  /** The package Version of a signed install (the release, whatever runsc reports). */
  release?: string;
}

export interface InstallState {
  schemaVersion: 1;
  versions: Record<string, VersionRecord>;
  /** Directory names in the order they went live (rollback walks back through it). */
  history: string[];
  /** Directories this tool created (uninstall removes them when empty). */
  created: string[];
  /** Files that were in the way of a link and were moved aside with --force. */
  replaced: { path: string; backup: string }[];
  /** --verify signed: the Date of the newest Release verified, per "<repository> <suite>" (replay protection). */
  aptSeen?: Record<string, string>;
}

/** state.json cannot be read or understood: an action error with the way out. */
export class StateError extends ActionError {}

export function emptyState(): InstallState {
  return { schemaVersion: 1, versions: {}, history: [], created: [], replaced: [] };
}

export function readState(l: Layout): InstallState {
  let text: string;
  try {
    text = readFileSync(l.state, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw new StateError(`cannot read ${l.state}: ${(e as Error).message}`);
  }
  let s: InstallState;
  try {
    s = JSON.parse(text) as InstallState;
    if (s?.schemaVersion !== 1 || typeof s.versions !== "object" || s.versions === null || !Array.isArray(s.history)) {
      throw new Error("unknown format");
    }
    if (!Array.isArray(s.created ?? []) || !Array.isArray(s.replaced ?? [])) throw new Error("unknown format");
  } catch (e) {
    throw new StateError(
      `${l.state} is damaged (${(e as Error).message}); move it aside (e.g. mv ${l.state} ${l.state}.bad) and run the command again`,
    );
  }
  return checkState(l, s);
}

/** An entry, quoted and cut short for a message. */
function quoteEntry(v: unknown): string {
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/**
 * Every entry of state.json is used as a path (versions are removed, backups renamed, directories
 * rmdir'd): hold each to what install itself writes, or stop naming the entry before anything is touched.
 */
function checkState(l: Layout, s: InstallState): InstallState {
  const bad = (what: string, entry: unknown, why: string) =>
    new StateError(
      `${l.state}: ${what} ${quoteEntry(entry)} ${why}; nothing was changed`,
      `gvisor-doctor did not write that: inspect ${l.state}, or move it aside (mv ${l.state} ${l.state}.bad) ` +
        `and remove ${l.root} by hand`,
    );
  const asRoot = process.geteuid?.() === 0;
  // Root acts only on entries root wrote: a state file another user could write is not trusted.
  if (asRoot) {
    const st = lstatSync(l.state);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw bad("the file", l.state, "is not owned by root and writable by root only");
    }
  }
  const ownedAsExpected = (p: string, what: string, entry: unknown, dir: boolean) => {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink() || (dir && !st.isDirectory())) {
      throw bad(what, entry, `names ${p}, which is ${st.isSymbolicLink() ? "a symlink" : "not a directory"}`);
    }
    if (asRoot && st.uid !== 0) throw bad(what, entry, `names ${p}, which is not owned by root`);
  };
  const name = (what: string, n: unknown): string => {
    if (typeof n !== "string" || !VERSION_DIR_NAME.test(n) || n === "current") {
      throw bad(what, n, "is not a version directory name (one path component, e.g. 20260817.0)");
    }
    return n;
  };
  for (const [k, rec] of Object.entries(s.versions)) {
    name("version", k);
    if (typeof rec !== "object" || rec === null || (rec.dir !== undefined && rec.dir !== k)) {
      throw bad("version", k, "has a record that does not match its name");
    }
    ownedAsExpected(join(l.root, k), "version", k, true);
  }
  for (const h of s.history) name("history entry", h);
  // install creates lib/gvisor, bin and their missing parents: nothing else may be listed.
  const mayCreate = new Set<string>();
  for (const t of [l.root, l.binDir]) for (let d = t; dirname(d) !== d; d = dirname(d)) mayCreate.add(d);
  // Paths are stored relative to the prefix (older files hold absolute ones: resolve keeps those).
  s.created = (s.created ?? []).map((p) => {
    const abs = typeof p === "string" ? resolve(l.prefix, p) : "";
    if (!mayCreate.has(abs)) throw bad("created directory", p, `is not ${l.root}, ${l.binDir} or one of their parents`);
    return abs;
  });
  // A backup is the file a link replaced, moved aside beside it: <prefix>/bin/<name>.gvisor-doctor-<time>.bak.
  s.replaced = (s.replaced ?? []).map((r) => {
    const path = typeof r?.path === "string" ? resolve(l.prefix, r.path) : "";
    const backup = typeof r?.backup === "string" ? resolve(l.prefix, r.backup) : "";
    if (!l.links.some((k) => k.path === path)) {
      throw bad("replaced entry", r, `has a path that is not one of ${l.links.map((k) => k.path).join(", ")}`);
    }
    const suffix = basename(backup).slice(basename(path).length);
    if (
      dirname(backup) !== l.binDir ||
      !basename(backup).startsWith(basename(path)) ||
      !/^\.gvisor-doctor-[0-9TZ]+(?:\.\d+)?\.bak$/.test(suffix)
    ) {
      throw bad("replaced entry", r, `has a backup that is not ${path}.gvisor-doctor-<time>.bak`);
    }
    ownedAsExpected(backup, "replaced entry", r, false);
    return { path, backup };
  });
  return s;
}

export function writeState(l: Layout, s: InstallState): void {
  // Relative to the prefix: the same tree seen from a pod (/host/usr/local) and from the
  // node (/usr/local) must mean the same files.
  const rel = (p: string) => relative(l.prefix, p) || ".";
  const stored = {
    ...s,
    created: s.created.map(rel),
    replaced: s.replaced.map((r) => ({ path: rel(r.path), backup: rel(r.backup) })),
  };
  atomicWriteFile(l.state, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o644 });
}

/** The version directory `current` points at, or null. */
export function liveDir(l: Layout): string | null {
  try {
    const t = readlinkSync(l.current);
    const name = basename(t);
    return existsSync(join(l.root, name)) ? name : null;
  } catch {
    return null;
  }
}

/** The newest version that was live before the live one and still exists. */
export function previousDir(l: Layout, s: InstallState, live = liveDir(l)): string | null {
  for (let i = s.history.length - 1; i >= 0; i--) {
    const d = s.history[i];
    if (d !== live && s.versions[d] && existsSync(join(l.root, d, "runsc"))) return d;
  }
  return null;
}

export type LinkStatus = "ours" | "missing" | "foreign";

/** Whether <prefix>/bin/<name> is our link, absent, or something else (a file, another link). */
export function linkStatus(link: LinkSpec): LinkStatus {
  let st;
  try {
    st = lstatSync(link.path);
  } catch {
    return "missing";
  }
  if (!st.isSymbolicLink()) return "foreign";
  const t = readlinkSync(link.path);
  return t === link.target || resolve(dirname(link.path), t) === resolve(dirname(link.path), link.target)
    ? "ours"
    : "foreign";
}

/** Make `dir` and missing parents, 0755 whatever the umask; returns the directories it created. */
export function mkdirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
  const created: string[] = [];
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (e) {
      // A concurrent install made it between our look and our mkdir: it is that run's to record.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && statSync(d).isDirectory()) continue;
      throw e;
    }
    chmodSync(d, 0o755);
    created.push(d);
  }
  return created;
}

/** Nearest existing ancestor of `path` (itself included). */
export function existingAncestor(path: string): string {
  let d = resolve(path);
  while (!existsSync(d)) d = dirname(d);
  return d;
}

export interface AccessProblem {
  /** The directory that is in the way. */
  dir: string;
  kind: "not-writable" | "read-only" | "not-searchable";
}

/** Can we create `<prefix>/lib/gvisor` and `<prefix>/bin` entries? */
export function writeProblems(l: Layout): AccessProblem[] {
  const out: AccessProblem[] = [];
  for (const target of [l.root, l.binDir]) {
    const d = existingAncestor(target);
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!out.some((p) => p.dir === d)) out.push({ dir: d, kind: code === "EROFS" ? "read-only" : "not-writable" });
    }
  }
  return out;
}

/** Existing directories on the way to the install that "nobody" (the sandbox user) cannot search. */
export function searchProblems(l: Layout, top = "/"): AccessProblem[] {
  const out: AccessProblem[] = [];
  const seen = new Set<string>();
  for (const target of [l.root, l.binDir]) {
    // `top`: with --host-root the walk ends at the node's / (the directories above it are the pod's).
    for (let d = existingAncestor(target); ; d = dirname(d)) {
      if (!seen.has(d)) {
        seen.add(d);
        try {
          if ((statSync(d).mode & 0o005) !== 0o005) out.push({ dir: d, kind: "not-searchable" });
        } catch {}
      }
      if (dirname(d) === d || d === top) break;
    }
  }
  return out;
}

/**
 * Directories on the way to the install (existing ancestors of lib/gvisor and bin, as named and as
 * resolved, up to `top`) that someone other than root could change: not owned by root, or group- or
 * world-writable without the sticky bit. Such a user could swap what root writes, chmods and renames
 * there (e.g. the staging directory for a symlink to another directory).
 */
function unsafeDirs(l: Layout, top: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const topReal = (() => {
    try {
      return realpathSync(top);
    } catch {
      return top;
    }
  })();
  const walk = (start: string, stop: string) => {
    for (let d = start; ; d = dirname(d)) {
      if (!seen.has(d)) {
        seen.add(d);
        try {
          const st = statSync(d);
          const sticky = (st.mode & 0o1000) !== 0;
          if (st.uid !== 0 || ((st.mode & 0o022) !== 0 && !sticky)) out.push(d);
        } catch {}
      }
      if (dirname(d) === d || d === stop) break;
    }
  };
  for (const target of [l.root, l.binDir]) {
    const d = existingAncestor(target);
    walk(d, top);
    try {
      walk(realpathSync(d), topReal);
    } catch {}
  }
  return out;
}

/** Refuse (as root) a prefix that unsafeDirs() finds a way into: which directories, and how to make them safe. */
export function refuseUnsafeDirs(l: Layout, top = "/"): void {
  const dirs = unsafeDirs(l, top);
  if (!dirs.length) return;
  const list = dirs.join(" ");
  throw new ActionError(
    `refusing to install into ${l.prefix} as root: ${dirs.join(", ")} ${dirs.length > 1 ? "are" : "is"} ` +
      "writable by a user other than root, " +
      "who could redirect what root writes there",
    `make ${dirs.length > 1 ? "them" : "it"} root's: chown root: ${list} && chmod go-w ${list}\n` +
      "or choose another prefix, e.g. --prefix /usr/local",
  );
}

/** What a directory this run created must still be (an lstat of it is compared with this). */
export interface DirIdentity {
  path: string;
  dev: number;
  ino: number;
  uid: number;
}

/** A private staging directory next to the versions (same file system: the final move is a rename). */
export function makeStaging(l: Layout): DirIdentity {
  const dir = join(l.root, `.staging-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o700 });
  const st = lstatSync(dir);
  const id = { path: dir, dev: st.dev, ino: st.ino, uid: process.geteuid?.() ?? st.uid };
  checkOwnDir(id);
  return id;
}

/** Stop unless `id.path` is still the directory this run made (not a symlink, not swapped, still ours). */
export function checkOwnDir(id: DirIdentity): void {
  let st: Stats | null = null;
  try {
    st = lstatSync(id.path);
  } catch {}
  if (!st || st.isSymbolicLink() || !st.isDirectory() || st.dev !== id.dev || st.ino !== id.ino || st.uid !== id.uid) {
    throw new ActionError(
      `${id.path} was replaced while installing ` +
        `(${st ? (st.isSymbolicLink() ? "now a symlink" : "a different file") : "gone"}): ` +
        "another user can write to its directory",
      `make ${dirname(id.path)} and its parents writable by root only, then run the command again; ` +
        "nothing was installed",
    );
  }
}

/**
 * Remove what installs that died (SIGKILL, power loss) left behind: staging and trash
 * directories, and temp links/state files of the atomic switches. Run under the lock.
 */
export function removeStaleStaging(l: Layout): string[] {
  const removed: string[] = [];
  const patterns = [/^\.(?:staging|trash)-(\d+)-[0-9a-f]+$/, /^\..+\.gvd-(?:link|tmp)-(\d+)-[0-9a-f]+$/];
  for (const dir of [l.root, l.binDir]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const m = patterns.map((re) => n.match(re)).find(Boolean);
      if (!m || (dir === l.binDir && !l.links.some((k) => n.startsWith(`.${k.name}.gvd-link-`)))) continue;
      if (Number(m[1]) !== process.pid && pidAlive(Number(m[1]))) continue;
      rmSync(join(dir, n), { recursive: true, force: true });
      removed.push(join(dir, n));
    }
  }
  return removed;
}

/** A free directory name: `name`, else `name_2`, `name_3`, … */
export function freeDirName(l: Layout, name: string): string {
  if (!existsSync(join(l.root, name)) && name !== "current") return name;
  for (let i = 2; ; i++) if (!existsSync(join(l.root, `${name}_${i}`))) return `${name}_${i}`;
}

/**
 * Make every staged file 0755 and every directory 0755 (after the hash matched). Only inside the
 * staging directory this run made; every entry is opened O_NOFOLLOW and chmodded through its fd, so
 * a symlink (or a directory swapped for one) is never followed.
 */
export function markExecutable(staging: DirIdentity): void {
  checkOwnDir(staging);
  const nofollow = constants.O_NOFOLLOW ?? 0;
  const walk = (dir: string, fd: number) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (lstatSync(p).isSymbolicLink()) continue;
      let child: number;
      try {
        child = openSync(p, constants.O_RDONLY | nofollow);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ELOOP") continue;
        throw e;
      }
      try {
        if (fstatSync(child).isDirectory()) walk(p, child);
        else fchmodSync(child, 0o755);
      } finally {
        closeSync(child);
      }
    }
    fchmodSync(fd, 0o755);
  };
  const fd = openSync(staging.path, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | nofollow);
  try {
    const st = fstatSync(fd);
    if (st.dev !== staging.dev || st.ino !== staging.ino) checkOwnDir({ ...staging, ino: -1 });
    walk(staging.path, fd);
  } finally {
    closeSync(fd);
  }
}

/** Move a verified staging directory to its version name (a rename on the same file system). */
export function placeVersion(l: Layout, staging: DirIdentity, name: string): string {
  const dest = join(l.root, name);
  checkOwnDir(staging);
  renameSync(staging.path, dest);
  return dest;
}

/**
 * Make `name` live: one rename of `current` switches runsc, the shim and gvisor-bin
 * together. The bin links through `current` are then created if missing (they never
 * change afterwards), and a shim link is dropped for a release that has no shim.
 * A foreign file in a link's place is left alone; its path is returned.
 */
export function activate(l: Layout, name: string): string[] {
  switchSymlink(l.current, name);
  const foreign: string[] = [];
  for (const link of l.links) {
    const has = existsSync(join(l.root, name, link.name));
    const status = linkStatus(link);
    if (status === "foreign") foreign.push(link.path);
    else if (has && status === "missing") switchSymlink(link.path, link.target);
    else if (!has && status === "ours") rmSync(link.path, { force: true });
  }
  return foreign;
}

/** Remove a version directory by renaming it aside first, so no half-deleted tree keeps its name. */
export function removeVersionDir(l: Layout, name: string): void {
  const dir = join(l.root, name);
  if (!existsSync(dir)) return;
  const trash = join(l.root, `.trash-${process.pid}-${randomBytes(4).toString("hex")}`);
  renameSync(dir, trash);
  rmSync(trash, { recursive: true, force: true });
}
