// Finding and running the host's own programs in host-root mode: binaries are looked up
// under DIR (and named by their host path), run chrooted into DIR so they use the host's
// libraries and see host paths, and engines restart through the host's init.
import { join } from "node:path";
import { run, failureText, type RunOptions, type RunResult } from "./spawn.ts";
import type { HostRoot } from "./host-root.ts";
import { waitForUnixSocket } from "../engines/daemon-control.ts";
import type { ReloadOptions, ReloadResult } from "../engines/types.ts";
import { findProcesses, type DaemonProcess } from "./processes.ts";
import { isExecutableFile, which, SYSTEM_BIN_DIRS } from "./which.ts";

/** The host path of `name` in the host's system directories (or on `hostPath`), or null. */
export function whichInRoot(root: HostRoot, name: string, hostPath = ""): string | null {
  const dirs = [...hostPath.split(":").filter((d) => d.startsWith("/")), ...SYSTEM_BIN_DIRS];
  for (const d of dirs) if (isExecutableFile(root.local(join(d, name)))) return join(d, name);
  return null;
}

/**
 * An engine's binary: with a host root the node's (the running daemon's own executable,
 * else the node's system directories), named by its node path; otherwise PATH, then the
 * usual system directories.
 */
export function engineBinary(
  root: HostRoot,
  name: string,
  daemon: DaemonProcess | null,
  env: NodeJS.ProcessEnv,
): string | null {
  if (!root.foreign) return which(name, [env.PATH ?? "", ...SYSTEM_BIN_DIRS].join(":"));
  // A daemon chrooted into DIR (same mount namespace) shows its executable as DIR/…: name it as the node does.
  const exe = daemon ? root.host(daemon.exe) : null;
  return exe && isExecutableFile(root.local(exe)) ? exe : whichInRoot(root, name);
}

/** A tool of our own (chroot, nsenter): our PATH, then the usual system directories. */
export function ownTool(name: string): string | null {
  return which(name, [process.env.PATH ?? "", ...SYSTEM_BIN_DIRS].join(":"));
}

/** Run a host binary (host path) as the host would: chrooted into the root in host-root mode. */
export async function runHostBinary(
  root: HostRoot,
  bin: string,
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  if (!root.foreign) return run(bin, args, opts);
  const chroot = ownTool("chroot");
  if (!chroot)
    return {
      cmd: ["chroot", root.dir, bin, ...args],
      code: null,
      signal: null,
      stdout: "",
      stderr: "",
      durationMs: 0,
      timedOut: false,
      truncated: false,
      spawnError: "chroot is not installed in this image: cannot run the host's programs",
    };
  return run(chroot, [root.dir, bin, ...args], opts);
}

/**
 * How to restart a host service from a pod: the override (--restart-command), else
 * `nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart UNIT` when the
 * host runs systemd and its PID 1 is visible (hostPID). Null, with the reason, otherwise.
 */
export function hostRestartArgv(
  root: HostRoot,
  unit: string,
  override: string[] | null | undefined,
  command?: string[],
): { argv: string[] | null; why: string } {
  if (override?.length) return { argv: override, why: "--restart-command" };
  if (command?.length) {
    // The service's own restart (microk8s: snap restart microk8s), in the host's namespaces.
    if (!root.owns(1)) return { argv: null, why: "the host's PID 1 is not visible (the pod needs hostPID: true)" };
    const nsenter = ownTool("nsenter");
    if (!nsenter) return { argv: null, why: "nsenter is not installed in this image" };
    const argv = [nsenter, "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", ...command];
    return { argv, why: `${command[0]} on the host (nsenter into PID 1)` };
  }
  if (!isExecutableFile(root.local("/bin/systemctl")) && !isExecutableFile(root.local("/usr/bin/systemctl")))
    return { argv: null, why: "the host has no systemctl" };
  if (!root.owns(1)) return { argv: null, why: "the host's PID 1 is not visible (the pod needs hostPID: true)" };
  const nsenter = ownTool("nsenter");
  if (!nsenter) return { argv: null, why: "nsenter is not installed in this image" };
  return {
    argv: [nsenter, "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", "systemctl", "restart", unit],
    why: "the host's systemd (nsenter into PID 1)",
  };
}

export interface HostService {
  title: string;
  /** The daemon's executable name, to find the restarted process. */
  process: string;
  valueFlags: string[];
  unit: string;
  pid: number;
  /** Its socket (host path): serving again means restarted. */
  socket: string;
  /** How the host restarts it, when not `systemctl restart UNIT` (argv, e.g. snap restart microk8s). */
  command?: string[];
}

/**
 * Host-root mode: restart an engine without live reload through the node's init (or
 * --restart-command), then wait until a new daemon of the node serves its socket.
 */
export async function restartOnHost(
  root: HostRoot,
  override: string[] | null | undefined,
  opts: ReloadOptions,
  svc: HostService,
): Promise<ReloadResult> {
  const how = hostRestartArgv(root, svc.unit, override, svc.command);
  const shown = how.argv?.join(" ") ?? null;
  const byHand = svc.command?.join(" ") ?? `systemctl restart ${svc.unit}`;
  if (!how.argv) {
    const message =
      `cannot restart ${svc.title} from here (${how.why}); ` + "restart it on the node, or pass --restart-command";
    return { action: "pending", method: null, command: `${byHand}   # on the node`, message };
  }
  if (!opts.restart || !opts.reload)
    return {
      action: "pending",
      method: null,
      command: shown,
      message: `${svc.title} has no live reload: restart it to load the change (--restart does it)`,
    };
  const r = await run(how.argv[0], how.argv.slice(1), { timeoutMs: 120_000 });
  if (r.code !== 0)
    return { action: "failed", method: shown, command: shown, message: `${shown} failed: ${failureText(r)}` };
  const socket = root.local(svc.socket);
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const now = findProcesses([svc.process], svc.valueFlags).filter((d) => root.owns(d.pid) && d.pid !== svc.pid);
    if (now.length && (await waitForUnixSocket(socket, 300)))
      return {
        action: "restarted",
        method: `${shown} (${how.why})`,
        command: null,
        message: `restarted (pid ${svc.pid} → ${now.map((d) => d.pid).join(", ")}) with ${shown}`,
      };
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    action: "failed",
    method: shown,
    command: shown,
    message: `${shown} ran, but no new ${svc.title} serves ${svc.socket} within 60s`,
  };
}
