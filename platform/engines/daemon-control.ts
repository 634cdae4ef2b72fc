// Reloading and restarting engine daemons: through systemd when systemd runs them,
// otherwise by signal (dockerd reloads on SIGHUP) or by stopping the process and
// starting it again with its original argv, environment, directory and log files
// (containerd has no live reload and exits on SIGHUP).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { connect } from "node:net";
import { pidAlive, readEnviron } from "../os/processes.ts";
import { shellQuote } from "../os/shell.ts";
import { run, failureText } from "../os/spawn.ts";
import { which, SYSTEM_BIN_DIRS } from "../os/which.ts";
import { sleep } from "../os/sleep.ts";
import type { ReloadResult } from "./types.ts";

/** reload() when no daemon of the engine runs here: nothing to load, `daemon` reads the file when it starts. */
export const notRunning = (daemon: string): ReloadResult => ({
  action: "not-running",
  method: null,
  command: null,
  message: `${daemon} is not running here; it reads the file when it starts`,
});

/** The systemd unit whose cgroup holds `pid` (e.g. "docker.service"), when systemd is init. */
export function systemdUnitOf(pid: number, procRoot = "/proc", systemdDir = "/run/systemd/system"): string | null {
  try {
    if (!statSync(systemdDir).isDirectory()) return null;
  } catch {
    return null;
  }
  try {
    const cg = readFileSync(`${procRoot}/${pid}/cgroup`, "utf8");
    // A user's own unit (rootless dockerd: user@1000.service/app.slice/docker.service) is not the system
    // manager's: `systemctl reload docker` would reach the system's dockerd. The caller signals it instead.
    if (/\/user@\d+\.service\//.test(cg)) return null;
    return cg.match(/\/([^/\n]+\.service)\s*$/m)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * When a process started, in ms since the epoch: its start tick (/proc/PID/stat) against
 * the uptime now (/proc/uptime, 10 ms resolution; /proc/stat's btime is whole seconds,
 * too coarse to tell "restarted just after the write" from "before").
 */
export function processStartMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
      .replace(/^.*\) /s, "")
      .split(" ");
    const ticks = Number(fields[19]); // field 22 (starttime) counted from field 3
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    // USER_HZ is 100 on every Linux ABI gvisor-doctor supports (x86_64, arm64).
    return Number.isFinite(ticks) && Number.isFinite(uptime) ? Date.now() - uptime * 1000 + ticks * 10 : null;
  } catch {
    return null;
  }
}

/**
 * The daemon `pid` started before the newest of `files` (paths as `local` reaches them) last changed: a daemon
 * that reads its config only at start has not loaded that change. false when its start time is unknown.
 */
export function startedBeforeChange(pid: number, files: string[], local: (p: string) => string = (p) => p): boolean {
  return configChangedAfterStart(pid, files, local) !== null;
}

/**
 * When a daemon (`pid`) started and when the newest of `files` changed, if that change is later than the start by
 * more than `slackMs` (a config written just before a start can carry an mtime a little after it); null otherwise,
 * or when either time cannot be read.
 */
export function configChangedAfterStart(
  pid: number,
  files: string[],
  local: (p: string) => string = (p) => p,
  slackMs = 0,
): { startedMs: number; changedMs: number } | null {
  const started = processStartMs(pid);
  let newest = 0;
  for (const f of files) {
    try {
      newest = Math.max(newest, statSync(local(f)).mtimeMs);
    } catch {}
  }
  return started !== null && newest > started + slackMs ? { startedMs: started, changedMs: newest } : null;
}

export async function systemctl(
  action: "reload" | "restart",
  unit: string,
): Promise<{ ok: boolean; message: string; command: string }> {
  const bin = which("systemctl", SYSTEM_BIN_DIRS.join(":")) ?? "systemctl";
  const r = await run(bin, [action, unit], { timeoutMs: 90_000 });
  return {
    ok: r.code === 0,
    message: r.code === 0 ? `systemctl ${action} ${unit}` : failureText(r),
    command: `systemctl ${action} ${unit}`,
  };
}

/** Whether `pid` shares our network and mount namespaces (restarting it from here recreates it in ours). */
export function sameNamespaces(pid: number): boolean {
  try {
    return ["net", "mnt"].every((ns) => readlinkSync(`/proc/${pid}/ns/${ns}`) === readlinkSync(`/proc/self/ns/${ns}`));
  } catch {
    return false;
  }
}

export function waitForUnixSocket(path: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const attempt = () => {
      const s = connect(path);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > end) resolve(false);
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export interface ProcessSnapshot {
  pid: number;
  exe: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Regular files its stdout/stderr were appending to (null: not a file). */
  stdout: string | null;
  stderr: string | null;
}

function fdFile(pid: number, fd: number): string | null {
  try {
    const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    return target.startsWith("/") && statSync(target).isFile() ? target : null;
  } catch {
    return null;
  }
}

/**
 * The directory to start a process again in. A daemon's cwd can be gone (deleted: "… (deleted)"), outside
 * our root ("(unreachable)/…", or a path of another root after a pivot_root): spawning there fails with
 * ENOENT and the daemon stays down, so those start in "/" (daemons do not depend on their cwd).
 */
export function usableCwd(cwd: string): string {
  if (!cwd.startsWith("/") || cwd.endsWith(" (deleted)")) return "/";
  try {
    return statSync(cwd).isDirectory() ? cwd : "/";
  } catch {
    return "/";
  }
}

/** Everything needed to start a process again the way it was started. */
export function snapshotProcess(pid: number): ProcessSnapshot | null {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
    if (argv.at(-1) === "") argv.pop();
    let exe = readlinkSync(`/proc/${pid}/exe`);
    // An upgraded binary shows as "(deleted)": start the file now at that path.
    exe = exe.replace(/ \(deleted\)$/, "");
    return {
      pid,
      exe,
      argv,
      env: readEnviron(pid) ?? {},
      cwd: usableCwd(readlinkSync(`/proc/${pid}/cwd`)),
      stdout: fdFile(pid, 1),
      stderr: fdFile(pid, 2),
    };
  } catch {
    return null;
  }
}

/** The shell command that restarts a snapshot by hand (for "restart pending" messages). */
export function restartCommand(s: ProcessSnapshot): string {
  const log = s.stdout ? ` >>${shellQuote(s.stdout)} 2>&1` : " >/dev/null 2>&1";
  return `kill ${s.pid} && while kill -0 ${s.pid} 2>/dev/null; do sleep 0.1; done && setsid ${[s.exe, ...s.argv.slice(1)].map(shellQuote).join(" ")}${log} &`;
}

/**
 * SIGTERM the process, wait for it to exit, start it again detached with the same argv,
 * environment, directory and log files, and wait until `ready` says it serves again.
 */
export async function restartProcess(
  s: ProcessSnapshot,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<{ ok: boolean; pid: number | null; message: string }> {
  try {
    process.kill(s.pid, "SIGTERM");
  } catch (e) {
    return { ok: false, pid: null, message: `cannot stop pid ${s.pid}: ${(e as Error).message}` };
  }
  const end = Date.now() + timeoutMs;
  while (pidAlive(s.pid)) {
    if (Date.now() > end)
      return { ok: false, pid: null, message: `pid ${s.pid} did not exit within ${timeoutMs / 1000}s of SIGTERM` };
    await sleep(100);
  }
  const out = s.stdout ? openSync(s.stdout, "a") : "ignore";
  const err = s.stderr ? (s.stderr === s.stdout ? out : openSync(s.stderr, "a")) : "ignore";
  const child = spawn(s.exe, s.argv.slice(1), {
    argv0: s.argv[0],
    env: s.env,
    cwd: s.cwd,
    detached: true,
    stdio: ["ignore", out, err],
  });
  const spawnError = await new Promise<string | null>((resolve) => {
    child.once("error", (e) => resolve(e.message));
    child.once("spawn", () => resolve(null));
  });
  for (const fd of new Set([out, err])) if (typeof fd === "number") closeSync(fd);
  if (spawnError) return { ok: false, pid: null, message: `could not start ${s.exe}: ${spawnError}` };
  child.unref();
  while (Date.now() < end) {
    if (child.exitCode !== null || !pidAlive(child.pid!))
      return {
        ok: false,
        pid: null,
        message: `${s.exe} exited right after the restart (exit ${child.exitCode ?? "?"})${s.stderr ? `; see ${s.stderr}` : ""}`,
      };
    if (await ready()) return { ok: true, pid: child.pid!, message: `restarted (pid ${s.pid} → ${child.pid})` };
    await sleep(100);
  }
  return {
    ok: false,
    pid: child.pid ?? null,
    message: `${s.exe} (pid ${child.pid}) did not become ready within ${timeoutMs / 1000}s`,
  };
}
