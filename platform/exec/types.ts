// The shapes of sandboxed exec: what callers ask for, what comes back, and what a
// method hands the common runner. Shared by the CLI (`exec`) and the library (src/lib.ts).

/** How a command is run: runsc directly, a container engine with runsc, or a plain subprocess. */
export const METHODS = ["runsc", "docker", "podman", "none"] as const;
export type Method = (typeof METHODS)[number];
export type Via = Method | "auto";
export type Network = "none" | "host";

export interface Mount {
  /** Absolute host path. */
  source: string;
  /** Absolute path inside the sandbox. */
  target: string;
  /** Read-only unless asked. */
  writable: boolean;
}

/** Options of `runIsolated` (the library) — the CLI flags map one to one. */
export interface RunIsolatedOptions {
  /** The command and its arguments (argv; never a shell string). */
  command: string[];
  /** Default "auto": runsc in a container, else Docker/Podman with runsc, else runsc as root, else a plain subprocess. */
  via?: Via;
  /** docker/podman: an image name (used as is; may be pulled by the engine). runsc: a root filesystem directory. Default: a tiny image built from the host's busybox. */
  image?: string;
  /** "SRC:DST[:ro|rw]" strings or objects; read-only unless writable. */
  mounts?: Array<string | Mount>;
  /** Working directory inside the sandbox (default "/"). */
  workdir?: string;
  /** Default "none". */
  network?: Network;
  /** Environment inside the sandbox: only these plus PATH (and HOME); the host's is not passed. */
  env?: Record<string, string>;
  /** Kill the sandbox after this long; the result says timedOut and exitCode is 124. */
  timeoutMs?: number;
  /** Memory limit in bytes (not enforced by `none`). */
  memoryBytes?: number;
  /** Limit on tasks (default 1024). Under gVisor it counts the sandbox's host threads, not guest processes. */
  pids?: number;
  /** Refuse (throw SandboxUnavailableError, nothing runs) when no gVisor method is available. */
  requireSandbox?: boolean;
  /** What the command reads: "ignore" (default, /dev/null), "inherit" (this process's stdin), or the bytes to feed it. */
  stdin?: "ignore" | "inherit" | string | Uint8Array;
  /** Called with each chunk of output as it arrives. */
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
  /** Capture at most this many bytes of each stream into the result (default 4 MiB; 0: capture nothing). */
  maxOutputBytes?: number;
  /** Abort: forward SIGTERM to the command, then tear the sandbox down after `killGraceMs`. */
  signal?: AbortSignal;
  /** Forward this process's SIGINT/SIGTERM/SIGHUP to the command while it runs (the CLI sets it). */
  forwardSignals?: boolean;
  /** How long a forwarded signal may take before the sandbox is torn down (default 10 s). */
  killGraceMs?: number;
  /** Host environment used to find engines (DOCKER_HOST, PATH); default process.env. */
  hostEnv?: NodeJS.ProcessEnv;
  /** Warnings (e.g. "running without a sandbox"); default: written to stderr. */
  onWarning?: (message: string) => void;
  /** The method chosen and why, just before the command starts (for logs; `exec -v` prints it). */
  onMethod?: (status: MethodStatus) => void;
}

/** What `runIsolated` returns and `exec --json` prints. */
export interface ExecResult {
  method: Method;
  /** True when the command ran under gVisor. */
  sandboxed: boolean;
  /** The command's exit code; 124 after a timeout, 125 when the sandbox could not start, 128+N after signal N. */
  exitCode: number;
  /** The signal that ended the command, when known (one we forwarded or sent on timeout, or seen by `none`). */
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr was longer than the capture cap and was cut. */
  truncated: boolean;
}

/** A validated request (see options.ts). */
export interface ExecRequest {
  command: string[];
  via: Via;
  image: string | null;
  mounts: Mount[];
  workdir: string | null;
  network: Network;
  env: Record<string, string>;
  timeoutMs: number | null;
  memoryBytes: number | null;
  pids: number;
  requireSandbox: boolean;
}

/** Whether a method can run here, and why not. */
export interface MethodStatus {
  method: Method;
  available: boolean;
  sandboxed: boolean;
  /** Why it is (un)available, in words an operator can act on. */
  reason: string;
  /** What the method would use: the runsc path, the docker runtime name, … */
  detail: Record<string, string>;
}

export interface SandboxDetection {
  /** Every method, in auto's order of preference for this host. */
  methods: MethodStatus[];
  /** What `via: "auto"` picks: the first available sandboxed method, else "none". */
  auto: Method;
  /** True when some method runs commands under gVisor. */
  gvisor: boolean;
}

/**
 * What a method hands the runner: the process to start, how to forward a signal to
 * the command inside, and how to tear everything down (idempotent).
 */
export interface Launch {
  method: Method;
  sandboxed: boolean;
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Deliver a signal to the command (`pid`: the child started from file/args, leading its own process group). */
  forward(signal: NodeJS.Signals, pid: number | undefined): Promise<void>;
  /** Kill the command and its sandbox now, and wait until the child has exited. Safe to call more than once. */
  teardown(child: { pid: number | undefined; exited: Promise<unknown> }): Promise<void>;
  /**
   * The child itself exited, and what it left behind must go now (the plain subprocess: like a sandbox's,
   * its background processes end with it). exec then stops waiting for pipes they might hold open.
   */
  onExit?(pid: number | undefined): void;
  /**
   * What the method knows about how the run ended that its exit code does not say (read before cleanup):
   * e.g. the sandbox died at its pids limit. `exitCode` replaces the code; `message` goes to stderr.
   */
  verdict?(code: number | null): { exitCode?: number; message: string } | null;
  /** After the process ended (any way): remove what the launch created (temp dirs, cgroups). */
  cleanup(outcome: { code: number | null; tornDown: boolean }): Promise<void>;
}
