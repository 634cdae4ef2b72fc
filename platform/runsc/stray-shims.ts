// containerd shims stranded by a container that never started. When runsc fails to start
// a container (a missing command, the sandbox-network failure), Docker removes the
// container but its containerd-shim-runc-v2 (with runsc's sandbox and gofer) stays behind
// forever (measured with dockerd 20.10, containerd 1.6, runsc 20221219; runc does not).
// Whoever started the container reaps them by its id (docker run --cidfile).
import { findProcesses, pidAlive } from "../os/processes.ts";
import { sleep } from "../os/sleep.ts";

const SHIMS = ["containerd-shim-runc-v2", "containerd-shim-runsc-v1", "containerd-shim"];

/** SIGTERM, wait for the exit (up to 3 s), then SIGKILL. */
async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 60 && pidAlive(pid); i++) await sleep(50);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Shims still running for container `id` (not the short-lived `shim delete` calls). */
export function strayShims(id: string): number[] {
  return findProcesses(SHIMS, ["-id", "--id"])
    .filter((p) => !p.argv.includes("delete") && [...(p.flags["-id"] ?? []), ...(p.flags["--id"] ?? [])].includes(id))
    .map((p) => p.pid);
}

/** Processes still working on container `id` (containerd's `shim delete` → `runsc delete` after a shim exits). */
const busyWith = (id: string) =>
  findProcesses([...SHIMS, "runsc", "sh"], []).filter((p) => pidAlive(p.pid) && p.argv.some((a) => a.includes(id)));

/** Stop the shims stranded for `id`, then wait (bounded) for containerd's cleanup that follows. */
export async function reapStrayShims(id: string): Promise<number> {
  const shims = strayShims(id);
  if (!shims.length) return 0;
  await Promise.all(shims.map((pid) => stopProcess(pid)));
  for (let i = 0; i < 100 && busyWith(id).length; i++) await sleep(50);
  return shims.length;
}
