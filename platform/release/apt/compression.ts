// Decoders for what a .deb and an apt index are compressed with: gzip (node:zlib), xz (the
// host's xz: neither Bun nor Deno ships one), zstd (the release tarball's decoders), none.
// Every decoder ends, with an error, on truncated input: a cut-off download must fail, not hang.
import * as zlib from "node:zlib";
import { findTool } from "../../os/which.ts";
import {
  createDecoder,
  DecodeError,
  identity,
  processDecoder,
  zlibDecoder,
  type Decoder,
  type Out,
} from "../decode.ts";

export type Compression = "gz" | "xz" | "zst" | "none";

/** The compression of a member or index by its name (data.tar.xz, Packages.gz, …). */
export function compressionOf(name: string): Compression | null {
  if (/\.gz$/.test(name)) return "gz";
  if (/\.xz$/.test(name)) return "xz";
  if (/\.zst$/.test(name)) return "zst";
  if (/\.(tar|deb)$|\/Packages$|^Packages$/.test(name)) return "none";
  return null;
}

export function xzProgram(pathEnv?: string): string | null {
  return findTool("xz", { PATH: pathEnv ?? process.env.PATH });
}

function gunzip(out: Out): Decoder {
  return zlibDecoder("gzip", zlib.createGunzip({ chunkSize: 1 << 20 }), out);
}

/**
 * gz: node:zlib. GVISOR_DOCTOR_DECODER=system takes the host's pigz or gzip instead: measured
 * slower on a 155 MB .deb (bench/RESULTS.md, install --verify signed), unlike zstd.
 */
export function createAptDecoder(
  c: Compression,
  out: Out,
  pathEnv?: string,
  choice = process.env.GVISOR_DOCTOR_DECODER,
): Decoder {
  switch (c) {
    case "gz": {
      const env = { PATH: pathEnv ?? process.env.PATH };
      const sys = choice === "system" ? (findTool("pigz", env) ?? findTool("gzip", env)) : null;
      return sys ? processDecoder(sys, ["-d", "-c"], "gzip", out) : gunzip(out);
    }
    case "xz": {
      const xz = xzProgram(pathEnv);
      if (!xz)
        throw new DecodeError(
          "this .deb is xz-compressed and there is no xz program on PATH (apt-get install xz-utils)",
        );
      return processDecoder(xz, ["-d", "-c", "-q"], "xz", out);
    }
    case "zst":
      return createDecoder("zstd", out, "auto", pathEnv);
    case "none":
      return identity(out);
  }
}

/** Decode a small whole file (an index) in memory, refusing more than `max` bytes out. */
export async function decodeAll(c: Compression, data: Uint8Array, max: number, pathEnv?: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  // Small indexes: in-process (no process start for a few KB).
  const d = createAptDecoder(
    c,
    (b) => {
      n += b.length;
      if (n > max) throw new DecodeError(`decodes to more than ${max} bytes`);
      parts.push(b);
    },
    pathEnv,
    "builtin",
  );
  try {
    await d.write(data);
    await d.end();
  } catch (e) {
    d.destroy();
    throw e;
  }
  return Buffer.concat(parts);
}
