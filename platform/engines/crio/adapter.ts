// CRI-O: `[crio.runtime.runtimes.<name>]` in the drop-in /etc/crio/crio.conf.d/99-gvisor.conf
// (gVisor's CRI-O guide): runtime_type "vm" through containerd-shim-runsc-v1 with a
// runsc.toml (binary_name, grouping = true, [runsc_config] flags). Without the shim,
// runsc runs as a plain OCI runtime (runtime_type "oci"), through a wrapper when it
// needs flags. CRI-O loads runtimes at start: restart it (systemd) to apply.
import { readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { engineBinary, runHostBinary, whichInRoot } from "../../os/host-exec.ts";
import { restartOnHost } from "../host-restart.ts";
import { SELF_ROOT, type HostRoot } from "../../os/host-root.ts";
import { CRIO_VALUE_FLAGS, findProcesses, readEnviron } from "../../os/processes.ts";
import { whichAll, SYSTEM_BIN_DIRS } from "../../os/which.ts";
import { applyPlan, readIfAbsolute, readOrNull } from "../edit/apply.ts";
import { notRunning, startedBeforeChange, systemctl, systemdUnitOf } from "../daemon-control.ts";
import {
  buildPlan,
  dropInHeader,
  refuseIfManaged,
  registerChange,
  unregisterChange,
  type PlannedEdit,
} from "../edit/plan.ts";
import { parseWrapper, planWrapper, readProgram } from "../edit/runtime-args.ts";
import { planShimConfig, planShimConfigRemoval, shimConfigArgs, shimConfigPath } from "../edit/shim-config.ts";
import {
  confDropIns,
  gvisorDropIn,
  mergeLayers,
  namesDropInDir,
  readLayer,
  type LayerFile,
} from "../edit/layered-config.ts";
import { managedByTool } from "../edit/text.ts";
import { deleteIn, getPath, parseTomlStrict, setIn, verifyTomlEdit } from "../edit/toml-check.ts";
import { showPath, TomlDoc, type TomlValue } from "../edit/toml-edit.ts";
import {
  EngineConfigError,
  type EngineAdapter,
  type EngineContext,
  type EngineDetection,
  type EngineInspection,
  type FileChange,
  type Plan,
  type ReloadOptions,
  type ReloadResult,
  type RuntimeRequest,
  type VerifyResult,
} from "../types.ts";
import { RUNSC_SHIM } from "../containerd/adapter.ts";

export const DEFAULT_CRIO_CONFIG = "/etc/crio/crio.conf";
export const DEFAULT_CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d";
const CRIO_SOCKET = "/var/run/crio/crio.sock";
const RUNTIMES = ["crio", "runtime", "runtimes"];

/** The directory for runsc.toml: /etc/crio for both /etc/crio/crio.conf and /etc/crio/crio.conf.d/x.conf. */
export const crioConfigRoot = (file: string) =>
  basename(dirname(file)).endsWith(".d") ? dirname(dirname(file)) : dirname(file);

export function crioSnippet(req: RuntimeRequest, shim: string | null, root: string): string {
  if (req.remove) return `delete [${showPath([...RUNTIMES, req.name])}]`;
  const d = new TomlDoc("", { quote: '"', step: 0, blankBetweenTables: true });
  d.addTable(
    [...RUNTIMES, req.name],
    shim
      ? [
          ["runtime_path", shim],
          ["runtime_config_path", shimConfigPath(root, req.name)],
          ["runtime_type", "vm"],
          ["runtime_root", "/run/runsc"],
        ]
      : [
          ["runtime_path", req.runscPath],
          ["runtime_type", "oci"],
          ["runtime_root", "/run/runsc"],
        ],
  );
  return d.text;
}

/** A runtime table as one crio.conf file writes it. */
export interface CrioConfRuntime {
  path: string | null;
  type: string | null;
  configPath: string | null;
  line: number | null;
  raw: Record<string, unknown>;
}

export type CrioConfFile = LayerFile<CrioConfRuntime>;

/** A crio.conf or drop-in's text → the runtimes it declares. Pure. */
export function inspectCrioConf(text: string | null, path: string): CrioConfFile {
  return readLayer(text, path, (doc, text) => {
    const tdoc = new TomlDoc(text);
    const runtimes: Record<string, CrioConfRuntime> = {};
    for (const [name, t] of Object.entries<any>(getPath(doc, RUNTIMES) ?? {})) {
      if (!t || typeof t !== "object") continue;
      const str = (k: string) => (typeof t[k] === "string" ? (t[k] as string) : null);
      runtimes[name] = {
        path: str("runtime_path"),
        type: str("runtime_type"),
        configPath: str("runtime_config_path"),
        line: tdoc.table([...RUNTIMES, name])?.line ?? null,
        raw: t,
      };
    }
    const dr = getPath(doc, ["crio", "runtime", "default_runtime"]);
    return { runtimes, defaultRuntime: typeof dr === "string" ? dr : null };
  });
}

export interface CrioPlanInput {
  target: string;
  read: (path: string) => string | null;
  shim: string | null;
  wrapperDir: string;
  request: RuntimeRequest;
  force: boolean;
}

export function planCrio(input: CrioPlanInput): PlannedEdit {
  const { target, read, request: req } = input;
  const notes: string[] = [];
  const before = read(target);
  const root = crioConfigRoot(target);
  const text = before ?? dropInHeader("crio", req.name);
  const parsed = parseTomlStrict(text, target);
  const rt = [...RUNTIMES, req.name];
  const existing = getPath(parsed, rt) as Record<string, any> | undefined;
  const doc = new TomlDoc(text, { quote: '"', step: 0, blankBetweenTables: true });
  const mutations: ((d: Record<string, any>) => void)[] = [];
  const changes: FileChange[] = [];
  const oldPath = typeof existing?.runtime_path === "string" ? existing.runtime_path : null;
  const oldCfg = typeof existing?.runtime_config_path === "string" ? existing.runtime_config_path : null;
  const wrapperFor = (args: string[] | null) =>
    planWrapper({
      engine: "crio",
      name: req.name,
      runsc: req.runscPath,
      args,
      wrapperDir: input.wrapperDir,
      oldBinary: oldPath,
      read,
      why: "CRI-O passes no arguments to an OCI runtime",
      config: target,
    });
  if (before !== null) refuseIfManaged(target, before, input.force, crioSnippet(req, input.shim, root));

  if (req.remove) {
    if (!existing) return { changes, existed: false, notes, effective: null };
    doc.removeTable(rt);
    mutations.push((d) => deleteIn(d, rt));
    if (getPath(parsed, ["crio", "runtime", "default_runtime"]) === req.name) {
      // Back to runc when the file declares it, else to CRI-O's own default.
      if (getPath(parsed, [...RUNTIMES, "runc"])) {
        doc.set(["crio", "runtime"], "default_runtime", "runc");
        mutations.push((d) => setIn(d, ["crio", "runtime", "default_runtime"], "runc"));
      } else {
        doc.unset(["crio", "runtime"], "default_runtime");
        mutations.push((d) => deleteIn(d, ["crio", "runtime", "default_runtime"]));
        doc.dropIfEmpty(["crio", "runtime"]);
      }
      notes.push(`default_runtime was "${req.name}": reset`);
    }
    verifyTomlEdit(text, doc.text, target, (d) => mutations.forEach((m) => m(d)));
    changes.push(unregisterChange(target, before, doc.text, req.name));
    if (oldCfg) {
      const c = planShimConfigRemoval(req.name, oldCfg, read(oldCfg), false);
      if (c) changes.push(c);
    }
    changes.push(...wrapperFor([]).changes);
    return { changes, existed: true, notes, effective: null };
  }

  let entries: [string, TomlValue][];
  let effective: Plan["effective"];
  let relies: Plan["relies"] = [];
  if (input.shim) {
    const cfgPath = oldCfg ?? shimConfigPath(root, req.name);
    const keep = req.runtimeArgs ?? parseWrapper(readProgram(read, oldPath))?.args ?? null;
    const shim = planShimConfig("crio", req.name, cfgPath, read(cfgPath), {
      binaryName: req.runscPath,
      grouping: true,
      args: keep,
      carried: {},
    });
    if (shim.change) changes.push(shim.change);
    changes.push(...wrapperFor([]).changes);
    entries = [
      ["runtime_path", input.shim],
      ["runtime_config_path", cfgPath],
      ["runtime_type", "vm"],
      ["runtime_root", "/run/runsc"],
    ];
    effective = { path: input.shim, args: shim.args, type: "vm" };
  } else {
    const w = wrapperFor(req.runtimeArgs ?? (oldCfg ? shimConfigArgs(read(oldCfg), oldCfg) : null));
    changes.push(...w.changes);
    entries = [
      ["runtime_path", w.binary],
      ["runtime_type", "oci"],
      ["runtime_root", "/run/runsc"],
    ];
    if (oldCfg) {
      doc.unset(rt, "runtime_config_path");
      mutations.push((d) => deleteIn(d, [...rt, "runtime_config_path"]));
    }
    notes.push(
      `${RUNSC_SHIM} not found: runsc is registered as a plain OCI runtime (runtime_type "oci")${w.args.length ? ` through a wrapper that adds ${w.args.join(" ")}` : ""}; gVisor's CRI-O guide uses the shim with runtime_type "vm"`,
    );
    effective = { path: w.binary, args: w.args, type: "oci" };
    relies = w.relies;
  }
  if (!doc.table(rt)) {
    const c = doc.conflicts(rt)[0];
    if (c)
      throw new EngineConfigError(
        `${target}:${c.line}: ${c.message}`,
        { file: target, line: c.line },
        `write it as a [${showPath(rt)}] table`,
        crioSnippet(req, input.shim, root),
        "toml-shape",
      );
    const like = Object.keys(getPath(parsed, RUNTIMES) ?? {}).find((n) => doc.table([...RUNTIMES, n]));
    doc.addTable(rt, entries, like ? [...RUNTIMES, like] : undefined);
  } else for (const [k, v] of entries) doc.set(rt, k, v);
  for (const [k, v] of entries) mutations.push((d) => setIn(d, [...rt, k], v));
  if (req.makeDefault) {
    if (doc.table(["crio", "runtime"])) doc.set(["crio", "runtime"], "default_runtime", req.name);
    else doc.addTable(["crio", "runtime"], [["default_runtime", req.name]]);
    mutations.push((d) => setIn(d, ["crio", "runtime", "default_runtime"], req.name));
  }
  const registered = registerChange(target, before, doc.text, req.name, text, mutations);
  if (registered) changes.unshift(registered);
  notes.push(
    "gVisor's CRI-O guide also sets [crio.runtime] selinux = false; gvisor-doctor leaves that global setting to you",
  );
  return { changes, existed: !!existing, notes, effective, relies };
}

// ---------------------------------------------------------------------------------

export interface CrioDetection extends EngineDetection {
  shim: string | null;
  dropInDir: string;
}

function targetFor(det: CrioDetection, configPath: string | undefined, name: string, root: HostRoot): string {
  if (configPath) return namesDropInDir(configPath, root.local) ? gvisorDropIn(configPath, name) : configPath;
  return gvisorDropIn(det.dropInDir, name);
}

export const crioAdapter: EngineAdapter<CrioDetection> = {
  name: "crio",
  title: "CRI-O",
  liveReload: false,
  runtimeFlag: (flag) => `--${flag}`,
  configDirs: true,
  startFailureLog: { unit: "crio" },
  ownedByUser: () => false,
  loadedRuntime: () => null,

  async detect(ctx: EngineContext): Promise<CrioDetection> {
    const root = ctx.root ?? SELF_ROOT;
    const daemon =
      (ctx.daemons?.crio ?? findProcesses(["crio"], CRIO_VALUE_FLAGS).filter((d) => root.owns(d.pid)))[0] ?? null;
    const binary = engineBinary(root, "crio", daemon, ctx.env);
    const dropInDir = daemon?.flags["--config-dir"]?.at(-1) ?? daemon?.flags["-d"]?.at(-1) ?? DEFAULT_CRIO_DROPIN_DIR;
    let version: string | null = null;
    // The version matters only for a CRI-O in use: the doctor's light detection skips it for one not running.
    if (binary && (daemon || !ctx.lightDetect)) {
      const r = await runHostBinary(root, binary, ["--version"], { timeoutMs: 10_000 });
      version = r.stdout.match(/version\s*:?\s*(\d+\.\d+\.\d+)/i)?.[1] ?? null;
    }
    const shimPath = daemon ? readEnviron(daemon.pid)?.PATH : undefined;
    const shim = root.foreign
      ? whichInRoot(root, RUNSC_SHIM, shimPath ?? "")
      : (whichAll(RUNSC_SHIM, SYSTEM_BIN_DIRS, shimPath ?? ctx.env.PATH ?? "")[0] ?? null);
    const det: CrioDetection = {
      engine: "crio",
      installed: !!binary,
      binary,
      running: !!daemon,
      pid: daemon?.pid ?? null,
      version,
      configPath: "",
      configSource: ctx.configPath ? "--config" : "drop-in",
      managedBy: null,
      systemdUnit: daemon ? systemdUnitOf(daemon.pid, "/proc", root.local("/run/systemd/system")) : null,
      notes: [shim ? `runsc shim: ${shim}` : `${RUNSC_SHIM} not found`],
      shim,
      dropInDir,
    };
    det.configPath = targetFor(det, ctx.configPath, "runsc", root);
    det.managedBy = managedByTool(readOrNull(root.local(det.configPath)));
    return det;
  },

  async inspect(det, ctx): Promise<EngineInspection> {
    const root = ctx.root ?? SELF_ROOT;
    const read = (p: string) => readOrNull(root.local(p));
    // The main file first, then the drop-ins in lexical order: later files win.
    const dropIns = confDropIns(det.dropInDir, (d) => readdirSync(root.local(d)));
    const files = [DEFAULT_CRIO_CONFIG, ...dropIns].map((f) => inspectCrioConf(read(f), f));
    return mergeLayers("crio", det.configPath, files, (name, r, f) => {
      const w = parseWrapper(readIfAbsolute(r.path, root));
      const cfg = r.configPath;
      return {
        name,
        path: w?.runsc ?? r.path,
        args: w?.args ?? (cfg ? shimConfigArgs(read(cfg), cfg) : []),
        type: r.type,
        source: { file: f.path, line: r.line ?? undefined },
        raw: r.raw,
      };
    });
  },

  async plan(det, req, ctx): Promise<Plan> {
    const root = ctx.root ?? SELF_ROOT;
    const target = targetFor(det, ctx.configPath, req.name, root);
    const r = planCrio({
      target,
      read: (p) => readOrNull(root.local(p)),
      shim: det.shim,
      wrapperDir: ctx.wrapperDir,
      request: req,
      force: ctx.force,
    });
    return buildPlan({ engine: "crio", request: req, configPath: target, ...r });
  },

  async apply(plan, ctx) {
    return applyPlan(plan, { now: ctx.now(), log: ctx.log, root: ctx.root });
  },

  async reload(det, _plan, opts: ReloadOptions, ctx): Promise<ReloadResult> {
    if (!det.pid) return notRunning("CRI-O");
    if (ctx.root?.foreign)
      return restartOnHost(ctx.root, ctx.restartCommand, opts, {
        title: "CRI-O",
        process: "crio",
        valueFlags: CRIO_VALUE_FLAGS,
        unit: det.systemdUnit ?? "crio",
        pid: det.pid,
        socket: CRIO_SOCKET,
      });
    const command = `systemctl restart ${det.systemdUnit ?? "crio"}`;
    if (!det.systemdUnit || !opts.restart || !opts.reload)
      return { action: "pending", method: null, command, message: "CRI-O loads runtimes when it starts: restart it" };
    const r = await systemctl("restart", det.systemdUnit);
    return r.ok
      ? { action: "restarted", method: r.command, command: null, message: `restarted with ${r.command}` }
      : { action: "failed", method: r.command, command, message: r.message };
  },

  async verify(det, plan, ctx): Promise<VerifyResult> {
    const root = ctx.root ?? SELF_ROOT;
    const declared = getPath(parseTomlStrict(readOrNull(root.local(plan.configPath)) ?? "", plan.configPath), [
      ...RUNTIMES,
      plan.request.name,
    ]);
    if (plan.request.remove ? declared : !declared)
      return {
        ok: false,
        message: `${plan.configPath} ${plan.request.remove ? "still declares" : "does not declare"} "${plan.request.name}"`,
        details: [],
      };
    const msg = `${plan.configPath} ${plan.request.remove ? "no longer declares" : "declares"} "${plan.request.name}"`;
    if (!det.pid) return { ok: true, message: `${msg}; CRI-O is not running here`, details: [] };
    if (startedBeforeChange(det.pid, [plan.configPath], root.local))
      return { ok: false, message: `${msg}, but crio pid ${det.pid} started before the change`, details: [] };
    return { ok: true, message: msg, details: [] };
  },
};
