// runIsolated: validate → detect (only the facts the method needs) → choose → prepare
// the method's launch → run it. The CLI's `exec` and the library entry (src/lib.ts)
// are both this function.
import { echoInput } from "../os/echo-input.ts";
import { ActionError, EXIT } from "../os/errors.ts";
import { ensureProbeImage } from "../probe/images.ts";
import { findTool } from "../os/which.ts";
import { chooseMethod, detectAll, detectFromView, whyNot } from "./detect.ts";
import { normalizeRequest } from "./options.ts";
import { EXIT_CANNOT_START, runLaunch } from "./run.ts";
import type { ExecRequest, ExecResult, Launch, RunIsolatedOptions, SandboxDetection } from "./types.ts";
import { engineWarnings, launchEngine } from "./via-engine.ts";
import { launchNone, unenforced } from "./via-none.ts";
import { cgroupsWritable, launchRunsc, missingCgroupControllers, runscStartFailure } from "./via-runsc.ts";

/** No gVisor method is available and the caller required one (or asked for one that is not). Nothing ran. */
export class SandboxUnavailableError extends ActionError {
  constructor(
    message: string,
    readonly detection: SandboxDetection,
  ) {
    super(
      message,
      'see which methods work and why: gvisor-doctor check (docs/exec.md, "Method selection")',
      EXIT.FAILED,
    );
    this.name = "SandboxUnavailableError";
  }
}

/** Which methods work on this host and why not, in auto's order. */
export async function detectSandbox(opts: { env?: NodeJS.ProcessEnv } = {}): Promise<SandboxDetection> {
  return detectAll(opts.env ?? process.env);
}

/** True when commands can run under gVisor here (runsc as root, or Docker/Podman with runsc). */
export async function isGvisorAvailable(opts: { env?: NodeJS.ProcessEnv } = {}): Promise<boolean> {
  return (await detectSandbox(opts)).gvisor;
}

const defaultWarn = (m: string) => {
  process.stderr.write(`gvisor-doctor: warning: ${m}\n`);
};

/**
 * Run a command isolated: under gVisor when it is there, else (unless
 * `requireSandbox`) as a plain subprocess with a warning and `sandboxed: false`.
 * Throws UsageError for bad options, SandboxUnavailableError when a required or
 * requested method is missing, ActionError (code 125) when the sandbox cannot be prepared.
 */
const lacking = (missing: string[]) =>
  `this host's cgroup v2 tree lacks the ${missing.join(", ")} controller${missing.length > 1 ? "s" : ""}`;

/** runsc would refuse to start: it runs with --ignore-cgroups, and the user is told what that costs. */
function ignoringCgroups(req: ExecRequest, why: string): string {
  const limits = req.memoryBytes ? "pids and memory limits are" : "pids limit is";
  const by = "not enforced by the sandbox (only by whatever contains this process)";
  return `${why}, so runsc runs with --ignore-cgroups: the ${limits} ${by}`;
}

export async function runIsolated(options: RunIsolatedOptions): Promise<ExecResult> {
  const req = normalizeRequest(options);
  const hostEnv = options.hostEnv ?? process.env;
  const warn = options.onWarning ?? defaultWarn;
  const stdin = options.stdin ?? "ignore";
  // An explicit engine needs the probe image: look it up while `docker info` runs.
  const engineCli = !req.image && (req.via === "docker" || req.via === "podman") ? findTool(req.via, hostEnv) : null;
  const earlyImage = engineCli ? ensureProbeImage(engineCli, hostEnv) : null;
  earlyImage?.catch(() => {}); // awaited below only if the engine is usable
  const choice = await chooseMethod(req.via, req.requireSandbox, hostEnv);
  if (!choice.ok) throw new SandboxUnavailableError(choice.message, choice.detection);
  const s = choice.status;
  let launch: Launch;
  if (s.method === "docker" || s.method === "podman") {
    let image = req.image;
    if (!image) {
      try {
        image = (
          await (earlyImage && engineCli === s.detail.cli ? earlyImage : ensureProbeImage(s.detail.cli, hostEnv))
        ).tag;
      } catch (e) {
        throw new ActionError(
          `cannot prepare the sandbox image: ${(e as Error).message}`,
          "pass --image with a local image, or see: gvisor-doctor check --only docker",
          EXIT_CANNOT_START,
        );
      }
    }
    for (const w of engineWarnings(req, s)) warn(w);
    // podman runs runsc by path with our flags (docker uses the runtime as registered).
    const missing = s.method === "podman" ? missingCgroupControllers() : [];
    if (missing.length) warn(ignoringCgroups(req, lacking(missing)));
    const { cli, runtime, runsc } = s.detail;
    const target = { engine: s.method, cli, runtime, runsc, image, localImage: !req.image };
    launch = launchEngine(req, { ...target, ignoreCgroups: missing.length > 0 }, hostEnv, stdin !== "ignore");
  } else if (s.method === "runsc") {
    const cgroups = cgroupsWritable();
    const missing = cgroups ? missingCgroupControllers() : [];
    if (!cgroups) warn(ignoringCgroups(req, "cgroups are read-only here"));
    else if (missing.length) warn(ignoringCgroups(req, lacking(missing)));
    launch = await launchRunsc(req, { runsc: s.detail.runsc, ignoreCgroups: !cgroups || missing.length > 0 });
  } else {
    // Whenever nothing sandboxes the command, stderr says so — also when --via none asked for it.
    const what = `'${echoInput(req.command[0])}' as a plain subprocess without ${unenforced(req).join(", ")}`;
    if (req.via === "auto") {
      const why = whyNot(detectFromView(choice.view));
      warn(`no gVisor sandbox here (${why}); running ${what}. --require-sandbox refuses instead.`);
    } else warn(`--via none: running ${what}.`);
    launch = launchNone(req, hostEnv);
  }
  options.onMethod?.(s);
  return runLaunch(launch, {
    timeoutMs: req.timeoutMs,
    stdin,
    onStdout: options.onStdout,
    onStderr: options.onStderr,
    maxOutputBytes: options.maxOutputBytes,
    signal: options.signal,
    forwardSignals: options.forwardSignals,
    killGraceMs: options.killGraceMs,
    startFailure: s.method === "runsc" ? runscStartFailure : undefined,
  });
}
