// Finding and running the host's own programs in host-root mode: binaries are looked up
// under DIR (and named by their host path), run chrooted into DIR so they use the host's
// libraries and see host paths, and engines restart through the host's init.
import { join } from "node:path";
import { run, failureText, type RunOptions, type RunResult } from "./proc.ts";
import type { HostRoot } from "./host-root.ts";
import { isExecutableFile, which, SYSTEM_BIN_DIRS } from "./which.ts";

/** The host path of `name` in the host's system directories (or on `hostPath`), or null. */
export function whichInRoot(root: HostRoot, name: string, hostPath = ""): string | null {
  const dirs = [...hostPath.split(":").filter((d) => d.startsWith("/")), ...SYSTEM_BIN_DIRS];
  for (const d of dirs) if (isExecutableFile(root.local(join(d, name)))) return join(d, name);
  return null;
}

/** A tool of our own (chroot, nsenter): our PATH, then the usual system directories. */
export function ownTool(name: string): string | null {
  return which(name, [process.env.PATH ?? "", ...SYSTEM_BIN_DIRS].join(":"));
}

/** Run a host binary (host path) as the host would: chrooted into the root in host-root mode. */
export async function runHostBinary(root: HostRoot, bin: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!root.foreign) return run(bin, args, opts);
  const chroot = ownTool("chroot");
  if (!chroot) return { cmd: ["chroot", root.dir, bin, ...args], code: null, signal: null, stdout: "", stderr: "", durationMs: 0, timedOut: false, truncated: false, spawnError: "chroot is not installed in this image: cannot run the host's programs" };
  return run(chroot, [root.dir, bin, ...args], opts);
}

/**
 * How to restart a host service from a pod: the override (--restart-command), else
 * `nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart UNIT` when the
 * host runs systemd and its PID 1 is visible (hostPID). Null, with the reason, otherwise.
 */
export function hostRestartArgv(root: HostRoot, unit: string, override: string[] | null | undefined): { argv: string[] | null; why: string } {
  if (override?.length) return { argv: override, why: "--restart-command" };
  if (!isExecutableFile(root.local("/bin/systemctl")) && !isExecutableFile(root.local("/usr/bin/systemctl"))) return { argv: null, why: "the host has no systemctl" };
  if (!root.owns(1)) return { argv: null, why: "the host's PID 1 is not visible (the pod needs hostPID: true)" };
  const nsenter = ownTool("nsenter");
  if (!nsenter) return { argv: null, why: "nsenter is not installed in this image" };
  return { argv: [nsenter, "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", "systemctl", "restart", unit], why: "the host's systemd (nsenter into PID 1)" };
}

/** Run a restart command and say what happened, in one line. */
export async function runRestart(argv: string[]): Promise<{ ok: boolean; message: string }> {
  const r = await run(argv[0], argv.slice(1), { timeoutMs: 120_000 });
  return r.code === 0 ? { ok: true, message: `ran ${argv.join(" ")}` } : { ok: false, message: `${argv.join(" ")} failed: ${failureText(r)}` };
}
