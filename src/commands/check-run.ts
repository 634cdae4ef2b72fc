// `gvisor-doctor check` at work: gather facts once, run the catalog, render the findings.
import { CATALOG } from "../../checks/catalog.ts";
import { runChecks, unknownPatterns } from "../../checks/runner.ts";
import { summarize } from "../../checks/summary.ts";
import type { Check, CheckOptions, Finding } from "../../checks/types.ts";
import { gatherFacts, type HostFacts } from "../../platform/facts/host-facts.ts";
import { hostRootAt } from "../../platform/os/host-root.ts";
import { onCommand, type RunResult } from "../../platform/os/spawn.ts";
import { listOption, type IO, type Parsed } from "../args.ts";
import { echoInput } from "../../platform/os/echo-input.ts";
import { EXIT, UsageError } from "../../platform/os/errors.ts";
import { header, renderFindings, renderTrace, summaryLine } from "../report/human.ts";
import { reportJson } from "../report/json.ts";
import { matrixCells, renderMatrix } from "../report/matrix.ts";
import { startProgress } from "../ui/spinner.ts";

function listCatalog(catalog: Check[], io: IO): number {
  const rows = catalog.map((c) => ({
    id: c.id,
    title: c.title,
    needsRoot: !!c.requires?.root,
    needsNetwork: !!c.requires?.network,
    startsContainers: !!c.requires?.containers,
    needs: c.needs ?? [],
  }));
  if (io.json) {
    io.stdout(JSON.stringify({ schemaVersion: 1, checks: rows }, null, 2));
    return EXIT.OK;
  }
  const w = Math.max(...rows.map((r) => r.id.length));
  io.stdout(`${"ID".padEnd(w)}  ROOT  NET  TITLE`);
  for (const r of rows)
    io.stdout(
      `${r.id.padEnd(w)}  ${(r.needsRoot ? "yes" : "-").padEnd(4)}  ${(r.needsNetwork ? "yes" : "-").padEnd(3)}  ${r.title}${r.startsContainers ? io.c.dim(" (starts a container)") : ""}`,
    );
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
  if (bad.length)
    throw new UsageError(`unknown check id: ${echoInput(bad.join(", "), 300)}`, "see: gvisor-doctor check --list");
  const started = performance.now();
  const trace: RunResult[] = [];
  const stopTrace = onCommand((r) => trace.push(r));
  const progress = startProgress("gathering host facts…", io.spinner && !io.json);
  try {
    const facts = await gatherFacts({ env: io.env, root: hostRootAt(p.values["host-root"] as string | undefined) });
    progress.update("running checks…");
    const opts: CheckOptions = {
      quick: !!p.values.quick,
      offline: !!p.values.offline,
      verbose: io.verbose,
      env: io.env,
    };
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

export async function runCheck(p: Parsed, io: IO): Promise<number> {
  if (p.values.list) return listCatalog(CATALOG, io);
  if (p.values["dry-run"] && !p.values.fix)
    throw new UsageError("--dry-run applies to --fix", "try: gvisor-doctor --fix --dry-run");
  const r = await runCheckMatrix(p, io);
  printReport(r, io, !!p.values.strict);
  return exitCodeFor(r.findings, !!p.values.strict);
}
