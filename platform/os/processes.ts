// Running daemons found through /proc, with the flags that tell us which config
// file and which socket each one really uses.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";

export interface DaemonProcess {
  pid: number;
  /** Absolute path of the executable (from /proc/PID/exe) or argv[0]. */
  exe: string;
  argv: string[];
  /** Value of a flag such as --config-file / -c, or undefined. */
  flags: Record<string, string[]>;
  uid: number | null;
}

/** Parse argv flags into {name: [values]} for the given value-taking flags (long and short names). */
export function parseFlags(argv: string[], valueFlags: string[]): Record<string, string[]> {
  const flags: Record<string, string[]> = {};
  const add = (k: string, v: string) => (flags[k] ??= []).push(v);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!valueFlags.includes(name)) continue;
    if (eq > 0) add(name, a.slice(eq + 1));
    else if (i + 1 < argv.length) add(name, argv[++i]);
  }
  return flags;
}

/** Every process whose executable basename is one of `names`. */
export function findProcesses(names: string[], valueFlags: string[], procRoot = "/proc"): DaemonProcess[] {
  const is = (p: Seen) => names.includes(p.name) || names.includes(basename(p.argv[0]));
  return scanProcesses(procRoot, is).map((p) => withFlags(p, valueFlags));
}

/** findProcesses for several daemons in one pass over /proc: each name with its value-taking flags. */
export function findDaemons<K extends string>(
  wanted: Record<K, string[]>,
  procRoot = "/proc",
): Record<K, DaemonProcess[]> {
  const names = Object.keys(wanted) as K[];
  const is = (p: Seen, n: string) => p.name === n || basename(p.argv[0]) === n;
  const seen = scanProcesses(procRoot, (p) => names.some((n) => is(p, n)));
  const out = {} as Record<K, DaemonProcess[]>;
  for (const n of names) out[n] = seen.filter((p) => is(p, n)).map((p) => withFlags(p, wanted[n]));
  return out;
}

interface Seen {
  pid: number;
  exe: string;
  argv: string[];
  /** The executable's basename. */
  name: string;
  uid: number | null;
}

const withFlags = (p: Seen, valueFlags: string[]): DaemonProcess => ({
  pid: p.pid,
  exe: p.exe,
  argv: p.argv,
  flags: parseFlags(p.argv, valueFlags),
  uid: p.uid,
});

function scanProcesses(procRoot: string, keep: (p: Seen) => boolean): Seen[] {
  const found: Seen[] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${procRoot}/${e}/cmdline`, "latin1").split("\0");
      if (argv[argv.length - 1] === "") argv.pop();
    } catch {
      continue;
    }
    if (argv.length === 0) continue;
    let exe = argv[0];
    try {
      exe = readlinkSync(`${procRoot}/${e}/exe`);
    } catch {}
    const p: Seen = { pid: Number(e), exe, argv, name: basename(exe.replace(/ \(deleted\)$/, "")), uid: null };
    if (!keep(p)) continue;
    try {
      const m = readFileSync(`${procRoot}/${e}/status`, "utf8").match(/^Uid:\s+(\d+)/m);
      if (m) p.uid = Number(m[1]);
    } catch {}
    found.push(p);
  }
  return found.sort((a, b) => a.pid - b.pid);
}

export const DOCKERD_VALUE_FLAGS = [
  "--config-file",
  "-H",
  "--host",
  "--data-root",
  "--exec-root",
  "--pidfile",
  "-p",
  "--containerd",
];
export const CONTAINERD_VALUE_FLAGS = ["-c", "--config", "-a", "--address", "--root", "--state"];
export const CRIO_VALUE_FLAGS = ["--config", "-c", "--config-dir", "-d"];

/** A process's environment (/proc/PID/environ), or null when unreadable. */
export function readEnviron(pid: number, procRoot = "/proc"): Record<string, string> | null {
  try {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(`${procRoot}/${pid}/environ`, "latin1").split("\0")) {
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return env;
  } catch {
    return null;
  }
}

/** Real uid of a running process, or null. */
export function processUid(pid: number, procRoot = "/proc"): number | null {
  try {
    const m = readFileSync(`${procRoot}/${pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Whether a process with this pid is alive: it exists (EPERM means it does, under another
 * user) and is not a zombie waiting to be reaped.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc (or it vanished between the calls): trust kill(0)
  }
}

/**
 * The unix sockets process `pid` listens on, as the paths it bound them to (in its own
 * mount namespace): the listening entries of its network namespace's /proc/PID/net/unix
 * whose inode is one of its fds. null when either is unreadable (another user's process).
 */
export function listeningUnixPaths(pid: number, procRoot = "/proc"): string[] | null {
  const listening = new Map<string, string>();
  let fds: string[];
  const readTable = (file: string) => {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      // Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000 is __SO_ACCEPTCON (listening).
      const f = line.trim().split(/\s+/);
      const listens = f.length >= 8 && (Number.parseInt(f[3], 16) & 0x10000) !== 0;
      if (listens && f[7].startsWith("/")) listening.set(f[6], f[7]);
    }
  };
  try {
    readTable(`${procRoot}/${pid}/net/unix`);
    // /proc/PID/net is the main thread's network namespace; a rootless dockerd's main thread sits in
    // libnetwork's while its other threads, which bound the API socket, stay in RootlessKit's.
    const seen = new Set([readlinkOrNull(`${procRoot}/${pid}/ns/net`)]);
    for (const tid of readdirOrEmpty(`${procRoot}/${pid}/task`)) {
      const ns = readlinkOrNull(`${procRoot}/${pid}/task/${tid}/ns/net`);
      if (ns === null || seen.has(ns)) continue;
      seen.add(ns);
      try {
        readTable(`${procRoot}/${pid}/task/${tid}/net/unix`);
      } catch {}
    }
    fds = readdirSync(`${procRoot}/${pid}/fd`);
  } catch {
    return null;
  }
  const paths = new Set<string>();
  for (const fd of fds) {
    try {
      const m = readlinkSync(`${procRoot}/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      const path = m && listening.get(m[1]);
      if (path) paths.add(path);
    } catch {}
  }
  return [...paths];
}

function readlinkOrNull(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
}

function readdirOrEmpty(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

/** Whether `pid` runs in our mount namespace (null: cannot tell). */
export function sameMountNamespace(pid: number, procRoot = "/proc"): boolean | null {
  try {
    return readlinkSync(`${procRoot}/${pid}/ns/mnt`) === readlinkSync(`${procRoot}/self/ns/mnt`);
  } catch {
    return null;
  }
}
