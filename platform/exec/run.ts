// The common runner for every exec method: start what the method prepared, stream
// stdout/stderr as they come while capturing a capped copy, pass the exit code
// through (124 on timeout), forward SIGINT/SIGTERM/SIGHUP to the command and tear
// the sandbox down when it does not stop, and always clean up afterwards.
import { constants } from "node:os";
import { run, type RunResult } from "../os/spawn.ts";
import type { ExecResult, Launch, RunIsolatedOptions } from "./types.ts";

export const EXIT_TIMEOUT = 124;
/** The sandbox could not start (Docker's and coreutils `timeout`'s convention). */
export const EXIT_CANNOT_START = 125;
/** How a gVisor sandbox ends when its Sentry dies (a Go runtime crash, e.g. no thread at the pids limit). */
export const EXIT_SANDBOX_DIED = 2;
export const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
export const DEFAULT_KILL_GRACE_MS = 10_000;
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export type RunnerOptions = Pick<
  RunIsolatedOptions,
  "stdin" | "onStdout" | "onStderr" | "maxOutputBytes" | "signal" | "forwardSignals" | "killGraceMs"
> & {
  timeoutMs: number | null;
  /** A method's own start failure as 125/126/127, from its exit code and stderr (runsc). */
  startFailure?: (code: number | null, stderr: string) => number | null;
};

export const signalNumber = (sig: string): number => constants.signals[sig as keyof typeof constants.signals] ?? 0;

export async function runLaunch(l: Launch, o: RunnerOptions): Promise<ExecResult> {
  const started = performance.now();
  let pid: number | undefined;
  let timedOut = false;
  let tornDown = false;
  let forwarded: NodeJS.Signals | null = null;
  let teardownRun: Promise<void> | null = null;
  let markExited!: () => void;
  const exited = new Promise<void>((r) => (markExited = r));
  // Whatever holds stdout/stderr open after teardown (or after a plain subprocess exited) is not waited for.
  const pipes = new AbortController();
  const teardown = () => {
    tornDown = true;
    pipes.abort();
    teardownRun ??= l.teardown({ pid, exited }).catch(() => {});
  };
  let grace: ReturnType<typeof setTimeout> | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    // A second signal (or one after the timeout) does not wait: tear down now.
    if (forwarded || timedOut) return teardown();
    forwarded = sig;
    void l.forward(sig, pid).catch(() => {});
    grace = setTimeout(teardown, o.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const onAbort = () => onSignal("SIGTERM");
  if (o.forwardSignals) for (const s of FORWARDED_SIGNALS) process.on(s, onSignal);
  o.signal?.addEventListener("abort", onAbort);
  const timer = o.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        teardown();
      }, o.timeoutMs)
    : undefined;
  const stdin = o.stdin ?? "ignore";
  let r: RunResult | undefined;
  let verdict: ReturnType<NonNullable<Launch["verdict"]>> = null;
  try {
    if (o.signal?.aborted) onAbort();
    r = await run(l.file, l.args, {
      env: l.env,
      cwd: l.cwd,
      ...(stdin === "inherit" ? { stdin: "inherit" as const } : stdin === "ignore" ? {} : { input: stdin }),
      maxBytes: o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      onStdout: o.onStdout,
      onStderr: o.onStderr,
      processGroup: true,
      onSpawn: (c) => (pid = c.pid),
      releasePipes: pipes.signal,
      onExit: l.onExit
        ? () => {
            l.onExit!(pid);
            pipes.abort();
          }
        : undefined,
    });
  } finally {
    markExited();
    clearTimeout(timer);
    clearTimeout(grace);
    if (o.forwardSignals) for (const s of FORWARDED_SIGNALS) process.off(s, onSignal);
    o.signal?.removeEventListener("abort", onAbort);
    if (teardownRun) await teardownRun;
    if (r && !tornDown && !r.spawnError) verdict = l.verdict?.(r.code) ?? null;
    await l.cleanup({ code: r?.code ?? null, tornDown });
  }

  r = r!;
  let stderr = r.stderr;
  let exitCode: number;
  let signal: string | null = null;
  if (timedOut) {
    exitCode = EXIT_TIMEOUT;
    signal = "SIGKILL";
  } else if (r.spawnError) {
    const msg = `gvisor-doctor: ${r.spawnError}\n`;
    o.onStderr?.(Buffer.from(msg));
    stderr += msg;
    exitCode = l.sandboxed ? EXIT_CANNOT_START : /not found/.test(r.spawnError) ? 127 : 126;
  } else if (tornDown && forwarded) {
    exitCode = 128 + signalNumber(forwarded);
    signal = forwarded;
  } else if (r.code !== null) {
    exitCode = o.startFailure?.(r.code, r.stderr) ?? r.code;
    if (forwarded && r.code === 128 + signalNumber(forwarded)) signal = forwarded;
    // gVisor's crash code (the Go runtime's): a silent 2 is never left to read as exec's usage error.
    if (l.sandboxed && exitCode === EXIT_SANDBOX_DIED && !verdict && !r.stderr.trim()) {
      verdict = {
        message:
          "the sandbox ended with exit 2 and nothing on stderr: unless the command exited 2 itself, gVisor " +
          "stopped (most often at the pids limit, which counts gVisor's own threads too: raise --pids; " +
          "`gvisor-doctor check` finds a runsc that crashes by itself)",
      };
    }
    if (verdict?.exitCode !== undefined) {
      exitCode = verdict.exitCode;
      const sig = Object.entries(constants.signals).find(([, n]) => n === exitCode - 128);
      signal = exitCode > 128 && sig ? sig[0] : null;
    }
  } else if (r.signal) {
    exitCode = 128 + signalNumber(r.signal);
    signal = r.signal;
  } else exitCode = EXIT_CANNOT_START;
  if (verdict) {
    const msg = `gvisor-doctor: ${verdict.message}\n`;
    o.onStderr?.(Buffer.from(msg));
    stderr += msg;
  }
  return {
    method: l.method,
    sandboxed: l.sandboxed,
    exitCode,
    signal,
    timedOut,
    durationMs: Math.round(performance.now() - started),
    stdout: r.stdout,
    stderr,
    truncated: r.truncated,
  };
}
