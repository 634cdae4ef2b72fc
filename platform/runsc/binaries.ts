// What we know about each runsc binary on the host: where it really is, whether the
// sandbox user (nobody) can execute it, which release it is, and its sidecars.
import { closeSync, lstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { goBuildVersion, readElf, type ElfInfo } from "../os/elf.ts";
import { runscFeatures, type RunscFeatures } from "./features.ts";
import { run } from "../os/spawn.ts";
import { parseGvisorVersion, type GvisorVersion } from "../os/versions.ts";
import { isExecutableFile, whichAll, SYSTEM_BIN_DIRS } from "../os/which.ts";
import type { HostRoot } from "../os/host-root.ts";
// Defined with the self-sandbox tells (a module preflight loads alone); re-exported for the probes.
export { GVISOR_SIGNATURE } from "../facts/self-sandbox.ts";

export interface PathPermission {
  path: string;
  mode: string;
  /** World can read+execute a file / search a directory. */
  worldOk: boolean;
}

export interface RunscBinary {
  /** The path as found (may be a symlink). */
  path: string;
  /** The resolved file; runsc locates gvisor-bin/ next to it. */
  realPath: string;
  onPath: boolean;
  elf: ElfInfo | null;
  version: GvisorVersion | null;
  /** First line of `runsc --version` or the failure text. */
  versionText: string;
  versionOk: boolean;
  /** The file and every parent directory of both the path and the real path. */
  permissions: PathPermission[];
  /** Files in gvisor-bin/ next to the real path (empty when absent). */
  sidecars: string[];
  /** The release label embedded in each sidecar (null when none was found). */
  sidecarLabels: Record<string, string | null>;
  /** The flags this binary knows (its own `runsc flags`, cached per sha256); null when unreadable. */
  features?: RunscFeatures | null;
  /** The Go toolchain it was built with ("go1.26.2"), from its build info; null when unknown. */
  goVersion?: string | null;
}

/**
 * The first `release-YYYYMMDD.N` label embedded in a binary. gVisor stamps its build
 * label into every binary of a release; sidecars with another label panic at start.
 * Streams the file in 1 MiB chunks with a native byte search, stopping at the first hit.
 */
export function embeddedReleaseLabel(path: string): string | null {
  const needle = Buffer.from("release-");
  const buf = Buffer.alloc(1 << 20);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    let carry = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) return null;
      const hay = Buffer.concat([carry, buf.subarray(0, n)]);
      let i = hay.indexOf(needle);
      while (i >= 0) {
        const m = hay
          .subarray(i, i + 24)
          .toString("latin1")
          .match(/^release-\d{8}(?:\.\d+)?/);
        if (m) return m[0];
        i = hay.indexOf(needle, i + 1);
      }
      carry = hay.subarray(Math.max(0, hay.length - 24));
    }
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const EXTRA_DIRS = [...SYSTEM_BIN_DIRS, "/usr/local/lib/gvisor/current"];

/** Permission of a path and all its ancestors (for the nobody user). */
export function permissionChain(path: string): PathPermission[] {
  const chain: PathPermission[] = [];
  let p = path;
  for (;;) {
    try {
      const st = statSync(p);
      const mode = st.mode & 0o7777;
      const worldOk = st.isDirectory() ? (mode & 0o001) !== 0 : (mode & 0o005) === 0o005;
      chain.push({ path: p, mode: mode.toString(8).padStart(4, "0"), worldOk });
    } catch {
      chain.push({ path: p, mode: "????", worldOk: false });
    }
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  return chain;
}

export async function inspectRunsc(path: string, onPath: boolean): Promise<RunscBinary> {
  let realPath = path;
  try {
    realPath = realpathSync(path);
  } catch {}
  const perms = new Map<string, PathPermission>();
  for (const p of [...permissionChain(path), ...(realPath !== path ? permissionChain(realPath) : [])])
    perms.set(p.path, p);
  // A symlink's own mode is irrelevant: report the target's, which permissionChain(path) already stat'ed.
  let sidecars: string[] = [];
  const binDir = join(dirname(realPath), "gvisor-bin");
  try {
    sidecars = readdirSync(binDir).sort();
  } catch {}
  const sidecarLabels: Record<string, string | null> = {};
  for (const s of sidecars) {
    sidecarLabels[s] = embeddedReleaseLabel(join(binDir, s));
    // The sandbox user needs a+rx on gvisor-bin/ and every sidecar too.
    perms.set(join(binDir, s), permissionChain(join(binDir, s))[0]);
  }
  if (sidecars.length) perms.set(binDir, permissionChain(binDir)[0]);
  // Its flags are read alongside (a disk-cache hit on later runs); the table fallback needs the version.
  const ranP = Promise.all([run(path, ["--version"], { timeoutMs: 5_000 }), runscFeatures(path)]);
  // The file itself is read while runsc runs.
  const elf = readElf(realPath);
  const goVersion = goBuildVersion(realPath);
  const [r, listed] = await ranP;
  const version = r.code === 0 ? parseGvisorVersion(r.stdout) : null;
  const versionText =
    r.code === 0
      ? r.stdout.split("\n")[0].trim()
      : (r.spawnError ?? (r.stderr.trim() || `exit ${r.code}`)).split("\n")[0];
  return {
    path,
    realPath,
    onPath,
    elf,
    goVersion,
    version,
    versionText,
    versionOk: r.code === 0,
    permissions: [...perms.values()],
    sidecars,
    sidecarLabels,
    features: r.code !== 0 ? null : listed?.source === "table" ? await runscFeatures(path, version) : listed,
  };
}

/** Every runsc on PATH and in the usual directories, deduplicated by real path (PATH order first). */
export async function findRunscBinaries(
  env: NodeJS.ProcessEnv = process.env,
  extraPaths: string[] = [],
): Promise<RunscBinary[]> {
  const onPath = new Set(whichAll("runsc", [], env.PATH ?? ""));
  const all = [
    ...whichAll("runsc", EXTRA_DIRS, env.PATH ?? ""),
    ...extraPaths.filter((p) => {
      try {
        return lstatSync(p).isFile() || lstatSync(p).isSymbolicLink();
      } catch {
        return false;
      }
    }),
  ];
  const byReal = new Map<string, string>();
  for (const p of all) {
    let real = p;
    try {
      real = realpathSync(p);
    } catch {}
    if (!byReal.has(real)) byReal.set(real, p);
  }
  return Promise.all([...byReal.values()].map((p) => inspectRunsc(p, onPath.has(p))));
}

/**
 * --host-root: every runsc in the node's system directories (and its gvisor-doctor install),
 * inspected through the root and named by the node's paths. The system directories stand in
 * for PATH (the node's daemons find runsc there).
 */
export async function findRunscInRoot(root: HostRoot): Promise<RunscBinary[]> {
  const byReal = new Map<string, string>();
  for (const d of EXTRA_DIRS) {
    // root.local resolves every link inside the root: the key is the real file.
    const local = root.local(join(d, "runsc"));
    if (!isExecutableFile(local)) continue;
    if (!byReal.has(local)) byReal.set(local, join(d, "runsc"));
  }
  const found = await Promise.all(
    [...byReal.entries()].map(async ([local, hostPath]) => ({
      hostPath,
      r: await inspectRunsc(local, SYSTEM_BIN_DIRS.includes(dirname(hostPath))),
    })),
  );
  const inRoot = (p: string) => p === root.dir || p.startsWith(`${root.dir}/`);
  return found.map(({ hostPath, r }) => ({
    ...r,
    path: hostPath,
    realPath: root.host(r.realPath),
    // The chain above the host's / is this pod's, not the node's.
    permissions: r.permissions.filter((p) => inRoot(p.path)).map((p) => ({ ...p, path: root.host(p.path) })),
  }));
}

/** The runsc a user gets by typing `runsc`: the first on PATH, else the first found anywhere. */
export function primaryRunsc(all: RunscBinary[]): RunscBinary | null {
  return all.find((r) => r.onPath) ?? all[0] ?? null;
}

/**
 * gVisor reads the current goroutine's id at a fixed offset into the Go runtime's `g` struct, one
 * offset per Go version it knows (pkg/goid). Go 1.25 moved the field (152, was 160), and gVisor
 * learned that in mid-2025: an older release built by a distribution with Go ≥ 1.25 reads a wrong
 * id, and the Sentry panics at random ("running on goroutine N (task goroutine for kernel.Task … is 0)").
 * Seen: Debian sid's runsc 0.0~20240729.0-7+b1 (go1.26.2), about one multi-process start in eight.
 */
export const GOID_OFFSET_CHANGE = { go: [1, 25] as const, knownSince: "20250701" };

/** The Go minor version ("go1.26.2" → [1, 26]); null when unknown. */
export function goMinor(v: string | null | undefined): [number, number] | null {
  const m = /^go(\d+)\.(\d+)/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Whether this runsc was built with a Go newer than its release's goroutine-id offsets (see above). */
export function readsWrongGoroutineId(r: Pick<RunscBinary, "goVersion" | "version">): boolean {
  const go = goMinor(r.goVersion);
  if (!go || !r.version) return false;
  const [maj, min] = GOID_OFFSET_CHANGE.go;
  const newGo = go[0] > maj || (go[0] === maj && go[1] >= min);
  return newGo && r.version.date < GOID_OFFSET_CHANGE.knownSince;
}
