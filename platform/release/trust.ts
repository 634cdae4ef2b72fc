// How far an install can be trusted, from strongest to weakest:
//   signed        the bytes are the ones gVisor's archive key signed (apt chain: InRelease →
//                 Packages → .deb), checked against a key compiled into this binary;
//   pinned-sha512 the bytes match a sha512 the user brought (--sha512), from wherever they got it;
//   bucket-sha512 the bytes match the .sha512 beside them in the same bucket: integrity only,
//                 whoever can change one can change the other.
export type TrustLevel = "signed" | "pinned-sha512" | "bucket-sha512";

export interface Trust {
  level: TrustLevel;
  /** The signing key's fingerprint (signed only). */
  key: string | null;
  /** What was checked, in order, e.g. "InRelease signed by 6F1D…", "Packages.gz sha256 from InRelease". */
  chain: string[];
}

export const TRUST_LEVELS: TrustLevel[] = ["signed", "pinned-sha512", "bucket-sha512"];

export function describeTrust(t: Trust | null | undefined): string {
  if (!t) return "unknown (installed before trust levels were recorded)";
  switch (t.level) {
    case "signed":
      return `signed (OpenPGP key ${t.key?.toUpperCase() ?? "?"})`;
    case "pinned-sha512":
      return "pinned-sha512 (the hash given with --sha512)";
    case "bucket-sha512":
      return "bucket-sha512 (the .sha512 next to the file: integrity, not authenticity; --verify signed is stronger)";
  }
}
