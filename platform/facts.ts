// Host facts: gathered once, concurrently, before any check runs. Facts are plain
// data; checks read them and never re-run a command a fact already ran.
import { existsSync, lstatSync, readFileSync, readlinkSync, accessSync, constants, readdirSync } from "node:fs";
import os from "node:os";
import { unameArch } from "./arch.ts";
import { dockerEndpoint, dockerHost, dockerInfoVia, dockerdServing, daemonConfigPath, type DockerInfo }
  from "./docker.ts";
import { run, failureText, type RunResult } from "./proc.ts";
import { findProcesses, DOCKERD_VALUE_FLAGS, CONTAINERD_VALUE_FLAGS, type DaemonProcess } from "./procs.ts";
import { findRunscBinaries, findRunscInRoot, type RunscBinary } from "./runsc.ts";
import { SELF_ROOT, type HostRoot } from "./host-root.ts";
import { join } from "node:path";
import { parseKernel } from "./versions.ts";
import { gatherEngineFacts, type EnginesFacts } from "./engine-facts.ts";
import { which, SYSTEM_BIN_DIRS } from "./which.ts";
import { detectSelfSandbox, type SelfSandboxFacts } from "./self-sandbox.ts";

export { detectSelfSandbox, type SelfSandboxFacts };

export interface DockerFacts {
  cli: string | null;
  /** The unix socket behind `host` (the Engine API's), null for other schemes. */
  api: string | null;
  /** How the doctor reads dockerd's info, and runs the hello probe (docker.ts dockerEndpoint); null: it cannot. */
  via: "api" | "cli" | null;
  probeVia: "api" | "cli" | null;
  host: string;
  /** The dockerd process behind `host`, when it runs on this machine. */
  daemon: DaemonProcess | null;
  /** The daemon.json that daemon reads (its --config-file or the default). */
  configPath: string;
  info: DockerInfo | null;
  /** Why `docker info` (or GET /info) failed, verbatim. */
  infoError: string | null;
  /** The CLI's `docker info` run (null through the API). */
  infoResult: RunResult | null;
}

export interface HostFacts {
  /** --host-root: the directory the node's / is mounted at; null for this machine itself. */
  hostRoot: string | null;
  os: string;
  /** `uname -m` spelling: x86_64, aarch64, ... */
  arch: string;
  kernel: { release: string; version: string | null };
  libc: "glibc" | "musl" | "unknown";
  user: { uid: number; root: boolean };
  systemd: boolean;
  container: { inside: boolean; tells: string[]; kubernetes: boolean };
  gvisor: SelfSandboxFacts;
  wsl: boolean;
  kvm: { present: boolean; usable: boolean };
  cgroup: { version: 1 | 2 | null };
  sysctl: { ptraceScope: number | null; maxUserNamespaces: number | null };
  tmp: { path: string; symlink: boolean; target: string | null };
  /** null when /proc/cpuinfo has no flags line (non-x86, or unreadable). */
  cpu: { xsave: boolean | null; avx2: boolean | null };
  runsc: RunscBinary[];
  dockerd: DaemonProcess[];
  containerd: DaemonProcess[];
  docker: DockerFacts;
  /** Each engine's detection and config (read side of platform/engines); null with selfOnly. */
  engines: EnginesFacts | null;
  /** Milliseconds spent gathering. */
  durationMs: number;
}

export interface FactOptions {
  env?: NodeJS.ProcessEnv;
  /** Skip probes that talk to daemons (used by `preflight`, which only needs self facts). */
  selfOnly?: boolean;
  /**
   * --host-root: the node's file system mounted elsewhere. Kernel-wide facts are the same;
   * files, binaries, daemons (hostPID) and engine configs are the node's; Docker and
   * Podman are not inspected (host-root mode serves Kubernetes nodes).
   */
  root?: HostRoot;
}

const readText = (p: string): string | null => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return null;
  }
};
const readInt = (p: string): number | null => {
  const t = readText(p);
  return t === null || t.trim() === "" ? null : Number.parseInt(t.trim(), 10);
};

function detectLibc(root: HostRoot): HostFacts["libc"] {
  try {
    if (readdirSync(root.local("/lib")).some((f) => f.startsWith("ld-musl-"))) return "musl";
  } catch {}
  if (["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"].some((p) => existsSync(root.local(p)))) return "glibc";
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

export async function dockerFacts(env: NodeJS.ProcessEnv, dockerd: DaemonProcess[]): Promise<DockerFacts> {
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
  const daemonsToo = !opts.selfOnly;
  const release = os.release();
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  const procVersion = readText("/proc/version") ?? "";
  const kvmPresent = existsSync("/dev/kvm");
  let kvmUsable = false;
  if (kvmPresent) {
    try {
      accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
      kvmUsable = true;
    } catch {}
  }
  const dockerd = daemonsToo && !root.foreign ? findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS) : [];
  const containerd = daemonsToo ? findProcesses(["containerd"], CONTAINERD_VALUE_FLAGS).filter((d) => root.owns(d.pid)) : [];
  const dockerP = daemonsToo && !root.foreign ? dockerFacts(env, dockerd) : Promise.resolve(null);
  const runscP = !daemonsToo ? Promise.resolve([]) : root.foreign ? findRunscInRoot(root) : findRunscBinaries(env);
  const enginesP = !daemonsToo
    ? Promise.resolve(null)
    : gatherEngineFacts(env, { dockerd, containerd }, Promise.all([dockerP, runscP]).then(([docker, runsc]) => ({ dockerd, containerd, runsc, docker: docker ?? undefined })), root);
  const [gvisor, runsc, docker, engines] = await Promise.all([detectSelfSandbox({ dmesg: opts.selfOnly ? "always" : "to-confirm" }), runscP, dockerP, enginesP]);
  return {
    hostRoot: root.foreign ? root.dir : null,
    os: process.platform,
    arch: unameArch(),
    kernel: { release, version: parseKernel(release)?.version ?? null },
    libc: detectLibc(root),
    user: { uid, root: uid === 0 },
    systemd: existsSync(root.local("/run/systemd/system")),
    container: detectContainer(env),
    gvisor,
    wsl: /microsoft/i.test(procVersion) || !!env.WSL_DISTRO_NAME,
    kvm: { present: kvmPresent, usable: kvmUsable },
    cgroup: { version: existsSync("/sys/fs/cgroup/cgroup.controllers") ? 2 : existsSync("/sys/fs/cgroup") ? 1 : null },
    sysctl: { ptraceScope: readInt("/proc/sys/kernel/yama/ptrace_scope"), maxUserNamespaces: readInt("/proc/sys/user/max_user_namespaces") },
    tmp: tmpFacts(env, root),
    cpu: cpuFacts(),
    runsc,
    dockerd,
    containerd,
    docker: docker ?? {
      cli: null, api: null, via: null, probeVia: null, host: dockerHost(env), daemon: null,
      configPath: daemonConfigPath(null, env),
      info: null, infoError: root.foreign ? "not inspected with --host-root" : null, infoResult: null,
    },
    engines,
    durationMs: Math.round(performance.now() - started),
  };
}
