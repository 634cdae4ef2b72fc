// sha512 while the bytes stream, and the `.sha512` file format (one `sha512sum`
// line: 128 hex, two spaces, the file name). Measured on 124 MB (bench/RESULTS.md (install)):
// node:crypto 0.23 s in Bun and in Deno, @noble/hashes 1.6–2.3 s, so the runtime's
// native hash does the work; @noble/hashes stands in where node:crypto lacks sha512.
import { createHash } from "node:crypto";
import { sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export interface Sha512 {
  update(chunk: Uint8Array): void;
  /** Lower-case hex digest (call once). */
  hex(): string;
  impl: "node:crypto" | "@noble/hashes";
}

export function createSha512(prefer: "native" | "noble" = "native"): Sha512 {
  if (prefer === "native") {
    try {
      const h = createHash("sha512");
      return { update: (c) => void h.update(c), hex: () => h.digest("hex"), impl: "node:crypto" };
    } catch {
      // A runtime without a native sha512: fall through to the portable one.
    }
  }
  const h = nobleSha512.create();
  return { update: (c) => void h.update(c), hex: () => bytesToHex(h.digest()), impl: "@noble/hashes" };
}

export class ChecksumFileError extends Error {}

/**
 * The expected hash from a `.sha512` file: its first whitespace-separated token, as
 * runsc's own verifier reads it, lower-cased. Anything that is not 128 hex digits
 * (an HTML error page, an empty file) is an error that quotes what was there.
 */
export function parseSha512File(text: string, where: string): string {
  const token =
    text
      .replace(/^\uFEFF/, "")
      .trim()
      .split(/\s+/)[0] ?? "";
  if (/^[0-9a-fA-F]{128}$/.test(token)) return token.toLowerCase();
  const looksHtml = /^\s*</.test(text);
  const shown = JSON.stringify(text.trim().slice(0, 60));
  throw new ChecksumFileError(
    looksHtml
      ? `${where} is an HTML page, not a checksum file (starts with ${shown}): a captive portal, proxy or wrong --mirror?`
      : text.trim() === ""
        ? `${where} is empty: no sha512 in it`
        : `${where} does not start with a sha512 (128 hex digits); it starts with ${shown}`,
  );
}

/** Normalise a `--sha512` argument (hex, optionally followed by a file name as sha512sum prints it). */
export function parsePinnedSha512(value: string): string | null {
  const token = value.trim().split(/\s+/)[0] ?? "";
  return /^[0-9a-fA-F]{128}$/.test(token) ? token.toLowerCase() : null;
}
