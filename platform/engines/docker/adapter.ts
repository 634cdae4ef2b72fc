// Docker: the adapter. runtimes in the daemon.json dockerd reads (daemon-json.ts plans
// the edit), reloaded with `systemctl reload` or SIGHUP (dockerd reloads runtimes without
// a restart), verified with dockerd's info (GET /info on its socket, or `docker info`).
import {
  daemonConfigPath,
  dockerCli,
  dockerEndpoint,
  dockerHost,
  dockerInfoVia,
  dockerdServing,
  type DockerEndpoint,
} from "./client.ts";
import { sameFile } from "../../os/fsutil.ts";
import { findProcesses, DOCKERD_VALUE_FLAGS } from "../../os/processes.ts";
import { findTool } from "../../os/which.ts";
import { applyPlan, readOrNull } from "../edit/apply.ts";
import { notRunning, systemctl, systemdUnitOf } from "../daemon-control.ts";
import { flagConflicts, inspectConfig, planDaemonJson, sameArgs, type DaemonJsonPlan } from "./daemon-json.ts";
import { validateDaemonJson } from "./validate.ts";
import { buildPlan } from "../edit/plan.ts";
import { managedByTool } from "../edit/text.ts";
import { EngineConfigError } from "../types.ts";
import type {
  DeclaredRuntime,
  EngineAdapter,
  EngineContext,
  EngineDetection,
  EngineInspection,
  FileChange,
  Plan,
  ReloadOptions,
  ReloadResult,
  VerifyResult,
} from "../types.ts";

// The read side, for the doctor's checks: docker.inspectConfig(path) and friends.
export {
  dockerSnippet,
  flagConflicts,
  inspectConfig,
  inspectDaemonJson,
  planDaemonJson,
  type AfterReload,
  type DaemonJsonInspection,
  type DaemonJsonPlan,
  type DaemonJsonPlanInput,
  type DockerRuntimeEntry,
} from "./daemon-json.ts";
import { sleep } from "../../os/sleep.ts";

export interface DockerDetection extends EngineDetection {
  host: string;
  cli: string | null;
  /** argv of the dockerd behind DOCKER_HOST (null when none runs here). */
  daemonArgv: string[] | null;
  /** The daemon.json that dockerd reads (may differ from configPath with --config). */
  daemonConfigPath: string | null;
}

/** What the messages call dockerd's info: the CLI command, or the API request. */
const infoName = (ep: DockerEndpoint) => (ep.via === "cli" ? "docker info" : "dockerd's GET /info");

/** The daemon.json change that waits until dockerd has dropped the runtime (a removal's), if any. */
function afterReloadChanges(path: string, p: DaemonJsonPlan): FileChange[] {
  const a = p.afterReload;
  if (a.kind === "nothing") return [];
  if (a.kind === "delete") {
    const reason = "daemon.json held only gvisor-doctor's entries";
    return [{ path, before: p.after, after: null, action: "delete", backup: false, reason }];
  }
  const reason = 'the empty "runtimes" dockerd needed to drop the runtime';
  return [{ path, before: p.after, after: a.text, action: "modify", backup: false, reason }];
}

export const dockerAdapter: EngineAdapter<DockerDetection> = {
  name: "docker",
  title: "Docker",
  liveReload: true,
  runtimeFlag: (flag) => `--${flag}`,
  configDirs: false,
  startFailureLog: { unit: "docker" },
  ownedByUser: (daemons) => !!daemons.docker?.info?.rootless,
  loadedRuntime: (name, daemons) => {
    const r = daemons.docker?.info?.runtimes[name];
    return r ? { path: r.path ?? null, args: r.runtimeArgs ?? [] } : null;
  },

  async detect(ctx: EngineContext): Promise<DockerDetection> {
    const env = ctx.env;
    // The daemon as the facts reached it (the snapshot), else found here.
    const known = ctx.daemons?.docker;
    const host = known?.host ?? dockerHost(env);
    const daemon = known
      ? known.daemon
      : dockerdServing(host, ctx.daemons?.dockerd ?? findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS));
    const daemonCfg = daemon ? daemonConfigPath(daemon, env) : null;
    const configPath = ctx.configPath ?? daemonCfg ?? daemonConfigPath(null, env);
    const binary = findTool("dockerd", env);
    const cli = known?.cli ?? dockerCli(env);
    const running = !!daemon && !!daemonCfg && sameFile(configPath, daemonCfg);
    const notes = [`DOCKER_HOST ${host}`];
    if (daemon) notes.push(`dockerd pid ${daemon.pid} reads ${daemonCfg}`);
    if (daemon && !running)
      notes.push(`--config ${configPath} is not the file dockerd pid ${daemon.pid} reads: it is not reloaded`);
    // `dockerd --version` costs ~60 ms (Go start-up) and planning does not need it: only facts' docker info.
    const version = known?.info?.serverVersion || null;
    let managedBy: string | null = null;
    try {
      managedBy = managedByTool(readOrNull(configPath));
    } catch {}
    return {
      engine: "docker",
      installed: !!binary || !!cli,
      binary,
      running,
      pid: daemon?.pid ?? null,
      version,
      configPath,
      configSource: ctx.configPath
        ? "--config"
        : daemon?.flags["--config-file"]?.length
          ? `--config-file of dockerd pid ${daemon.pid}`
          : daemon
            ? `default for dockerd pid ${daemon.pid}`
            : "default",
      managedBy,
      systemdUnit: daemon ? systemdUnitOf(daemon.pid) : null,
      notes,
      host,
      cli,
      daemonArgv: daemon?.argv ?? null,
      daemonConfigPath: daemonCfg,
    };
  },

  async inspect(det): Promise<EngineInspection> {
    const ins = inspectConfig(det.configPath);
    if (det.running && det.daemonArgv) ins.faults.push(...flagConflicts(det.configPath, ins, det.daemonArgv));
    const runtimes: Record<string, DeclaredRuntime> = {};
    for (const [name, r] of Object.entries(ins.runtimes ?? {}))
      runtimes[name] = {
        name,
        path: r.path,
        args: r.runtimeArgs,
        source: { file: det.configPath, line: r.line },
        raw: r.raw,
      };
    return {
      engine: "docker",
      configPath: det.configPath,
      files: [{ path: det.configPath, exists: ins.exists, managedBy: ins.managedBy }],
      runtimes,
      defaultRuntime: ins.defaultRuntime,
      faults: ins.faults,
    };
  },

  async plan(det, req, ctx): Promise<Plan> {
    const before = readOrNull(det.configPath);
    const p = planDaemonJson({
      file: det.configPath,
      before,
      request: req,
      force: ctx.force,
      daemonArgv: det.running ? det.daemonArgv : null,
    });
    const change: FileChange | null =
      p.after === before
        ? null
        : {
            path: det.configPath,
            before,
            after: p.after,
            action: before === null ? "create" : p.after === null ? "delete" : "modify",
            reason: req.remove ? `unregister runtime "${req.name}"` : `register runtime "${req.name}"`,
          };
    const notes = [...p.notes];
    // The node's dockerd under --host-root is not ours to run; --force writes whatever dockerd thinks.
    if (change?.after && det.binary && !ctx.root?.foreign) {
      const v = await validateDaemonJson(det.binary, change.after, det.configPath);
      if (v.ok === false && !ctx.force) {
        const now = before === null ? null : await validateDaemonJson(det.binary, before, det.configPath);
        const already = now?.ok === false ? " (dockerd refuses the current file too: the edit is not the cause)" : "";
        const message = `dockerd --validate refuses the planned ${det.configPath}${already}: ${v.message}`;
        const hint = "fix the key dockerd names, or pass --force to write it anyway";
        throw new EngineConfigError(message, { file: det.configPath }, hint, null, "dockerd-invalid");
      }
      notes.push(v.message);
    }
    const afterReload: FileChange[] = afterReloadChanges(det.configPath, p);
    return buildPlan({
      engine: "docker",
      request: req,
      configPath: det.configPath,
      existed: p.existed,
      changes: [change],
      afterReload,
      notes,
      effective: p.effective,
    });
  },

  async apply(plan, ctx) {
    return applyPlan(plan, { now: ctx.now(), log: ctx.log });
  },

  async reload(det, _plan, opts: ReloadOptions): Promise<ReloadResult> {
    if (!det.pid) return notRunning("dockerd");
    if (!det.running)
      return {
        action: "skipped",
        method: null,
        command: null,
        message: `dockerd pid ${det.pid} reads ${det.daemonConfigPath}, not ${det.configPath}`,
      };
    const command = det.systemdUnit ? `systemctl reload ${det.systemdUnit}` : `kill -HUP ${det.pid}`;
    if (!opts.reload)
      return {
        action: "pending",
        method: null,
        command,
        message: `--no-reload: dockerd picks the change up after: ${command}`,
      };
    if (det.systemdUnit) {
      const r = await systemctl("reload", det.systemdUnit);
      return r.ok
        ? { action: "reloaded", method: r.command, command: null, message: `reloaded with ${r.command}` }
        : { action: "failed", method: r.command, command, message: `${r.command} failed: ${r.message}` };
    }
    try {
      process.kill(det.pid, "SIGHUP");
    } catch (e) {
      return {
        action: "failed",
        method: `SIGHUP to dockerd pid ${det.pid}`,
        command,
        message: `cannot signal dockerd pid ${det.pid}: ${(e as Error).message}`,
      };
    }
    return {
      action: "reloaded",
      method: `SIGHUP to dockerd pid ${det.pid}`,
      command: null,
      message: `sent SIGHUP to dockerd pid ${det.pid}`,
    };
  },

  // dockerd runs every container through containerd: after containerd restarts, dockerd answers
  // `docker info` at once but starts containers only once it reconnected (its containerd commit is
  // "N/A" until then); a container started before that exits without a word.
  dependsOn: ["containerd"],

  async ready(ctx) {
    const daemon = dockerdServing(dockerHost(ctx.env), findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS));
    const ep = dockerEndpoint(ctx.env);
    if (!daemon || !ep.via) return null;
    const { info, error } = await dockerInfoVia(ep, ctx.env);
    if (!info) return { ok: false, message: `${infoName(ep)} failed: ${(error ?? "").slice(-300)}` };
    const commit = info.containerdCommit;
    if (commit === "N/A")
      return { ok: false, message: `dockerd pid ${daemon.pid} has not reconnected to containerd yet` };
    return {
      ok: true,
      message: `dockerd pid ${daemon.pid} answers and reaches containerd${commit ? ` ${commit}` : ""}`,
    };
  },

  async verify(det, plan, ctx, opts): Promise<VerifyResult> {
    if (!det.running) return { ok: null, message: "not verified: no running dockerd reads this file", details: [] };
    const ep = dockerEndpoint(ctx.env);
    if (!ep.via) return { ok: null, message: `not verified: ${ep.why}`, details: [] };
    const said = infoName(ep);
    const name = plan.request.name;
    const want = plan.effective;
    // Right after a reload dockerd may take a moment; otherwise one look says whether it is live.
    const deadline = Date.now() + (opts?.afterReload ? 20_000 : 0);
    let last = "";
    for (;;) {
      const { info, error } = await dockerInfoVia(ep, ctx.env);
      if (info) {
        const rt = info.runtimes[name];
        last = Object.entries(info.runtimes)
          .map(
            ([k, v]) =>
              `${k}${v.path && v.path !== k ? ` → ${v.path}` : ""}${v.runtimeArgs?.length ? ` ${v.runtimeArgs.join(" ")}` : ""}`,
          )
          .join(", ");
        if (plan.request.remove ? !rt : rt && want && rt.path === want.path && sameArgs(rt.runtimeArgs, want.args)) {
          const args = want?.args.length ? ` ${want.args.join(" ")}` : ""; // no `want` for --remove
          const msg = plan.request.remove
            ? `${said} no longer lists "${name}"`
            : `${said} lists ${name} → ${rt!.path}${args}`;
          return { ok: true, message: msg, details: [`${said} runtimes: ${last}`] };
        }
      } else last = error ?? "";
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    // The usual reason a reload is ignored: a key set both in the file and as a dockerd flag.
    const conflicts = det.daemonArgv
      ? flagConflicts(det.configPath, inspectConfig(det.configPath), det.daemonArgv)
      : [];
    return {
      ok: false,
      message: `${plan.request.remove ? `dockerd still lists "${name}" after the reload` : `dockerd does not list "${name}" as configured after the reload`}${conflicts.length ? `: ${conflicts[0].message}` : ""}`,
      details: [
        `${said} runtimes: ${last}`,
        ...conflicts.map((c) => c.message),
        'dockerd logs why a reload failed ("Error reloading configuration"); a restart also loads the file',
      ],
    };
  },
};
