// bench/startup: `gvisor-doctor --version` vs `runsc --version`, interleaved medians.
// Goal: ≤ 1.5×.   Run: npx bun bench/startup.ts [runs]
import { join } from "node:path";
import { interleaved, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 30);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const runsc = process.env.RUNSC ?? "/usr/bin/runsc";
const t = interleaved([
  { name: "gvisor-doctor --version", argv: [bin, "--version"] },
  { name: "runsc --version", argv: [runsc, "--version"] },
], runs);
const m = report("startup", t);
ratio("gvisor-doctor / runsc", m["gvisor-doctor --version"], m["runsc --version"], 1.5);
