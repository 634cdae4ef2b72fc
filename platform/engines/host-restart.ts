// Restarting an engine of the node from a pod (host-root mode): through the node's init (nsenter into its PID 1)
// or --restart-command, then waiting until a new daemon of the node serves the engine's socket.
import type { HostRoot } from "../os/host-root.ts";
import { findTool } from "../os/which.ts";
import { findProcesses } from "../os/processes.ts";
import { sleep } from "../os/sleep.ts";
import { failureText, run } from "../os/spawn.ts";
import { isExecutableFile } from "../os/which.ts";
import { waitForUnixSocket } from "./daemon-control.ts";
import type { ReloadOptions, ReloadResult } from "./types.ts";

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
  // The service's own restart (microk8s: snap restart microk8s), else systemd's, in the host's namespaces.
  if (
    !command?.length &&
    !isExecutableFile(root.local("/bin/systemctl")) &&
    !isExecutableFile(root.local("/usr/bin/systemctl"))
  )
    return { argv: null, why: "the host has no systemctl" };
  if (!root.owns(1)) return { argv: null, why: "the host's PID 1 is not visible (the pod needs hostPID: true)" };
  const nsenter = findTool("nsenter"); // our own, not the host's
  if (!nsenter) return { argv: null, why: "nsenter is not installed in this image" };
  const inHost = [nsenter, "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--"];
  if (command?.length) return { argv: [...inHost, ...command], why: `${command[0]} on the host (nsenter into PID 1)` };
  return { argv: [...inHost, "systemctl", "restart", unit], why: "the host's systemd (nsenter into PID 1)" };
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
    await sleep(200);
  }
  return {
    action: "failed",
    method: shown,
    command: shown,
    message: `${shown} ran, but no new ${svc.title} serves ${svc.socket} within 60s`,
  };
}
