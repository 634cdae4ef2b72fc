// What the engine-mode e2e tests ran (rootless Podman and dockerd, Docker without its CLI), for README's
// "Tested on" table (scripts/tested-on.ts): test-results/modes/<id>.json, tracked in git like the matrix's.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MODE_RESULTS, type ModeResult } from "../../scripts/tested-on.ts";

/**
 * Run a journey test and file it: "pass" when it ran to its end, "fail" when it threw.
 * `meta()` is read after the test ran (versions are known only then).
 */
export async function recordMode(journeys: string[], meta: () => Omit<ModeResult, "journeys">, fn: () => unknown) {
  const write = (status: "pass" | "fail") => {
    mkdirSync(MODE_RESULTS, { recursive: true });
    const m = meta();
    const result: ModeResult = { ...m, journeys: Object.fromEntries(journeys.map((j) => [j, status])) };
    writeFileSync(join(MODE_RESULTS, `${m.id}.json`), `${JSON.stringify(result, null, 2)}\n`);
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
