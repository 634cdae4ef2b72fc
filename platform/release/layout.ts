// Where an installed release lives and how it goes live:
//   <prefix>/lib/gvisor/<version>/{runsc, containerd-shim-runsc-v1, gvisor-bin/}
//   <prefix>/lib/gvisor/current -> <version>            (the one atomic switch)
//   <prefix>/bin/runsc -> ../lib/gvisor/current/runsc   (and the shim; made once)
//   <prefix>/lib/gvisor/state.json, .lock, .staging-<pid>-<rand>/
// runsc finds gvisor-bin/ next to its real path, which the symlinks resolve to.
import { accessSync, constants, chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ActionError } from "../../src/errors.ts";
import { atomicWriteFile, switchSymlink } from "../fsutil.ts";
import { pidAlive } from "../procs.ts";
import { RELEASE_BINARIES } from "./channels.ts";

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
    links: RELEASE_BINARIES.map((name) => ({ name, path: join(binDir, name), target: relative(binDir, join(current, name)) })),
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
  try {
    const s = JSON.parse(text) as InstallState;
    if (s?.schemaVersion !== 1 || typeof s.versions !== "object" || !Array.isArray(s.history)) throw new Error("unknown format");
    // Paths are stored relative to the prefix (older files hold absolute ones: resolve keeps those).
    s.created = (s.created ?? []).map((p) => resolve(l.prefix, p));
    s.replaced = (s.replaced ?? []).map((r) => ({ path: resolve(l.prefix, r.path), backup: resolve(l.prefix, r.backup) }));
    return s;
  } catch (e) {
    throw new StateError(`${l.state} is damaged (${(e as Error).message}); move it aside (e.g. mv ${l.state} ${l.state}.bad) and run the command again`);
  }
}

export function writeState(l: Layout, s: InstallState): void {
  // Relative to the prefix: the same tree seen from a pod (/host/usr/local) and from the
  // node (/usr/local) must mean the same files.
  const rel = (p: string) => relative(l.prefix, p) || ".";
  const stored = { ...s, created: s.created.map(rel), replaced: s.replaced.map((r) => ({ path: rel(r.path), backup: rel(r.backup) })) };
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
  return t === link.target || resolve(dirname(link.path), t) === resolve(dirname(link.path), link.target) ? "ours" : "foreign";
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

/** A private staging directory next to the versions (same file system: the final move is a rename). */
export function makeStaging(l: Layout): string {
  const dir = join(l.root, `.staging-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
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

/** Make every staged file 0755 and every directory 0755 (after the hash matched). */
export function markExecutable(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) markExecutable(p);
    chmodSync(p, 0o755);
  }
  chmodSync(dir, 0o755);
}

/** Move a verified staging directory to its version name (a rename on the same file system). */
export function placeVersion(l: Layout, staging: string, name: string): string {
  const dest = join(l.root, name);
  renameSync(staging, dest);
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
