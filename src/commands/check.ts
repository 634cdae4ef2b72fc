// `gvisor-doctor check`: gather facts once, run the catalog, render the findings.
import { CATALOG } from "../../checks/catalog.ts";
import { runChecks, summarize, unknownPatterns } from "../../checks/engine.ts";
import type { Check, CheckOptions, Finding } from "../../checks/types.ts";
import { gatherFacts, type HostFacts } from "../../platform/facts.ts";
import { hostRootAt } from "../../platform/host-root.ts";
import { onCommand, type RunResult } from "../../platform/proc.ts";
import { listOption, type Command, type IO, type Parsed } from "../args.ts";
import { echoInput } from "../echo-input.ts";
import { EXIT, UsageError } from "../errors.ts";
import { header, renderFindings, renderTrace, summaryLine } from "../report/human.ts";
import { reportJson } from "../report/json.ts";
import { matrixCells, renderMatrix } from "../report/matrix.ts";
import { startProgress } from "../ui/spinner.ts";

export const CHECK_HELP = `Usage: gvisor-doctor [check] [options]

Inspect this host's gVisor setup and report one line per check.

Options:
  --json            Print one JSON document on stdout (schemaVersion 1); logs go to stderr
  --quick           Skip checks that start containers
  --only IDS        Run only these checks (comma-separated ids or prefixes, e.g. docker,runsc.binary);
                    the checks they need run too
  --skip IDS        Skip these checks (reported as skipped)
  --list            List the checks (id, title, needs root, needs network) and exit
  --strict          Treat warnings as failures (exit 1)
  --offline         Skip checks that need the network
  --host-root DIR   Check the node whose / is mounted at DIR (from a privileged pod with
                    hostPID): its runsc, containerd and CRI-O; checks of this machine's own
                    Docker, Podman and sandbox are skipped
  --fix             Apply the automatic fixes of failing checks in dependency order, re-check,
                    and show before → after (also: gvisor-doctor --fix)
  --dry-run         With --fix: show the fixes and their diffs, change nothing
  --yes             With --fix: allow fixes that restart a daemon or change the default runtime
                    (without it they are asked on a TTY, or left pending: exit 3)
  -v, --verbose     Show details, timings and every command run
  --no-color        No colors (also NO_COLOR=1; FORCE_COLOR=1 forces them)

Exit codes: 0 all checks pass or warn (with --fix: everything that failed is fixed)
            1 a check failed · 2 usage or internal error · 3 fixes applied, a restart is pending

Examples:
  gvisor-doctor                       # same as: gvisor-doctor check
  gvisor-doctor check --quick --json  # fast, machine-readable
  gvisor-doctor check --only docker -v
  sudo gvisor-doctor --fix --dry-run     # what would be changed, with diffs
  sudo gvisor-doctor --fix --yes         # fix everything that can be fixed`;

export const CHECK_OPTIONS = {
  quick: { type: "boolean" },
  only: { type: "string", multiple: true },
  skip: { type: "string", multiple: true },
  list: { type: "boolean" },
  strict: { type: "boolean" },
  offline: { type: "boolean" },
  fix: { type: "boolean" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  "host-root": { type: "string" },
} as const;

function listCatalog(catalog: Check[], io: IO): number {
  const rows = catalog.map((c) => ({ id: c.id, title: c.title, needsRoot: !!c.requires?.root, needsNetwork: !!c.requires?.network, startsContainers: !!c.requires?.containers, needs: c.needs ?? [] }));
  if (io.json) {
    io.stdout(JSON.stringify({ schemaVersion: 1, checks: rows }, null, 2));
    return EXIT.OK;
  }
  const w = Math.max(...rows.map((r) => r.id.length));
  io.stdout(`${"ID".padEnd(w)}  ROOT  NET  TITLE`);
  for (const r of rows) io.stdout(`${r.id.padEnd(w)}  ${(r.needsRoot ? "yes" : "-").padEnd(4)}  ${(r.needsNetwork ? "yes" : "-").padEnd(3)}  ${r.title}${r.startsContainers ? io.c.dim(" (starts a container)") : ""}`);
  return EXIT.OK;
}

export interface CheckRun {
  facts: HostFacts;
  findings: Finding[];
  trace: RunResult[];
  ms: number;
}

/** Gather facts and run the selected checks (shared by `check` and `--fix`). */
export async function runCheckMatrix(p: Parsed, io: IO, catalog: Check[] = CATALOG): Promise<CheckRun> {
  const only = listOption(p.values.only);
  const skipIds = listOption(p.values.skip);
  const bad = unknownPatterns(catalog, [...only, ...skipIds]);
  if (bad.length) throw new UsageError(`unknown check id: ${echoInput(bad.join(", "), 300)}`, "see: gvisor-doctor check --list");
  const started = performance.now();
  const trace: RunResult[] = [];
  const stopTrace = onCommand((r) => trace.push(r));
  const progress = startProgress("gathering host facts…", io.spinner && !io.json);
  try {
    const facts = await gatherFacts({ env: io.env, root: hostRootAt(p.values["host-root"] as string | undefined) });
    progress.update("running checks…");
    const opts: CheckOptions = { quick: !!p.values.quick, offline: !!p.values.offline, verbose: io.verbose, env: io.env };
    const findings = await runChecks(catalog, facts, opts, { only, skip: skipIds });
    return { facts, findings, trace, ms: Math.round(performance.now() - started) };
  } finally {
    progress.stop();
    stopTrace();
  }
}

export function exitCodeFor(findings: Finding[], strict: boolean): number {
  const s = summarize(findings);
  return s.fail > 0 || (strict && s.warn > 0) ? EXIT.FAILED : EXIT.OK;
}

export function printReport(r: CheckRun, io: IO, strict: boolean): void {
  const code = exitCodeFor(r.findings, strict);
  if (io.json) {
    io.stdout(reportJson(r.facts, r.findings, code === EXIT.OK, { matrix: matrixCells(r.findings) }));
    return;
  }
  io.stdout(io.c.bold(header(r.facts)));
  io.stdout("");
  io.stdout(renderFindings(io.c, r.findings, io.verbose));
  io.stdout("");
  const matrix = renderMatrix(io.c, r.findings);
  if (matrix) {
    io.stdout(matrix);
    io.stdout("");
  }
  io.stdout(summaryLine(io.c, r.findings, r.ms));
  if (io.verbose) io.stderr(renderTrace(io.ce, r.trace));
}

export const checkCommand: Command = {
  name: "check",
  summary: "Inspect the host's gVisor setup (the default command)",
  help: CHECK_HELP,
  options: CHECK_OPTIONS,
  async run(p, io) {
    if (p.values.list) return listCatalog(CATALOG, io);
    if (p.values["dry-run"] && !p.values.fix) throw new UsageError("--dry-run applies to --fix", "try: gvisor-doctor --fix --dry-run");
    if (p.values.fix && p.values["host-root"]) throw new UsageError("--fix does not take --host-root yet", "run the fix commands the report prints with --host-root DIR added (install, configure)");
    if (p.values.fix) {
      const { runFix } = await import("../fix.ts");
      return runFix(p, io);
    }
    const r = await runCheckMatrix(p, io);
    printReport(r, io, !!p.values.strict);
    return exitCodeFor(r.findings, !!p.values.strict);
  },
};
