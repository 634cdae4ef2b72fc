// What the hello probes (docker, podman, containerd, runsc do) share: the runtime name,
// and how a probe's result becomes a finding — a start that failed is diagnosed by the
// rules table (else shown verbatim), a run is judged by gVisor's dmesg signature.
import { failureText, type RunResult } from "../platform/proc.ts";
import { GVISOR_SIGNATURE } from "../platform/runsc.ts";
import { diagnose, unknownError, type RuleContext } from "./rules.ts";
import { fail, pass, type Diagnosis, type Outcome } from "./types.ts";

export { GVISOR_SIGNATURE };
export const RUNTIME_NAME = "runsc";

/** The probe did not start: the rule that matches its error, else the error and the command. */
export function didNotStart(checkId: string, r: RunResult, cmd: string, rc: RuleContext, details: string[], what = "the container"): Outcome {
  const text = `${r.stderr}\n${r.stdout}`;
  const d = diagnose(checkId, text, rc) ?? unknownError(cmd, text.trim() ? text : failureText(r));
  // A failure with no words ("exit 2"): say so, and where the words are.
  const silent = text.trim() ? [] : [`the command printed nothing; ${daemonLogHint(rc)}`];
  return fail(`${what} did not start: ${failureText(r)}${silent.length ? " (no output)" : ""}`, d, [...details, ...r.stderr.trim().split("\n").filter(Boolean).slice(-4), ...silent]);
}

/** Where an engine's daemon logs why a container did not start. */
export function daemonLogHint(rc: Pick<RuleContext, "engine" | "facts">): string {
  const unit = rc.engine === "docker" ? "docker" : rc.engine === "containerd" ? "containerd" : rc.engine === "crio" ? "crio" : null;
  if (!unit) return `rerun with ${rc.engine === "podman" ? "podman --log-level=debug" : "runsc --debug --debug-log=/tmp/runsc/"} to see why`;
  return rc.facts.systemd ? `the daemon's log says why: journalctl -u ${unit}.service -n 50` : `the daemon's log (its stderr) says why`;
}

/** The probe ran: its dmesg must show gVisor's signature, or it ran under something else. */
export function signatureOutcome(dmesg: string[], notGvisor: Diagnosis, details: string[], durationMs?: number): Outcome {
  const sig = dmesg.find((l) => l.includes(GVISOR_SIGNATURE));
  if (!sig) return fail(`the container ran, but not under gVisor: dmesg says "${dmesg[0]?.trim() ?? ""}"`, notGvisor, [...details, ...dmesg.slice(0, 3)]);
  return pass(`dmesg shows "${sig.trim()}"${durationMs === undefined ? "" : ` (${durationMs} ms)`}`, [...details, `dmesg: ${sig.trim()}`]);
}
