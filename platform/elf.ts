// Minimal ELF header reader: enough to tell "an executable for this CPU" from a
// wrong-arch binary or an HTML error page saved under a binary's name.
import { openSync, readSync, closeSync } from "node:fs";

export type ElfArch = "x86_64" | "aarch64" | "i386" | "arm" | "riscv64" | "ppc64" | "s390x" | `machine-${number}`;

export interface ElfInfo {
  arch: ElfArch;
  bits: 32 | 64;
  /** Has a PT_INTERP segment (dynamically linked executable). */
  dynamic: boolean;
  /** The requested program interpreter, e.g. /lib64/ld-linux-x86-64.so.2. */
  interpreter?: string;
}

const MACHINES: Record<number, ElfArch> = { 0x3e: "x86_64", 0xb7: "aarch64", 0x03: "i386", 0x28: "arm", 0xf3: "riscv64", 0x15: "ppc64", 0x16: "s390x" };

/** Parse the ELF header of `bytes`; null when it is not an ELF file. */
export function parseElf(bytes: Uint8Array): ElfInfo | null {
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return null;
  const bits = bytes[4] === 2 ? 64 : 32;
  const le = bytes[5] === 1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const uptr = (o: number) => (bits === 64 ? Number(dv.getBigUint64(o, le)) : u32(o));
  const machine = u16(18);
  const arch = MACHINES[machine] ?? (`machine-${machine}` as ElfArch);
  let dynamic = false;
  let interpreter: string | undefined;
  const phoff = uptr(bits === 64 ? 32 : 28);
  const phentsize = u16(bits === 64 ? 54 : 42);
  const phnum = u16(bits === 64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + phentsize > bytes.length) break;
    if (u32(o) === 3 /* PT_INTERP */) {
      dynamic = true;
      const off = uptr(o + (bits === 64 ? 8 : 4));
      const size = uptr(o + (bits === 64 ? 32 : 16));
      if (off + size <= bytes.length) {
        interpreter = Buffer.from(bytes.subarray(off, off + size)).toString("latin1").replace(/\0+$/, "");
      }
    }
  }
  return { arch, bits, dynamic, interpreter };
}

/** Read enough of a file to parse its ELF header and program headers. */
export function readElf(path: string): ElfInfo | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = Buffer.alloc(8192);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return parseElf(buf.subarray(0, n));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
