// containerd: the adapter. Runtime tables in config.toml for the CRI plugin of the file's
// schema (config.ts), planned surgically (plan.ts), checked with
// `containerd config dump` (dump.ts), loaded by a restart: containerd has no
// live reload and exits on SIGHUP. Without containerd-shim-runsc-v1 the runtime uses the
// runc shim with runsc as its binary.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { sameFile } from "../../os/fsutil.ts";
import { findProcesses, readEnviron, CONTAINERD_VALUE_FLAGS, type DaemonProcess } from "../../os/processes.ts";
import { whichAll, SYSTEM_BIN_DIRS } from "../../os/which.ts";
import { applyPlan, readIfAbsolute, readOrNull } from "../edit/apply.ts";
import {
  notRunning,
  restartCommand,
  restartProcess,
  sameNamespaces,
  snapshotProcess,
  startedBeforeChange,
  systemctl,
  systemdUnitOf,
  waitForUnixSocket,
} from "../daemon-control.ts";
import { buildPlan } from "../edit/plan.ts";
import { parseWrapper } from "../edit/runtime-args.ts";
import { shimBinaryName, shimConfigArgs } from "../edit/shim-config.ts";
import { managedByTool } from "../edit/text.ts";
import { getPath, parseTomlStrict } from "../edit/toml-check.ts";
import {
  EngineConfigError,
  type DeclaredRuntime,
  type EngineAdapter,
  type EngineContext,
  type EngineDetection,
  type EngineInspection,
  type Plan,
  type ReloadOptions,
  type ReloadResult,
  type RuntimeRequest,
  type VerifyResult,
} from "../types.ts";
import {
  DEFAULT_CONTAINERD_ADDRESS,
  DEFAULT_CONTAINERD_CONFIG,
  inspectConfig,
  majorMinor,
  readerFor,
  RUNC_SHIM_TYPE,
  RUNSC_SHIM,
  RUNSC_SHIM_TYPE,
  schemaOf,
  type ConfigReader,
} from "./config.ts";
import { seesSameFile, SELF_ROOT, type HostRoot } from "../../os/host-root.ts";
import { engineBinary, runHostBinary, whichInRoot } from "../../os/host-exec.ts";
import { restartOnHost } from "../host-restart.ts";
import { configDump, dumpMismatch, migrateUnversioned, validateWithContainerd } from "./dump.ts";
import { planContainerd, type ContainerdPlanResult } from "./plan.ts";
import {
  configFlag,
  detectDistribution,
  distributionAt,
  distributionForConfig,
  distSchema,
  distTarget,
  distUnit,
  planDistribution,
  type DistributionFact,
} from "./k8s-dist.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The read side, for the doctor's checks: containerd.inspectConfig(path) and friends.
export {
  criDisabled,
  CRI_PLUGIN,
  inspectConfig,
  inspectContainerdText,
  runtimesPath,
  schemaFaults,
  RUNSC_SHIM,
  type ContainerdInspection,
  type ContainerdSchema,
} from "./config.ts";
export { planContainerd, type ContainerdPlanInput, type ContainerdPlanResult } from "./plan.ts";

export interface ContainerdDetection extends EngineDetection {
  /** containerd-shim-runsc-v1 where containerd looks for shims, or null. */
  shim: string | null;
  /** The gRPC socket of the matched daemon. */
  address: string;
  /** A Kubernetes distribution's own containerd (k3s, RKE2, k0s, microk8s), and the file runsc goes into. */
  distribution?: DistributionFact | null;
}

const daemonConfig = (d: DaemonProcess): string => configFlag(d) ?? DEFAULT_CONTAINERD_CONFIG;

async function containerdVersion(bin: string, root: HostRoot): Promise<string | null> {
  const r = await runHostBinary(root, bin, ["--version"], { timeoutMs: 5_000 });
  // "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
  return r.code === 0 ? (r.stdout.trim().split(/\s+/)[2] ?? null) : null;
}

/** containerd looks for shims on its own PATH and next to its binary. */
function findShim(
  binary: string | null,
  daemon: DaemonProcess | null,
  env: NodeJS.ProcessEnv,
  root: HostRoot,
): string | null {
  const daemonPath = daemon ? readEnviron(daemon.pid)?.PATH : undefined;
  if (root.foreign)
    return whichInRoot(root, RUNSC_SHIM, [...(binary ? [dirname(binary)] : []), daemonPath ?? ""].join(":"));
  // A running daemon's own PATH says it all; the usual system directories stand in for the PATH
  // of a containerd not running (systemd's default PATH has them).
  const dirs = [...(binary ? [dirname(binary)] : []), ...(daemonPath === undefined ? SYSTEM_BIN_DIRS : [])];
  return whichAll(RUNSC_SHIM, dirs, daemonPath ?? env.PATH ?? "")[0] ?? null;
}

function addressOf(d: DaemonProcess | null, configPath: string, root: HostRoot): string {
  const flag = d?.flags["-a"]?.at(-1) ?? d?.flags["--address"]?.at(-1);
  if (flag) return flag;
  try {
    const a = getPath(parseTomlStrict(readFileSync(root.local(configPath), "utf8"), configPath), ["grpc", "address"]);
    if (typeof a === "string" && a) return a;
  } catch {}
  return DEFAULT_CONTAINERD_ADDRESS;
}

/** A reader that sees `text` at `path` (a planned rewrite other plans build on). */
function withFile(reader: ConfigReader, path: string, text: string): ConfigReader {
  return { read: (p) => (p === path ? text : reader.read(p)), list: reader.list };
}

/**
 * containerd 2.x and a config.toml without a version line (its CRI runtimes are dropped):
 * with --migrate, the file as `containerd config migrate` rewrites it; otherwise the plan
 * refuses (planContainerd) and says how to consent. null when no migration applies.
 */
async function migrationFor(
  det: ContainerdDetection,
  req: RuntimeRequest,
  ctx: EngineContext,
  root: HostRoot,
): Promise<{ before: string; after: string } | null> {
  const mm = majorMinor(det.version);
  if (!ctx.migrate || req.remove || !det.binary || !mm || mm.major < 2) return null;
  const before = readOrNull(root.local(det.configPath));
  if (before === null || schemaOf(parseTomlStrict(before, det.configPath), det.configPath).declared) return null;
  ctx.log(`containerd: ${det.binary} config migrate of ${det.configPath}`);
  const m = await migrateUnversioned(det.binary, det.configPath, before, det.version, root);
  if (m.error !== null) {
    const message = `${det.configPath}: cannot migrate it with containerd config migrate: ${m.error}; nothing written`;
    const hint = "add version = 3 and move the CRI settings under plugins.'io.containerd.cri.v1.runtime' by hand";
    throw new EngineConfigError(message, { file: det.configPath }, hint, null, "migrate-failed");
  }
  return { before, after: m.text };
}

/** The plan for a planned containerd config change (its own file's or a distribution's). */
function planOf(det: ContainerdDetection, req: RuntimeRequest, r: ContainerdPlanResult): Plan {
  return buildPlan({ engine: "containerd", request: req, configPath: det.configPath, ...r, engineData: r.expect });
}

/**
 * A distribution's containerd: runsc goes into its template or drop-in (k8s-dist.ts), and
 * the config it will render from them is loaded with containerd config dump first.
 */
async function planForDistribution(
  det: ContainerdDetection,
  req: RuntimeRequest,
  ctx: EngineContext,
  root: HostRoot,
): Promise<Plan> {
  const dist = distributionAt(det.distribution!.id, det.configPath);
  const r = planDistribution({
    dist,
    reader: readerFor(root),
    containerdVersion: det.version,
    shim: det.shim,
    wrapperDir: ctx.wrapperDir,
    request: req,
    force: ctx.force,
  });
  if (det.binary && r.changes.length && r.rendered !== null) {
    ctx.log(`containerd: checking ${dist.rendered} as ${dist.title} will render it with ${det.binary} config dump`);
    const problem = await dumpRendered(det.binary, r.rendered, req.name, r.expect, root);
    if (problem) {
      throw new EngineConfigError(
        `${r.target}: ${problem}; nothing was written`,
        { file: r.target },
        `edit ${r.target} by hand`,
        null,
        "dump-check",
      );
    }
    r.notes.push(
      `checked ${dist.rendered} as ${dist.title} will render it with containerd ${det.version ?? ""} ` + "config dump",
    );
  } else if (r.changes.length && r.rendered === null) {
    r.notes.push(
      `${dist.rendered} is not there yet (${dist.title} writes it when it starts): ` +
        "checked with a TOML parser only",
    );
  }
  return planOf(det, req, r);
}

/** containerd config dump of `text` (staged where a chrooted containerd sees it): the mismatch, or null. */
async function dumpRendered(
  bin: string,
  text: string,
  name: string,
  expect: ContainerdPlanResult["expect"],
  root: HostRoot,
): Promise<string | null> {
  const local = mkdtempSync(join(root.foreign ? root.local("/tmp") : tmpdir(), "gvd-containerd-rendered-"));
  try {
    writeFileSync(join(local, "config.toml"), text);
    const { doc, error } = await configDump(bin, root.host(join(local, "config.toml")), root);
    if (!doc) {
      return `containerd cannot load the rendered config: ${error?.replaceAll(root.host(local), "<staged copy>")}`;
    }
    return dumpMismatch(doc, name, expect);
  } finally {
    rmSync(local, { recursive: true, force: true });
  }
}

export const containerdAdapter: EngineAdapter<ContainerdDetection> = {
  name: "containerd",
  title: "containerd",
  liveReload: false,
  runtimeFlag: (flag) => `--${flag}`,
  configDirs: false,
  startFailureLog: { unit: "containerd" },
  ownedByUser: () => false,
  loadedRuntime: () => null,

  async detect(ctx: EngineContext): Promise<ContainerdDetection> {
    const env = ctx.env;
    const root = ctx.root ?? SELF_ROOT;
    // Only this root's daemons count: a containerd in a container or chroot (a kind node, a
    // DaemonSet pod) reads another /etc/containerd/config.toml than the one we would edit.
    // (Host facts hold only this root's daemons already.)
    const ofRoot =
      ctx.daemons?.containerd ?? findProcesses(["containerd"], CONTAINERD_VALUE_FLAGS).filter((d) => root.owns(d.pid));
    // Nor one that reads another file at the same path (its own mount namespace, e.g. a test
    // sandbox or a daemon of a lived-in host seen from a private /etc): restarting it would
    // not load what we write.
    const readsOurs = (c: string, pid: number) => !isAbsolute(c) || seesSameFile(pid, c, root.local(c)) !== false;
    const daemons = ofRoot.filter((d) => readsOurs(daemonConfig(d), d.pid));
    // The containerd we mean: the one reading --config, else the one serving CONTAINERD_ADDRESS
    // (as ctr/crictl pick it), else the one reading the default config. A dockerd-managed
    // containerd (its own config under /var/run/docker) is never picked by accident.
    const want = env.CONTAINERD_ADDRESS;
    const picked = ctx.configPath
      ? (daemons.find((d) => sameFile(daemonConfig(d), ctx.configPath!)) ?? null)
      : ((want ? daemons.find((d) => addressOf(d, daemonConfig(d), root) === want) : undefined) ??
        daemons.find((d) => daemonConfig(d) === DEFAULT_CONTAINERD_CONFIG) ??
        null);
    // A distribution's containerd (k3s, RKE2, k0s, microk8s) when no plain one is meant: its
    // config is generated elsewhere, and runsc goes where the distribution takes it from.
    const dist = ctx.configPath
      ? distributionForConfig(ctx.configPath, picked)
      : picked
        ? null
        : detectDistribution(daemons, root);
    const daemon = picked ?? dist?.daemon ?? null;
    const configPath =
      ctx.configPath ?? (daemon ? daemonConfig(daemon) : (dist?.dist.config ?? DEFAULT_CONTAINERD_CONFIG));
    // The host's binary: the daemon's own executable (as the host names it), else its system directories.
    // A distribution's containerd that is not running: its own binary, not a system one the node may also have.
    const distBinary = dist && !daemon ? whichInRoot(root, "containerd", dist.dist.binDir) : null;
    const binary =
      distBinary && dirname(distBinary) === dist!.dist.binDir
        ? distBinary
        : engineBinary(root, "containerd", daemon, env);
    const shim = findShim(binary, daemon, env, root);
    const notes: string[] = [];
    if (daemon) notes.push(`containerd pid ${daemon.pid} reads ${configPath}`);
    notes.push(shim ? `runsc shim: ${shim}` : `${RUNSC_SHIM} not found on containerd's PATH`);
    let managedBy: string | null = null;
    try {
      managedBy = managedByTool(readOrNull(root.local(configPath)));
    } catch {}
    const version = binary && (daemon || !ctx.lightDetect || dist) ? await containerdVersion(binary, root) : null;
    let distribution: ContainerdDetection["distribution"] = null;
    if (dist) {
      const reader = readerFor(root);
      const target = distTarget(dist.dist, reader, distSchema(dist.dist, reader, version), "runsc");
      distribution = { id: dist.dist.id, title: dist.dist.title, why: dist.why, target };
      notes.unshift(`${dist.dist.title}'s containerd: runsc is registered in ${target}`);
      // The distribution generates its config: gvisor-doctor never edits it, so no tool "manages" it for us.
      managedBy = null;
    }
    return {
      engine: "containerd",
      installed: !!binary,
      binary,
      running: !!daemon,
      pid: daemon?.pid ?? null,
      version,
      configPath,
      configSource: ctx.configPath
        ? "--config"
        : dist
          ? `${dist.dist.title} (${dist.why})`
          : daemon && daemonConfig(daemon) !== DEFAULT_CONTAINERD_CONFIG
            ? `-c of containerd pid ${daemon.pid}`
            : "default",
      managedBy,
      systemdUnit: daemon ? systemdUnitOf(daemon.pid, "/proc", root.local("/run/systemd/system")) : null,
      notes,
      shim,
      address: dist && !daemon ? dist.dist.socket : addressOf(daemon, configPath, root),
      distribution,
    };
  },

  async inspect(det, ctx): Promise<EngineInspection> {
    const root = ctx.root ?? SELF_ROOT;
    const reader = readerFor(root);
    const ins = inspectConfig(det.configPath, det.version, reader);
    const runtimes: Record<string, DeclaredRuntime> = {};
    for (const [name, r] of Object.entries(ins.runtimes)) {
      let path: string | null =
        typeof r.options.BinaryName === "string" && r.options.BinaryName
          ? r.options.BinaryName
          : r.runtimeType === RUNC_SHIM_TYPE
            ? "runc"
            : null;
      let args: string[] = [];
      const cfg = typeof r.options.ConfigPath === "string" ? r.options.ConfigPath : null;
      if (r.runtimeType === RUNSC_SHIM_TYPE) {
        // The shim runs binary_name from runsc.toml (default: runsc on PATH) with [runsc_config] as flags.
        path = "runsc";
        try {
          const text = cfg ? reader.read(cfg) : null;
          args = shimConfigArgs(text, cfg ?? "");
          path = shimBinaryName(text, cfg ?? "") ?? path;
        } catch (e) {
          ins.faults.push({
            code: "containerd.shim-config-invalid",
            severity: "error",
            file: cfg ?? r.file,
            message: (e as Error).message,
            fix: "containers of this runtime fail to start: fix the file",
          });
        }
      }
      const wrapper = parseWrapper(readIfAbsolute(path, root));
      if (wrapper) args = wrapper.args;
      runtimes[name] = {
        name,
        path: wrapper?.runsc ?? path,
        args,
        type: r.runtimeType,
        source: { file: r.file, line: r.line ?? undefined },
        raw: r.options,
      };
      if (r.runtimeType === RUNSC_SHIM_TYPE && !det.shim)
        ins.faults.push({
          code: "containerd.shim-missing",
          severity: "error",
          file: r.file,
          line: r.line ?? undefined,
          message: `runtime "${name}" uses ${RUNSC_SHIM_TYPE}, but ${RUNSC_SHIM} is not on containerd's PATH: containerd reports 'binary not installed "${RUNSC_SHIM}"'`,
          fix: `install ${RUNSC_SHIM} next to containerd, or run gvisor-doctor configure containerd to use the runc shim`,
        });
    }
    const files = [
      { path: det.configPath, exists: ins.exists, managedBy: ins.managedBy },
      ...ins.imports.flatMap((i) =>
        (i.files ?? []).map((f) => ({
          path: f,
          exists: reader.read(f) !== null,
          managedBy: managedByTool(reader.read(f)),
        })),
      ),
    ];
    return {
      engine: "containerd",
      configPath: det.configPath,
      files,
      runtimes,
      defaultRuntime: ins.defaultRuntimeName,
      faults: ins.faults,
    };
  },

  async plan(det, req, ctx): Promise<Plan> {
    const root = ctx.root ?? SELF_ROOT;
    if (det.distribution) return planForDistribution(det, req, ctx, root);
    const migration = await migrationFor(det, req, ctx, root);
    const reader = migration ? withFile(readerFor(root), det.configPath, migration.after) : readerFor(root);
    const r = planContainerd({
      configPath: det.configPath,
      reader,
      containerdVersion: det.version,
      shim: det.shim,
      wrapperDir: ctx.wrapperDir,
      request: req,
      force: ctx.force,
    });
    if (migration) {
      // One change of config.toml: from the file as it is to the migrated file with the runtime.
      const main = r.changes.find((c) => c.path === det.configPath);
      if (main) main.before = migration.before;
      else {
        const { before, after } = migration;
        const reason = "containerd config migrate";
        r.changes.unshift({ path: det.configPath, before, after, action: "modify", reason });
      }
      r.notes.unshift(`${det.configPath} had no version line: migrated to version 3 with containerd config migrate`);
    }
    if (det.binary && r.changes.length) {
      ctx.log(`containerd: checking the result with ${det.binary} config dump`);
      // After a migration the dump to compare with is the migrated file's (the original's drops settings).
      const problem = await validateWithContainerd(
        det.binary,
        det.configPath,
        reader,
        r.changes,
        req.name,
        r.expect,
        root,
      );
      if (problem)
        throw new EngineConfigError(
          `${det.configPath}: ${problem}; nothing was written`,
          { file: det.configPath },
          "edit the file by hand, or write the runtime into the main config",
          null,
          "dump-check",
        );
      r.notes.push(`checked with containerd ${det.version ?? ""} config dump`.replace("  ", " "));
    } else if (!det.binary && r.changes.length)
      r.notes.push("containerd is not installed here: the result was checked with a TOML parser only");
    return planOf(det, req, r);
  },

  async apply(plan, ctx) {
    return applyPlan(plan, { now: ctx.now(), log: ctx.log, root: ctx.root });
  },

  async reload(det, _plan, opts: ReloadOptions, ctx): Promise<ReloadResult> {
    if (!det.pid) return notRunning("containerd");
    const dist = det.distribution ? distributionAt(det.distribution.id, det.configPath) : null;
    if (ctx.root?.foreign) {
      // A distribution's containerd restarts with the distribution (it renders the config first).
      const unit = det.systemdUnit ?? (dist ? distUnit(dist, ctx.root) : "containerd");
      return restartOnHost(ctx.root, ctx.restartCommand, opts, {
        title: dist ? `${dist.title}'s containerd` : "containerd",
        process: "containerd",
        valueFlags: CONTAINERD_VALUE_FLAGS,
        unit,
        pid: det.pid,
        socket: det.address,
        command: dist?.restart ?? undefined,
      });
    }
    if (det.systemdUnit) {
      const command = `systemctl restart ${det.systemdUnit}`;
      if (!opts.reload)
        return {
          action: "pending",
          method: null,
          command,
          message: `--no-reload: restart containerd to load the change: ${command}`,
        };
      const r = await systemctl("restart", det.systemdUnit);
      return r.ok
        ? { action: "restarted", method: r.command, command: null, message: `restarted with ${r.command}` }
        : { action: "failed", method: r.command, command, message: `${r.command} failed: ${r.message}` };
    }
    const snap = snapshotProcess(det.pid);
    const command = `gvisor-doctor configure containerd --config ${det.configPath} --restart`;
    if (!opts.restart || !opts.reload) {
      return {
        action: "pending",
        method: null,
        command: snap ? `${command}   # or by hand: ${restartCommand(snap)}` : command,
        message: "containerd has no live reload (and exits on SIGHUP): restart it to load the change",
      };
    }
    if (!snap)
      return { action: "failed", method: null, command, message: `cannot read /proc/${det.pid} to restart containerd` };
    if (!sameNamespaces(det.pid))
      return {
        action: "failed",
        method: null,
        command: restartCommand(snap),
        message: `containerd pid ${det.pid} runs in other namespaces than gvisor-doctor; restart it the way it was started`,
      };
    const r = await restartProcess(snap, () => waitForUnixSocket(det.address, 300));
    return r.ok
      ? {
          action: "restarted",
          method: `stopped pid ${det.pid} (SIGTERM) and started it again with its argv and environment`,
          command: null,
          message: r.message,
        }
      : { action: "failed", method: "restart by hand", command: restartCommand(snap), message: r.message };
  },

  async verify(det, plan, ctx): Promise<VerifyResult> {
    if (!det.binary) return { ok: null, message: "not verified: containerd is not installed", details: [] };
    const root = ctx.root ?? SELF_ROOT;
    const { doc, error } = await configDump(det.binary, det.configPath, root);
    if (!doc) return { ok: false, message: `containerd cannot load ${det.configPath}: ${error}`, details: [] };
    const expect = (plan.engineData as ContainerdPlanResult["expect"] | undefined) ?? {
      version: 2,
      runtime: plan.request.remove ? null : { runtime_type: plan.effective?.type, options: {} },
    };
    const mismatch = dumpMismatch(doc, plan.request.name, expect);
    if (mismatch)
      return { ok: false, message: mismatch, details: [`$ ${det.binary} -c ${det.configPath} config dump`] };
    const configured = plan.request.remove
      ? `containerd config dump no longer shows "${plan.request.name}"`
      : `containerd config dump shows ${plan.request.name} (${plan.effective!.type})`;
    if (!det.pid) return { ok: true, message: configured, details: [] };
    const ins = inspectConfig(det.configPath, det.version, readerFor(root));
    // A distribution writes its generated config right before it starts containerd (closer than the
    // start time's resolution): what must be older than the daemon is what gvisor-doctor wrote.
    const written = det.distribution ? [det.distribution.target, ...plan.changes.map((c) => c.path)] : null;
    const read = written ?? [det.configPath, ...ins.imports.flatMap((i) => i.files ?? [])];
    if (startedBeforeChange(det.pid, read, root.local))
      return {
        ok: false,
        message: `${configured}, but containerd pid ${det.pid} started before the change: it has not loaded it`,
        details: [],
      };
    return { ok: true, message: `${configured}; containerd pid ${det.pid} started after the change`, details: [] };
  },
};
