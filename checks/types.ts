// The shape of a check and of what it finds. A check only looks; fixes are
// described (diagnosis.fix) and applied elsewhere.
import type { HostFacts } from "../platform/facts.ts";
import { shellQuote } from "../platform/shell.ts";

export type Status = "pass" | "warn" | "fail" | "skip";

export interface Fix {
  /** Stable id, e.g. "docker.register-runtime"; `--fix` dispatches on it. */
  id: string;
  summary: string;
  /** The command a person would run to apply it. */
  command: string | null;
  /** Whether `gvisor-doctor --fix` applies it. */
  automatic: boolean;
  /** When the fix is a gvisor-doctor invocation: its arguments (`--fix` runs exactly this). */
  argv?: string[];
  /** Why `--fix` needs --yes (or a yes on a TTY) before applying it, e.g. "restarts containerd". */
  confirm?: string;
}

/** A fix that is a gvisor-doctor invocation, with the command line a person would type. */
export function gvdFix(id: string, summary: string, argv: string[], extra: Partial<Fix> = {}): Fix {
  return { id, summary, command: `sudo gvisor-doctor ${argv.map(shellQuote).join(" ")}`, automatic: true, argv, ...extra };
}

export interface Diagnosis {
  cause: string;
  fix: Fix | null;
  /** Id of the diagnosis rule that matched, when one did. */
  rule?: string;
  /** Unknown errors: the failing command's whole output (stderr, else stdout; capped), never just an exit code. */
  output?: string[];
  /** The decisive lines of runsc's debug logs, when a start failure was decoded from them. */
  log?: string[];
}

export interface Outcome {
  status: Status;
  message: string;
  details?: string[];
  diagnosis?: Diagnosis | null;
  /** Data for checks that depend on this one (not rendered). */
  data?: unknown;
}

export interface Finding extends Required<Omit<Outcome, "data" | "diagnosis">> {
  id: string;
  title: string;
  diagnosis: Diagnosis | null;
  durationMs: number;
  data?: unknown;
}

export interface CheckOptions {
  quick: boolean;
  offline: boolean;
  verbose: boolean;
  env: NodeJS.ProcessEnv;
}

export interface CheckContext {
  facts: HostFacts;
  options: CheckOptions;
  /** The finding of a check listed in `needs` (already finished). */
  finding(id: string): Finding;
  /** Aborted when the check times out. */
  signal: AbortSignal;
}

export interface Requirements {
  /** Needs root (skipped otherwise). */
  root?: boolean;
  /** Needs the network (skipped with --offline). */
  network?: boolean;
  /** Starts containers (skipped with --quick). */
  containers?: boolean;
  /**
   * Looks at this machine itself (its Docker, Podman, own sandbox, containers it starts):
   * skipped with --host-root, where gvisor-doctor runs in a pod and the node is at DIR.
   */
  thisMachine?: boolean;
  /** Only meaningful for a node seen through --host-root (skipped otherwise). */
  hostRootOnly?: boolean;
}

export interface Check {
  id: string;
  title: string;
  /** Ids of checks that must pass or warn first; otherwise this one is skipped. */
  needs?: string[];
  requires?: Requirements;
  timeoutMs?: number;
  run(ctx: CheckContext): Promise<Outcome> | Outcome;
}

export const pass = (message: string, details: string[] = [], data?: unknown): Outcome => ({ status: "pass", message, details, data });
export const warn = (message: string, diagnosis: Diagnosis | null = null, details: string[] = [], data?: unknown): Outcome => ({ status: "warn", message, details, diagnosis, data });
export const fail = (message: string, diagnosis: Diagnosis | null, details: string[] = [], data?: unknown): Outcome => ({ status: "fail", message, details, diagnosis, data });
export const skip = (message: string, details: string[] = []): Outcome => ({ status: "skip", message, details });
