// A tiny container root filesystem made from files already on the host, so probes
// work offline and never pull from a registry. Preferred: a static busybox. Fallback:
// the host's own dynamically linked tools plus the libraries `ldd` names.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Header, Pack, ReadEntry } from "tar";
import { readElf } from "../os/elf.ts";
import { run } from "../os/spawn.ts";
import { findTool } from "../os/which.ts";

export type RootfsEntry =
  /** `source`: the host file the bytes are read from (lazily, on first use of `data`). */
  | { type: "file"; path: string; mode: number; data: Uint8Array; source?: string }
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
export const APPLETS = [
  "sh",
  "dmesg",
  "true",
  "false",
  "cat",
  "echo",
  "uname",
  "ls",
  "sleep",
  "id",
  "env",
  "mkdir",
  "touch",
  "rm",
  "head",
  "wc",
  "yes",
  "dd",
  "printf",
  "test",
  "grep",
  "kill",
  "pwd",
  "wget",
  "nc",
];

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
  return ["bin", "dev", "etc", "proc", "sys", "tmp", "work"].map((d) => ({
    type: "dir" as const,
    path: d,
    mode: d === "tmp" ? 0o1777 : 0o755,
  }));
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

/** A file entry whose bytes are read from `source` only when needed (hash, tar, write). */
function sourcedFile(path: string, mode: number, source: string): RootfsEntry {
  let bytes: Uint8Array | undefined;
  return {
    type: "file",
    path,
    mode,
    source,
    get data() {
      return (bytes ??= readFileSync(source));
    },
  };
}

function busyboxRootfs(busybox: string): Rootfs {
  const entries: RootfsEntry[] = [...skeleton(), sourcedFile("bin/busybox", 0o755, busybox)];
  for (const a of APPLETS) entries.push({ type: "symlink", path: `bin/${a}`, target: "busybox" });
  entries.push({
    type: "file",
    path: "etc/passwd",
    mode: 0o644,
    data: Buffer.from("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
  });
  let hash: string | undefined;
  return {
    entries,
    get hash() {
      return (hash ??= hashEntries(entries));
    },
    source: `static busybox (${busybox})`,
  };
}

/**
 * A cheap stand-in for the content hash: like it, but a sourced file counts by its
 * identity (path, inode, size, mtime, ctime) instead of its bytes. Any change to a
 * source file changes its ctime, so equal keys mean equal content.
 */
export function identityKey(fs: Rootfs): string {
  const h = createHash("sha256");
  for (const e of fs.entries) {
    h.update(`${e.type}\0${e.path}\0`);
    if (e.type === "file" && e.source) {
      const st = statSync(e.source);
      h.update(`${e.mode}\0source\0${e.source}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}`);
    } else if (e.type === "file") h.update(`${e.mode}\0`).update(e.data);
    else if (e.type === "symlink") h.update(e.target);
    else h.update(`${e.mode}`);
    h.update("\0");
  }
  return h.digest("hex");
}

/** The library paths in `ldd` output ("libc.so.6 => /lib/…/libc.so.6 (…)", "/lib64/ld-linux… (…)"). */
export function parseLdd(stdout: string): string[] {
  const libs: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s*\(/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Shared libraries a dynamic executable loads, per `ldd`. */
async function sharedLibs(bin: string): Promise<string[]> {
  const ldd = findTool("ldd");
  if (!ldd) return [];
  return parseLdd((await run(ldd, [bin], { timeoutMs: 5_000 })).stdout);
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
      if (!files.has(rel))
        files.set(rel, {
          type: "file",
          path: rel,
          mode: statSync(lib).mode & 0o777,
          data: readFileSync(realpathSync(lib)),
        });
    }
  }
  const dirs = new Set<string>();
  for (const rel of files.keys()) {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const d of [...dirs].sort())
    if (!entries.some((e) => e.path === d)) entries.push({ type: "dir", path: d, mode: 0o755 });
  entries.push(...[...files.values()].sort((a, b) => a.path.localeCompare(b.path)));
  return {
    entries,
    hash: hashEntries(entries),
    source: `host tools (${tools.map(([n]) => n).join(", ")}) with their libraries`,
  };
}

let cached: Promise<Rootfs> | null = null;
/** The hello/exec rootfs, built once per process. */
export function helloRootfs(): Promise<Rootfs> {
  cached ??= (async () => {
    const bb = findStaticBusybox();
    if (bb) return busyboxRootfs(bb);
    const host = await hostToolsRootfs();
    if (host) return host;
    throw new Error(
      "cannot build a probe image: no static busybox (apt-get install busybox-static) and no sh/dmesg/true/cat on the host",
    );
  })();
  return cached;
}

/** Entries as tar bytes: portable headers, mtime 0, so equal entries give equal bytes. */
async function tarBytes(entries: RootfsEntry[]): Promise<Buffer> {
  const pack = new Pack({ portable: true });
  const chunks: Buffer[] = [];
  pack.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  const mtime = new Date(0);
  for (const e of entries) {
    if (e.type === "dir") {
      const re = new ReadEntry(new Header({ path: `${e.path}/`, type: "Directory", size: 0, mode: e.mode, mtime }));
      pack.write(re);
      re.end();
    } else if (e.type === "symlink") {
      const re = new ReadEntry(
        new Header({ path: e.path, type: "SymbolicLink", linkpath: e.target, size: 0, mode: 0o777, mtime }),
      );
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

/** The rootfs as a tar stream's bytes (for `docker import -` / `podman import -`). */
export function rootfsTar(fs: Rootfs): Promise<Buffer> {
  return tarBytes(fs.entries);
}

const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/**
 * The rootfs as a one-layer image archive in `docker save` layout (manifest.json, the image
 * config, the layer), tagged `tag`: what the Engine API's POST /images/load takes. Built from
 * fixed bytes, so the image id is the same on every host with the same rootfs.
 */
export async function imageArchive(fs: Rootfs, tag: string, nodeArch: string = process.arch): Promise<Buffer> {
  const layer = await rootfsTar(fs);
  const diff = sha256(layer);
  const epoch = "1970-01-01T00:00:00Z";
  const config = JSON.stringify({
    architecture: GO_ARCH[nodeArch] ?? nodeArch,
    os: "linux",
    created: epoch,
    config: {},
    rootfs: { type: "layers", diff_ids: [`sha256:${diff}`] },
    history: [{ created: epoch, comment: "gvisor-doctor probe image" }],
  });
  const configName = `${sha256(config)}.json`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: [`${diff}/layer.tar`] }]);
  const text = (path: string, t: string): RootfsEntry => ({ type: "file", path, mode: 0o644, data: Buffer.from(t) });
  return tarBytes([
    { type: "dir", path: diff, mode: 0o755 },
    { type: "file", path: `${diff}/layer.tar`, mode: 0o644, data: layer },
    text(configName, config),
    text("manifest.json", manifest),
  ]);
}

export const imageTag = (fs: Rootfs) => `gvisor-doctor/hello:${fs.hash.slice(0, 16)}`;

/**
 * Write the rootfs into an empty directory (a per-run root for `runsc run`: runsc
 * creates mount points in the root directory it is given, so it must not be shared).
 */
export function writeRootfs(fs: Rootfs, dir: string): void {
  for (const e of fs.entries) {
    const p = join(dir, e.path);
    if (e.type === "dir") {
      mkdirSync(p, { recursive: true });
      chmodSync(p, e.mode); // mkdir applies the umask; /tmp needs its sticky 1777
    } else if (e.type === "symlink") symlinkSync(e.target, p);
    else writeFileSync(p, e.data, { mode: e.mode });
  }
}
