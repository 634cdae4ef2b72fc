// The honest fallback: a plain subprocess, no isolation. It gets the same small
// environment a sandbox would (not the host's secrets), runs in its own process
// group so a signal or the timeout reaches everything it started, and a workdir
// inside a mount is translated to the mount's host directory.
import { statSync } from "node:fs";
import { posix, relative, join } from "node:path";
import { echoInput } from "../os/echo-input.ts";
import { UsageError } from "../os/errors.ts";
import { EXEC_ID_ENV, killRun, newExecId } from "./escapees.ts";
import type { ExecRequest, Launch } from "./types.ts";

/** The host directory for the sandbox path `workdir`: through the mount that holds it, else as given; none → `cwd`. */
export function hostWorkdir(req: Pick<ExecRequest, "workdir" | "mounts">, cwd: string): string {
  if (!req.workdir) return cwd;
  const m = [...req.mounts]
    .sort((a, b) => b.target.length - a.target.length)
    .find((m) => req.workdir === m.target || req.workdir!.startsWith(`${m.target}/`));
  return m ? join(m.source, relative(m.target, req.workdir)) : req.workdir;
}

/** What the plain subprocess did not apply, for the warning. */
export function unenforced(req: ExecRequest): string[] {
  const out = [
    "gVisor isolation",
    "the read-only root",
    "no-new-privileges and dropped capabilities",
    `the pids limit (${req.pids})`,
  ];
  if (req.network === "none") out.push("network none");
  if (req.memoryBytes) out.push("the memory limit");
  if (req.mounts.length) out.push("the mounts (the command sees the whole host file system)");
  return out;
}

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig); // the whole process group the child leads
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
}

export function launchNone(req: ExecRequest, hostEnv: NodeJS.ProcessEnv, cwd: string = process.cwd()): Launch {
  const dir = posix.normalize(hostWorkdir(req, cwd));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {}
  // spawn() would report a missing cwd as "command not found".
  const wd = echoInput(req.workdir ?? dir);
  if (!isDir)
    throw new UsageError(
      `--workdir ${wd}: ${echoInput(dir)} is not a directory on this host (without a sandbox the command runs on the host)`,
      `mount a host directory there (--mount DIR:${wd}) or pick an existing directory`,
    );
  // The marker finds what the command leaves behind, wherever it moved to (escapees.ts).
  const id = newExecId();
  const env: NodeJS.ProcessEnv = {
    PATH: hostEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    ...(hostEnv.HOME ? { HOME: hostEnv.HOME } : {}),
    ...req.env,
    [EXEC_ID_ENV]: id,
  };
  return {
    method: "none",
    sandboxed: false,
    file: req.command[0],
    args: req.command.slice(1),
    env,
    cwd: dir,
    async forward(sig, pid) {
      signalGroup(pid, sig);
    },
    async teardown({ pid, exited }) {
      killRun(pid, id);
      await exited;
    },
    // Nothing outlives the command, as in a sandbox: its group, session and marked processes end with it.
    onExit: (pid) => killRun(pid, id),
    async cleanup() {},
  };
}
