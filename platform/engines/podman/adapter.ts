// Podman: `[engine.runtimes] <name> = [path]` in a containers.conf.d drop-in (or the
// file CONTAINERS_CONF / --config names). Podman 4.3 has no [engine.runtimes_flags],
// so runtime args go into a wrapper script registered as the runtime's path. Podman
// reads its config on every command: nothing to reload; verified by running a
// container of a local image under the runtime.
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ensureProbeImage } from "../../probe/images.ts";
import { run, failureText } from "../../os/spawn.ts";
import { findTool } from "../../os/which.ts";
import { applyPlan, readIfAbsolute, readOrNull } from "../edit/apply.ts";
import {
  buildPlan,
  dropInHeader,
  refuseIfManaged,
  registerChange,
  unregisterChange,
  type PlannedEdit,
} from "../edit/plan.ts";
import { parseWrapper, planWrapper, wrapperPath } from "../edit/runtime-args.ts";
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
import { showPath, TomlDoc } from "../edit/toml-edit.ts";
import {
  EngineConfigError,
  type EngineAdapter,
  type EngineContext,
  type EngineDetection,
  type EngineInspection,
  type FileChange,
  type Plan,
  type RuntimeRequest,
  type VerifyResult,
} from "../types.ts";

import { GVISOR_SIGNATURE } from "../../runsc/binaries.ts";
const RUNTIMES = ["engine", "runtimes"];

export type PodmanConfigFile = LayerFile<string[]>;

/** containers.conf text → the runtimes it declares (each a list of paths). Pure. */
export function inspectContainersConf(text: string | null, path: string): PodmanConfigFile {
  return readLayer(text, path, (doc) => {
    const runtimes: Record<string, string[]> = {};
    for (const [k, v] of Object.entries<any>(getPath(doc, RUNTIMES) ?? {}))
      if (Array.isArray(v)) runtimes[k] = v.map(String);
    const r = getPath(doc, ["engine", "runtime"]);
    return { runtimes, defaultRuntime: typeof r === "string" ? r : null };
  });
}

/** Files podman reads, in order (later wins per key); CONTAINERS_CONF replaces them all. */
export function podmanConfigFiles(
  env: NodeJS.ProcessEnv,
  uid: number,
  list: (dir: string) => string[] = readdirSync,
): string[] {
  if (env.CONTAINERS_CONF) return [env.CONTAINERS_CONF];
  const dropIns = (dir: string) => confDropIns(dir, list);
  const files = [
    "/usr/share/containers/containers.conf",
    "/etc/containers/containers.conf",
    ...dropIns("/etc/containers/containers.conf.d"),
  ];
  if (uid !== 0) {
    const user = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "containers");
    files.push(join(user, "containers.conf"), ...dropIns(join(user, "containers.conf.d")));
  }
  return files;
}

/** The file `configure podman` edits: --config (a file, or a directory for a drop-in), CONTAINERS_CONF, else a drop-in. */
export function podmanTarget(
  configPath: string | undefined,
  env: NodeJS.ProcessEnv,
  uid: number,
  name: string,
): { path: string; dropIn: boolean; source: string } {
  if (configPath)
    return namesDropInDir(configPath)
      ? { path: gvisorDropIn(configPath, name), dropIn: true, source: "--config (drop-in directory)" }
      : { path: configPath, dropIn: false, source: "--config" };
  if (env.CONTAINERS_CONF)
    return { path: env.CONTAINERS_CONF, dropIn: false, source: "CONTAINERS_CONF (podman reads only this file)" };
  const dir =
    uid === 0
      ? "/etc/containers/containers.conf.d"
      : join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "containers", "containers.conf.d");
  return {
    path: gvisorDropIn(dir, name),
    dropIn: true,
    source: uid === 0 ? "system drop-in" : "rootless user drop-in",
  };
}

export function podmanSnippet(req: RuntimeRequest, wrapperDir: string): string {
  if (req.remove) return `delete ${req.name} from [engine.runtimes] (and runtime = "${req.name}" from [engine])`;
  const args = req.runtimeArgs ?? [];
  const binary = args.length ? wrapperPath(wrapperDir, "podman", req.name) : req.runscPath;
  const wrapper = args.length
    ? `# ${binary} is an executable script:\n#   #!/bin/sh\n#   exec ${[req.runscPath, ...args].join(" ")} "$@"\n`
    : "";
  return `${wrapper}[engine.runtimes]\n${req.name} = [${JSON.stringify(binary)}]\n${req.makeDefault ? `\n[engine]\nruntime = ${JSON.stringify(req.name)}\n` : ""}`;
}

export interface PodmanPlanInput {
  target: string;
  read: (path: string) => string | null;
  wrapperDir: string;
  request: RuntimeRequest;
  force: boolean;
}

export function planPodman(input: PodmanPlanInput): PlannedEdit {
  const { target, read, request: req } = input;
  const notes: string[] = [];
  const before = read(target);
  const text = before ?? dropInHeader("podman", req.name);
  const parsed = parseTomlStrict(text, target);
  const existingPaths = getPath(parsed, [...RUNTIMES, req.name]) as unknown;
  const existing = Array.isArray(existingPaths) ? existingPaths.map(String) : null;
  const oldBinary = existing?.[0] ?? null;
  const doc = new TomlDoc(text, { quote: '"', step: 0, blankBetweenTables: true });
  const mutations: ((d: Record<string, any>) => void)[] = [];
  const changes: FileChange[] = [];
  const wrapperFor = (args: string[] | null) =>
    planWrapper({
      engine: "podman",
      name: req.name,
      runsc: req.runscPath,
      args,
      wrapperDir: input.wrapperDir,
      oldBinary,
      read,
      why: "podman 4.3 has no [engine.runtimes_flags] to pass runtime arguments",
      config: target,
    });
  const refuseConflicts = (path: string[]) => {
    const c = doc.conflicts(path)[0];
    if (c)
      throw new EngineConfigError(
        `${target}:${c.line}: ${c.message}`,
        { file: target, line: c.line },
        `write it as an [${showPath(path)}] table, or add the runtime by hand`,
        podmanSnippet(req, input.wrapperDir),
        "toml-shape",
      );
  };

  if (req.remove) {
    if (!existing) return { changes, existed: false, notes, effective: null };
    if (before !== null) refuseIfManaged(target, before, input.force, podmanSnippet(req, input.wrapperDir));
    doc.unset(RUNTIMES, req.name);
    mutations.push((d) => deleteIn(d, [...RUNTIMES, req.name]));
    if (getPath(parsed, ["engine", "runtime"]) === req.name) {
      doc.unset(["engine"], "runtime");
      mutations.push((d) => deleteIn(d, ["engine", "runtime"]));
      notes.push(`[engine] runtime was "${req.name}": removed (podman's default applies again)`);
    }
    // Tables left empty go too (an empty table means nothing to podman).
    doc.dropIfEmpty(RUNTIMES);
    doc.dropIfEmpty(["engine"]);
    verifyTomlEdit(text, doc.text, target, (d) => mutations.forEach((m) => m(d)));
    changes.push(unregisterChange(target, before, doc.text, req.name), ...wrapperFor([]).changes);
    return { changes, existed: true, notes, effective: null };
  }

  if (before !== null) refuseIfManaged(target, before, input.force, podmanSnippet(req, input.wrapperDir));
  const w = wrapperFor(req.runtimeArgs);
  changes.push(...w.changes);
  const value = [w.binary];
  if (!doc.table(RUNTIMES)) {
    refuseConflicts(RUNTIMES);
    doc.addTable(RUNTIMES, [[req.name, value]]);
  } else doc.set(RUNTIMES, req.name, value);
  mutations.push((d) => setIn(d, [...RUNTIMES, req.name], value));
  if (req.makeDefault) {
    if (doc.table(["engine"])) doc.set(["engine"], "runtime", req.name);
    else {
      refuseConflicts(["engine"]);
      doc.addTable(["engine"], [["runtime", req.name]]);
    }
    mutations.push((d) => setIn(d, ["engine", "runtime"], req.name));
  }
  const registered = registerChange(target, before, doc.text, req.name, text, mutations);
  if (registered) changes.unshift(registered);
  if (w.args.length)
    notes.push(`runtime args go through the wrapper ${w.binary} (podman 4.3 cannot pass them from containers.conf)`);
  return { changes, existed: !!existing, notes, effective: { path: w.binary, args: w.args }, relies: w.relies };
}

// ---------------------------------------------------------------------------------

export interface PodmanDetection extends EngineDetection {
  /** The file configure edits, and whether it is a drop-in we name. */
  dropIn: boolean;
  uid: number;
}

export const podmanAdapter: EngineAdapter<PodmanDetection> = {
  name: "podman",
  title: "Podman",
  liveReload: true,
  runtimeFlag: (flag) => flag,
  configDirs: true,
  startFailureLog: { rerun: "podman --log-level=debug" },
  ownedByUser: () => true,
  loadedRuntime: () => null,

  async detect(ctx: EngineContext): Promise<PodmanDetection> {
    const binary = findTool("podman", ctx.env);
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    let version: string | null = null;
    if (binary && !ctx.lightDetect) {
      const r = await run(binary, ["--version"], { timeoutMs: 10_000, env: ctx.env });
      version = r.code === 0 ? (r.stdout.match(/version (\S+)/)?.[1] ?? null) : null;
    }
    // The target depends on the runtime name (99-gvisor.conf vs 99-gvisor-<name>.conf): plan() recomputes it.
    const t = podmanTarget(ctx.configPath, ctx.env, uid, "runsc");
    const notes = [`config: ${t.source}`];
    if (ctx.env.CONTAINERS_CONF && ctx.configPath && ctx.configPath !== ctx.env.CONTAINERS_CONF)
      notes.push(`CONTAINERS_CONF=${ctx.env.CONTAINERS_CONF}: podman reads only that file, not ${ctx.configPath}`);
    return {
      engine: "podman",
      installed: !!binary,
      binary,
      running: false,
      pid: null,
      version,
      configPath: t.path,
      configSource: t.source,
      managedBy: managedByTool(readOrNull(t.path)),
      systemdUnit: null,
      notes,
      dropIn: t.dropIn,
      uid,
    };
  },

  async inspect(det, ctx): Promise<EngineInspection> {
    const files = podmanConfigFiles(ctx.env, det.uid).map((f) => inspectContainersConf(readOrNull(f), f));
    return mergeLayers("podman", det.configPath, files, (name, paths, f) => {
      // Podman uses the first path that exists.
      const first = paths.find((p) => readIfAbsolute(p) !== null) ?? paths[0] ?? null;
      const w = parseWrapper(readIfAbsolute(first));
      return { name, path: w?.runsc ?? first, args: w?.args ?? [], source: { file: f.path }, raw: paths };
    });
  },

  async plan(det, req, ctx): Promise<Plan> {
    const t = podmanTarget(ctx.configPath, ctx.env, det.uid, req.name);
    const r = planPodman({
      target: t.path,
      read: readOrNull,
      wrapperDir: ctx.wrapperDir,
      request: req,
      force: ctx.force,
    });
    return buildPlan({ engine: "podman", request: req, configPath: t.path, ...r });
  },

  async apply(plan, ctx) {
    return applyPlan(plan, { now: ctx.now(), log: ctx.log });
  },

  async reload() {
    return {
      action: "not-needed",
      method: null,
      command: null,
      message: "podman reads its configuration on every command",
    };
  },

  async verify(det, plan, ctx): Promise<VerifyResult> {
    if (!det.binary) return { ok: null, message: "not verified: podman is not installed", details: [] };
    const name = plan.request.name;
    if (plan.request.remove) {
      const still = inspectContainersConf(readOrNull(plan.configPath), plan.configPath).runtimes[name];
      return still
        ? { ok: false, message: `${plan.configPath} still declares "${name}"`, details: [] }
        : { ok: true, message: `${plan.configPath} no longer declares "${name}"`, details: [] };
    }
    const refused = await podmanInfoError(det.binary, ctx.env);
    if (refused) {
      return { ok: false, message: `podman refuses its config after the edit: ${refused.message}`, details: [] };
    }
    let image: string;
    try {
      image = (await ensureProbeImage(det.binary, ctx.env)).tag;
    } catch (e) {
      return { ok: false, message: `could not build the local probe image: ${(e as Error).message}`, details: [] };
    }
    const args = ["--runtime", name, "run", "--rm", "--network", "none", image, "dmesg"];
    const r = await run(det.binary, args, { timeoutMs: 90_000, env: ctx.env });
    const cmd = `podman ${args.join(" ")}`;
    const sig = r.stdout.split("\n").find((l) => l.includes(GVISOR_SIGNATURE));
    if (r.code === 0 && sig)
      return {
        ok: true,
        message: `\`podman --runtime ${name} run\` shows "${sig.trim()}" (${r.durationMs} ms)`,
        details: [`$ ${cmd}`],
      };
    if (r.code === 0)
      return {
        ok: false,
        message: `the container ran, but not under gVisor (no "${GVISOR_SIGNATURE}" in dmesg)`,
        details: [`$ ${cmd}`, ...r.stdout.split("\n").slice(0, 3)],
      };
    return {
      ok: false,
      message: `\`podman --runtime ${name} run\` failed: ${failureText(r)}`,
      details: [`$ ${cmd}`, ...r.stderr.trim().split("\n").slice(-5)],
    };
  },
};

/**
 * What `podman info` says when it cannot start (null when it runs). Podman logs as logrus:
 * time="…" level=error msg="reading system config \"F\": decode configuration F: toml: line N …";
 * the msg is the message, and its file the config that broke.
 */
export async function podmanInfoError(
  binary: string,
  env: NodeJS.ProcessEnv,
): Promise<{ message: string; file: string | null } | null> {
  const r = await run(binary, ["info", "--format", "{{.Host.OCIRuntime.Name}}"], { timeoutMs: 20_000, env });
  if (r.code === 0) return null;
  const m = r.stderr.match(/msg="((?:[^"\\]|\\.)*)"/);
  const message = m ? m[1].replace(/\\(.)/g, "$1") : failureText(r);
  const file = message.match(/(?:reading system config|decode configuration) "?([^":]+)"?/)?.[1] ?? null;
  return { message, file };
}
