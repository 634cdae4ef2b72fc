// The shape of a check and of what it finds. A check only looks; fixes are
// described (diagnosis.fix) and applied elsewhere.
import type { EngineName } from "../platform/engines/types.ts";
import type { HostFacts } from "../platform/facts/host-facts.ts";

export type Status = "pass" | "warn" | "fail" | "skip";

export interface Fix {
  /** Stable id, e.g. "docker.register-runtime". */
  id: string;
  summary: string;
  /** The command a person would run to apply it (for an action: rendered from it, checks/fix-actions.ts). */
  command: string | null;
  /** Whether `gvisor-doctor --fix` applies it. */
  automatic: boolean;
  /** When the action is a gvisor-doctor invocation: its arguments, rendered from the action (--json shows them). */
  argv?: string[];
  /** Why `--fix` needs --yes (or a yes on a TTY) before applying it, e.g. "restarts containerd". */
  confirm?: string;
  /** What `--fix` does (absent: a manual fix, only the command). Not in --json: argv and command render it. */
  action?: FixAction;
}

export type ConfigureTarget = EngineName | "all";

/** `gvisor-doctor configure ENGINE…`: register (or re-register) runsc with engines. */
export interface ConfigureAction {
  kind: "configure";
  engines: ConfigureTarget[];
  /** runsc flags for the runtime (replacing its args); empty or absent: keep the existing ones. */
  runtimeArgs?: string[];
  /** containerd 2.x: rewrite an unversioned config with containerd config migrate first. */
  migrate?: boolean;
  /** Restart engines without live reload (containerd, CRI-O). */
  restart?: boolean;
  /** The runsc to register (default: configure's own choice). */
  runsc?: string;
  /** A node mounted at this directory (check --host-root). */
  hostRoot?: string;
}

/** `gvisor-doctor install`: (re)install a gVisor release. */
export interface InstallAction {
  kind: "install";
  force?: boolean;
  prefix?: string;
  version?: string;
  hostRoot?: string;
}

/** Make runsc, its sidecars and their directories world-executable (the paths are the finding's data). */
export interface ChmodAction {
  kind: "chmod";
}

/** Apply a manifest with kubectl (the kubectl the finding's data names, else kubectl on PATH). */
export interface KubectlApplyAction {
  kind: "kubectl-apply";
  manifest: string;
}

export type FixAction = ConfigureAction | InstallAction | ChmodAction | KubectlApplyAction;

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

export const pass = (message: string, details: string[] = [], data?: unknown): Outcome => ({
  status: "pass",
  message,
  details,
  data,
});
export const warn = (
  message: string,
  diagnosis: Diagnosis | null = null,
  details: string[] = [],
  data?: unknown,
): Outcome => ({ status: "warn", message, details, diagnosis, data });
export const fail = (
  message: string,
  diagnosis: Diagnosis | null,
  details: string[] = [],
  data?: unknown,
): Outcome => ({ status: "fail", message, details, diagnosis, data });
export const skip = (message: string, details: string[] = []): Outcome => ({ status: "skip", message, details });
