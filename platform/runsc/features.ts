// What a given runsc binary supports. A 2022 runsc rejects flags a 2026 one needs
// ("flag provided but not defined: -host-settings") and the sandbox never starts, so
// nothing gvisor-doctor writes or runs may add a flag the installed runsc does not know.
// The truth is the binary's own `runsc flags` output, read once per binary content
// (sha256) and cached; the table below is the fallback when the binary cannot be run
// (another architecture under --host-root, a broken file) and documents the history.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteFile } from "../os/fsutil.ts";
import { run } from "../os/spawn.ts";
import type { GvisorVersion } from "../os/versions.ts";

/**
 * The flags gvisor-doctor cares about. `knownIn`: a release seen (`runsc flags` of Debian's 20221219
 * and 20240729 builds) or documented (gvisor-facts) to have the flag; `absentIn`: the newest release
 * seen without it. The fallback counts a flag as supported only from `knownIn` on (never a guess).
 */
export const RUNSC_FLAG_TABLE: { flag: string; knownIn: string | null; absentIn?: string; why: string }[] = [
  { flag: "network", knownIn: "20221219", why: "--network=none/host where the sandbox network cannot start" },
  { flag: "debug", knownIn: "20221219", why: "debug logs the doctor decodes after a generic start failure" },
  { flag: "debug-log", knownIn: "20221219", why: "where those logs go" },
  { flag: "debug-command", knownIn: "20221219", why: "limits debug logs to boot,gofer,create,start" },
  { flag: "ignore-cgroups", knownIn: "20221219", why: "runs without the cgroup controllers runsc wants" },
  { flag: "systemd-cgroup", knownIn: "20221219", why: "systemd cgroup paths (a systemd cgroup driver)" },
  { flag: "host-settings", knownIn: null, absentIn: "20240729", why: "check/adjust/enforce host settings" },
  { flag: "gvisor-marker-file", knownIn: null, absentIn: "20240729", why: "/proc/gvisor/kernel_is_gvisor" },
  { flag: "sidecar-usage-policy", knownIn: null, absentIn: "20240729", why: "STRICT: no sidecar fallback" },
];

/** Sidecar binaries (gvisor-bin/ next to the real runsc); `since`: the tarball layout that ships them. */
export const RUNSC_SIDECAR_TABLE: { name: string; since: string | null }[] = [
  { name: "checkpointgofer", since: "20260721" },
  { name: "gvisor-sentry-prewarmer", since: "20260721" },
  { name: "gvisor_sentry", since: "20260721" },
  { name: "runsc-metric-server", since: "20260721" },
  { name: "runsc-fd-parking", since: null },
];

/** The first release whose tarball layout ships sidecars (gvisor-bin/ next to the real runsc). */
export const SIDECARS_SINCE = RUNSC_SIDECAR_TABLE.map((s) => s.since)
  .filter((d) => d !== null)
  .sort()[0]!;

/**
 * The sidecars a release ships, by the table: none for an unknown release or one before the layout.
 * A sidecar with no known first release (runsc-fd-parking) is never required: a guess would fail a
 * good install.
 */
export function expectedSidecars(version: Pick<GvisorVersion, "date"> | null): string[] {
  if (!version) return [];
  return RUNSC_SIDECAR_TABLE.filter((s) => s.since !== null && s.since <= version.date)
    .map((s) => s.name)
    .sort();
}

export interface RunscFeatures {
  /** sha256 of the binary: the cache key (a reinstall under the same path is another binary). */
  sha256: string;
  /** Top-level flag names without dashes ("ignore-cgroups"). */
  flags: string[];
  /** Where `flags` came from: the binary itself, or the table by release date. */
  source: "runsc flags" | "table";
  /** The release date (YYYYMMDD) the table was read for (null: unknown release). */
  release: string | null;
}

const cache = new Map<string, RunscFeatures>();

/**
 * Hashing a 24-30 MB runsc and running `runsc flags` costs ~150 ms, over `check --quick`'s budget:
 * the result is also kept on disk, keyed by the file's identity (device, inode, size, mtime, ctime;
 * any rewrite or chmod changes ctime), so later runs pay neither. Best effort: unwritable is fine.
 */
export const FEATURES_CACHE_DIR = join(process.env.GVD_CACHE_DIR ?? "/var/cache/gvisor-doctor", "runsc-features");

function identity(path: string): string | null {
  try {
    const st = statSync(path);
    const id = [path, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs].join(":");
    return createHash("sha256").update(id).digest("hex").slice(0, 32);
  } catch {
    return null;
  }
}

function readDiskCache(id: string): RunscFeatures | null {
  try {
    const f = JSON.parse(readFileSync(join(FEATURES_CACHE_DIR, `${id}.json`), "utf8")) as RunscFeatures;
    return typeof f.sha256 === "string" && Array.isArray(f.flags) && f.source === "runsc flags" ? f : null;
  } catch {
    return null;
  }
}

function writeDiskCache(id: string, f: RunscFeatures): void {
  try {
    mkdirSync(FEATURES_CACHE_DIR, { recursive: true, mode: 0o755 });
    atomicWriteFile(join(FEATURES_CACHE_DIR, `${id}.json`), `${JSON.stringify(f)}\n`);
  } catch {}
}

/** sha256 of a file (null when unreadable). */
export function fileSha256(path: string): string | null {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch {
    return null;
  }
}

/** Flag names from `runsc flags` output (Go's flag.PrintDefaults: two spaces, one dash, the name). */
export function parseRunscFlags(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/^ {2}-([A-Za-z0-9][A-Za-z0-9_.-]*)/gm)) names.add(m[1]);
  return [...names].sort();
}

/** The table's flags of a release (YYYYMMDD), for a binary that cannot be asked. */
export function tableFlags(version: Pick<GvisorVersion, "date"> | null): string[] {
  if (!version) return [];
  return RUNSC_FLAG_TABLE.filter((f) => f.knownIn !== null && f.knownIn <= version.date).map((f) => f.flag);
}

/**
 * What the runsc at `path` supports: its own `runsc flags`, cached per binary content;
 * falls back to the table for `version` when the binary cannot list its flags.
 */
export async function runscFeatures(
  path: string,
  version: Pick<GvisorVersion, "date"> | null = null,
): Promise<RunscFeatures | null> {
  const id = identity(path);
  const known = id ? readDiskCache(id) : null;
  if (known) {
    cache.set(known.sha256, known);
    return known;
  }
  const sha256 = fileSha256(path);
  if (!sha256) return null;
  const hit = cache.get(sha256);
  if (hit) return hit;
  const r = await run(path, ["flags"], { timeoutMs: 5_000 });
  const listed = r.code === 0 ? parseRunscFlags(r.stdout + r.stderr) : [];
  const features: RunscFeatures = listed.length
    ? { sha256, flags: listed, source: "runsc flags", release: version?.date ?? null }
    : { sha256, flags: tableFlags(version), source: "table", release: version?.date ?? null };
  // A table guess is not cached: the next call may be able to run the binary.
  if (features.source === "runsc flags") {
    cache.set(sha256, features);
    if (id) writeDiskCache(id, features);
  }
  return features;
}

/** The flag name of a runtime argument: "--network=none", "-network", "network=none" → "network". */
export const flagName = (arg: string) => arg.replace(/^--?/, "").replace(/=.*$/s, "");

/**
 * The arguments among `args` the runsc does not know. From `runsc flags`: every flag it does not
 * list. From the table: only flags the table knows a release at least as new lacked (no guessing).
 */
export function unknownFlags(features: RunscFeatures | null | undefined, args: string[]): string[] {
  if (!features) return [];
  if (features.source === "runsc flags") return args.filter((a) => !features.flags.includes(flagName(a)));
  const release = features.release;
  if (!release) return [];
  return args.filter((a) => {
    const row = RUNSC_FLAG_TABLE.find((f) => f.flag === flagName(a));
    return !!row?.absentIn && release <= row.absentIn;
  });
}
