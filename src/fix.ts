// `gvisor-doctor --fix`: run the matrix, apply the automatic fixes of failing checks in
// dependency order, re-run the matrix, and repeat while a fix uncovers the next problem
// (e.g. registering runsc lets the hello container run into the sandbox-network
// failure, whose fix is a runtime argument). A fix is a typed action (checks/fix-actions.ts):
// the report prints the command rendered from it, and --fix hands the request that command
// makes to the services (configureEngines, the installer) with the facts it already has.
import { chmodSync, existsSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { ConfigureAction, Finding, Fix, FixAction, InstallAction } from "../checks/types.ts";
import { actionArgv, fixPhase, withAction } from "../checks/fix-actions.ts";
import { registerFix } from "../checks/rules.ts";
import { userOwnedFix } from "../checks/runner.ts";
import type { PathPermission } from "../platform/runsc/binaries.ts";
import { ENGINES } from "../platform/engines/index.ts";
import { ENGINE_NAMES, type EngineName } from "../platform/engines/types.ts";
import type { HostFacts } from "../platform/facts/host-facts.ts";
import { hostRootAt } from "../platform/os/host-root.ts";
import { failureText, run } from "../platform/os/spawn.ts";
import type { IO, Parsed } from "./args.ts";
import { exitCodeFor, printReport, runCheckMatrix, type CheckRun } from "./commands/check-run.ts";
import { configureEngines, renderConfigureReport, type ConfigureRequest } from "./commands/configure.ts";
import type { InstallOptions } from "./commands/install.ts";
import { EXIT, UsageError } from "../platform/os/errors.ts";
import { reportError } from "./run-command.ts";
import { reportJson } from "./report/json.ts";
import { matrixCells } from "./report/matrix.ts";
import { SYMBOL, colorFor } from "./report/human.ts";

const MAX_ROUNDS = 3;

export interface PlannedFix {
  fix: Fix;
  /** Checks whose failure asked for it. */
  checks: string[];
  /** Data of the first such finding (e.g. the paths with bad permissions). */
  data?: unknown;
  /** The rule each of `checks` failed with: the fix is verified when none fails with it again. */
  rules?: (string | undefined)[];
}

export type FixStatus = "applied" | "failed" | "declined" | "pending-restart" | "planned";

export interface FixRecord {
  id: string;
  checks: string[];
  summary: string;
  command: string | null;
  status: FixStatus;
  message: string;
  round: number;
}

type Engine = EngineName;
/** The engine an id prefix names (`crio` of `crio.register-runtime`), else null. */
const engineNamed = (s: string | undefined): Engine | null =>
  (ENGINE_NAMES as readonly (string | undefined)[]).includes(s) ? (s as Engine) : null;

/** The runsc runtime an engine already declares (path and args), from the facts. */
function existingRuntime(facts: HostFacts, engine: Engine): { path: string | null; args: string[] } | null {
  // What the config declares, else what the running engine says it loaded (dockerd's --add-runtime flags).
  const declared = facts.engines?.[engine]?.inspection?.runtimes.runsc;
  const loaded = ENGINES[engine].loadedRuntime("runsc", facts);
  if (!declared && !loaded) return null;
  return { path: declared?.path ?? loaded?.path ?? null, args: declared?.args ?? loaded?.args ?? [] };
}

/** The engine a `<engine>.register-runtime` fix registers with, else null. */
const engineOfFix = (fix: Fix): Engine | null => {
  return engineNamed(fix.id.replace(/\.register-runtime$/, ""));
};

/** Fixes that do the same thing to the same target merge into one (their runtime args united). */
const mergeKey = (fix: Fix) => {
  const argv = fix.action && actionArgv(fix.action);
  return argv ? `${fix.id} ${argv[0]} ${argv[1] ?? ""}` : fix.id;
};

/** One action doing what both do: flags either asks for, runtime args of both (first ones first). */
function merged(a: FixAction, b: FixAction): FixAction {
  if (a.kind === "configure" && b.kind === "configure") {
    const args = [...(a.runtimeArgs ?? []), ...(b.runtimeArgs ?? [])].filter((x, i, all) => all.indexOf(x) === i);
    return {
      ...a,
      ...(args.length ? { runtimeArgs: args } : {}),
      ...(a.migrate || b.migrate ? { migrate: true } : {}),
      ...(a.restart || b.restart ? { restart: true } : {}),
      ...((a.runsc ?? b.runsc) ? { runsc: a.runsc ?? b.runsc } : {}),
    };
  }
  if (a.kind === "install" && b.kind === "install") {
    return { ...b, ...a, ...(a.force || b.force ? { force: true } : {}) };
  }
  return a;
}

/**
 * The fixes to apply for `findings`: automatic ones of failing checks, merged per fix
 * id (runtime arguments united), in dependency order.
 */
export function planFixes(findings: Finding[], facts: HostFacts): PlannedFix[] {
  const byKey = new Map<string, PlannedFix>();
  /** Add `fix` for `checks` (failing with `rules`), merged with a planned fix of the same key. */
  const add = (fix: Fix, checks: string[], rules: (string | undefined)[], data?: unknown) => {
    const prev = byKey.get(mergeKey(fix));
    if (!prev) return void byKey.set(mergeKey(fix), { fix, checks: [...checks], data, rules: [...rules] });
    prev.checks.push(...checks);
    prev.rules?.push(...rules);
    if (prev.fix.action && fix.action) prev.fix = withAction(prev.fix, merged(prev.fix.action, fix.action));
  };
  for (const f of findings) {
    const fix = f.diagnosis?.fix;
    if (f.status === "fail" && fix?.automatic) add(fix, [f.id], [f.diagnosis?.rule], f.data);
  }
  const registered = ENGINE_NAMES.filter((e) => existingRuntime(facts, e));
  // A broken runsc an engine points at (an HTML page saved as runsc): reinstalling runsc alone leaves the engine on
  // the broken file, so also point that engine at the reinstalled runsc. A runsc that is itself broken (built with a
  // Go its release does not know) is replaced by the install: every engine registered with runsc is pointed at it.
  for (const f of findings) {
    if (f.status !== "fail" || f.diagnosis?.fix?.id !== "runsc.install") continue;
    const itself = f.diagnosis.rule === "runsc-go-toolchain" || f.diagnosis.rule === "runsc-goroutine-panic";
    const engine = engineNamed(/^([^.]+)\./.exec(f.id)?.[1]);
    for (const e of new Set([...(engine ? [engine] : []), ...(itself ? registered : [])])) {
      const summary = `Point ${e}'s runsc runtime at the reinstalled runsc`;
      add(registerFix({ facts, engine: e, runtime: "runsc" }, summary), [f.id], [f.diagnosis.rule]);
    }
  }
  // A runtime flag for "all" engines (from runsc.smoke: runsc run directly) becomes one fix per engine that has runsc
  // registered, so each keeps the flags it already has (configure replaces a runtime's args): seen on sid, where a
  // "configure all --runtime-arg=--ignore-cgroups" dropped every engine's --network=none and broke all hellos.
  for (const [key, p] of [...byKey]) {
    const a = p.fix.action;
    if (a?.kind !== "configure" || !a.engines.includes("all") || !a.runtimeArgs?.length || !registered.length) continue;
    byKey.delete(key);
    for (const engine of registered) {
      add(
        registerFix({ facts, engine, runtime: "runsc" }, p.fix.summary, a.runtimeArgs),
        p.checks,
        p.rules ?? [],
        p.data,
      );
    }
  }
  const planned = [...byKey.values()].sort((a, b) => fixPhase(a.fix.action) - fixPhase(b.fix.action));
  for (const p of planned) {
    const a = p.fix.action;
    if (!a) continue;
    // Adding a runtime arg changes only the args: keep the runtime's path (configure would
    // otherwise pick its default runsc) and the args already there (configure replaces them).
    const engine = engineOfFix(p.fix);
    const existing = engine && existingRuntime(facts, engine);
    let action = a;
    if (existing && a.kind === "configure" && a.runtimeArgs?.length) {
      const runsc = !a.runsc && existing.path?.startsWith("/") && existsSync(existing.path) ? existing.path : a.runsc;
      // Podman spells flags without dashes (network=none), the others with: the same flag either way.
      const bare = (x: string) => x.replace(/^--?/, "");
      const adding = new Set(a.runtimeArgs.map(bare));
      const args = [...existing.args.filter((x) => !adding.has(bare(x))), ...a.runtimeArgs];
      action = { ...a, runtimeArgs: args, ...(runsc ? { runsc } : {}) };
    }
    // The engines a normal user runs themselves (rootless Podman, a rootless dockerd) need no sudo.
    p.fix = withAction(p.fix, action, !userOwnedFix(p.fix, facts));
  }
  return planned;
}

const fixKey = (p: PlannedFix) => `${p.fix.id} ${(p.fix.argv ?? []).join(" ")}`;

async function askYes(question: string, io: IO): Promise<boolean> {
  if (!io.interactive || io.json) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** An IO for a nested command: its output is ours, indented, and never on stdout in --json mode. */
function nestedIO(io: IO): IO {
  const indent = (w: (s: string) => void) => (s: string) =>
    w(
      s
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => `      ${l}`)
        .join("\n"),
    );
  return {
    ...io,
    json: false,
    stdout: indent(io.json ? io.stderr : io.stdout),
    stderr: indent(io.stderr),
    spinner: false,
  };
}

function chmodAll(bad: PathPermission[]): string[] {
  const done: string[] = [];
  for (const b of bad) {
    const mode = statSync(b.path).mode & 0o7777;
    chmodSync(b.path, mode | 0o555);
    done.push(`${b.path}: ${mode.toString(8).padStart(4, "0")} → ${(mode | 0o555).toString(8).padStart(4, "0")}`);
  }
  return done;
}

interface Applied {
  status: FixStatus;
  message: string;
  /** The fix changed what the facts describe (runsc binaries, an engine's process): later fixes detect afresh. */
  changedFacts?: boolean;
}

async function applyOne(p: PlannedFix, io: IO, dryRun: boolean, facts: HostFacts | null): Promise<Applied> {
  const a = p.fix.action;
  if (a?.kind === "chmod") {
    const bad = (p.data as PathPermission[] | undefined) ?? [];
    if (dryRun) return { status: "planned", message: `would chmod a+rx ${bad.map((b) => b.path).join(" ")}` };
    try {
      return { status: "applied", message: chmodAll(bad).join("; ") };
    } catch (e) {
      return { status: "failed", message: (e as Error).message };
    }
  }
  if (a?.kind === "kubectl-apply") {
    const kubectl = (p.data as { kubectl?: string } | undefined)?.kubectl ?? "kubectl";
    if (dryRun) return { status: "planned", message: `would apply:\n${a.manifest}` };
    const r = await run(kubectl, ["apply", "-f", "-"], { input: a.manifest, timeoutMs: 30_000, env: io.env });
    return r.code === 0
      ? { status: "applied", message: r.stdout.trim() || "RuntimeClass created" }
      : { status: "failed", message: failureText(r) };
  }
  if (!a || !p.fix.argv) return { status: "failed", message: `no automatic action for ${p.fix.id}` };
  const nested = nestedIO(io);
  let code: number;
  let changedFacts = a.kind === "install";
  try {
    if (a.kind === "configure") {
      const report = await configureEngines({ ...configureRequestOf(a, dryRun), facts }, nested);
      await renderConfigureReport(report, nested);
      // A restarted engine has another pid (and its dependents reconnected): the facts no longer describe it.
      changedFacts = report.engines.some((e) => e.reload?.action === "restarted");
      code = report.exitCode;
    } else {
      // An install inside --fix leaves the engines to their own fixes (the next round re-checks them).
      const { runInstall } = await import("./commands/install.ts");
      code = await runInstall({ ...installOptionsOf(a, dryRun), noConfigure: true }, nested);
    }
  } catch (e) {
    code = reportError(e, nested);
  }
  const cmd = `gvisor-doctor ${p.fix.argv.join(" ")}`;
  if (dryRun) {
    return code === EXIT.OK || code === EXIT.RESTART_PENDING
      ? { status: "planned", message: "dry run shown above" }
      : { status: "failed", message: `dry run of ${cmd} exited ${code}` };
  }
  if (code === EXIT.OK) return { status: "applied", message: "done", changedFacts };
  if (code === EXIT.RESTART_PENDING) {
    return { status: "pending-restart", message: "applied; the engine must be restarted to use it", changedFacts };
  }
  return { status: "failed", message: `${cmd} exited ${code}`, changedFacts };
}

/** The request `gvisor-doctor configure …` (the action's rendered command) makes: test/unit/fix-actions.test.ts. */
export function configureRequestOf(a: ConfigureAction, dryRun: boolean): ConfigureRequest {
  const engines = a.engines.includes("all") ? undefined : (a.engines as EngineName[]);
  return {
    engines,
    explicit: !!engines,
    configPath: undefined,
    runscPath: a.runsc,
    runtimeName: undefined,
    runtimeArgs: a.runtimeArgs?.length ? [...a.runtimeArgs] : undefined,
    makeDefault: false,
    remove: false,
    dryRun,
    reload: true,
    restart: !!a.restart,
    verify: true,
    force: false,
    migrate: !!a.migrate,
    marker: false,
    wrapperDir: undefined,
    hostRoot: hostRootAt(a.hostRoot),
    restartCommand: null,
  };
}

/** The options `gvisor-doctor install …` (the action's rendered command) runs with: test/unit/fix-actions.test.ts. */
export function installOptionsOf(a: InstallAction, dryRun: boolean): InstallOptions {
  return {
    version: a.version,
    mirror: undefined,
    prefix: a.prefix,
    sha512: undefined,
    format: undefined,
    verify: undefined,
    source: undefined,
    keyring: undefined,
    allowDowngrade: false,
    crossCheck: false,
    noConfigure: false,
    dryRun,
    force: !!a.force,
    runtimeArgs: undefined,
    restart: false,
    hostRoot: a.hostRoot,
    restartCommand: undefined,
  };
}

/**
 * A fix reported applied is verified by the re-check: when a check it was for still fails with
 * the same rule, the fix did not work (e.g. runsc reinstalled, the engine still on a broken
 * file). Such records become failed; returns them.
 */
export function unverified(records: FixRecord[], planned: PlannedFix[], after: Finding[]): FixRecord[] {
  const out: FixRecord[] = [];
  for (const r of records) {
    if (r.status !== "applied") continue;
    const p = planned.find((x) => x.fix.id === r.id && x.fix.command === r.command);
    const still = r.checks
      .map((id, i) => ({ f: after.find((x) => x.id === id), rule: p?.rules?.[i] }))
      .find(({ f, rule }) => f?.status === "fail" && (f.diagnosis?.rule ?? null) === (rule ?? null));
    if (!still?.f) continue;
    r.status = "failed";
    r.message = `applied, but ${still.f.id} still fails: ${still.f.message}`;
    out.push(r);
  }
  return out;
}

export async function runFix(p: Parsed, io: IO): Promise<number> {
  const dryRun = !!p.values["dry-run"];
  const yes = !!p.values.yes;
  const strict = !!p.values.strict;
  if (p.values["host-root"]) {
    const hint = "run the fix commands the report prints with --host-root DIR added (install, configure)";
    throw new UsageError("--fix does not take --host-root yet", hint);
  }
  const c = io.ce;
  const log = (s: string) => (io.json ? io.stderr(s) : io.stdout(s));
  const first = await runCheckMatrix(p, io);
  let last: CheckRun = first;
  const records: FixRecord[] = [];
  const attempted = new Set<string>();
  let pendingRestart = false;

  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const todo = planFixes(last.findings, last.facts).filter((f) => !attempted.has(fixKey(f)));
    if (!todo.length) break;
    // The facts this round was planned on, handed to the services until a fix changes what they describe.
    let facts: HostFacts | null = last.facts;
    log(
      c.bold(
        `${dryRun ? "Would apply" : round === 1 ? "Applying" : "Then applying"} ${todo.length} fix${todo.length === 1 ? "" : "es"}:`,
      ),
    );
    for (const [i, item] of todo.entries()) {
      attempted.add(fixKey(item));
      log(
        `  [${i + 1}/${todo.length}] ${item.fix.summary} ${c.dim(`(${item.fix.id}, for ${item.checks.join(", ")})`)}`,
      );
      if (item.fix.command) log(`      ${c.cyan(`$ ${item.fix.command.replace(/^sudo /, "")}`)}`);
      let result: Applied;
      if (item.fix.confirm && !dryRun && !yes && !(await askYes(`      This ${item.fix.confirm}. Apply it?`, io))) {
        pendingRestart = true;
        // A migration rewrites the whole config: it is what needs the yes, not only the restart.
        const a = item.fix.action;
        if (a?.kind === "configure" && a.restart && !a.migrate) {
          // Edit the config now; leave the restart to the user (exit 3 says one is pending).
          const editOnly = { ...item, fix: withAction(item.fix, { ...a, restart: false }) };
          result = await applyOne(editOnly, io, dryRun, facts);
          if (result.status === "applied")
            result = {
              status: "pending-restart",
              message: `config changed; not restarted (it ${item.fix.confirm}): re-run with --yes, or restart it yourself`,
            };
        } else
          result = {
            status: "declined",
            message: `not applied: it ${item.fix.confirm}; re-run with --yes to apply it`,
          };
      } else result = await applyOne(item, io, dryRun, facts);
      if (result.changedFacts) facts = null;
      if (result.status === "pending-restart") pendingRestart = true;
      const mark =
        result.status === "applied" || result.status === "planned"
          ? c.green("✓")
          : result.status === "failed"
            ? c.red("✗")
            : c.yellow("!");
      log(`      ${mark} ${result.status}: ${result.message}`);
      records.push({
        id: item.fix.id,
        checks: item.checks,
        summary: item.fix.summary,
        command: item.fix.command,
        status: result.status,
        message: result.message,
        round,
      });
    }
    if (dryRun) break;
    log(c.dim("Re-checking…"));
    last = await runCheckMatrix(p, io);
    const failedNow = unverified(
      records.filter((x) => x.round === round),
      todo,
      last.findings,
    );
    for (const r of failedNow) log(`      ${c.red("✗")} ${r.id}: ${r.message}`);
  }

  const before = new Map(first.findings.map((f) => [f.id, f.status]));
  const changed = last.findings.filter((f) => before.get(f.id) !== f.status);
  if (!io.json) {
    if (!records.length)
      log(
        first.findings.some((f) => f.status === "fail")
          ? "Nothing to apply automatically: the failures below need a manual fix."
          : "Nothing to fix.",
      );
    if (changed.length) {
      log(c.bold("\nbefore → after:"));
      const w = Math.max(...changed.map((f) => f.id.length));
      for (const f of changed) {
        const b = before.get(f.id) ?? "skip";
        log(
          `  ${f.id.padEnd(w)}  ${colorFor(c, b)(`${SYMBOL[b]} ${b}`)} → ${colorFor(c, f.status)(`${SYMBOL[f.status]} ${f.status}`)}`,
        );
      }
    }
    log("");
    printReport(last, io, strict);
    const manual = last.findings.filter((f) => f.status === "fail" && f.diagnosis?.fix && !f.diagnosis.fix.automatic);
    if (manual.length)
      io.stdout(
        c.yellow(
          `${manual.length} failure${manual.length === 1 ? "" : "s"} need${manual.length === 1 ? "s" : ""} a manual fix (see "fix:" above).`,
        ),
      );
    if (pendingRestart)
      io.stdout(
        c.yellow(
          "A restart is still pending: re-run with --yes to let gvisor-doctor do it, or run the command shown above.",
        ),
      );
  } else {
    const code = exitCodeFor(last.findings, strict);
    io.stdout(
      reportJson(last.facts, last.findings, code === EXIT.OK && !pendingRestart, {
        matrix: matrixCells(last.findings),
        fix: {
          dryRun,
          rounds: new Set(records.map((r) => r.round)).size,
          applied: records,
          before: first.findings.map((f) => ({ id: f.id, status: f.status })),
          pendingRestart,
        },
      }),
    );
  }
  const failing = exitCodeFor(last.findings, strict) !== EXIT.OK;
  if (failing) return EXIT.FAILED;
  if (pendingRestart) return EXIT.RESTART_PENDING;
  return EXIT.OK;
}
