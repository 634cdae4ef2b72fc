// Finding and running the host's own programs in host-root mode: binaries are looked up
// under DIR (and named by their host path), run chrooted into DIR so they use the host's
// libraries and see host paths (engines restart through the host's init: platform/engines/host-restart.ts).
import { join } from "node:path";
import { run, type RunOptions, type RunResult } from "./spawn.ts";
import type { HostRoot } from "./host-root.ts";
import type { DaemonProcess } from "./processes.ts";
import { findTool, isExecutableFile, SYSTEM_BIN_DIRS } from "./which.ts";

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
  if (!root.foreign) return findTool(name, env);
  // A daemon chrooted into DIR (same mount namespace) shows its executable as DIR/…: name it as the node does.
  const exe = daemon ? root.host(daemon.exe) : null;
  return exe && isExecutableFile(root.local(exe)) ? exe : whichInRoot(root, name);
}

/** Run a host binary (host path) as the host would: chrooted into the root in host-root mode. */
export async function runHostBinary(
  root: HostRoot,
  bin: string,
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  if (!root.foreign) return run(bin, args, opts);
  const chroot = findTool("chroot"); // our own, not the host's
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
