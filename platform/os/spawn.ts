// Spawning processes: argument arrays only (never a shell string), bounded output,
// a timeout that kills the child, and a trace of every command for `-v`.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

export interface RunOptions {
  timeoutMs?: number;
  /** Text or bytes written to the child's stdin; stdin is /dev/null otherwise. */
  input?: string | Uint8Array;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Cap on captured bytes per stream; the rest is dropped and `truncated` set. */
  maxBytes?: number;
  /** "inherit": the child reads this process's stdin (instead of /dev/null or `input`).
   *  "pipe": the caller streams stdin itself through the child from `onSpawn`. */
  stdin?: "inherit" | "pipe";
  /** Every chunk as it arrives (streaming), whatever the capture cap. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Start the child in a new session and process group, so a signal can reach all its processes. */
  processGroup?: boolean;
  /** The started child, e.g. to forward signals to it. */
  onSpawn?: (child: ChildProcess) => void;
  /** The child itself exited (its stdout/stderr may still be open, held by processes it left behind). */
  onExit?: () => void;
  /**
   * Once this is aborted and the child has exited, stop waiting for stdout/stderr to close: a process the
   * child left behind may hold them for hours. What is still arriving is read until the pipes are quiet
   * for PIPE_QUIET_MS (at most PIPE_DRAIN_MAX_MS), then they are closed and the result is the child's.
   */
  releasePipes?: AbortSignal;
}

export const PIPE_QUIET_MS = 250;
export const PIPE_DRAIN_MAX_MS = 2000;

export interface RunResult {
  cmd: string[];
  /** Exit code; null when the process could not start, was killed, or timed out. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
  /** Set when the process could not be started (e.g. ENOENT). */
  spawnError?: string;
  /** An Engine API request in the `-v` trace: the HTTP status it got. */
  httpStatus?: number;
}

export type TraceSink = (r: RunResult) => void;
const sinks: TraceSink[] = [];
/** Record something that is not a child process (an Engine API request) in the `-v` trace. */
export function traceCommand(r: RunResult): void {
  for (const s of sinks) s(r);
}

/** Observe every finished command (used by `-v` to show what ran and how long it took). */
export function onCommand(sink: TraceSink): () => void {
  sinks.push(sink);
  return () => {
    const i = sinks.indexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const cmd = [file, ...args];
  return new Promise((resolve) => {
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let truncated = false;
    let timedOut = false;
    // Declared before finish(): a spawn that throws synchronously calls finish() before the timer exists.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let lastData = 0;
    let drain: ReturnType<typeof setInterval> | undefined;
    const finish = (partial: Partial<RunResult>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (drain) clearInterval(drain);
      opts.releasePipes?.removeEventListener("abort", release);
      const r: RunResult = {
        cmd,
        code: null,
        signal: null,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        durationMs: Math.round(performance.now() - started),
        timedOut,
        truncated,
        ...partial,
      };
      for (const s of sinks) s(r);
      resolve(r);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, {
        cwd: opts.cwd,
        env: (opts.env ?? process.env) as NodeJS.ProcessEnv,
        stdio: [
          opts.stdin === "inherit" ? "inherit" : opts.stdin === "pipe" || opts.input !== undefined ? "pipe" : "ignore",
          "pipe",
          "pipe",
        ],
        detached: !!opts.processGroup,
      });
    } catch (e) {
      finish({ spawnError: (e as Error).message });
      return;
    }
    timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    function release() {
      if (!exit || drain || settled) return;
      const since = performance.now();
      // Quiet on two ticks in a row: an event-loop turn (which reads what is in the pipes) lies between them,
      // so output written just before the exit is not cut off after a stall.
      let quietTicks = 0;
      drain = setInterval(() => {
        const now = performance.now();
        quietTicks = now - Math.max(lastData, since) >= PIPE_QUIET_MS ? quietTicks + 1 : 0;
        if (quietTicks < 2 && now - since < PIPE_DRAIN_MAX_MS) return;
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish({ code: timedOut ? null : exit!.code, signal: exit!.signal });
      }, 50);
    }
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      opts.onExit?.();
      if (opts.releasePipes?.aborted) release();
    });
    opts.releasePipes?.addEventListener("abort", release);
    // Keep at most maxBytes of each stream; the callbacks still see every byte.
    const collect = (chunks: Buffer[], onData?: (b: Buffer) => void) => {
      let len = 0;
      return (b: Buffer) => {
        lastData = performance.now();
        onData?.(b);
        if (len + b.length > maxBytes) {
          truncated = true;
          b = b.subarray(0, Math.max(0, maxBytes - len));
        }
        len += b.length;
        if (b.length) chunks.push(b); // an empty slice would still pin the whole chunk in memory
      };
    };
    child.stdout!.on("data", collect(out, opts.onStdout));
    child.stderr!.on("data", collect(err, opts.onStderr));
    child.on("error", (e: NodeJS.ErrnoException) => {
      finish({ spawnError: e.code === "ENOENT" ? `${file}: command not found` : e.message });
    });
    child.on("close", (code, signal) => {
      finish({ code: timedOut ? null : code, signal: signal ?? null });
    });
    opts.onSpawn?.(child);
    if (opts.input !== undefined && opts.stdin === undefined) {
      child.stdin!.on("error", () => {}); // child may exit before reading all input
      child.stdin!.end(opts.input);
    }
  });
}

/**
 * run() for one short command whose answer is needed before anything else can go on
 * (preflight's dmesg): spawnSync skips the child's stream machinery, ~5 ms of preflight's
 * ~20 ms (bench/startup.ts). Same result, same trace; stdin is /dev/null.
 */
export function runSync(
  file: string,
  args: string[],
  opts: Pick<RunOptions, "timeoutMs" | "env" | "cwd" | "maxBytes"> = {},
): RunResult {
  const started = performance.now();
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  // A generous buffer, cut to maxBytes below: spawnSync kills a child that overflows it, while
  // run() lets the child finish and only drops the excess (dmesg on a long-running host is big).
  const r = spawnSync(file, args, {
    cwd: opts.cwd,
    env: (opts.env ?? process.env) as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: opts.timeoutMs,
    killSignal: "SIGKILL",
    maxBuffer: Math.max(maxBytes, 64 * 1024 * 1024),
  });
  const e = r.error as NodeJS.ErrnoException | undefined;
  const timedOut = e?.code === "ETIMEDOUT";
  const cut = (b: Buffer | null) => (b ?? Buffer.alloc(0)).subarray(0, maxBytes);
  const result: RunResult = {
    cmd: [file, ...args],
    code: timedOut ? null : r.status,
    signal: r.signal ?? null,
    stdout: cut(r.stdout).toString("utf8"),
    stderr: cut(r.stderr).toString("utf8"),
    durationMs: Math.round(performance.now() - started),
    timedOut,
    truncated: (r.stdout?.length ?? 0) > maxBytes || (r.stderr?.length ?? 0) > maxBytes || e?.code === "ENOBUFS",
    ...(e && !timedOut && e.code !== "ENOBUFS"
      ? { spawnError: e.code === "ENOENT" ? `${file}: command not found` : e.message }
      : {}),
  };
  for (const s of sinks) s(result);
  return result;
}

/** True when the command started and exited 0. */
export const ok = (r: RunResult) => r.code === 0;

/** One line describing how a command failed, for messages. */
export function failureText(r: RunResult): string {
  if (r.spawnError) return r.spawnError;
  if (r.timedOut) return `${r.cmd.join(" ")} timed out after ${r.durationMs} ms`;
  const lines = (r.stderr.trim() || r.stdout.trim()).split("\n").filter(Boolean);
  // A Go panic's last lines are its stack trace (where); its first line says why.
  const panic = lines.find((l) => /^panic: /.test(l));
  const text = (panic ? [panic] : lines.slice(-3)).join(" | ");
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  // Never just an exit code: say that there was nothing else to show.
  return text ? `${text} (${how})` : `${how}, no output on stderr or stdout`;
}
