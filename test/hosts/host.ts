// Boot a copy of a matrix tree as a host of its own, in private mount, PID, network, UTS, IPC and
// cgroup namespaces, so this machine's engines, networking and configs are never touched:
//  - init "systemd": systemd is PID 1 (docker.service and containerd.service are real units);
//  - init "none": PID 1 only waits; containerd and dockerd are started by hand, as on minimal
//    VMs and CI runners.
// pivot_root, not chroot: the kernel refuses new user namespaces (runsc's gofer) to a process
// whose root differs from its mount namespace's root.
// The copy lives under the test bed prefix with a pids file, so test/bed/cleanup.sh reaps it
// after a crash. Killing unshare (--kill-child) kills PID 1, which ends every process of the
// PID namespace; the mount namespace and all its mounts go with them.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { BED_PREFIX } from "../bed/bed.ts";
import { pidAlive } from "../../platform/os/processes.ts";
import { copyTree, ensureTree, treeVersions, type Suite } from "./trees.ts";

export type Init = "systemd" | "none";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface Host {
  suite: Suite;
  init: Init;
  /** e.g. "sid-systemd": the name results are filed under. */
  name: string;
  /** The host's / as a directory of this machine (files written here are the host's files). */
  root: string;
  /** PID 1 of the host, as this machine numbers it. */
  pid: number;
  /** Package versions of the tree (docker.io, containerd, podman, runsc, systemd). */
  versions: Record<string, string>;
  /** Run argv inside the host (all its namespaces, its root, a clean environment). */
  run(argv: string[], opts?: RunOptions): RunResult;
  /** Same, without blocking the event loop (for runs that take long or overlap). */
  runAsync(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Path inside the host of the compiled binary copied in by `boot`. */
  doctor: string;
  /** Restart containerd the host's way (systemctl, or by hand without init) and wait until it answers. */
  restartContainerd(): RunResult;
  /** Reload dockerd the host's way (systemctl reload, or SIGHUP) and wait until it answers. */
  reloadDocker(): RunResult;
  /** Wait until dockerd (and, with systemd, the system) answers. */
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Where the doctor binary is put inside a host: off PATH and off /usr/local, which journeys inspect. */
export const DOCTOR_IN_HOST = "/opt/gvd-test/gvisor-doctor";

const NS_FLAGS = ["--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup"];

function bootScript(init: Init): string {
  const common = [
    "set -e",
    'mount --rbind "$ROOT" "$ROOT"',
    'cd "$ROOT"',
    "mkdir -p .oldroot",
    "pivot_root . .oldroot",
    "mount -t proc proc /proc",
    "mount -t sysfs sysfs /sys",
    "mount -t cgroup2 cgroup2 /sys/fs/cgroup",
    "mount --rbind /.oldroot/dev /dev",
    "umount -l /.oldroot",
    "rmdir /.oldroot || true",
    "mount -t tmpfs tmpfs /run",
    "mount -t tmpfs tmpfs /tmp",
    '/bin/busybox hostname "$HOSTNAME_IN"',
  ];
  if (init === "systemd") return [...common, "exec env -i container=other /lib/systemd/systemd"].join("\n");
  // No init: PID 1 reaps orphans (busybox sh's wait does) and otherwise sleeps.
  const idle = "exec /bin/busybox sh -c 'trap \"exit 0\" TERM; while :; do sleep 3600 & wait; done'";
  return [...common, "ip link set lo up", idle].join("\n");
}

function childOf(pid: number): number | null {
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0];
    return c ? Number(c) : null;
  } catch {
    return null;
  }
}

export async function waitUntil(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await Bun.sleep(250);
  }
  throw new Error(`host: timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface BootOptions {
  init: Init;
  /** The compiled binary to copy in (default dist/gvisor-doctor of this checkout). */
  binary?: string;
}

/** Boot a fresh copy of `suite`'s tree (built if not cached). */
export async function bootHost(suite: Suite, opts: BootOptions): Promise<Host> {
  const tree = await ensureTree(suite);
  const name = `${suite}-${opts.init}`;
  const dir = mkdtempSync(`${BED_PREFIX}host-${name}-`);
  const root = join(dir, "root");
  mkdirSync(root);
  copyTree(tree, root);
  const binary = opts.binary ?? join(import.meta.dir, "../../dist/gvisor-doctor");
  mkdirSync(join(root, dirname(DOCTOR_IN_HOST)), { recursive: true });
  copyFileSync(binary, join(root, DOCTOR_IN_HOST));
  spawnSync("chmod", ["755", join(root, DOCTOR_IN_HOST)]);
  // Hostname lookups of the host's own name (sudo, podman) must not hit DNS.
  writeFileSync(join(root, "etc/hostname"), `${name}\n`);
  appendFileSync(join(root, "etc/hosts"), `127.0.1.1 ${name}\n`);
  const log = join(dir, "boot.log");
  const unshare = [
    "--fork",
    "--kill-child",
    ...NS_FLAGS,
    "--propagation",
    "private",
    "bash",
    "-c",
    bootScript(opts.init),
  ];
  const p = spawn("unshare", unshare, {
    detached: true,
    stdio: ["ignore", openSync(log, "a"), openSync(log, "a")],
    env: { PATH: process.env.PATH ?? HOST_PATH, ROOT: root, HOSTNAME_IN: name },
  });
  p.unref();
  writeFileSync(join(dir, "pids"), `${p.pid}\n`);
  let pid = 0;
  await waitUntil(
    "the host's PID 1",
    () => {
      const c = childOf(p.pid!);
      // PID 1 has pivoted once its root is the tree (before that it is the boot script's bash).
      if (c && readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0")[0] !== "bash") pid = c;
      return pid !== 0 || p.exitCode !== null;
    },
    20_000,
  );
  if (!pid) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`host ${name} did not boot:\n${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
  }
  appendFileSync(join(dir, "pids"), `${pid}\n`);

  const env = (extra?: Record<string, string>) => ({
    PATH: HOST_PATH,
    HOME: "/root",
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    ...extra,
  });
  const nsenter = (argv: string[]) => [
    "-t",
    String(pid),
    "-m",
    "-p",
    "-n",
    "-u",
    "-i",
    "-C",
    "-r",
    "-w",
    "--",
    ...argv,
  ];
  const run = (argv: string[], o: RunOptions = {}): RunResult => {
    const r = spawnSync("nsenter", nsenter(argv), {
      env: env(o.env),
      input: o.input,
      encoding: "utf8",
      timeout: o.timeoutMs ?? 300_000,
      maxBuffer: 64 << 20,
    });
    const stderr = (r.stderr ?? "") + (r.error ? `\n${r.error.message}` : "");
    return { code: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout ?? "", stderr };
  };
  const runAsync = (argv: string[], o: RunOptions = {}): Promise<RunResult> =>
    new Promise((resolve) => {
      const c = spawn("nsenter", nsenter(argv), { env: env(o.env), stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      c.stdout.on("data", (d) => (stdout += d));
      c.stderr.on("data", (d) => (stderr += d));
      const t = setTimeout(() => c.kill("SIGKILL"), o.timeoutMs ?? 300_000);
      c.on("close", (code, sig) => {
        clearTimeout(t);
        resolve({ code: code ?? (sig ? 128 : -1), stdout, stderr });
      });
      c.stdin.end(o.input ?? "");
    });

  const host: Host = {
    suite,
    init: opts.init,
    name,
    root,
    pid,
    versions: treeVersions(root),
    run,
    runAsync,
    doctor: DOCTOR_IN_HOST,
    restartContainerd() {
      const r =
        opts.init === "systemd"
          ? run(["systemctl", "restart", "containerd.service"])
          : run([
              "/bin/sh",
              "-c",
              "pkill -x containerd; while pgrep -x containerd >/dev/null; do sleep 0.1; done; " +
                "nohup containerd >>/var/log/containerd.log 2>&1 </dev/null &",
            ]);
      if (r.code !== 0) return r;
      return run([
        "/bin/sh",
        "-c",
        "for i in $(seq 150); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; ctr version",
      ]);
    },
    reloadDocker() {
      const r =
        opts.init === "systemd"
          ? run(["systemctl", "reload", "docker.service"])
          : run(["pkill", "-HUP", "-x", "dockerd"]);
      if (r.code !== 0) return r;
      return run([
        "/bin/sh",
        "-c",
        "sleep 0.5; for i in $(seq 150); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; docker info",
      ]);
    },
    async waitReady(timeoutMs = 90_000) {
      if (opts.init === "systemd") {
        await waitUntil(
          "systemd to finish booting",
          () => {
            const s = run(["systemctl", "is-system-running"]).stdout.trim();
            return s === "running" || s === "degraded";
          },
          timeoutMs,
        );
      }
      const answers = () => run(["docker", "version", "--format", "{{.Server.Version}}"]).code === 0;
      await waitUntil("dockerd to answer", answers, timeoutMs);
    },
    async stop() {
      if (pidAlive(p.pid!)) {
        try {
          process.kill(p.pid!, "SIGKILL");
        } catch {}
      }
      await waitUntil("the host's PID 1 to end", () => !pidAlive(pid), 30_000).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.init === "none") {
    try {
      await startDaemons(host, dir);
    } catch (e) {
      await host.stop();
      throw e;
    }
  }
  return host;
}

/** No init: containerd and dockerd started by hand, logging into the host's /var/log. */
async function startDaemons(host: Host, dir: string): Promise<void> {
  const start = (argv: string[], log: string) =>
    host.run(["/bin/sh", "-c", `nohup "$@" >>${log} 2>&1 </dev/null & echo $!`, "sh", ...argv]).stdout.trim();
  const cd = start(["containerd"], "/var/log/containerd.log");
  // /run is the host's own tmpfs: look from inside.
  const socket = () => host.run(["test", "-S", "/run/containerd/containerd.sock"]).code === 0;
  await waitUntil("containerd's socket", socket, 30_000);
  const dd = start(["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none"], "/var/log/dockerd.log");
  // Their pids as the host numbers them (for the record; the host's end reaps them).
  appendFileSync(join(dir, "daemons"), `containerd ${cd}\ndockerd ${dd}\n`);
}
