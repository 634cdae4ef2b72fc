// libc through Bun's FFI (glibc or musl), for the few system calls node: has no API for:
// flock(2) (platform/os/flock.ts) and syslog(2) (platform/facts/self-sandbox.ts). Null under Deno
// (no bun:ffi) or where no libc loads: every caller keeps a fallback that needs no FFI.

/** The part of bun:ffi used here (typed locally: the k8s manifests type-check without Bun's types). */
export interface BunFfi {
  dlopen(name: string, defs: Record<string, { args: unknown[]; returns: unknown }>): { symbols: unknown };
  FFIType: { i32: unknown; ptr: unknown; cstring: unknown };
  read: { i32(ptr: unknown, offset: number): number };
}

/** libc's `defs` symbols (with `ffi` to read what they return), or null without bun:ffi or a libc to load. */
export function openLibc<S>(
  defs: (t: BunFfi["FFIType"]) => Record<string, { args: unknown[]; returns: unknown }>,
): { ffi: BunFfi; symbols: S } | null {
  let ffi: BunFfi;
  try {
    // Loaded lazily and guarded: `require` or `bun:ffi` is missing outside Bun.
    ffi = require("bun:ffi") as BunFfi;
  } catch {
    return null;
  }
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  for (const name of ["libc.so.6", `libc.musl-${arch}.so.1`, "libc.so"]) {
    try {
      return { ffi, symbols: ffi.dlopen(name, defs(ffi.FFIType)).symbols as S };
    } catch {}
  }
  return null;
}
