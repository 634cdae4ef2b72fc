// What the hello probes (docker, podman, containerd, runsc do) share: the runtime name,
// and how a probe's result becomes a finding — a start that failed is diagnosed by the
// rules table (else shown verbatim), a run is judged by gVisor's dmesg signature.
import { failureText, type RunResult } from "../platform/os/spawn.ts";
import { ENGINES } from "../platform/engines/index.ts";
import { failedSilently } from "../platform/probe/images.ts";
import { realpathSync } from "node:fs";
import {
  GVISOR_SIGNATURE,
  inspectRunsc,
  primaryRunsc,
  readsWrongGoroutineId,
  type RunscBinary,
} from "../platform/runsc/binaries.ts";
import { isGenericStartError, logKind, rerunWithDebug, withDebugLogs } from "../platform/runsc/debug-log.ts";
import { diagnose, diagnoseState, RULES, unknownError, type RuleContext } from "./rules.ts";
import { fail, pass, type CheckContext, type Diagnosis, type Outcome } from "./types.ts";

export { GVISOR_SIGNATURE };
export const RUNTIME_NAME = "runsc";

/** The detail line for a first attempt that failed without a word and was retried. */
export function silentRetryNote(first: RunResult): string {
  return `first attempt: ${failureText(first)} after ${first.durationMs} ms; retried once`;
}

/** The probe did not start: the rule that matches its error, else the error and the command. */
export function didNotStart(
  checkId: string,
  r: RunResult,
  cmd: string,
  rc: RuleContext,
  details: string[],
  what = "the container",
): Outcome {
  const text = `${r.stderr}\n${r.stdout}`;
  // An exit 2 (the Go runtime's crash code) with nothing on stderr, from a runsc known to panic at random: that
  // panic. The probe may have printed part of its output first (the crash strikes mid-run, between processes).
  const known = primaryRunsc(rc.facts.runsc ?? []);
  const quiet = failedSilently({ ...r, stdout: "" });
  const crashed = quiet && r.code === 2 && !!known && readsWrongGoroutineId(known);
  const d =
    (crashed ? diagnoseState("runsc-goroutine-panic", rc) : null) ??
    diagnose(checkId, text, rc) ??
    unknownError(cmd, text.trim() ? text : failureText(r));
  // A failure with no words ("exit 2"): say so, and where the words are.
  const silent = text.trim() ? [] : [`the command printed nothing; ${daemonLogHint(rc)}`];
  const said = r.stderr.trim().split("\n").filter(Boolean).slice(-4);
  const message = `${what} did not start: ${failureText(r)}`; // failureText says when there was no output
  return fail(message, d, [...details, ...said, ...silent]);
}

/** Where an engine's daemon logs why a container did not start. */
export function daemonLogHint(rc: Pick<RuleContext, "engine" | "facts">): string {
  const log =
    rc.engine === "runsc" ? { rerun: "runsc --debug --debug-log=/tmp/runsc/" } : ENGINES[rc.engine].startFailureLog;
  if ("rerun" in log) return `rerun with ${log.rerun} to see why`;
  if (!rc.facts.systemd) return "the daemon's log (its stderr) says why";
  return `the daemon's log says why: journalctl -u ${log.unit}.service -n 50`;
}

/** The probe ran: its dmesg must show gVisor's signature, or it ran under something else. */
export function signatureOutcome(
  dmesg: string[],
  notGvisor: Diagnosis,
  details: string[],
  durationMs?: number,
): Outcome {
  const sig = dmesg.find((l) => l.includes(GVISOR_SIGNATURE));
  if (!sig)
    return fail(`the container ran, but not under gVisor: dmesg says "${dmesg[0]?.trim() ?? ""}"`, notGvisor, [
      ...details,
      ...dmesg.slice(0, 3),
    ]);
  return pass(`dmesg shows "${sig.trim()}"${durationMs === undefined ? "" : ` (${durationMs} ms)`}`, [
    ...details,
    `dmesg: ${sig.trim()}`,
  ]);
}

/**
 * The runsc (or wrapper) at `path` an engine runs, inspected once (facts first); null when there is
 * no such file. `versionOk` false: it does not run at all (decodeStartFailure reads its words).
 */
export async function probeRunsc(ctx: CheckContext, path: string | null | undefined): Promise<RunscBinary | null> {
  if (!path?.startsWith("/")) return null;
  let real: string;
  try {
    real = realpathSync(path); // throws where existsSync says false: no such file, or a dangling link
  } catch {
    return null;
  }
  // The facts hold each binary once, by real path: an engine's symlink to one of them is that binary.
  const known = ctx.facts.runsc.find((b) => b.path === path || b.realPath === real);
  return { ...(known ?? (await inspectRunsc(path, false))), path };
}

/** What the details say of a probe run with --sidecar-usage-policy=STRICT. */
export const STRICT_NOTE = "STRICT (--sidecar-usage-policy=STRICT: no embedded fallback can hide a missing sidecar)";

/**
 * The flags that make a probe's runsc refuse the embedded-sidecar fallback, where its release knows
 * --sidecar-usage-policy (a fallback would pass the probe and hide a missing gvisor-bin/ sidecar).
 */
export function strictSidecars(runsc: Pick<RunscBinary, "features"> | null | undefined): string[] {
  return runsc?.features?.flags.includes("sidecar-usage-policy") ? ["--sidecar-usage-policy=STRICT"] : [];
}

export interface DebugRerun {
  /** The runsc the failed probe ran (its features say whether --debug-command exists). */
  runsc: RunscBinary;
  /** runsc's arguments for the rerun: the probe's own, or `do true` with the engine's runtime args. */
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Said in the details when the rerun is not the probe itself (engines: `runsc do`). */
  note?: string;
  /**
   * The probe itself, rerun through its engine with runsc's debug flags handed over by a one-off
   * means only this rerun uses (never the user's runtime config); `how` is its command line for
   * the details. Without it, the rerun is `runsc ARGS`.
   */
  engine?: { how: string; rerun: (debugArgs: string[]) => Promise<RunResult> };
}

/**
 * A probe that failed with a generic start error ("sync file … EOF", exit status 128, nothing)
 * is rerun once with runsc's debug logs in a private temp dir: the first fatal line of the
 * sandbox's own logs is matched against the rules, and the decisive lines go into the details.
 */
export async function decodeStartFailure(
  failed: Outcome,
  r: RunResult,
  checkId: string,
  rc: RuleContext,
  rerun: DebugRerun,
): Promise<Outcome> {
  if (failed.status !== "fail" || !isGenericStartError(`${r.stderr}\n${r.stdout}`)) return failed;
  // The engine's runsc does not even print its version (e.g. it panics in an init function): a
  // debug rerun would die the same way before logging; its own words are the evidence.
  if (!rerun.runsc.versionOk) {
    const said = `\`${rerun.runsc.path} --version\` fails too: ${rerun.runsc.versionText}`;
    const d = diagnose(checkId, rerun.runsc.versionText, rc);
    const details = [...(failed.details ?? []), said];
    return d ? { ...failed, message: `${failed.message}; ${said}`, details, diagnosis: d } : { ...failed, details };
  }
  const opts = { env: rerun.env, timeoutMs: 30_000, cwd: "/" };
  const dbg = rerun.engine
    ? await withDebugLogs(rerun.runsc.features, rerun.engine.rerun)
    : await rerunWithDebug(rerun.runsc.path, rerun.args, rerun.runsc.features, opts);
  const how = rerun.engine
    ? `$ ${rerun.engine.how}`
    : `$ ${rerun.runsc.path} ${dbg.debugArgs[0]} --debug-log=<private temp dir>/ ${rerun.args.join(" ")}`;
  const head = `rerun with runsc debug logs${rerun.note ? ` (${rerun.note})` : ""}:`;
  const details = [...(failed.details ?? []), head, how];
  const kinds = dbg.files.map(logKind).join(", ");
  if (dbg.result.code === 0) {
    const why = "the rerun started the sandbox: the failure did not repeat, no log to decode";
    return { ...failed, details: [...details, why] };
  }
  if (!dbg.lines.length) {
    const why = dbg.files.length ? `the logs (${kinds}) name no fatal error` : "runsc wrote no debug log";
    return { ...failed, details: [...details, why, ...dbg.result.stderr.trim().split("\n").slice(-4)] };
  }
  details.push(`decisive lines of ${kinds}:`, ...dbg.lines.map((l) => `  ${l}`));
  const decoded = dbg.causes.length ? diagnose(checkId, dbg.causes.join("\n"), rc) : null;
  // The message names the line the rule matched (seccomp refused: the boot log's ptrace panic comes
  // first, but the gofer's seccomp line is the cause), else the sandbox's first fatal line.
  const pattern = RULES.find((x) => x.id === decoded?.rule)?.pattern;
  const first = (pattern && dbg.causes.find((c) => pattern.test(c))) || dbg.causes[0];
  const said = `${failed.diagnosis?.cause ?? "The sandbox did not start."} runsc's log says: ${first}`;
  const undecoded = first ? { ...(failed.diagnosis ?? unknownError(how, first)), cause: said } : failed.diagnosis;
  const base = decoded ?? undecoded;
  // An unknown error keeps the probe's own output too (decoded: the rule explains it; the log shows it).
  const whole = failed.diagnosis?.output ?? unknownError(how, `${r.stderr}\n${r.stdout}`).output;
  const output = decoded ? {} : { output: whole };
  const diagnosis = base ? { ...base, ...output, log: dbg.lines } : base;
  const message = first ? `${failed.message}; runsc's log: ${first}` : failed.message;
  return { ...failed, message, details, diagnosis };
}
