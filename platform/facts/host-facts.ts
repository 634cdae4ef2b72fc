// Host facts: gathered once, concurrently, before any check runs. Facts are plain
// data; checks read them and never re-run a command a fact already ran.
import { existsSync, lstatSync, readFileSync, readlinkSync, accessSync, constants, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import { unameArch } from "../os/arch.ts";
import {
  dockerEndpoint,
  dockerHost,
  dockerInfoVia,
  dockerdServing,
  daemonConfigPath,
  type DockerDaemonFacts,
} from "../engines/docker/client.ts";
import type { DaemonSnapshot } from "../engines/snapshot.ts";
import { failureText, run } from "../os/spawn.ts";
import {
  findDaemons,
  DOCKERD_VALUE_FLAGS,
  CONTAINERD_VALUE_FLAGS,
  CRIO_VALUE_FLAGS,
  type DaemonProcess,
} from "../os/processes.ts";
import { findRunscBinaries, findRunscInRoot, type RunscBinary } from "../runsc/binaries.ts";
import { SELF_ROOT, type HostRoot } from "../os/host-root.ts";
import { join } from "node:path";
import { parseKernel } from "../os/versions.ts";
import { findTool } from "../os/which.ts";
import { readText } from "../os/fsutil.ts";
import { readElf } from "../os/elf.ts";
import { gatherEngineFacts, type EnginesFacts } from "./engine-facts.ts";
import { detectSelfSandbox, type SelfSandboxFacts } from "./self-sandbox.ts";

export { detectSelfSandbox, type SelfSandboxFacts };

/** The daemons are the engine layer's snapshot (adapters read them), gathered here with everything else. */
export interface HostFacts extends DaemonSnapshot {
  /** --host-root: the directory the node's / is mounted at; null for this machine itself. */
  hostRoot: string | null;
  os: string;
  /** `uname -m` spelling: x86_64, aarch64, ... */
  arch: string;
  kernel: { release: string; version: string | null };
  libc: "glibc" | "musl" | "unknown";
  /**
   * subIds: whether /etc/subuid and /etc/subgid both give this user a range (what a rootless engine maps
   * its container's users to); null for root or when unreadable.
   */
  user: { uid: number; root: boolean; subIds?: boolean | null };
  systemd: boolean;
  container: { inside: boolean; tells: string[]; kubernetes: boolean };
  gvisor: SelfSandboxFacts;
  wsl: boolean;
  kvm: { present: boolean; usable: boolean };
  cgroup: { version: 1 | 2 | null };
  sysctl: { ptraceScope: number | null; maxUserNamespaces: number | null };
  /**
   * Whether this process may create a user namespace (runsc's gofer and sandbox need one): `unshare --user true`
   * tried for real. refused true with max_user_namespaces > 0 means a chroot (the kernel refuses a chrooted
   * process) or an LSM; null when not tried (another root, no unshare).
   */
  userns: { refused: boolean | null; error: string | null };
  /**
   * runsc panics at start (every command, even --version) when it cannot read this file; the
   * error is what reading it said (e.g. "EACCES: permission denied"), null when it was read.
   */
  mmapMinAddr: { value: number | null; error: string | null };
  /**
   * /proc/self/status: the Seccomp line exists only with CONFIG_SECCOMP (available false without
   * it); mode 2 = this process already runs under a seccomp filter (a container's profile).
   */
  seccomp: { available: boolean | null; mode: number | null; filters: number | null };
  /** RLIMIT_MEMLOCK (soft; null = unlimited) of this process and of the engine daemons found. */
  memlock: MemlockLimit[];
  tmp: { path: string; symlink: boolean; target: string | null };
  /** null when /proc/cpuinfo has no flags line (non-x86, or unreadable). */
  cpu: { xsave: boolean | null; avx2: boolean | null };
  runsc: RunscBinary[];
  dockerd: DaemonProcess[];
  containerd: DaemonProcess[];
  docker: DockerDaemonFacts;
  /** Each engine's detection and config (read side of platform/engines). */
  engines: EnginesFacts;
  /** Milliseconds spent gathering. */
  durationMs: number;
}

export interface MemlockLimit {
  /** "self", "dockerd", "containerd". */
  who: string;
  pid: number | null;
  /** Bytes; null when unlimited. */
  soft: number | null;
}

export interface FactOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * --host-root: the node's file system mounted elsewhere. Kernel-wide facts are the same;
   * files, binaries, daemons (hostPID) and engine configs are the node's; Docker and
   * Podman are not inspected (host-root mode serves Kubernetes nodes).
   */
  root?: HostRoot;
}

const readInt = (p: string): number | null => {
  const t = readText(p);
  return t === null || t.trim() === "" ? null : Number.parseInt(t.trim(), 10);
};

export function detectLibc(root: HostRoot): HostFacts["libc"] {
  // The system's libc is the one its own shell loads: a glibc host with musl-tools has ld-musl-* in /lib too.
  const interp = readElf(root.local("/bin/sh"))?.interpreter; // root.local keeps links inside the root
  if (interp) return /ld-musl/.test(interp) ? "musl" : /ld-linux/.test(interp) ? "glibc" : "unknown";
  try {
    if (readdirSync(root.local("/lib")).some((f) => f.startsWith("ld-musl-"))) return "musl";
  } catch {}
  if (
    [
      "/lib64/ld-linux-x86-64.so.2",
      "/lib/ld-linux-aarch64.so.1",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib/aarch64-linux-gnu/libc.so.6",
    ].some((p) => existsSync(root.local(p)))
  )
    return "glibc";
  return "unknown";
}

export function detectContainer(env: NodeJS.ProcessEnv): HostFacts["container"] {
  const tells: string[] = [];
  if (existsSync("/.dockerenv")) tells.push("/.dockerenv");
  if (existsSync("/run/.containerenv")) tells.push("/run/.containerenv");
  const cg = readText("/proc/1/cgroup") ?? "";
  if (/\/(docker|kubepods|libpod|containerd|lxc)[/-]/.test(cg)) tells.push("/proc/1/cgroup");
  const kubernetes = !!env.KUBERNETES_SERVICE_HOST;
  if (kubernetes) tells.push("KUBERNETES_SERVICE_HOST");
  if (env.container) tells.push(`container=${env.container}`);
  return { inside: tells.length > 0, tells, kubernetes };
}

/** Read a /proc file for a fact: its text, or why it could not be read (the errno's words). */
async function readProc(p: string): Promise<{ text: string | null; error: string | null }> {
  try {
    return { text: await readFile(p, "utf8"), error: null };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // "EACCES: permission denied, open '/proc/…'" → "EACCES: permission denied"
    const words = err.message.replace(/^\w+: /, "").replace(/, open .*$/, "");
    return { text: null, error: err.code ? `${err.code}: ${words}` : String(e) };
  }
}

export async function mmapMinAddrFacts(path = "/proc/sys/vm/mmap_min_addr"): Promise<HostFacts["mmapMinAddr"]> {
  const { text, error } = await readProc(path);
  if (text === null) return { value: null, error };
  const value = /^\s*\d+\s*$/.test(text) ? Number(text.trim()) : null;
  return { value, error: value === null ? `not a number: ${JSON.stringify(text.trim())}` : null };
}

/** Seccomp facts from a /proc/<pid>/status text (null: unreadable). */
export function seccompFacts(status: string | null): HostFacts["seccomp"] {
  if (status === null) return { available: null, mode: null, filters: null };
  const mode = /^Seccomp:\s*(\d+)/m.exec(status);
  const filters = /^Seccomp_filters:\s*(\d+)/m.exec(status);
  return { available: !!mode, mode: mode ? Number(mode[1]) : null, filters: filters ? Number(filters[1]) : null };
}

/** The soft "Max locked memory" of a /proc/<pid>/limits text: bytes, null = unlimited, undefined = unknown. */
export function memlockOf(limits: string | null): number | null | undefined {
  const m = /^Max locked memory\s+(\S+)/m.exec(limits ?? "");
  if (!m) return undefined;
  return m[1] === "unlimited" ? null : Number(m[1]);
}

async function memlockFacts(daemons: { who: string; pid: number }[]): Promise<MemlockLimit[]> {
  const all = [{ who: "self", pid: null as number | null }, ...daemons];
  const limits = await Promise.all(all.map((d) => readProc(`/proc/${d.pid ?? "self"}/limits`)));
  return all.flatMap((d, i) => {
    const soft = memlockOf(limits[i]!.text);
    return soft === undefined ? [] : [{ who: d.who, pid: d.pid, soft }];
  });
}

/** Try to create a user namespace, as runsc will (`unshare --user true`, util-linux). */
async function usernsFacts(root: HostRoot): Promise<HostFacts["userns"]> {
  const unshare = root.foreign ? null : findTool("unshare");
  if (!unshare) return { refused: null, error: null };
  const r = await run(unshare, ["--user", "true"], { timeoutMs: 5_000 });
  if (r.code === 0) return { refused: false, error: null };
  // unshare: unshare failed: Operation not permitted
  return { refused: /not permitted|permission denied|no space left/i.test(r.stderr), error: failureText(r) };
}

/** The kernel facts runsc needs beyond the version: read together, alongside the other facts. */
async function runscHostFacts(daemons: DaemonProcess[][]) {
  const [dockerd, containerd] = daemons;
  const [mmapMinAddr, status, memlock] = await Promise.all([
    mmapMinAddrFacts(),
    readProc("/proc/self/status"),
    memlockFacts([
      ...dockerd!.map((d) => ({ who: "dockerd", pid: d.pid })),
      ...containerd!.map((d) => ({ who: "containerd", pid: d.pid })),
    ]),
  ]);
  return { mmapMinAddr, seccomp: seccompFacts(status.text), memlock };
}

function cpuFacts(): HostFacts["cpu"] {
  const m = (readText("/proc/cpuinfo") ?? "").match(/^flags\s*:\s*(.*)$/m);
  if (!m) return { xsave: null, avx2: null };
  const flags = new Set(m[1].trim().split(/\s+/));
  return { xsave: flags.has("xsave"), avx2: flags.has("avx2") };
}

/** runsc builds the sandbox chroot in os.TempDir(): $TMPDIR for whoever runs it, /tmp for daemons. */
function tmpFacts(env: NodeJS.ProcessEnv, root: HostRoot): HostFacts["tmp"] {
  // The node's daemons use the node's /tmp; our own $TMPDIR means nothing there.
  const candidates = root.foreign ? ["/tmp"] : [...new Set([env.TMPDIR, "/tmp"].filter((p): p is string => !!p))];
  for (const path of candidates) {
    const at = root.foreign ? join(root.dir, path) : path;
    try {
      if (lstatSync(at).isSymbolicLink()) return { path, symlink: true, target: readlinkSync(at) };
    } catch {}
  }
  return { path: candidates[0], symlink: false, target: null };
}

export async function dockerFacts(env: NodeJS.ProcessEnv, dockerd: DaemonProcess[]): Promise<DockerDaemonFacts> {
  const ep = dockerEndpoint(env);
  const host = dockerHost(env);
  const daemon = dockerdServing(host, dockerd);
  const configPath = daemonConfigPath(daemon, env);
  const base = { cli: ep.cli, api: ep.api, via: ep.via, probeVia: ep.probe, host, daemon, configPath };
  const { info, error, result } = await dockerInfoVia(ep, env);
  return { ...base, info, infoError: error, infoResult: result };
}

export async function gatherFacts(opts: FactOptions = {}): Promise<HostFacts> {
  const started = performance.now();
  const env = opts.env ?? process.env;
  const root = opts.root ?? SELF_ROOT;
  const release = os.release();
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  // One pass over /proc for every daemon the engines run.
  const found = findDaemons({
    dockerd: DOCKERD_VALUE_FLAGS,
    containerd: CONTAINERD_VALUE_FLAGS,
    crio: CRIO_VALUE_FLAGS,
  });
  const dockerd = root.foreign ? [] : found.dockerd;
  const containerd = found.containerd.filter((d) => root.owns(d.pid));
  const crio = found.crio.filter((d) => root.owns(d.pid));
  // The commands start first; the file reads below run while they do.
  const dockerP = root.foreign ? Promise.resolve(null) : dockerFacts(env, dockerd);
  const usernsP = usernsFacts(root);
  const runscP = root.foreign ? findRunscInRoot(root) : findRunscBinaries(env);
  const enginesP = gatherEngineFacts(
    env,
    { dockerd, containerd, crio },
    dockerP.then((docker) => ({ dockerd, containerd, crio, docker: docker ?? undefined })),
    root,
  );
  const selfP = detectSelfSandbox({ dmesg: "to-confirm" });
  const runscHostP = runscHostFacts([dockerd, containerd]);
  const procVersion = readText("/proc/version") ?? "";
  const kvmPresent = existsSync("/dev/kvm");
  let kvmUsable = false;
  if (kvmPresent) {
    try {
      accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
      kvmUsable = true;
    } catch {}
  }
  const libc = detectLibc(root);
  const subIds = uid === 0 || root.foreign ? null : hasSubIds(uid);
  const tmp = tmpFacts(env, root);
  const cpu = cpuFacts();
  const [gvisor, runsc, docker, engines, runscHost, userns] = await Promise.all([
    selfP,
    runscP,
    dockerP,
    enginesP,
    runscHostP,
    usernsP,
  ]);
  return {
    hostRoot: root.foreign ? root.dir : null,
    os: process.platform,
    arch: unameArch(),
    kernel: { release, version: parseKernel(release)?.version ?? null },
    libc,
    user: { uid, root: uid === 0, subIds },
    systemd: existsSync(root.local("/run/systemd/system")),
    container: detectContainer(env),
    gvisor,
    wsl: /microsoft/i.test(procVersion) || !!env.WSL_DISTRO_NAME,
    kvm: { present: kvmPresent, usable: kvmUsable },
    cgroup: { version: existsSync("/sys/fs/cgroup/cgroup.controllers") ? 2 : existsSync("/sys/fs/cgroup") ? 1 : null },
    sysctl: {
      ptraceScope: readInt("/proc/sys/kernel/yama/ptrace_scope"),
      maxUserNamespaces: readInt("/proc/sys/user/max_user_namespaces"),
    },
    userns,
    ...runscHost,
    tmp,
    cpu,
    runsc,
    dockerd,
    containerd,
    crio,
    docker: docker ?? {
      cli: null,
      api: null,
      via: null,
      probeVia: null,
      host: dockerHost(env),
      daemon: null,
      configPath: daemonConfigPath(null, env),
      info: null,
      infoError: root.foreign ? "not inspected with --host-root" : null,
      infoResult: null,
    },
    engines,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Whether /etc/subuid and /etc/subgid both list a range for `uid` (by name or number); null: unreadable. */
export function hasSubIds(
  uid: number,
  read: (p: string) => string = (p) => readFileSync(p, "utf8"),
  name: string | null = userName(),
): boolean | null {
  try {
    const has = (text: string) =>
      text.split("\n").some((l) => {
        const [who, , count] = l.trim().split(":");
        return (who === String(uid) || (name !== null && who === name)) && Number(count) > 0;
      });
    return has(read("/etc/subuid")) && has(read("/etc/subgid"));
  } catch {
    return null;
  }
}

function userName(): string | null {
  try {
    return os.userInfo().username;
  } catch {
    return null;
  }
}
