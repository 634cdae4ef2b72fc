// Host-root mode: gvisor-doctor runs in a pod (or any container) with the node's `/`
// mounted at DIR (e.g. /host) and operates on the node, not on its own file system.
// Everything gvisor-doctor shows, and every path it writes into a config, is a host path
// (/etc/containerd/config.toml, /usr/local/bin/runsc); only file-system access goes
// through DIR. Host processes are visible with hostPID; the ones whose root directory is
// DIR belong to the host (our own container's processes have another root).
import { lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, posix, resolve } from "node:path";
import { echoInput } from "./echo-input.ts";
import { UsageError } from "./errors.ts";

export interface HostRoot {
  /** The directory the host's `/` is mounted at; "/" for this machine itself. */
  readonly dir: string;
  /** True in host-root mode (dir is not "/"). */
  readonly foreign: boolean;
  /** A host path as this process reaches it: /etc/x → /host/etc/x. */
  local(hostPath: string): string;
  /** The inverse: /host/etc/x → /etc/x; a path outside DIR is returned as it is. */
  host(localPath: string): string;
  /** Whether process `pid` runs in this root (its /proc/PID/root is DIR). */
  owns(pid: number): boolean;
  /** How to show a host path: "/etc/x" or, in host-root mode, "/etc/x (at /host/etc/x)". */
  show(hostPath: string): string;
}

/** Whether two paths name the same file (same device and inode); false when either cannot be stat'ed. */
export function sameInode(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

export const SELF_ROOT: HostRoot = {
  dir: "/",
  foreign: false,
  local: (p) => p,
  host: (p) => p,
  owns: (pid) => {
    // A process in another root (a container, a chroot) is not this machine's daemon. stat,
    // not readlink: a container's root reads as "/" from outside its mount namespace.
    try {
      const a = statSync(`/proc/${pid}/root`);
      const b = statSync("/");
      return a.dev === b.dev && a.ino === b.ino;
    } catch (e) {
      // Not allowed to look (another user's process, without root): count it, as before.
      const code = (e as NodeJS.ErrnoException).code;
      return code === "EACCES" || code === "EPERM";
    }
  },
  show: (p) => p,
};

/**
 * Resolve a host path inside `root` the way the host resolves it: an absolute symlink in
 * the host tree (/etc/containerd/config.toml -> /srv/cfg/containerd.toml) points into the
 * host, not into our own file system, so a write can never land outside DIR.
 */
export function resolveInRoot(root: string, hostPath: string): string {
  const todo = normalize(hostPath).split("/").filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; todo.length; ) {
    const name = todo.shift()!;
    if (name === "..") {
      done.pop();
      continue;
    }
    const here = join(root, ...done, name);
    let target: string | null = null;
    try {
      if (lstatSync(here).isSymbolicLink()) target = readlinkSync(here);
    } catch {}
    if (target === null) {
      done.push(name);
      continue;
    }
    if (++hops > 40) throw new Error(`too many levels of symbolic links in ${hostPath} under ${root}`);
    const parts = target.split("/").filter(Boolean);
    if (posix.isAbsolute(target)) done.length = 0;
    todo.unshift(...parts);
  }
  return join(root, ...done);
}

/**
 * Whether process `pid` reads at `path` (absolute, as it names it) the file we reach at
 * `local`: the path resolved through its root and mount namespace (/proc/PID/root, with
 * absolute symlinks kept inside that root) is the same inode. Both absent counts as the
 * same. null when we cannot look (another user's process) or the path is relative.
 */
export function seesSameFile(pid: number, path: string, local: string): boolean | null {
  if (!isAbsolute(path)) return null;
  const stat = (p: string) => statSync(p, { throwIfNoEntry: false }) ?? null;
  let theirs: ReturnType<typeof stat>;
  try {
    theirs = stat(resolveInRoot(`/proc/${pid}/root`, path));
  } catch {
    return null;
  }
  let ours: ReturnType<typeof stat>;
  try {
    ours = stat(local);
  } catch {
    ours = null;
  }
  if (!theirs || !ours) return !theirs && !ours;
  return theirs.dev === ours.dev && theirs.ino === ours.ino;
}

/** The HostRoot for `--host-root DIR` (validated: DIR must be a directory that looks like a root). */
export function hostRootAt(dir: string | undefined): HostRoot {
  if (dir === undefined || dir === "") return SELF_ROOT;
  let abs: string;
  try {
    abs = realpathSync(resolve(dir));
    if (!statSync(abs).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new UsageError(
      `--host-root ${echoInput(dir)}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (e as Error).message}`,
      "mount the node's / there (a hostPath volume with path: /), e.g. --host-root /host",
    );
  }
  if (abs === "/") return SELF_ROOT;
  if (!statSync(join(abs, "etc"), { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(
      `--host-root ${echoInput(dir)}: ${echoInput(abs)}/etc does not exist, so this is not a host's root file system`,
      "mount the node's / there (a hostPath volume with path: /)",
    );
  }
  const local = (p: string) => {
    if (!isAbsolute(p)) throw new Error(`host path must be absolute: ${p}`);
    return resolveInRoot(abs, p);
  };
  return {
    dir: abs,
    foreign: true,
    local,
    host: (p) => {
      const n = normalize(p);
      return n === abs ? "/" : n.startsWith(`${abs}/`) ? n.slice(abs.length) : n;
    },
    owns: (pid) => sameInode(`/proc/${pid}/root`, abs),
    show: (p) => `${p} (at ${local(p)})`,
  };
}
