// A tiny container root filesystem made from files already on the host, so probes
// work offline and never pull from a registry. Preferred: a static busybox. Fallback:
// the host's own dynamically linked tools plus the libraries `ldd` names.
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { basename } from "node:path";
import { Header, Pack, ReadEntry } from "tar";
import { readElf } from "./elf.ts";
import { run } from "./proc.ts";
import { which, SYSTEM_BIN_DIRS } from "./which.ts";

export type RootfsEntry =
  | { type: "file"; path: string; mode: number; data: Uint8Array }
  | { type: "symlink"; path: string; target: string }
  | { type: "dir"; path: string; mode: number };

export interface Rootfs {
  entries: RootfsEntry[];
  /** sha256 over every entry's path, type, mode and bytes: the image tag. */
  hash: string;
  /** How it was made, for messages. */
  source: string;
}

/** The applets probes and `exec` use. */
export const APPLETS = ["sh", "dmesg", "true", "false", "cat", "echo", "uname", "ls", "sleep", "id", "env", "mkdir", "touch", "rm", "head", "wc", "yes", "dd", "printf", "test", "grep", "kill", "pwd", "wget", "nc"];

const SEARCH = [...SYSTEM_BIN_DIRS];
const findTool = (name: string) => which(name) ?? which(name, SEARCH.join(":"));

function hashEntries(entries: RootfsEntry[]): string {
  const h = createHash("sha256");
  for (const e of entries) {
    h.update(`${e.type}\0${e.path}\0`);
    if (e.type === "file") h.update(`${e.mode}\0`).update(e.data);
    else if (e.type === "symlink") h.update(e.target);
    else h.update(`${e.mode}`);
    h.update("\0");
  }
  return h.digest("hex");
}

function skeleton(): RootfsEntry[] {
  return ["bin", "dev", "etc", "proc", "sys", "tmp", "work"].map((d) => ({ type: "dir" as const, path: d, mode: d === "tmp" ? 0o1777 : 0o755 }));
}

/** A static busybox on the host, if any (Debian: busybox-static). */
export function findStaticBusybox(): string | null {
  for (const p of [findTool("busybox"), "/bin/busybox", "/usr/bin/busybox"]) {
    if (!p) continue;
    const elf = readElf(p);
    if (elf && !elf.dynamic) return p;
  }
  return null;
}

function busyboxRootfs(busybox: string): Rootfs {
  const entries: RootfsEntry[] = [...skeleton(), { type: "file", path: "bin/busybox", mode: 0o755, data: readFileSync(busybox) }];
  for (const a of APPLETS) entries.push({ type: "symlink", path: `bin/${a}`, target: "busybox" });
  entries.push({ type: "file", path: "etc/passwd", mode: 0o644, data: Buffer.from("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n") });
  return { entries, hash: hashEntries(entries), source: `static busybox (${busybox})` };
}

/** Shared libraries a dynamic executable loads, per `ldd`. */
async function sharedLibs(bin: string): Promise<string[]> {
  const ldd = findTool("ldd");
  if (!ldd) return [];
  const r = await run(ldd, [bin], { timeoutMs: 5_000 });
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s*\(/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

async function hostToolsRootfs(): Promise<Rootfs | null> {
  const tools = ["sh", "dmesg", "true", "cat", "echo", "uname"].map((t) => [t, findTool(t)] as const);
  if (tools.some(([, p]) => !p)) return null;
  const files = new Map<string, RootfsEntry>();
  const entries: RootfsEntry[] = skeleton();
  for (const [name, p] of tools) {
    const real = realpathSync(p!);
    files.set(`bin/${name}`, { type: "file", path: `bin/${name}`, mode: 0o755, data: readFileSync(real) });
    for (const lib of await sharedLibs(real)) {
      const rel = lib.replace(/^\/+/, "");
      if (!files.has(rel)) files.set(rel, { type: "file", path: rel, mode: statSync(lib).mode & 0o777, data: readFileSync(realpathSync(lib)) });
    }
  }
  const dirs = new Set<string>();
  for (const rel of files.keys()) {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const d of [...dirs].sort()) if (!entries.some((e) => e.path === d)) entries.push({ type: "dir", path: d, mode: 0o755 });
  entries.push(...[...files.values()].sort((a, b) => a.path.localeCompare(b.path)));
  return { entries, hash: hashEntries(entries), source: `host tools (${tools.map(([n]) => n).join(", ")}) with their libraries` };
}

let cached: Promise<Rootfs> | null = null;
/** The hello/exec rootfs, built once per process. */
export function helloRootfs(): Promise<Rootfs> {
  cached ??= (async () => {
    const bb = findStaticBusybox();
    if (bb) return busyboxRootfs(bb);
    const host = await hostToolsRootfs();
    if (host) return host;
    throw new Error("cannot build a probe image: no static busybox (apt-get install busybox-static) and no sh/dmesg/true/cat on the host");
  })();
  return cached;
}

/** The rootfs as a tar stream's bytes (for `docker import -` / `podman import -`). */
export async function rootfsTar(fs: Rootfs): Promise<Buffer> {
  const pack = new Pack({ portable: true });
  const chunks: Buffer[] = [];
  pack.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const mtime = new Date(0);
  for (const e of fs.entries) {
    if (e.type === "dir") {
      const re = new ReadEntry(new Header({ path: `${e.path}/`, type: "Directory", size: 0, mode: e.mode, mtime }));
      pack.write(re);
      re.end();
    } else if (e.type === "symlink") {
      const re = new ReadEntry(new Header({ path: e.path, type: "SymbolicLink", linkpath: e.target, size: 0, mode: 0o777, mtime }));
      pack.write(re);
      re.end();
    } else {
      const re = new ReadEntry(new Header({ path: e.path, type: "File", size: e.data.length, mode: e.mode, mtime }));
      pack.write(re);
      re.end(Buffer.from(e.data));
    }
  }
  pack.end();
  await done;
  return Buffer.concat(chunks);
}

export const imageTag = (fs: Rootfs) => `gvisor-doctor/hello:${fs.hash.slice(0, 16)}`;
export const describeRootfs = (fs: Rootfs) => `${fs.source}, ${fs.entries.length} entries, ${basename(imageTag(fs))}`;
