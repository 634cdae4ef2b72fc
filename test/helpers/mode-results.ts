// What the engine-mode e2e tests ran (rootless Podman and dockerd, Docker without its CLI), for README's
// "Tested on" table (scripts/tested-on.ts): test-results/modes/<id>.json, tracked in git like the matrix's.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const MODES_DIR = join(import.meta.dir, "../../test-results/modes");

export interface ModeResult {
  id: string;
  engine: string;
  version: string;
  /** How the engine runs, e.g. "rootless, as an unprivileged user". */
  mode: string;
  /** What the doctor registered, e.g. "runsc --ignore-cgroups --network=none in ~/.config/containers". */
  registered: string;
  journeys: Record<string, "pass" | "fail">;
}

/**
 * Run a journey test and file it: "pass" when it ran to its end, "fail" when it threw.
 * `meta()` is read after the test ran (versions are known only then).
 */
export async function recordMode(journeys: string[], meta: () => Omit<ModeResult, "journeys">, fn: () => unknown) {
  const write = (status: "pass" | "fail") => {
    mkdirSync(MODES_DIR, { recursive: true });
    const m = meta();
    const result: ModeResult = { ...m, journeys: Object.fromEntries(journeys.map((j) => [j, status])) };
    writeFileSync(join(MODES_DIR, `${m.id}.json`), `${JSON.stringify(result, null, 2)}\n`);
  };
  try {
    await fn();
  } catch (e) {
    try {
      write("fail");
    } catch {}
    throw e;
  }
  write("pass");
}
