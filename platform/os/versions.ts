// Version parsing for the two version schemes the doctor meets: Linux kernels
// (semver.coerce, never rtl/includePrerelease) and gVisor releases (YYYYMMDD.N[-N-gHASH]).
import semver from "semver";

/** Kernel release string (`uname -r`) → comparable semver, e.g. "6.18.44-fc-v669" → 6.18.44. */
export function parseKernel(release: string): semver.SemVer | null {
  return semver.coerce(release);
}

export interface GvisorVersion {
  /** The text runsc printed, e.g. "release-20260817.0-57-g0123456789ab". */
  raw: string;
  /** YYYYMMDD */
  date: string;
  point: number;
  /** Commits since the tag for nightly/master builds. */
  commits: number;
  /** True for tagged releases (release-YYYYMMDD.N, or GKE g*-YYYYMMDD). */
  isRelease: boolean;
  /** A distro build such as Debian's "0.0~20221219.0". */
  distro: boolean;
}

const RE = /(\d{8})(?:\.(\d+))?(?:-(\d+)-g[0-9a-f]+)?/;

/** Parse the version from `runsc --version` output or a bare version/tag string. */
export function parseGvisorVersion(text: string): GvisorVersion | null {
  const line = text.match(/runsc version (\S+)/)?.[1] ?? text.trim().split(/\s+/)[0] ?? "";
  const m = line.match(RE);
  if (!m) return null;
  return {
    raw: line,
    date: m[1],
    point: m[2] ? Number(m[2]) : 0,
    commits: m[3] ? Number(m[3]) : 0,
    isRelease: /^(?:release|g[a-z]*)-\d{8}(?:\.\d+)?$/.test(line),
    distro: /^\d+\.\d+~\d{8}/.test(line),
  };
}

export function compareGvisor(a: GvisorVersion, b: GvisorVersion): number {
  return a.date.localeCompare(b.date) || a.point - b.point || a.commits - b.commits;
}

/** Days between a gVisor version's date and `now`. */
export function gvisorAgeDays(v: GvisorVersion, now = new Date()): number {
  const d = Date.UTC(+v.date.slice(0, 4), +v.date.slice(4, 6) - 1, +v.date.slice(6, 8));
  return Math.floor((now.getTime() - d) / 86_400_000);
}
