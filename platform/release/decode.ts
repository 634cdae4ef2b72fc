// Streaming decompression of the release tarball. zstd: node:zlib (Bun and Deno
// ship it) or the host's `zstd`; bz2: the host's lbzip2/bzip2/busybox (Bun has no
// bzip2 and the pure-JS decoders measured 2.4× slower than bzip2 itself). Which one
// runs by default was chosen by measurement: see bench/RESULTS.md (install).
import * as zlib from "node:zlib";
import type { ChildProcess } from "node:child_process";
import { run, failureText, type RunResult } from "../os/spawn.ts";
import { findTool } from "../os/which.ts";
import type { ReleaseFormat } from "./channels.ts";

export interface Decoder {
  /** What decodes, for -v and --json ("node:zlib", "/usr/bin/zstd", …). */
  name: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Resolves once every decoded byte has reached the output callback. */
  end(): Promise<void>;
  destroy(): void;
}

export class DecodeError extends Error {}

export type Out = (chunk: Buffer) => void;

/** node:zlib streams do one job per write; ~1 MiB writes measured fastest in Bun. */
const BLOCK = 1 << 20;

type ZlibStream = NodeJS.ReadWriteStream & { destroy(): void };

/**
 * A node:zlib stream as a Decoder: writes batched to ~BLOCK, backpressure honoured, an error in `out` stops the
 * stream, and a stream that closes without 'end' (truncated input) is an error, never a hang or a short file.
 */
export function zlibDecoder(label: string, z: ZlibStream, out: Out): Decoder {
  let failed: Error | null = null;
  let ended = false;
  let outError: unknown = null;
  z.on("data", (c: Buffer) => {
    if (outError) return;
    try {
      out(c);
    } catch (e) {
      outError = e;
      z.destroy();
    }
  });
  // 'close' follows 'end' or 'error'.
  const closed = new Promise<void>((resolve) => {
    z.on("end", () => (ended = true));
    z.on("error", (e: Error) => (failed = e));
    z.on("close", () => resolve());
  });
  let pending: Uint8Array[] = [];
  let pendingLen = 0;
  const check = () => {
    if (outError) throw outError;
    if (failed) throw new DecodeError(`${label}: ${(failed as Error).message}`);
  };
  const flush = async () => {
    if (!pendingLen) return;
    const buf = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    if (!z.write(buf))
      await new Promise<void>((r) => {
        const done = () => {
          z.off("drain", done);
          z.off("error", done);
          z.off("close", done);
          r();
        };
        z.on("drain", done);
        z.on("error", done);
        z.on("close", done);
      });
    check();
  };
  return {
    name: "node:zlib",
    async write(chunk) {
      check();
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen >= BLOCK) await flush();
    },
    async end() {
      await flush();
      z.end();
      await closed;
      check();
      if (!ended) throw new DecodeError(`${label}: the stream ends early (truncated)`);
    },
    destroy: () => z.destroy(),
  };
}

function zlibZstd(out: Out): Decoder {
  const z = (zlib as unknown as { createZstdDecompress(o: object): ZlibStream }).createZstdDecompress({
    chunkSize: BLOCK,
  });
  return zlibDecoder("zstd", z, out);
}

/** A decompressor process: compressed bytes into its stdin, decoded bytes out of its stdout. */
export function processDecoder(bin: string, args: string[], label: string, out: Out): Decoder {
  let child: ChildProcess | null = null;
  let outError: unknown = null;
  let stdinError: Error | null = null;
  const result: Promise<RunResult> = run(bin, args, {
    stdin: "pipe",
    maxBytes: 64 * 1024,
    onSpawn: (c) => {
      child = c;
      c.stdin?.on("error", (e: Error) => {
        stdinError = e;
      });
    },
    onStdout: (c) => {
      if (outError) return;
      try {
        out(c);
      } catch (e) {
        outError = e;
        child?.kill("SIGKILL");
      }
    },
  });
  const fail = (r: RunResult) => new DecodeError(`${label}: ${failureText(r)}`);
  let finished: RunResult | null = null;
  result.then((r) => {
    finished = r;
  });
  return {
    name: bin,
    async write(chunk) {
      if (outError) throw outError;
      if (finished) throw fail(finished);
      if (!child?.stdin || stdinError) throw fail(await result);
      if (!child.stdin.write(chunk)) {
        await new Promise<void>((r) => {
          const done = () => {
            child!.stdin!.off("drain", done);
            child!.stdin!.off("close", done);
            r();
          };
          child!.stdin!.on("drain", done);
          child!.stdin!.on("close", done);
        });
      }
    },
    async end() {
      child?.stdin?.end();
      const r = await result;
      if (outError) throw outError;
      if (r.code !== 0) throw fail(r);
    },
    destroy: () => {
      child?.kill("SIGKILL");
    },
  };
}

/** Pass-through for loose binaries. */
export function identity(out: Out): Decoder {
  return {
    name: "none",
    async write(c) {
      out(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    },
    async end() {},
    destroy() {},
  };
}

export type DecoderChoice = "auto" | "builtin" | "system";

/** The host's decompressor for a format, or null when none is installed. */
export function systemDecoder(
  format: ReleaseFormat,
  pathEnv = process.env.PATH ?? "",
): { bin: string; args: string[] } | null {
  const tool = (name: string) => findTool(name, { PATH: pathEnv });
  if (format === "zstd") {
    const z = tool("zstd");
    return z ? { bin: z, args: ["-d", "-c", "-q"] } : null;
  }
  if (format === "bz2") {
    // lbzip2 decodes on every core; bzip2 on one; busybox has a bzcat applet.
    for (const name of ["lbzip2", "bzip2"]) {
      const b = tool(name);
      if (b) return { bin: b, args: ["-d", "-c"] };
    }
    const bb = tool("busybox");
    return bb ? { bin: bb, args: ["bzcat"] } : null;
  }
  return null;
}

/**
 * A decoder for `format`. zstd: the host's `zstd` by default when present (it runs in
 * its own process, beside hashing and writing; node:zlib's jobs run in lockstep with
 * the JS thread), node:zlib otherwise or with `builtin`. bz2 needs a host tool.
 */
export function createDecoder(
  format: ReleaseFormat,
  out: Out,
  choice: DecoderChoice = "auto",
  pathEnv?: string,
): Decoder {
  if (format === "loose") return identity(out);
  const sys = choice === "builtin" ? null : systemDecoder(format, pathEnv);
  if (format === "zstd") {
    if (sys) return processDecoder(sys.bin, sys.args, "zstd", out);
    if (choice === "system") throw new DecodeError("no zstd program on PATH (GVISOR_DOCTOR_DECODER=system)");
    return zlibZstd(out);
  }
  if (!sys) throw new DecodeError("decoding gvisor.tar.bz2 needs lbzip2, bzip2 or busybox on PATH");
  return processDecoder(sys.bin, sys.args, "bzip2", out);
}

/** Whether this host can decode `format` at all (auto mode skips bz2 when it cannot). */
export function canDecode(format: ReleaseFormat, pathEnv?: string): boolean {
  return format !== "bz2" || systemDecoder(format, pathEnv) !== null;
}
