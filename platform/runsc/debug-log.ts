// Decoding runsc's own debug logs. Most sandbox start failures reach the user as one generic
// line ("cannot read client sync file: waiting for sandbox to start: EOF", exit status 128);
// the cause is only in the sandbox's boot/gofer logs. A probe that failed that way is rerun
// once with --debug --debug-log into a private temp dir, and the decisive lines are read back.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, type RunOptions, type RunResult } from "../os/spawn.ts";
import type { RunscFeatures } from "./features.ts";

/** Errors that say only "the sandbox died": the debug logs hold the reason. */
const GENERIC =
  /cannot read client sync file|waiting for sandbox to start: EOF|exit status 128|unable to retrieve OCI runtime error/;

/** Whether a failed probe's text says nothing but "the sandbox did not start" (or nothing at all). */
export const isGenericStartError = (text: string) => !text.trim() || GENERIC.test(text);

/** Which runsc command wrote a log: the default names are runsc.log.<TIMESTAMP>.<COMMAND>.txt. */
export function logKind(file: string): string {
  return /\.([a-z-]+)(?:\.txt)?$/.exec(file)?.[1] ?? file;
}

/** The sandbox's own processes first: boot and gofer know why; create/start/do only echo it. */
const KIND_ORDER = ["boot", "gofer", "create", "start", "run", "do"];
const MAX_LINES = 10;
const MAX_LINE = 300;

/** The lines of one log that say why it stopped: FATAL errors, Go panics, E-level lines. */
export function decisiveLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const fatal = /FATAL ERROR: (.*)$/.exec(line);
    const err = /^E\d{4} [\d:.]+\s+\d+ [^\]]+\] (.*)$/.exec(line);
    const msg = fatal?.[1] ?? err?.[1] ?? (/^(?:panic|fatal error): /.test(line) ? line : null);
    if (msg && !out.includes(msg.trim())) out.push(msg.trim());
  }
  return out;
}

export interface DecodedLogs {
  /** Log files read (base names). */
  files: string[];
  /** At most 10 decisive lines, "<command>: <line>", the sandbox's own first. */
  lines: string[];
  /** The decisive lines that are not themselves the generic error (what rules are matched on). */
  causes: string[];
}

/** Read every log in `dir` and pick its decisive lines. */
export function decodeLogDir(dir: string): DecodedLogs {
  let files: string[] = [];
  try {
    const named = /\.(boot|gofer|create|start|run|do)(\.txt)?$/;
    files = readdirSync(dir).filter((f) => f.startsWith("runsc.log.") || named.test(f));
  } catch {}
  const rank = (f: string) => {
    const i = KIND_ORDER.indexOf(logKind(f));
    return i < 0 ? KIND_ORDER.length : i;
  };
  files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const all: { kind: string; line: string }[] = [];
  for (const f of files) {
    let text = "";
    try {
      text = readFileSync(join(dir, f), "utf8");
    } catch {
      continue;
    }
    for (const line of decisiveLines(text)) all.push({ kind: logKind(f), line });
  }
  const show = (x: { kind: string; line: string }) => {
    const s = `${x.kind}: ${x.line}`;
    return s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)}…` : s;
  };
  const specific = all.filter((x) => !GENERIC.test(x.line));
  const ordered = [...specific, ...all.filter((x) => GENERIC.test(x.line))];
  return { files, lines: ordered.slice(0, MAX_LINES).map(show), causes: specific.map((x) => x.line) };
}

export interface DebugRun extends DecodedLogs {
  result: RunResult;
  /** The debug flags that were added before the probe's own arguments. */
  debugArgs: string[];
}

/**
 * Run a probe once more with runsc's debug flags (`--debug --debug-log=DIR/`, and `--debug-command`
 * where the release knows it) pointing into a private temp dir, decode the logs, remove the dir.
 * `rerun` gets the flags as runsc global flags and decides how they reach runsc: on its command
 * line, through `podman --runtime-flag`, through a one-off wrapper or shim config for ctr.
 */
export async function withDebugLogs(
  features: RunscFeatures | null | undefined,
  rerun: (debugArgs: string[]) => Promise<RunResult>,
): Promise<DebugRun> {
  const dir = mkdtempSync(join(tmpdir(), "gvd-runsc-debug-"));
  try {
    const debugArgs = ["--debug", `--debug-log=${dir}/`];
    if (features?.flags.includes("debug-command")) debugArgs.push("--debug-command=boot,gofer,create,start,run,do");
    const result = await rerun(debugArgs);
    return { result, debugArgs, ...decodeLogDir(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `runsc ARGS` once more with debug logs (withDebugLogs) and decode them. */
export function rerunWithDebug(
  runsc: string,
  args: string[],
  features: RunscFeatures | null | undefined,
  opts: RunOptions = {},
): Promise<DebugRun> {
  return withDebugLogs(features, (debugArgs) => run(runsc, [...debugArgs, ...args], opts));
}
