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

const MACHINES: Record<number, ElfArch> = {
  0x3e: "x86_64",
  0xb7: "aarch64",
  0x03: "i386",
  0x28: "arm",
  0xf3: "riscv64",
  0x15: "ppc64",
  0x16: "s390x",
};

/** Parse the ELF header of `bytes`; null when it is not an ELF file. */
export function parseElf(bytes: Uint8Array): ElfInfo | null {
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    return null;
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
        interpreter = Buffer.from(bytes.subarray(off, off + size))
          .toString("latin1")
          .replace(/\0+$/, "");
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

/**
 * The Go toolchain a binary was built with ("go1.26.2"), from its .go.buildinfo section (Go ≥ 1.18
 * stores it inline: magic, pointer size, flags, then varint-prefixed strings from offset 32).
 * A gVisor release built by a distribution with a much newer Go than the release was written for
 * can misbehave (Debian sid's runsc 20240729 with go1.26: rule runsc-goroutine-panic); null when unknown.
 */
export function goBuildVersion(path: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      return b.subarray(0, readSync(fd!, b, 0, len, pos));
    };
    const head = read(0, 64);
    if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return null;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const shoff = u64(head, 40);
    const shentsize = u16(head, 58);
    const shnum = u16(head, 60);
    const shstrndx = u16(head, 62);
    if (!shoff || shentsize < 64 || shnum === 0 || shnum > 1000 || shstrndx >= shnum) return null;
    const table = read(shoff, shentsize * shnum);
    if (table.length < shentsize * shnum) return null;
    const sec = (i: number) => ({ name: table.readUInt32LE(i * shentsize), off: u64(table, i * shentsize + 24) });
    const names = read(sec(shstrndx).off, 4096).toString("latin1");
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      if (!names.startsWith(".go.buildinfo\0", s.name)) continue;
      const info = read(s.off, 64);
      if (info.length < 33 || info.toString("latin1", 0, 14) !== "\xff Go buildinf:" || !(info[15] & 2)) return null;
      const len = info[32];
      if (len >= 0x80 || 33 + len > info.length) return null;
      const v = info.toString("latin1", 33, 33 + len);
      return /^go\d+\.\d+(?:\.\d+)?\S*$/.test(v) ? v : null;
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
