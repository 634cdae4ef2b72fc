// How many findings passed, warned, failed and were skipped: what every report prints. Its own module, so the
// reports load it without the runner (and through it the engine adapters) on paths that only print.
import type { Finding } from "./types.ts";

export function summarize(findings: Finding[]) {
  const s = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const f of findings) s[f.status]++;
  return s;
}
