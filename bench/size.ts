// bench/size: the download per release target and format, next to Bun's floor (a compiled
// `console.log` with the release flags and the same target), built in one run.
// Goal (issue 18): the default download (.xz) ≤ 1.05× the floor's .xz.
// Run: npx bun bench/size.ts [target ...]   (default: linux-x64; others download Bun's runtime for them)
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, gzipFile, stampVersion, xzFile } from "../scripts/build.ts";
import { machine } from "./lib.ts";

const targets = process.argv.slice(2).length ? process.argv.slice(2) : ["linux-x64"];
const dir = mkdtempSync(join(tmpdir(), "gvd-size-"));
const mb = (p: string) => statSync(p).size / 1e6;
try {
  writeFileSync(join(dir, "floor.ts"), 'console.log("gvisor-doctor 0.0.0");\n');
  console.log(`\nsize  (${new Date().toISOString().slice(0, 10)}, ${machine()}; MB = 10^6 bytes)`);
  console.log(
    `  ${"target".padEnd(26)} ${"".padEnd(14)} ${"raw".padStart(8)} ${".gz -9".padStart(8)} ${".xz -9".padStart(8)}`,
  );
  for (const t of targets) {
    const gvd = join(dir, `gvisor-doctor-${t}`);
    const floor = join(dir, `bun-floor-${t}`);
    compile(t, gvd, stampVersion());
    compile(t, floor, "0.0.0", join(dir, "floor.ts"));
    await Promise.all([gvd, floor].flatMap((f) => [gzipFile(f), xzFile(f)]));
    const row = (name: string, f: string) =>
      console.log(
        `  ${t.padEnd(26)} ${name.padEnd(14)} ${mb(f).toFixed(1).padStart(8)} ${mb(`${f}.gz`).toFixed(1).padStart(8)} ${mb(`${f}.xz`).toFixed(1).padStart(8)}`,
      );
    row("gvisor-doctor", gvd);
    row("bun floor", floor);
    const r = (ext: string) => (mb(`${gvd}${ext}`) / mb(`${floor}${ext}`)).toFixed(3);
    const xz = mb(`${gvd}.xz`) / mb(`${floor}.xz`);
    console.log(
      `  ${t.padEnd(26)} ${"ratio".padEnd(14)} ${r("").padStart(8)} ${r(".gz").padStart(8)} ${r(".xz").padStart(8)}  ${xz <= 1.05 ? "✓" : "✗"} goal .xz ≤ 1.05×`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
