// The real test bed: throwaway containerd + dockerd pairs that never touch the
// machine's own /etc/docker, /run/containerd or networking.
//  - containerd gets its own config, root, state and socket under a temp dir;
//  - dockerd gets its own --config-file, --data-root, --exec-root, --pidfile and -H
//    socket, and runs under `unshare -n` (a second dockerd can delete the host's docker0).
// Every bed records its pids in <dir>/pids so test/bed/cleanup.sh can reap leftovers.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pidAlive } from "../../platform/os/processes.ts";
import { which } from "../../platform/os/which.ts";

export const BED_PREFIX = "/tmp/gvd-bed-";
const REQUIRED = ["dockerd", "containerd", "runsc", "unshare", "busybox", "docker"];

/** Whether real-daemon tests can run here, and if not, why (reported as the skip reason). */
export function bedAvailability(): { ok: boolean; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "not Linux" };
  if (process.getuid?.() !== 0) return { ok: false, reason: "e2e tests need root" };
  const missing = REQUIRED.filter((c) => !which(c));
  if (missing.length) return { ok: false, reason: `missing ${missing.join(", ")} (run test/bed/setup.sh as root)` };
  return { ok: true, reason: "" };
}

export const BED = bedAvailability();
if (!BED.ok) console.warn(`[test bed] e2e tests skipped: ${BED.reason}`);

export interface DockerBed {
  dir: string;
  /** unix://… for DOCKER_HOST */
  host: string;
  configFile: string;
  containerdSocket: string;
  dockerdPid: number;
  containerdPid: number;
  /** Environment for child processes that should talk to this bed's dockerd. */
  env: NodeJS.ProcessEnv;
  /** Run the docker CLI against this bed. */
  docker(args: string[], input?: string | Buffer): { code: number; stdout: string; stderr: string };
  /** SIGHUP dockerd (reloads runtimes from the config file) and wait until it answers again. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number, logFile?: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await Bun.sleep(50);
  }
  const log =
    logFile && existsSync(logFile)
      ? `\n--- ${logFile} (tail) ---\n${readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n")}`
      : "";
  throw new Error(`test bed: timed out waiting for ${what}${log}`);
}

/** A private containerd's config: root, state and socket under `dir` (as the daemon sees it), CRI off unless asked. */
export function bedContainerdConfig(dir: string, cri = false): string {
  const sock = `${dir}/containerd.sock`;
  return (
    `version = 2\nroot = "${dir}/containerd-root"\nstate = "${dir}/containerd-state"\n` +
    `${cri ? "" : 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'}` +
    `[grpc]\n  address = "${sock}"\n[ttrpc]\n  address = "${sock}.ttrpc"\n`
  );
}

async function stopPid(pid: number, timeoutMs = 15_000): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {}
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && pidAlive(pid)) await Bun.sleep(50);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Unmount everything the daemons left mounted under `dir` (deepest first). */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && m.startsWith(dir));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync("umount", ["-l", m]);
}

export interface DockerBedOptions {
  /** daemon.json contents; default registers runsc with --network=none. */
  daemonJson?: string | object;
  /** Extra dockerd flags. */
  dockerdArgs?: string[];
  /** Keep containerd's CRI plugin (configure containerd refuses a containerd without it). */
  containerdCri?: boolean;
}

export const RUNSC_DAEMON_JSON = { runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } } };

export async function startDockerBed(opts: DockerBedOptions = {}): Promise<DockerBed> {
  if (!BED.ok) throw new Error(`test bed unavailable: ${BED.reason}`);
  const dir = mkdtempSync(BED_PREFIX);
  const pidsFile = join(dir, "pids");
  const configFile = join(dir, "daemon.json");
  const daemonJson = opts.daemonJson ?? RUNSC_DAEMON_JSON;
  writeFileSync(configFile, typeof daemonJson === "string" ? daemonJson : `${JSON.stringify(daemonJson, null, 2)}\n`);

  // containerd: private config (CRI disabled: dockerd does not need it and it is slow to start).
  const cdSock = join(dir, "containerd.sock");
  const cdConfig = join(dir, "containerd.toml");
  writeFileSync(cdConfig, bedContainerdConfig(dir, opts.containerdCri));
  const cdLog = join(dir, "containerd.log");
  const cd = spawn("containerd", ["--config", cdConfig], {
    detached: true,
    stdio: ["ignore", openSync(cdLog, "a"), openSync(cdLog, "a")],
  });
  cd.unref();
  appendFileSync(pidsFile, `${cd.pid}\n`);
  await waitFor("containerd socket", () => existsSync(cdSock), 20_000, cdLog);

  const sock = join(dir, "docker.sock");
  const host = `unix://${sock}`;
  const dLog = join(dir, "dockerd.log");
  const dockerdArgs = [
    "-n",
    "dockerd",
    "--config-file",
    configFile,
    "--data-root",
    join(dir, "data"),
    "--exec-root",
    join(dir, "exec"),
    "--pidfile",
    join(dir, "dockerd.pid"),
    "-H",
    host,
    "--containerd",
    cdSock,
    "--containerd-namespace",
    `gvd-${dir.slice(BED_PREFIX.length)}`,
    "--containerd-plugins-namespace",
    `gvd-${dir.slice(BED_PREFIX.length)}-plugins`,
    "--iptables=false",
    "--ip-masq=false",
    ...(opts.dockerdArgs ?? []),
  ];
  const dd = spawn("unshare", dockerdArgs, {
    detached: true,
    stdio: ["ignore", openSync(dLog, "a"), openSync(dLog, "a")],
  });
  dd.unref();
  appendFileSync(pidsFile, `${dd.pid}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  const docker = (args: string[], input?: string | Buffer) => {
    const r = spawnSync("docker", args, { env, input, encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const answers = () => docker(["version", "--format", "{{.Server.Version}}"]).code === 0;
  try {
    await waitFor("dockerd to answer", () => existsSync(sock) && answers(), 45_000, dLog);
  } catch (e) {
    // A dockerd that does not come up (e.g. a daemon.json it refuses) must not leak the bed.
    await stopPid(dd.pid!);
    await stopPid(cd.pid!);
    reapShims(dir);
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const bed: DockerBed = {
    dir,
    host,
    configFile,
    containerdSocket: cdSock,
    dockerdPid: dd.pid!,
    containerdPid: cd.pid!,
    env,
    docker,
    async reload() {
      process.kill(dd.pid!, "SIGHUP");
      await Bun.sleep(200);
      await waitFor("dockerd to answer after reload", answers, 15_000, dLog);
    },
    async stop() {
      // Remove leftover containers first so dockerd unmounts their layers.
      const ps = docker(["ps", "-aq"]);
      if (ps.code === 0 && ps.stdout.trim()) docker(["rm", "-f", ...ps.stdout.trim().split("\n")]);
      await stopPid(dd.pid!);
      await stopPid(cd.pid!);
      reapShims(dir);
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return bed;
}

/** Kill containerd shims that belong to a bed directory (they outlive containerd). */
export function reapShims(dir: string): void {
  const r = spawnSync("pgrep", ["-f", dir], { encoding: "utf8" });
  for (const pid of (r.stdout ?? "").split("\n").filter(Boolean).map(Number)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Ensure a directory for scratch files of one test, removed by the caller. */
export function scratchDir(prefix = "/tmp/gvd-test-"): string {
  const d = mkdtempSync(prefix);
  mkdirSync(d, { recursive: true });
  return d;
}
