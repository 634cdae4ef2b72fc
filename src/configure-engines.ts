// Registering (or with --remove unregistering) runsc with the container engines,
// through one adapter per engine (platform/engines/): the engine of `configure`, and
// what install, uninstall and --fix call. Loaded lazily by src/commands/configure.ts.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pruneBackups, readOrNull, StalePlanError } from "../platform/engines/edit/apply.ts";
import { removeStaleTemps } from "../platform/os/fsutil.ts";
import { adapterFor, ENGINE_NAMES } from "../platform/engines/index.ts";
import {
  DEFAULT_WRAPPER_DIR,
  defaultWrapperDir,
  INSTALLED_RUNSC,
  normalizeRuntimeArgs,
} from "../platform/engines/edit/runtime-args.ts";
import {
  EngineConfigError,
  HOST_ROOT_ENGINES,
  type AppliedFile,
  type EngineAdapter,
  type EngineContext,
  type EngineDetection,
  type EngineName,
  type Plan,
  type ReloadResult,
  type RuntimeRequest,
  type VerifyResult,
} from "../platform/engines/types.ts";
import type { DaemonSnapshot } from "../platform/engines/snapshot.ts";
import { whichInRoot } from "../platform/os/host-exec.ts";
import { SELF_ROOT, type HostRoot } from "../platform/os/host-root.ts";
import { sleep } from "../platform/os/sleep.ts";
import { run } from "../platform/os/spawn.ts";
import { findRunscBinaries, primaryRunsc, type RunscBinary } from "../platform/runsc/binaries.ts";
import { flagName, runscFeatures, unknownFlags, type RunscFeatures } from "../platform/runsc/features.ts";
import { parseGvisorVersion, type GvisorVersion } from "../platform/os/versions.ts";
import type { IO } from "./args.ts";
import { echoInput } from "../platform/os/echo-input.ts";
import { EXIT, UsageError } from "../platform/os/errors.ts";
import { startProgress } from "./ui/spinner.ts";
import { TOOL } from "./version.ts";

export const DEFAULT_RUNTIME_NAME = "runsc";

export interface ConfigureRequest {
  /** Engines to configure; default every engine (those not installed are skipped unless named). */
  engines?: EngineName[];
  /** The engines were named by the user: configure them even when not installed. */
  explicit?: boolean;
  /** The file (or drop-in directory) to edit; only with exactly one engine. */
  configPath?: string;
  /** Default: /usr/local/bin/runsc if present, else the runsc the host facts found. */
  runscPath?: string;
  runtimeName?: string;
  /** runsc flags (--network=none or network=none); undefined keeps an existing entry's. */
  runtimeArgs?: string[];
  makeDefault?: boolean;
  /**
   * --marker: add --gvisor-marker-file to the runtime's args (with any --runtime-arg), so sandboxes
   * get /proc/gvisor/kernel_is_gvisor, the preflight tell an image cannot fake. Refused where the
   * runsc being registered lacks the flag.
   */
  marker?: boolean;
  remove?: boolean;
  dryRun?: boolean;
  /** false: --no-reload (nothing is reloaded or restarted). */
  reload?: boolean;
  /** --restart: engines without live reload (containerd without systemd, CRI-O) are restarted. */
  restart?: boolean;
  /** --force: edit files a configuration-management tool owns; accept a runsc path that does not exist yet. */
  force?: boolean;
  /** false: --no-verify (no docker info polling, no podman container). */
  verify?: boolean;
  /** --migrate: the user agreed to rewrite an outdated config with the engine's own migration (containerd 2.x). */
  migrate?: boolean;
  wrapperDir?: string;
  /** --host-root: operate on the node whose / is mounted there (containerd and CRI-O only). */
  hostRoot?: HostRoot;
  /** uninstall: after a removal that restores a file to its content before gvisor-doctor, delete its backups. */
  pruneBackups?: boolean;
  /** --restart-command: how to restart an engine in host-root mode (argv). */
  restartCommand?: string[] | null;
  /**
   * What the caller already gathered (--fix hands over its host facts): the daemons, for the adapters, and
   * the runsc binaries found; a field left out is looked up afresh.
   */
  facts?: (DaemonSnapshot & { runsc?: RunscBinary[] }) | null;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export type EngineStatus = "changed" | "unchanged" | "planned" | "refused" | "failed" | "skipped";

export interface EngineReport {
  engine: EngineName;
  title: string;
  status: EngineStatus;
  /** One line for people. */
  message: string;
  action: Plan["action"] | null;
  detected: EngineDetection | null;
  /** Files written (or, with --dry-run, that would be). */
  files: AppliedFile[];
  diff: string;
  notes: string[];
  effective: Plan["effective"];
  reload: ReloadResult | null;
  verify: VerifyResult | null;
  error: {
    message: string;
    hint: string | null;
    file: string | null;
    line: number | null;
    column: number | null;
    snippet: string | null;
    code: string;
  } | null;
}

export interface ConfigureReport {
  schemaVersion: 1;
  tool: { name: "gvisor-doctor"; version: string };
  ok: boolean;
  exitCode: number;
  dryRun: boolean;
  /** The directory the node's / is mounted at (--host-root); null on this machine itself. Paths in the report are the node's. */
  hostRoot: string | null;
  runtime: { name: string; runscPath: string | null; runtimeArgs: string[] | null; default: boolean; remove: boolean };
  engines: EngineReport[];
}

function validateRuntimeName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw new UsageError(
      `invalid runtime name '${echoInput(name)}': use letters, digits, '.', '_' and '-'`,
      "see: gvisor-doctor configure --help",
    );
  if (name === "runc")
    throw new UsageError(
      "the runtime name 'runc' would replace the engines' default runtime: pick another name (default: runsc)",
    );
}

async function defaultRunsc(req: ConfigureRequest, env: NodeJS.ProcessEnv): Promise<string | null> {
  const root = req.hostRoot ?? SELF_ROOT;
  if (existsSync(root.local(INSTALLED_RUNSC))) return INSTALLED_RUNSC;
  if (root.foreign) return whichInRoot(root, "runsc");
  const found = req.facts?.runsc ?? (await findRunscBinaries(env));
  return primaryRunsc(found)?.path ?? null;
}

function checkRunsc(path: string, force: boolean, root: HostRoot): string {
  if (root.foreign && !isAbsolute(path))
    throw new UsageError(
      `--runsc ${echoInput(path)}: with --host-root, give the node's absolute path (e.g. ${INSTALLED_RUNSC})`,
    );
  const abs = isAbsolute(path) ? path : resolve(path);
  if (force) return abs;
  try {
    if (!statSync(root.local(abs)).isFile()) throw new Error("not a file");
    accessSync(root.local(abs), constants.X_OK);
  } catch {
    throw new UsageError(
      `--runsc ${echoInput(root.show(path))}: not an executable file`,
      `install runsc first (gvisor-doctor install${root.foreign ? ` --host-root ${root.dir}` : ""}), or pass --force to register a path that will exist later`,
    );
  }
  return abs;
}

/**
 * Refuse runtime arguments the runsc being registered does not know: the engine would accept
 * them and every container would then fail with "flag provided but not defined".
 */
function checkFlagsKnown(runscPath: string, args: string[], root: HostRoot, known: KnownFlags): void {
  const { version, features } = known;
  const unknown = unknownFlags(features, args);
  if (!unknown.length) return;
  const them = unknown.length > 1 ? "them" : "it";
  throw new UsageError(
    `${root.show(runscPath)} (${version?.raw ?? "unknown release"}) does not know ${unknown.join(", ")}: ` +
      "runsc would refuse to start",
    `install a current release (gvisor-doctor install), or pass --force to register ${them} anyway`,
  );
}

const MARKER_FLAG = "gvisor-marker-file";

interface KnownFlags {
  version: GvisorVersion | null;
  features: RunscFeatures | null;
}

/** The release and flags of the runsc being registered: the facts' inspection of it, else asked once. */
async function knownFlags(runscPath: string, root: HostRoot, facts: RunscBinary[] | undefined): Promise<KnownFlags> {
  const seen = facts?.find((b) => b.path === runscPath && b.features !== undefined);
  if (seen) return { version: seen.version, features: seen.features ?? null };
  const local = root.local(runscPath);
  const version = parseGvisorVersion((await run(local, ["--version"], { timeoutMs: 5_000 })).stdout);
  return { version, features: await runscFeatures(local, version) };
}

/** --marker where the runsc being registered has no --gvisor-marker-file: say so before the generic refusal. */
function checkMarkerKnown(runscPath: string, root: HostRoot, known: KnownFlags): void {
  const { version, features } = known;
  if (!unknownFlags(features, [`--${MARKER_FLAG}`]).length) return;
  throw new UsageError(
    `--marker: ${root.show(runscPath)} (${version?.raw ?? "unknown release"}) has no --${MARKER_FLAG}, ` +
      "so its sandboxes cannot get /proc/gvisor/kernel_is_gvisor (preflight keeps its other tells)",
    "install a current release (gvisor-doctor install), then configure --marker again",
  );
}

/**
 * --config names a regular file of bounded size (or a drop-in directory, for the engines that
 * have them), or a path that does not exist yet: never a FIFO, device or /proc file.
 */
function checkConfigArg(path: string, engine: EngineName): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // created by configure (through a dangling symlink, the file it names)
  }
  if (st.isDirectory()) {
    if (adapterFor(engine).configDirs) return;
    const hint = "see: gvisor-doctor configure --help";
    throw new UsageError(`--config ${path} is a directory: give ${engine}'s config file`, hint);
  }
  try {
    readOrNull(path);
  } catch (e) {
    if (e instanceof EngineConfigError) throw new UsageError(`--config ${e.message}`, e.hint ?? undefined);
    throw e;
  }
}

/** Turn a ConfigureRequest into the adapters' RuntimeRequest (validated). */
export async function resolveRuntimeRequest(req: ConfigureRequest, env: NodeJS.ProcessEnv): Promise<RuntimeRequest> {
  const name = req.runtimeName ?? DEFAULT_RUNTIME_NAME;
  validateRuntimeName(name);
  let runtimeArgs: string[] | null = null;
  if (req.runtimeArgs !== undefined) {
    const n = normalizeRuntimeArgs(req.runtimeArgs);
    if (n.error) throw new UsageError(n.error, "see: gvisor-doctor configure --help");
    runtimeArgs = n.args;
  }
  if (req.marker) {
    if (req.remove) throw new UsageError("--marker and --remove contradict each other");
    runtimeArgs = [...(runtimeArgs ?? []).filter((a) => flagName(a) !== MARKER_FLAG), `--${MARKER_FLAG}`];
  }
  let runscPath = "";
  if (!req.remove) {
    const p = req.runscPath ?? (await defaultRunsc(req, env));
    if (!p)
      throw new UsageError(
        "no runsc found on this host",
        "install it first (gvisor-doctor install), or pass --runsc PATH",
      );
    const root = req.hostRoot ?? SELF_ROOT;
    runscPath = checkRunsc(p, !!req.force, root);
    if (!req.force && (req.marker || runtimeArgs?.length)) {
      const known = await knownFlags(runscPath, root, req.facts?.runsc);
      if (req.marker) checkMarkerKnown(runscPath, root, known);
      if (runtimeArgs?.length) checkFlagsKnown(runscPath, runtimeArgs, root, known);
    }
  }
  return { name, runscPath, runtimeArgs, makeDefault: !!req.makeDefault, remove: !!req.remove };
}

function errorOf(e: EngineConfigError): NonNullable<EngineReport["error"]> {
  return {
    message: e.message,
    hint: e.hint,
    file: e.spot?.file ?? null,
    line: e.spot?.line ?? null,
    column: e.spot?.column ?? null,
    snippet: e.snippet,
    code: e.code,
  };
}

function describeRuntime(name: string, eff: Plan["effective"]): string {
  if (!eff) return `"${name}"`;
  return `"${name}" → ${eff.path}${eff.args.length ? ` ${eff.args.join(" ")}` : ""}`;
}

const PENDING: ReloadResult["action"][] = ["pending"];
/** Errors where the config was fine but writing it failed (the rest are refusals). */
const FAILED_CODES = ["read-only", "permission", "no-space", "no-dir", "write-failed", "busy", "lock-dir", "changed"];
const NO_VERIFY: ReloadResult["action"][] = ["pending", "failed", "skipped"];

/** One engine being configured: the request, its adapter, what it detected, and the report so far. */
interface EngineRun {
  adapter: EngineAdapter;
  rt: RuntimeRequest;
  req: ConfigureRequest;
  ctx: EngineContext;
  progress: (s: string) => void;
  report: EngineReport;
  /** Detected again after a restart: the facts handed over describe the daemon before it. */
  det: EngineDetection;
}

/** detect → planAndWrite → (dry run: report the plan) → reloadAndVerify → cleanUpAfter → conclude. */
async function configureOne(
  engine: EngineName,
  rt: RuntimeRequest,
  req: ConfigureRequest,
  ctx: EngineContext,
  progress: (s: string) => void,
): Promise<EngineReport> {
  const adapter = adapterFor(engine);
  const report = emptyReport(engine, adapter.title);
  progress(`${adapter.title}: detecting…`);
  const det = await adapter.detect(ctx);
  report.detected = det;
  const skip = whySkip(adapter.title, det, req, ctx);
  if (skip) {
    report.message = skip;
    return report;
  }
  const run: EngineRun = { adapter, rt, req, ctx, progress, report, det };
  let plan: Plan;
  try {
    plan = await planAndWrite(run);
  } catch (e) {
    if (!(e instanceof EngineConfigError)) throw e;
    return refused(run, e);
  }
  if (req.dryRun) return planned(run, plan);
  const v = await reloadAndVerify(run, plan);
  await cleanUpAfter(run, plan, v);
  return conclude(run, plan, v);
}

function emptyReport(engine: EngineName, title: string): EngineReport {
  return {
    engine,
    title,
    status: "skipped",
    message: "",
    action: null,
    detected: null,
    files: [],
    diff: "",
    notes: [],
    effective: null,
    reload: null,
    verify: null,
    error: null,
  };
}

/** Why an engine the user did not name is left alone (not installed, or not theirs), or null. */
function whySkip(title: string, det: EngineDetection, req: ConfigureRequest, ctx: EngineContext): string | null {
  if (req.explicit || req.configPath) return null;
  if (!det.installed) return `${title} is not installed`;
  return systemFileOfUser(det.configPath, ctx);
}

/**
 * Plan, and (unless --dry-run) write. Another run that changed a file between our read and our
 * write makes the plan stale: plan again from its result, a bounded number of times.
 */
async function planAndWrite({ adapter, rt, req, ctx, progress, report, det }: EngineRun): Promise<Plan> {
  for (let attempt = 1; ; attempt++) {
    progress(`${adapter.title}: planning…`);
    const plan = await adapter.plan(det, rt, ctx);
    report.action = plan.action;
    report.diff = plan.diff;
    report.notes = plan.notes;
    report.effective = plan.effective;
    if (req.dryRun) return plan;
    // Temp files of a run killed mid-write (its pid is gone), also when there is nothing to write.
    if (plan.action === "unchanged") {
      removeStaleTemps((ctx.root ?? SELF_ROOT).local(plan.configPath));
      return plan;
    }
    try {
      progress(`${adapter.title}: writing…`);
      report.files = (await adapter.apply(plan, ctx)).files;
      return plan;
    } catch (e) {
      // Each stale attempt means another run wrote; bounded, then a plain failure (exit 1).
      if (!(e instanceof StalePlanError)) throw e;
      if (attempt >= 25) {
        const hint = "other runs keep changing it: run configure again when they are done";
        throw new EngineConfigError(e.message, { file: e.path }, hint, null, "changed");
      }
      await sleep(Math.random() * 50 * Math.min(attempt, 5));
    }
  }
}

/** A config the adapter would not (or could not) write: refused, failed, or not applicable here. */
function refused({ req, report }: EngineRun, e: EngineConfigError): EngineReport {
  if (e.notApplicable && !req.explicit) {
    report.message = e.message;
    report.notes = e.hint ? [e.hint] : [];
    return report;
  }
  report.status = FAILED_CODES.includes(e.code) ? "failed" : "refused";
  report.error = errorOf(e);
  report.message = e.message;
  return report;
}

/** --dry-run: what would be written, nothing reloaded. */
function planned({ rt, report }: EngineRun, plan: Plan): EngineReport {
  const changed = plan.action !== "unchanged";
  report.status = changed ? "planned" : "unchanged";
  report.files = [...plan.changes, ...plan.afterReload].map((c) => ({
    path: c.path,
    action: c.action,
    backup: null,
  }));
  report.message = changed
    ? `would ${plan.action === "remove" ? "unregister" : plan.action === "update" ? "update" : "register"} ${describeRuntime(rt.name, plan.effective)}`
    : `already ${rt.remove ? "absent" : "registered as asked"}: nothing to change`;
  return report;
}

/** Reload what changed (or what verify finds not live yet: an earlier --no-reload), then verify. */
async function reloadAndVerify(run: EngineRun, plan: Plan): Promise<VerifyResult | null> {
  const { adapter, req, ctx, progress, report } = run;
  const changed = plan.action !== "unchanged";
  const verify = async (): Promise<VerifyResult> => {
    if (req.verify === false) return { ok: null, message: "not verified (--no-verify)", details: [] };
    progress(`${adapter.title}: verifying…`);
    return adapter.verify(run.det, plan, ctx, { afterReload: !!report.reload });
  };
  let v = changed ? null : await verify();
  if (changed || v?.ok === false) {
    progress(`${adapter.title}: reloading…`);
    report.reload = await adapter.reload(run.det, plan, { reload: req.reload !== false, restart: !!req.restart }, ctx);
    // The facts (--fix hands them over) describe the daemon before: a restarted one has another pid.
    if (report.reload.action === "restarted" || report.reload.action === "reloaded") {
      run.det = await adapter.detect({ ...ctx, daemons: null });
    }
    v = NO_VERIFY.includes(report.reload.action)
      ? { ok: null, message: `not verified: ${report.reload.message}`, details: [] }
      : await verify();
  }
  report.verify = v;
  return v;
}

/**
 * Once the engine let go of the runtime: delete the files that had to wait for it (docker: a
 * daemon.json we created), and on uninstall the backups of files restored byte for byte.
 */
async function cleanUpAfter({ adapter, rt, req, ctx, report }: EngineRun, plan: Plan, v: VerifyResult | null) {
  if (plan.afterReload.length && v?.ok !== false && !(report.reload && PENDING.includes(report.reload.action))) {
    try {
      report.files.push(...(await adapter.apply({ ...plan, changes: plan.afterReload }, ctx)).files);
    } catch (e) {
      if (!(e instanceof EngineConfigError || e instanceof StalePlanError)) throw e;
      report.notes.push(`could not delete ${plan.afterReload.map((c) => c.path).join(", ")}: ${e.message}`);
    }
  }
  if (rt.remove && req.pruneBackups && plan.action !== "unchanged" && v?.ok !== false) {
    const root = ctx.root ?? SELF_ROOT;
    for (const c of plan.changes.filter((x) => x.after !== null && x.before !== null)) {
      const gone = pruneBackups(root.local(c.path));
      if (gone.length)
        report.notes.push(
          `${c.path} is byte-for-byte as before gvisor-doctor first changed it: deleted its ${gone.length} backup${gone.length === 1 ? "" : "s"} (${gone.map((g) => root.host(g)).join(", ")})`,
        );
    }
  }
}

/** The engine's status and one line for people, from what was written, reloaded and verified. */
function conclude({ rt, report }: EngineRun, plan: Plan, v: VerifyResult | null): EngineReport {
  const changed = plan.action !== "unchanged";
  const what = rt.remove
    ? `unregistered "${rt.name}"`
    : `${plan.action === "update" ? "updated" : "registered"} ${describeRuntime(rt.name, plan.effective)}`;
  if (report.reload?.action === "failed" || v?.ok === false) {
    report.status = "failed";
    report.message = `${changed ? `${what}, but ` : ""}${report.reload?.action === "failed" ? report.reload.message : v!.message}`;
  } else if (changed) {
    report.status = "changed";
    report.message = what;
  } else {
    report.status = "unchanged";
    report.message = `already ${rt.remove ? "absent" : `registered: ${describeRuntime(rt.name, plan.effective)}`}${report.reload ? ` (the engine had not loaded it: ${report.reload.action})` : ""}`;
  }
  return report;
}

/**
 * A normal user who names no engine configures the engines they run themselves (rootless Podman, a
 * rootless dockerd: files under their home), never a system engine's file (why, or null when it is theirs).
 */
export function systemFileOfUser(
  configPath: string,
  ctx: Pick<EngineContext, "env" | "root">,
  uid: number = process.getuid?.() ?? 0,
): string | null {
  if (uid === 0 || ctx.root?.foreign) return null;
  const homes = [ctx.env.HOME, ctx.env.XDG_CONFIG_HOME].filter((h): h is string => !!h && isAbsolute(h));
  if (homes.some((h) => configPath.startsWith(`${h.replace(/\/+$/, "")}/`))) return null;
  return `${configPath} belongs to the system's engine, not yours: configure it as root (sudo gvisor-doctor configure)`;
}

/** How long engines that depend on a restarted one (dockerd on containerd) get to answer again. */
export const DEPENDENT_WAIT_MS = 30_000;

/**
 * After an engine restarted, wait (bounded) until the running engines that depend on it answer
 * again, so a check or command right after us does not meet a daemon still reconnecting (dockerd
 * after containerd: its next container exits 2 without a word). The outcome is a note of the
 * restarted engine's report; a daemon that stays unready is said, not a failure of configure.
 */
async function awaitDependents(
  reports: EngineReport[],
  ctx: EngineContext,
  io: IO,
  progress: (s: string) => void,
  timeoutMs = DEPENDENT_WAIT_MS,
): Promise<void> {
  for (const restarted of reports.filter((r) => r.reload?.action === "restarted")) {
    for (const name of ENGINE_NAMES) {
      const dep = adapterFor(name);
      if (!dep.dependsOn?.includes(restarted.engine) || !dep.ready) continue;
      const t0 = Date.now();
      let state = await dep.ready(ctx);
      if (!state) continue;
      const what = `${dep.title}: waiting for it to answer after ${restarted.title} restarted (up to ${timeoutMs / 1000} s)`;
      if (!state.ok && (!io.spinner || io.json)) io.stderr(`${what}…`);
      while (!state.ok && Date.now() - t0 < timeoutMs) {
        progress(`${what}: ${state.message}`);
        await sleep(250);
        state = (await dep.ready(ctx)) ?? { ok: true, message: `${dep.title} no longer runs` };
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      restarted.notes.push(
        state.ok
          ? `${dep.title} answered again ${secs} s after the restart: ${state.message}`
          : `${dep.title} did not answer within ${secs} s after the restart: ${state.message}`,
      );
    }
  }
}

function exitCodeOf(engines: EngineReport[]): number {
  if (engines.some((e) => e.status === "refused" || e.status === "failed")) return EXIT.FAILED;
  if (engines.some((e) => e.reload?.action === "pending")) return EXIT.RESTART_PENDING;
  return EXIT.OK;
}

/**
 * Configure the engines (install, uninstall and --fix call this). Usage problems throw
 * UsageError; per-engine refusals and failures are in the report, never thrown.
 */
export async function configureEngines(req: ConfigureRequest, io: IO): Promise<ConfigureReport> {
  const env = req.env ?? io.env;
  const root = req.hostRoot ?? SELF_ROOT;
  const engines = req.engines?.length ? req.engines : root.foreign ? [...HOST_ROOT_ENGINES] : [...ENGINE_NAMES];
  const unsupported = root.foreign ? engines.filter((e) => !HOST_ROOT_ENGINES.includes(e)) : [];
  if (unsupported.length)
    throw new UsageError(
      `--host-root configures the Kubernetes node runtimes (${HOST_ROOT_ENGINES.join(", ")}), not ${unsupported.join(", ")}`,
      "run gvisor-doctor on the node itself for Docker and Podman",
    );
  if (root.foreign && req.configPath && !isAbsolute(req.configPath))
    throw new UsageError(
      `--config ${echoInput(req.configPath)}: with --host-root, give the node's absolute path (e.g. /etc/containerd/config.toml)`,
    );
  if (req.configPath && engines.length !== 1)
    throw new UsageError(
      "--config names one engine's file: say which engine, e.g. gvisor-doctor configure docker --config /etc/docker/daemon.json",
    );
  if (req.configPath) checkConfigArg(root.local(resolve(req.configPath)), engines[0]);
  const rt = await resolveRuntimeRequest(req, env);
  if (rt.runscPath.startsWith("/tmp/") && !req.force)
    io.stderr(
      `warning: registering ${rt.runscPath}: a runsc under /tmp disappears on reboot (install it with gvisor-doctor install)`,
    );
  const spinner = startProgress("configuring…", io.spinner && !io.json);
  const log = (m: string) => {
    if (io.verbose) io.stderr(m);
  };
  const ctx: EngineContext = {
    env,
    daemons: req.facts ?? null,
    configPath: req.configPath ? resolve(req.configPath) : undefined,
    // A normal user's own engines run wrappers from their home; a node's (--host-root) from the node's /usr/local.
    wrapperDir: resolve(
      req.wrapperDir ??
        (root.foreign
          ? (env.GVISOR_DOCTOR_WRAPPER_DIR ?? DEFAULT_WRAPPER_DIR)
          : defaultWrapperDir(env, process.getuid?.() ?? 0)),
    ),
    force: !!req.force,
    now: req.now ?? (() => new Date()),
    log,
    root,
    restartCommand: req.restartCommand ?? null,
    migrate: !!req.migrate,
  };
  const progress = (s: string) => {
    spinner.update(s);
    log(s);
  };
  const reports: EngineReport[] = [];
  try {
    const perEngine = { ...req, explicit: req.explicit ?? !!req.engines?.length };
    for (const e of engines) reports.push(await configureOne(e, rt, perEngine, ctx, progress));
    if (!root.foreign && !req.dryRun) await awaitDependents(reports, ctx, io, progress);
  } finally {
    spinner.stop();
  }
  const exitCode = exitCodeOf(reports);
  return {
    schemaVersion: 1,
    tool: TOOL,
    ok: exitCode !== EXIT.FAILED,
    exitCode,
    dryRun: !!req.dryRun,
    hostRoot: root.foreign ? root.dir : null,
    runtime: {
      name: rt.name,
      runscPath: rt.runscPath || null,
      runtimeArgs: rt.runtimeArgs,
      default: rt.makeDefault,
      remove: rt.remove,
    },
    engines: reports,
  };
}

/** The human rendering of a report (stdout), one block per engine. */
export function renderConfigureReport(r: ConfigureReport, io: IO): void {
  const c = io.c;
  const w = Math.max(...r.engines.map((e) => e.engine.length));
  const mark: Record<EngineStatus, string> = {
    changed: c.green("✓"),
    unchanged: c.green("="),
    planned: c.cyan("~"),
    refused: c.red("✗"),
    failed: c.red("✗"),
    skipped: c.dim("-"),
  };
  const pad = " ".repeat(w + 3);
  if (r.hostRoot)
    io.stdout(
      c.dim(
        `host root: ${r.hostRoot} (the node's / is mounted there; every path below is the node's, written at ${r.hostRoot}<path>)`,
      ),
    );
  for (const e of r.engines) {
    io.stdout(
      `${mark[e.status]} ${c.bold(e.engine.padEnd(w))} ${e.status === "skipped" ? c.dim(`skipped: ${e.message}`) : e.message}`,
    );
    if (e.status === "skipped") continue;
    for (const f of e.files) {
      const verb = r.dryRun
        ? { create: "would create", modify: "would modify", delete: "would delete" }[f.action]
        : { create: "created", modify: "modified", delete: "deleted" }[f.action];
      io.stdout(`${pad}${f.path}: ${verb}${f.backup ? c.dim(` (backup ${f.backup})`) : ""}`);
    }
    if (e.error?.hint) io.stdout(`${pad}${c.yellow("fix:")} ${e.error.hint}`);
    if (e.error?.snippet) io.stdout(`${pad}snippet:\n${e.error.snippet.replace(/^/gm, pad + "  ")}`);
    if (e.reload && e.reload.action !== "not-needed") {
      const how = e.reload.action === "pending" ? c.yellow(`pending — run: ${e.reload.command}`) : e.reload.message;
      io.stdout(`${pad}${adapterFor(e.engine).liveReload ? "reload" : "restart"}: ${how}`);
    }
    if (e.verify && e.verify.ok !== null)
      io.stdout(`${pad}verify: ${e.verify.ok ? e.verify.message : c.red(e.verify.message)}`);
    for (const n of e.notes)
      if (io.verbose || r.dryRun || e.status !== "unchanged") io.stdout(`${pad}${c.dim(`note: ${n}`)}`);
    if (io.verbose && e.verify?.details.length) for (const d of e.verify.details) io.stdout(`${pad}${c.dim(d)}`);
    if ((r.dryRun || io.verbose) && e.diff) io.stdout(e.diff.replace(/\n$/, ""));
  }
  if (r.dryRun) io.stdout(c.dim("dry run: nothing was written"));
}
