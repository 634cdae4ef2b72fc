// The node agent (the DaemonSet's long-running container): every interval it checks the
// node's gVisor setup through the host tree, labels the node with the installed version
// when the check passed and takes the label away when it failed, so the RuntimeClass's
// nodeSelector sends gVisor pods only to nodes that were just proven to run them.
// One JSON line per round on stdout is the agent's log and what `k8s check` reads.
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { atomicWriteFile } from "../../platform/os/fsutil.ts";
import { sleep } from "../../platform/os/sleep.ts";
import { dirname } from "node:path";
import type { HostRoot } from "../../platform/os/host-root.ts";
import { layoutFor, liveDir } from "../../platform/release/layout.ts";
import type { IO } from "../args.ts";
import { PLAIN } from "../ui/color.ts";
import type { LabelAction, LabelResult } from "./in-cluster.ts";
import { labelValueFor } from "./labels.ts";
import { STALE_INTERVALS } from "./contract.ts";

/** Readiness marker: present while the last round passed; the probe also checks its age. */
export const DEFAULT_MARKER = "/tmp/gvisor-doctor-agent.ready";
export const markerPath = (env: NodeJS.ProcessEnv) => env.GVISOR_DOCTOR_AGENT_READY || DEFAULT_MARKER;

/** The parts of a `check --json` document (src/report/json.ts) the agent and `k8s check` read. */
export interface CheckDoc {
  ok: boolean;
  checks?: {
    id: string;
    status: string;
    message: string;
    diagnosis?: { cause?: string; fix?: { summary?: string; command?: string | null } | null } | null;
  }[];
  [k: string]: unknown;
}

export interface FailingCheck {
  id: string;
  message: string;
  /** What to do (the fix's summary), null when the check knows no fix. */
  fix: string | null;
  /** The fix as a command line, when it is one. */
  command: string | null;
}

/** The failed checks of a check document, with their fixes. */
export function failingChecks(doc: CheckDoc | null | undefined): FailingCheck[] {
  return (doc?.checks ?? [])
    .filter((c) => c.status === "fail")
    .map((c) => ({
      id: c.id,
      message: c.message,
      fix: c.diagnosis?.fix?.summary ?? null,
      command: c.diagnosis?.fix?.command ?? null,
    }));
}

export interface AgentLine {
  schemaVersion: 1;
  kind: "gvisor-doctor.agent";
  time: string;
  node: string;
  ok: boolean;
  /** The live release under the prefix on the node (its directory name), null when none. */
  version: string | null;
  label: { key: string; value: string | null; action: LabelAction | "failed"; error: string | null };
  failing: FailingCheck[];
  /** The full `check --json` document, null when check produced none. */
  check: CheckDoc | null;
}

export const AGENT_KIND = "gvisor-doctor.agent";

/** Is this parsed log line an agent round? */
/** Is this parsed log line an agent round of this schema (every field `k8s check` reads, of its type)? */
export const isAgentLine = (v: unknown): v is AgentLine => {
  const l = v as AgentLine;
  return (
    typeof v === "object" &&
    v !== null &&
    l.kind === AGENT_KIND &&
    l.schemaVersion === 1 &&
    typeof l.time === "string" &&
    typeof l.ok === "boolean" &&
    Array.isArray(l.failing) &&
    l.failing.every((f) => typeof f?.id === "string" && typeof f.message === "string") &&
    typeof l.label?.key === "string" &&
    typeof l.label.action === "string"
  );
};

export interface CheckRunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface AgentDeps {
  /** Run `gvisor-doctor check --host-root DIR --json ARGS`; in-process by default. */
  runCheck(hostRootDir: string, extraArgs: string[]): Promise<CheckRunResult>;
  /** Make the node carry key=value, or not carry key (null). */
  ensureLabel(node: string, key: string, value: string | null): Promise<LabelResult>;
  now(): Date;
}

export interface AgentOptions {
  root: HostRoot;
  /** The install prefix as a node path (default /usr/local). */
  prefix: string;
  node: string;
  labelKey: string;
  intervalS: number;
  marker: string;
  /** Extra arguments for check (after `--` on the agent's command line). */
  checkArgs: string[];
}

/** The release `install --host-root` made live under the prefix on the node, or null. */
export function installedVersion(root: HostRoot, prefix: string): string | null {
  return liveDir(layoutFor(root.local(prefix)));
}

/** The check, run in this process with its output captured (no second binary in the image). */
export async function checkInProcess(
  env: NodeJS.ProcessEnv,
  hostRootDir: string,
  extraArgs: string[],
): Promise<CheckRunResult> {
  // The check command itself, not the dispatcher (which imports every command, this agent's among them).
  const [{ runCommand }, { checkCommand }] = await Promise.all([
    import("../run-command.ts"),
    import("../commands/check.ts"),
  ]);
  const out: string[] = [];
  const err: string[] = [];
  const c = PLAIN;
  const io: IO = {
    env,
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    c,
    ce: c,
    json: true,
    verbose: false,
    spinner: false,
    interactive: false,
  };
  const code = await runCommand(checkCommand, ["--host-root", hostRootDir, "--json", ...extraArgs], io);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

function parseCheck(r: CheckRunResult): { doc: CheckDoc | null; problem: FailingCheck | null } {
  try {
    const doc = JSON.parse(r.stdout) as CheckDoc;
    if (typeof doc?.ok === "boolean") return { doc, problem: null };
  } catch {}
  const why = r.stderr.trim().split("\n").filter(Boolean).slice(-2).join(" | ") || `exit ${r.code}`;
  return {
    doc: null,
    problem: {
      id: "agent.check",
      message: `gvisor-doctor check printed no report (exit ${r.code}): ${why}`,
      fix: "Run the same check by hand in the agent container to see why: gvisor-doctor check --host-root <dir> -v",
      command: null,
    },
  };
}

/**
 * One round: check, decide the label, apply it, update the readiness marker. Once
 * `signal` aborts (SIGTERM while the check ran), the round changes nothing: null.
 */
export async function agentRound(
  o: AgentOptions,
  deps: AgentDeps,
  signal?: AbortSignal,
): Promise<{ line: AgentLine; ready: boolean } | null> {
  const r = await deps.runCheck(o.root.dir, o.checkArgs);
  if (signal?.aborted) return null;
  const { doc, problem } = parseCheck(r);
  const ok = !!doc?.ok;
  let version: string | null = null;
  let versionProblem: string | null = null;
  try {
    version = installedVersion(o.root, o.prefix);
    if (!version)
      versionProblem = `no gVisor release is live under ${o.prefix} on the node (install --host-root puts it there)`;
  } catch (e) {
    versionProblem = `cannot read the installed release under ${o.prefix}: ${(e as Error).message}`;
  }
  // Label only a node that passed and runs a release we can name; anything else loses it,
  // so the RuntimeClass stops scheduling gVisor pods onto it.
  const value = ok && version ? labelValueFor(version) : null;
  const label: AgentLine["label"] = { key: o.labelKey, value, action: "failed", error: null };
  try {
    label.action = (await deps.ensureLabel(o.node, o.labelKey, value)).action;
  } catch (e) {
    const err = e as Error & { hint?: string };
    label.error = `${err.message}${err.hint ? ` (fix: ${err.hint})` : ""}`;
  }
  if (signal?.aborted) return null;
  if (ok && value === null && versionProblem) label.error ??= versionProblem;
  const line: AgentLine = {
    schemaVersion: 1,
    kind: AGENT_KIND,
    time: deps.now().toISOString(),
    node: o.node,
    ok,
    version,
    label,
    failing: problem ? [problem] : failingChecks(doc),
    check: doc,
  };
  const ready = ok && value !== null && label.action !== "failed";
  if (ready) writeMarker(o.marker, { time: line.time, node: o.node, version, intervalS: o.intervalS });
  else removeMarker(o.marker);
  return { line, ready };
}

export interface Marker {
  time: string;
  node: string;
  version: string | null;
  intervalS: number;
}

function writeMarker(path: string, m: Marker): void {
  mkdirSync(dirname(path), { recursive: true });
  atomicWriteFile(path, `${JSON.stringify(m)}\n`); // the probe never reads half a marker
}

export function removeMarker(path: string): void {
  rmSync(path, { force: true });
}

/** The readiness probe's answer: ready iff the marker exists and is younger than STALE_INTERVALS × its interval. */
export function probeMarker(path: string, now: Date): { ready: boolean; message: string } {
  let m: Marker;
  let mtimeMs: number;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as Marker;
    mtimeMs = statSync(path).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return {
        ready: false,
        message: `not ready: the last agent round did not pass, or none finished yet (no ${path})`,
      };
    return { ready: false, message: `not ready: ${path} is unreadable (${(e as Error).message})` };
  }
  const intervalS = Number(m.intervalS) > 0 ? Number(m.intervalS) : 300;
  const ageS = (now.getTime() - mtimeMs) / 1000;
  const maxS = STALE_INTERVALS * intervalS;
  if (ageS > maxS)
    return {
      ready: false,
      message: `not ready: the last passed round was ${Math.round(ageS)} s ago (more than ${STALE_INTERVALS} × the ${intervalS} s interval): the agent is stuck`,
    };
  return { ready: true, message: `ready: node ${m.node} passed at ${m.time} (gVisor ${m.version ?? "?"})` };
}

/**
 * Rounds until `signal` aborts (SIGTERM), or one round with `once`. A stale marker from
 * before is removed first: readiness means a round of this process passed.
 * Returns whether the last finished round was ready.
 */
export async function runAgent(
  o: AgentOptions,
  deps: AgentDeps,
  print: (line: string) => void,
  signal: AbortSignal,
  once = false,
): Promise<boolean> {
  removeMarker(o.marker);
  let ready = false;
  const aborted = new Promise<null>((resolve) =>
    signal.aborted ? resolve(null) : signal.addEventListener("abort", () => resolve(null), { once: true }),
  );
  while (!signal.aborted) {
    // A round in flight does not hold up a SIGTERM: it is dropped, and changes nothing more.
    const r = await Promise.race([agentRound(o, deps, signal), aborted]);
    if (!r) break;
    ready = r.ready;
    print(JSON.stringify(r.line));
    if (once) break;
    await sleep(o.intervalS * 1000, { signal, onAbort: "resolve" });
  }
  if (signal.aborted) removeMarker(o.marker);
  return ready;
}
