// Which apt suite and architecture a --version names (gvisor-facts §1.4): latest → release,
// nightly → nightly, YYYYMMDD → that date's suite; a point release YYYYMMDD.N is the date's
// suite with the package Version pinned to it. Dated nightlies have no suite.
import { UsageError } from "../../os/errors.ts";
import type { GvisorArch } from "../../os/arch.ts";
import type { VersionSpec } from "../channels.ts";

export interface AptTarget {
  suite: string;
  /** Debian's architecture name: amd64 or arm64. */
  arch: string;
  /** A point release pins the package Version; null takes the suite's newest runsc. */
  version: string | null;
}

export function aptTarget(spec: VersionSpec, arch: GvisorArch): AptTarget {
  const debArch = arch === "x86_64" ? "amd64" : "arm64";
  if (spec.requested === "latest") return { suite: "release", arch: debArch, version: null };
  if (spec.requested === "nightly") return { suite: "nightly", arch: debArch, version: null };
  const m = spec.requested.match(/^(\d{8})(?:\.(\d+))?$/);
  if (m) return { suite: m[1], arch: debArch, version: m[2] === undefined ? null : spec.requested };
  throw new UsageError(
    `--verify signed: gVisor's signed apt repository has no suite for ${spec.requested}`,
    "the apt suites are release, nightly and YYYYMMDD: use --version latest, nightly or a release date, " +
      "or --verify sha512",
  );
}
