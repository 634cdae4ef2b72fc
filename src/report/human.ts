// Human output: one line per check, cause and fix under failures, a summary line.
import type { ChalkInstance } from "chalk";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import type { Finding, Status } from "../../checks/types.ts";
import { summarize } from "../../checks/summary.ts";
import type { RunResult } from "../../platform/os/spawn.ts";
import { VERSION } from "../version.ts";
import { distributionOf } from "../../platform/engines/containerd/distributions.ts";

export const SYMBOL: Record<Status, string> = { pass: "✓", warn: "!", fail: "✗", skip: "–" };

export function colorFor(c: ChalkInstance, s: Status) {
  return s === "pass" ? c.green : s === "warn" ? c.yellow : s === "fail" ? c.red : c.dim;
}

export function header(facts: HostFacts): string {
  const who = facts.user.root ? "root" : `uid ${facts.user.uid}`;
  const dist = distributionOf(facts.engines?.containerd.detection);
  const where = facts.hostRoot
    ? `; the node at ${facts.hostRoot} (--host-root${dist ? `, ${dist.title}` : ""})`
    : facts.container.inside
      ? ", in a container"
      : "";
  return `gvisor-doctor ${VERSION} — ${facts.os === "linux" ? "Linux" : facts.os} ${facts.kernel.release} ${facts.arch}, ${who}${where}`;
}

export function renderFindings(c: ChalkInstance, findings: Finding[], verbose: boolean): string {
  const width = Math.max(...findings.map((f) => f.id.length), 10);
  const out: string[] = [];
  for (const f of findings) {
    const col = colorFor(c, f.status);
    const msg = f.status === "skip" ? c.dim(`skipped: ${f.message}`) : f.message;
    const time = verbose ? c.dim(`  (${f.durationMs} ms)`) : "";
    out.push(`  ${col(SYMBOL[f.status])} ${c.bold(f.id.padEnd(width))}  ${msg}${time}`);
    const indent = " ".repeat(width + 6);
    if (f.diagnosis && (f.status === "fail" || f.status === "warn")) {
      out.push(`${indent}${c.dim("cause:")} ${f.diagnosis.cause}`);
      if (f.diagnosis.fix) {
        const fx = f.diagnosis.fix;
        // --fix applies the automatic fixes of failing checks only (warnings are advice).
        out.push(
          `${indent}${c.dim("fix:  ")} ${fx.summary}${fx.automatic && f.status === "fail" ? c.dim(" (gvisor-doctor --fix applies it)") : ""}`,
        );
        if (fx.command) out.push(`${indent}       ${c.cyan(fx.command)}`);
      }
    }
    const showDetails = verbose || f.status === "fail";
    if (showDetails) for (const d of f.details) out.push(`${indent}${c.dim(d)}`);
  }
  return out.join("\n");
}

export function summaryLine(c: ChalkInstance, findings: Finding[], ms: number): string {
  const s = summarize(findings);
  const parts = [
    c.green(`${s.pass} passed`),
    (s.warn ? c.yellow : c.dim)(`${s.warn} warning${s.warn === 1 ? "" : "s"}`),
    (s.fail ? c.red : c.dim)(`${s.fail} failed`),
    c.dim(`${s.skip} skipped`),
  ];
  return `${parts.join(" · ")}  ${c.dim(`(${(ms / 1000).toFixed(2)} s)`)}`;
}

export function renderTrace(c: ChalkInstance, trace: RunResult[]): string {
  if (!trace.length) return "";
  const lines = [c.bold("commands run:")];
  for (const r of trace) {
    const exit = r.httpStatus ? `HTTP ${r.httpStatus}` : `exit ${r.code}`;
    const status = r.spawnError ? r.spawnError : r.timedOut ? "timed out" : exit;
    lines.push(`  ${c.dim(`${String(r.durationMs).padStart(5)} ms`)}  ${r.cmd.join(" ")}  ${c.dim(`→ ${status}`)}`);
  }
  return lines.join("\n");
}
