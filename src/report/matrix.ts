// The compact engine matrix under the check list: one row per way of running gVisor,
// columns registered / hello / signature, each cell the status of the check behind it.
import type { ChalkInstance } from "chalk";
import type { Finding, Status } from "../../checks/types.ts";
import { colorFor, SYMBOL } from "./human.ts";

/** Rows and the check ids behind each column (data, so JSON and tests can use it too). */
export const MATRIX_ROWS: { engine: string; registered: string; hello: string; signature: string }[] = [
  { engine: "runsc direct", registered: "runsc.binary", hello: "runsc.smoke", signature: "runsc.smoke" },
  { engine: "docker", registered: "docker.runtime", hello: "docker.hello", signature: "docker.signature" },
  { engine: "containerd", registered: "containerd.runtime", hello: "containerd.hello", signature: "containerd.hello" },
  { engine: "podman", registered: "podman.runtime", hello: "podman.hello", signature: "podman.hello" },
];

const COLUMNS = ["registered", "hello", "signature"] as const;

export function matrixCells(
  findings: Finding[],
): { engine: string; cells: Record<(typeof COLUMNS)[number], Status | null> }[] {
  const byId = new Map(findings.map((f) => [f.id, f]));
  return MATRIX_ROWS.map((row) => ({
    engine: row.engine,
    cells: Object.fromEntries(COLUMNS.map((c) => [c, byId.get(row[c])?.status ?? null])) as Record<
      (typeof COLUMNS)[number],
      Status | null
    >,
  }));
}

export function renderMatrix(c: ChalkInstance, findings: Finding[]): string {
  const rows = matrixCells(findings).filter((r) => Object.values(r.cells).some((s) => s !== null));
  if (!rows.length) return "";
  const w = Math.max(...rows.map((r) => r.engine.length));
  const lines = [`  ${"".padEnd(w)}  ${COLUMNS.map((h) => c.dim(h)).join("  ")}`];
  for (const r of rows) {
    const cells = COLUMNS.map((col) => {
      const s = r.cells[col];
      const sym = s === null ? "–" : SYMBOL[s];
      const painted = s === null ? c.dim(sym) : colorFor(c, s)(sym);
      // Center each symbol under its header.
      const pad = col.length - 1;
      return " ".repeat(pad >> 1) + painted + " ".repeat(pad - (pad >> 1));
    });
    lines.push(`  ${r.engine.padEnd(w)}  ${cells.join("  ")}`);
  }
  return lines.join("\n");
}
