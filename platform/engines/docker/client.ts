// Talking to Docker: through the Engine API on dockerd's unix socket (no CLI needed, and
// faster: bench/docker-api.ts), else through its CLI (every other DOCKER_HOST scheme, and
// docker contexts); and matching the daemon we talk to with its process.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerApi, unixSocketOf } from "./api.ts";
import { SELF_ROOT, sameInode } from "../../os/host-root.ts";
import { sameFile } from "../../os/fsutil.ts";
import { failureText, run, type RunResult } from "../../os/spawn.ts";
import { findTool } from "../../os/which.ts";
import {
  listeningUnixPaths,
  processUid,
  readEnviron,
  sameMountNamespace,
  type DaemonProcess,
} from "../../os/processes.ts";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";
export const DEFAULT_DAEMON_JSON = "/etc/docker/daemon.json";

/**
 * The daemon the docker CLI talks to, resolved as the CLI does: DOCKER_HOST, else the context
 * DOCKER_CONTEXT or the config's currentContext names (`docker context use rootless`, which
 * dockerd-rootless-setuptool.sh sets up: a rootless dockerd's socket under $XDG_RUNTIME_DIR).
 */
export function dockerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST?.trim() || contextHost(env) || DEFAULT_DOCKER_HOST;
}

/** The docker endpoint of the current docker context; null for "default" or when unreadable. */
export function contextHost(env: NodeJS.ProcessEnv): string | null {
  const dir = env.DOCKER_CONFIG || (env.HOME ? join(env.HOME, ".docker") : null);
  if (!dir) return null;
  try {
    const name =
      env.DOCKER_CONTEXT?.trim() || JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))?.currentContext;
    if (typeof name !== "string" || !name || name === "default") return null;
    const id = createHash("sha256").update(name).digest("hex");
    const meta = JSON.parse(readFileSync(join(dir, "contexts", "meta", id, "meta.json"), "utf8"));
    const host = meta?.Endpoints?.docker?.Host;
    return typeof host === "string" && host ? host : null;
  } catch {
    return null;
  }
}

export function dockerCli(env: NodeJS.ProcessEnv = process.env): string | null {
  return findTool("docker", env);
}

export interface DockerRuntime {
  path: string;
  runtimeArgs?: string[];
}

export interface DockerInfo {
  serverVersion: string;
  defaultRuntime: string;
  runtimes: Record<string, DockerRuntime>;
  rootless: boolean;
  cgroupDriver: string;
  cgroupVersion: string;
  dockerRootDir: string;
  operatingSystem: string;
  /** The containerd revision dockerd reached; "N/A" while it cannot reach containerd (restarting). */
  containerdCommit?: string;
}

export function parseDockerInfo(json: string): DockerInfo {
  return dockerInfoOf(JSON.parse(json));
}

const str = (v: unknown, dflt = ""): string => (typeof v === "string" ? v : dflt);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;

/** `docker info` / GET /info as data; fields of the wrong type count as absent. */
export function dockerInfoOf(j: any): DockerInfo {
  const runtimes: Record<string, DockerRuntime> = {};
  const rts = j?.Runtimes && typeof j.Runtimes === "object" ? j.Runtimes : {};
  for (const [k, v] of Object.entries<any>(rts)) {
    const args = strings(v?.runtimeArgs);
    runtimes[k] = { path: str(v?.path), ...(args ? { runtimeArgs: args } : {}) };
  }
  return {
    serverVersion: str(j?.ServerVersion),
    defaultRuntime: str(j?.DefaultRuntime, "runc"),
    runtimes,
    rootless: (strings(j?.SecurityOptions) ?? []).some((s) => s.includes("rootless")),
    cgroupDriver: str(j?.CgroupDriver),
    cgroupVersion: str(j?.CgroupVersion),
    dockerRootDir: str(j?.DockerRootDir),
    operatingSystem: str(j?.OperatingSystem),
    containerdCommit: str(j?.ContainerdCommit?.ID),
  };
}

/** How the doctor talks to dockerd: "api" (its unix socket) or "cli"; null when it cannot. */
export interface DockerEndpoint {
  /** For dockerd's info (version, runtimes; configure's verification). */
  via: "api" | "cli" | null;
  /** For the hello probe (a container). */
  probe: "api" | "cli" | null;
  cli: string | null;
  /** The unix socket behind DOCKER_HOST (null for tcp://, ssh:// …). */
  api: string | null;
  /** Why neither path serves (via null). */
  why: string | null;
}

/** Whether the docker CLI would follow a context rather than DOCKER_HOST or the default socket. */
export function contextSelected(env: NodeJS.ProcessEnv): boolean {
  const name = env.DOCKER_CONTEXT?.trim();
  if (name) return name !== "default";
  if (env.DOCKER_HOST?.trim()) return false; // DOCKER_HOST overrides the config's current context
  const dir = env.DOCKER_CONFIG || join(env.HOME ?? "/root", ".docker");
  try {
    const cur = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))?.currentContext;
    return typeof cur === "string" && cur !== "" && cur !== "default";
  } catch {
    return false;
  }
}

/**
 * Each operation takes the faster path that reaches the daemon the CLI would (bench/docker-api.ts,
 * same run): dockerd's info through the API on a unix socket (0.35× the CLI's time), the hello
 * probe through the CLI when there is one (the API's create/start/wait/logs/remove took 0.96–1.09×,
 * no gain) and through the API when there is none. The CLI alone serves tcp://, ssh:// and docker
 * contexts. GVISOR_DOCTOR_DOCKER_VIA=cli|api takes one path for both where both serve (a way
 * around a quirk of either, and how the tests and the bench compare them). Decided once, with the facts.
 */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env, cli = dockerCli(env)): DockerEndpoint {
  const host = dockerHost(env);
  const api = unixSocketOf(host);
  const want = env.GVISOR_DOCTOR_DOCKER_VIA;
  if (cli && (!api || want === "cli" || (want !== "api" && contextSelected(env)))) {
    return { via: "cli", probe: "cli", cli, api, why: null };
  }
  if (api) return { via: "api", probe: cli && want !== "api" ? "cli" : "api", cli, api, why: null };
  const why =
    `the docker CLI is not on PATH, and DOCKER_HOST=${host} is not a unix socket the doctor can reach ` + "without it";
  return { via: null, probe: null, cli, api, why };
}

/** What `dockerInfoVia` read: the info, or why not; the CLI's run result when the CLI ran. */
export interface DockerInfoRead {
  info: DockerInfo | null;
  error: string | null;
  result: RunResult | null;
}

/**
 * The dockerd behind DOCKER_HOST as the doctor reached it: the one model of the Docker daemon. Host facts
 * gather it (platform/facts/host-facts.ts), the docker adapter's detection reads it (platform/engines/snapshot.ts).
 */
export interface DockerDaemonFacts {
  cli: string | null;
  /** The unix socket behind `host` (the Engine API's), null for other schemes. */
  api: string | null;
  /** How the doctor reads dockerd's info, and runs the hello probe (dockerEndpoint); null: it cannot. */
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

/** dockerd's info through the endpoint's path. */
export async function dockerInfoVia(ep: DockerEndpoint, env: NodeJS.ProcessEnv = process.env): Promise<DockerInfoRead> {
  if (ep.via === "cli") {
    const { info, result } = await dockerInfo(ep.cli!, env);
    return { info, error: info ? null : failureText(result), result };
  }
  if (ep.via === null) return { info: null, error: ep.why, result: null };
  try {
    const info = dockerInfoOf(await new DockerApi(ep.api!).info());
    if (!info.serverVersion) return { info: null, error: "GET /info names no ServerVersion", result: null };
    return { info, error: null, result: null };
  } catch (e) {
    return { info: null, error: (e as Error).message, result: null };
  }
}

/** `docker info` as data; the run result is kept for diagnosis and `-v`. */
export async function dockerInfo(
  cli: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ info: DockerInfo | null; result: RunResult }> {
  const result = await run(cli, ["info", "--format", "{{json .}}"], { timeoutMs: 15_000, env });
  if (result.code !== 0) return { info: null, result };
  try {
    const info = parseDockerInfo(result.stdout);
    // The CLI prints client info even when the server is unreachable; no ServerVersion means no daemon.
    return { info: info.serverVersion ? info : null, result };
  } catch {
    return { info: null, result };
  }
}

function socketPath(host: string): string | null {
  if (host.startsWith("unix://")) return host.slice("unix://".length);
  if (host === "fd://" || host.startsWith("fd://")) return "/var/run/docker.sock";
  return null;
}

/**
 * The dockerd process that serves `host`: the one whose -H/--host names the same
 * socket, or, for the default socket, one started without -H (or with fd://).
 */
export function matchDockerd(host: string, daemons: DaemonProcess[]): DaemonProcess | null {
  const want = socketPath(host);
  if (!want) return daemons.length === 1 ? daemons[0] : null;
  for (const d of daemons) {
    const hosts = [...(d.flags["-H"] ?? []), ...(d.flags["--host"] ?? [])];
    const socks = hosts.length ? hosts.map(socketPath).filter((s): s is string => !!s) : ["/var/run/docker.sock"];
    if (socks.some((s) => sameFile(s, want))) return d;
  }
  return null;
}

/**
 * Whether process `pid` listens on the socket file at `sock` (our path): one of its
 * listening sockets is bound to a path that, seen through its root and mount namespace
 * (/proc/PID/root), is the same file. A daemon in another mount namespace or root can
 * bind the same path string to a different file. null: its sockets are unreadable.
 */
export function servesSocket(pid: number, sock: string): boolean | null {
  const paths = listeningUnixPaths(pid);
  if (paths === null) return null;
  return paths.some((p) => sameInode(`/proc/${pid}/root${p}`, sock));
}

/**
 * The dockerd that serves `host`, the one a reload must signal. Daemons of another root
 * (Docker-in-Docker, kind nodes, chroots) are never it. Among ours, the one holding the
 * listening socket behind the path decides; argv (matchDockerd) only when sockets cannot
 * be read. Several dockerd may name the same -H path in different mount namespaces.
 */
export function dockerdServing(host: string, daemons: DaemonProcess[]): DaemonProcess | null {
  // The snap's dockerd runs confined in its base snap's root, yet serves this machine (its
  // daemon.json is the host's /var/snap/docker/current/config/daemon.json): it counts as ours.
  const ours = daemons.filter((d) => SELF_ROOT.owns(d.pid) || d.exe.startsWith("/snap/"));
  const want = socketPath(host);
  if (!want) return ours.length === 1 ? ours[0] : null;
  const serves = ours.map((d) => ({ d, serves: servesSocket(d.pid, want) }));
  const holders = serves.filter((s) => s.serves).map((s) => s.d);
  if (holders.length) return holders.find((d) => sameMountNamespace(d.pid)) ?? holders[0];
  const unknown = serves.filter((s) => s.serves === null).map((s) => s.d);
  return unknown.length ? matchDockerd(host, unknown) : null;
}

/** The daemon.json a dockerd process reads: its --config-file, else the default for its mode. */
export function daemonConfigPath(d: DaemonProcess | null, env: NodeJS.ProcessEnv = process.env): string {
  const flag = d?.flags["--config-file"]?.at(-1);
  if (flag) return flag;
  if (d && d.uid !== null && d.uid !== 0) {
    // Rootless dockerd reads $XDG_CONFIG_HOME/docker/daemon.json of *its* environment, not ours.
    const denv = (processUid(d.pid) === d.uid ? readEnviron(d.pid) : null) ?? env;
    const home = denv.HOME ?? env.HOME ?? "";
    return `${denv.XDG_CONFIG_HOME || `${home}/.config`}/docker/daemon.json`;
  }
  if (d && d.exe.startsWith("/snap/")) return "/var/snap/docker/current/config/daemon.json";
  return DEFAULT_DAEMON_JSON;
}
