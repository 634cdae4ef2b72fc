// Root trees for the host matrix: Debian bookworm, trixie and sid with their own engines, built
// by mmdebstrap from the Debian mirror this machine's apt uses. A tree is cached under CACHE_DIR,
// keyed by a hash of suite + package list (a build takes minutes, copying a tree seconds), and
// built on demand. Trees are built in <key>.tmp and renamed when complete, so a crashed build
// never serves half a tree; a lock directory keeps two processes from building the same one.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { which } from "../../platform/os/which.ts";

export const CACHE_DIR = process.env.GVD_HOSTS_CACHE ?? "/var/cache/gvisor-doctor-tests/hosts";

export type Suite = "bookworm" | "trixie" | "sid";
export const SUITES: Suite[] = ["bookworm", "trixie", "sid"];

const COMMON = [
  "containerd",
  "docker.io",
  "runsc",
  "podman",
  "crun",
  "busybox-static",
  "ca-certificates",
  "iproute2",
  "procps",
  "kmod",
  "iptables",
  "mount",
  "util-linux",
  "systemd",
  "systemd-sysv",
  "dbus",
];

/** Packages of a suite's tree. From trixie on, the Docker CLI is its own package. */
export function packagesFor(suite: Suite): string[] {
  return [...COMMON, ...(suite === "bookworm" ? [] : ["docker-cli"])].sort();
}

/** Bump when the way a tree is made changes (not only its package list). */
const BUILDER_VERSION = 1;

export function treeKey(suite: Suite): string {
  const h = createHash("sha256").update(JSON.stringify({ suite, pkgs: packagesFor(suite), v: BUILDER_VERSION }));
  return `${suite}-${h.digest("hex").slice(0, 16)}`;
}

export function treePath(suite: Suite): string {
  return join(CACHE_DIR, treeKey(suite));
}

/** The Debian mirror this machine's apt already uses (first `URIs:` / `deb` line). */
export function debianMirror(): string {
  const sources = "/etc/apt/sources.list.d/debian.sources";
  if (existsSync(sources)) {
    const m = readFileSync(sources, "utf8").match(/^URIs:\s*(\S+)/m);
    if (m) return m[1]!;
  }
  if (existsSync("/etc/apt/sources.list")) {
    const m = readFileSync("/etc/apt/sources.list", "utf8").match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m);
    if (m) return m[1]!;
  }
  return "http://deb.debian.org/debian";
}

/** Whether trees can be had here (a cached one, or root + mmdebstrap to build), and if not, why. */
export function treeAvailability(suite: Suite): { ok: boolean; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "not Linux" };
  if (process.getuid?.() !== 0) return { ok: false, reason: "host matrix needs root (namespaces, pivot_root)" };
  if (existsSync(join(treePath(suite), "usr/bin/dockerd"))) return { ok: true, reason: "" };
  if (!which("mmdebstrap")) return { ok: false, reason: "no cached tree and no mmdebstrap (run test/bed/setup.sh)" };
  return { ok: true, reason: "" };
}

function lockAlive(lock: string): boolean {
  try {
    const pid = Number(readFileSync(join(lock, "pid"), "utf8"));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The tree of `suite`, built if it is not cached. `log` gets mmdebstrap's output.
 * Resolves to the tree's path; rejects with mmdebstrap's last lines when the build fails.
 */
export async function ensureTree(suite: Suite, onProgress?: (line: string) => void): Promise<string> {
  const path = treePath(suite);
  if (existsSync(join(path, ".complete"))) return path;
  mkdirSync(CACHE_DIR, { recursive: true });
  const lock = `${path}.lock`;
  // Someone else is building it: wait for them (a build takes minutes, not hours).
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch {
      if (!lockAlive(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      await Bun.sleep(1000);
      if (existsSync(join(path, ".complete"))) return path;
    }
  }
  try {
    if (existsSync(join(path, ".complete"))) return path;
    const tmp = `${path}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(path, { recursive: true, force: true });
    const logFile = `${path}.log`;
    const args = [
      "--variant=apt",
      '--aptopt=Acquire::Check-Valid-Until "false"',
      '--aptopt=APT::Install-Recommends "false"',
      `--include=${packagesFor(suite).join(",")}`,
      suite,
      tmp,
      debianMirror(),
    ];
    const started = Date.now();
    const code = await new Promise<number>((resolve) => {
      const out = openSync(logFile, "w");
      const p = spawn("mmdebstrap", args, { stdio: ["ignore", out, out] });
      p.on("exit", (c) => resolve(c ?? 1));
      p.on("error", () => resolve(127));
    });
    if (code !== 0) {
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`mmdebstrap ${suite} failed (exit ${code}):\n${tail}`);
    }
    const seconds = (Date.now() - started) / 1000;
    writeFileSync(join(tmp, ".complete"), JSON.stringify({ suite, packages: packagesFor(suite), seconds }));
    renameSync(tmp, path);
    onProgress?.(`${suite}: built in ${Math.round((Date.now() - started) / 1000)} s`);
    return path;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Versions of the engines in a tree, from its dpkg status (no need to boot it). */
export function treeVersions(root: string): Record<string, string> {
  const status = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  const out: Record<string, string> = {};
  for (const stanza of status.split("\n\n")) {
    const name = stanza.match(/^Package: (\S+)/m)?.[1];
    const version = stanza.match(/^Version: (\S+)/m)?.[1];
    const tracked = ["docker.io", "containerd", "podman", "runsc", "systemd"];
    if (name && version && tracked.includes(name)) out[name] = version;
  }
  return out;
}

/** A copy of a cached tree to boot (cp -a keeps owners, modes, xattrs and hard links). */
export function copyTree(src: string, dest: string): void {
  const r = spawnSync("cp", ["-a", `${src}/.`, dest], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cp -a ${src} ${dest}: ${r.stderr}`);
}
