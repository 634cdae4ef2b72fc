// Which directory of the release bucket a `--version` names, and which files each
// layout puts there. Bucket layout: <base>/<channel dir>/<arch>/<file> (gvisor-facts §1).
import { echoInput } from "../os/echo-input.ts";
import { UsageError } from "../os/errors.ts";
import type { GvisorArch } from "../os/arch.ts";

export const DEFAULT_BASE = "https://storage.googleapis.com/gvisor/releases";

export type ReleaseFormat = "zstd" | "bz2" | "loose";
/** The binaries at the top of a release (tarball members, loose files, links in <prefix>/bin). */
export const RELEASE_BINARIES = ["runsc", "containerd-shim-runsc-v1"] as const;
/** runsc's sidecar binaries live here, next to the real runsc file. */
export const SIDECAR_DIR = "gvisor-bin";
/**
 * The size class of a release file: runsc and the tarballs are ~30–70 MB. A download past this is not
 * a gVisor release (or never ends): it is stopped. GVISOR_DOCTOR_MAX_DOWNLOAD_MB overrides it.
 */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;
/** The order `install` tries when no --format is given: smallest/fastest first. */
export const FORMAT_ORDER: ReleaseFormat[] = ["zstd", "bz2", "loose"];

export interface VersionSpec {
  /** What the user asked for, normalised: "latest", "20260817.0", "nightly/2026-09-10", … */
  requested: string;
  /** Bucket directory below the base, e.g. "release/20260817.0". */
  dir: string;
  /** A moving channel (latest, nightly): the release is only known once downloaded. */
  moving: boolean;
}

const VERSION_FORMS = "latest, YYYYMMDD, YYYYMMDD.N, nightly or nightly/YYYY-MM-DD";

function validDate(y: string, m: string, d: string): boolean {
  const t = new Date(Date.UTC(+y, +m - 1, +d));
  return t.getUTCFullYear() === +y && t.getUTCMonth() === +m - 1 && t.getUTCDate() === +d;
}

/** Parse `--version`. Also accepts the tag spelling `release-YYYYMMDD.N`. */
export function parseVersionSpec(input: string | undefined): VersionSpec {
  const v = (input ?? "latest").trim();
  if (v === "latest" || v === "release/latest") return { requested: "latest", dir: "release/latest", moving: true };
  if (v === "nightly" || v === "nightly/latest") return { requested: "nightly", dir: "nightly/latest", moving: true };
  const n = v.match(/^nightly\/(\d{4})-(\d{2})-(\d{2})$/);
  if (n) {
    if (!validDate(n[1], n[2], n[3]))
      throw new UsageError(
        `--version ${echoInput(v)}: ${n[1]}-${n[2]}-${n[3]} is not a calendar date`,
        `accepted: ${VERSION_FORMS}`,
      );
    return { requested: v, dir: v, moving: false };
  }
  const r = v.match(/^(?:release-)?(\d{4})(\d{2})(\d{2})(\.\d+)?$/);
  if (r) {
    if (!validDate(r[1], r[2], r[3]))
      throw new UsageError(
        `--version ${echoInput(v)}: ${r[1]}${r[2]}${r[3]} is not a calendar date`,
        `accepted: ${VERSION_FORMS}`,
      );
    const name = `${r[1]}${r[2]}${r[3]}${r[4] ?? ""}`;
    return { requested: name, dir: `release/${name}`, moving: false };
  }
  throw new UsageError(
    `--version ${echoInput(v)} is not a gVisor release`,
    `accepted: ${VERSION_FORMS} (e.g. --version 20260817.0)`,
  );
}

export function parseFormat(input: string | undefined): ReleaseFormat | null {
  if (input === undefined) return null;
  const f = input === "zst" ? "zstd" : input === "bzip2" ? "bz2" : input;
  if (f === "zstd" || f === "bz2" || f === "loose") return f;
  throw new UsageError(
    `--format ${echoInput(input)} is not one of zstd, bz2, loose`,
    "see: gvisor-doctor install --help",
  );
}

export interface Artifact {
  /** File name in the arch directory, e.g. "gvisor.tar.zstd" or "runsc". */
  name: string;
  /** Where it lands inside the version directory (loose files only). */
  installAs?: string;
  /** Loose sidecar that an old release may lack (install goes on without it). */
  optional?: boolean;
}

/** Files to download for a layout. Tarballs carry runsc, the shim and gvisor-bin/ inside. */
export function artifactsFor(format: ReleaseFormat): Artifact[] {
  switch (format) {
    case "zstd":
      return [{ name: "gvisor.tar.zstd" }];
    case "bz2":
      return [{ name: "gvisor.tar.bz2" }];
    case "loose":
      return [
        { name: "runsc", installAs: "runsc" },
        { name: "containerd-shim-runsc-v1", installAs: "containerd-shim-runsc-v1", optional: true },
      ];
  }
}

/** Relative path of a file in the bucket: "<dir>/<arch>/<name>". */
export function objectPath(spec: VersionSpec, arch: GvisorArch, name: string): string {
  return `${spec.dir}/${arch}/${name}`;
}

/**
 * Directory name for an installed release under <prefix>/lib/gvisor. A pinned version
 * is named as asked; a moving channel after the release its runsc reports
 * ("release-20260817.0" → "20260817.0"), else after the channel and the hash.
 */
/**
 * What versionDirName (and freeDirName's `_N`) can produce: one path component, no leading dot.
 * Names read back from state.json are held to it, so an edited entry cannot name `..` or a path.
 */
export const VERSION_DIR_NAME = /^[A-Za-z0-9_][A-Za-z0-9._~+-]{0,127}$/;

export function versionDirName(spec: VersionSpec, runscVersion: string | null, sha512: string): string {
  const reported = runscVersion?.replace(/^release-/, "").replace(/[^A-Za-z0-9._~+-]/g, "_") ?? "";
  if (!spec.moving) return spec.requested.replace("/", "-");
  if (reported && reported !== "VERSION_MISSING" && /\d{8}/.test(reported)) return reported;
  return `${spec.requested}-${sha512.slice(0, 12)}`;
}
