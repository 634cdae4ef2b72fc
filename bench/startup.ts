// bench/startup: what a user runs — the built dist/gvisor-doctor, started from a directory
// without bunfig.toml — against `runsc --version` and Bun's own floor (a compiled
// `console.log` built here with the release flags), interleaved in one run.
// Goals (issue 18): --version ≤ 1.5× runsc and ≤ 2× the floor; preflight within 10 ms of --version.
// Wall time, then CPU time (user+sys from wait4) in a second interleaved round.
// Run: npm run build && npx bun bench/startup.ts [runs]   (GVD_BINARY=… for another build)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILE_FLAGS } from "../scripts/build.ts";
import { cpuOnce, interleaved, ratio, report, type Case } from "./lib.ts";

const runs = Number(process.argv[2] ?? 30);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const runsc = process.env.RUNSC ?? "/usr/bin/runsc";
if (!existsSync(bin)) throw new Error(`${bin} not found: run npm run build first`);

// A fresh directory: no bunfig.toml, no .env, nothing the repository would add.
const dir = mkdtempSync(join(tmpdir(), "gvd-startup-"));
try {
  writeFileSync(join(dir, "floor.ts"), 'console.log("gvisor-doctor 0.0.0");\n');
  const floor = join(dir, "bun-floor");
  const b = spawnSync(process.execPath, ["build", join(dir, "floor.ts"), ...COMPILE_FLAGS, "--outfile", floor], {
    cwd: dir,
    encoding: "utf8",
  });
  if (b.status !== 0) throw new Error(`building the floor binary failed: ${b.stderr}`);

  const env = { ...process.env, NO_COLOR: "1" };
  const cases: Case[] = [
    { name: "gvisor-doctor --version", argv: [bin, "--version"] },
    { name: "gvisor-doctor --help", argv: [bin, "--help"] },
    { name: "gvisor-doctor preflight", argv: [bin, "preflight"] },
    { name: "runsc --version", argv: [runsc, "--version"] },
    { name: "bun floor (console.log)", argv: [floor] },
  ].map((c) => ({ ...c, cwd: dir, env }));
  const m = report("startup", interleaved(cases, runs));
  ratio("--version / runsc --version", m["gvisor-doctor --version"], m["runsc --version"], 1.5);
  ratio("--version / bun floor", m["gvisor-doctor --version"], m["bun floor (console.log)"], 2);
  const within = (label: string, d: number) =>
    console.log(`  ${label.padEnd(48)} ${d.toFixed(1)} ms${d <= 10 ? "  ✓ goal ≤ 10 ms" : "  ✗ goal ≤ 10 ms"}`);
  within("preflight − --version", m["gvisor-doctor preflight"] - m["gvisor-doctor --version"]);
  // CPU time: what start-up costs, whatever else the (shared, 2-core) machine is doing.
  const cpu = report("startup, CPU time (user+sys)", interleaved(cases, runs, cpuOnce));
  ratio("CPU: --version / runsc --version", cpu["gvisor-doctor --version"], cpu["runsc --version"], 1.5);
  ratio("CPU: --version / bun floor", cpu["gvisor-doctor --version"], cpu["bun floor (console.log)"], 2);
  within("CPU: preflight − --version", cpu["gvisor-doctor preflight"] - cpu["gvisor-doctor --version"]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
