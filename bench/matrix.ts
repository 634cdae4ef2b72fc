// The host matrix as a benchmark (issue 13):
//  - the whole matrix's wall time (test/matrix/journeys.test.ts, every host, journeys 1–4);
//  - per host, `--fix --yes` from a blank host to all green vs the sum of its engines' hello
//    containers (the docker, containerd and podman hello cells of the check that follows).
//   bun bench/matrix.ts            (GVD_MATRIX_HOSTS=sid,… for a subset)
// Needs root, mmdebstrap (or cached trees) and dist/gvisor-doctor (npm run build).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hostName, MATRIX_HOSTS } from "../test/matrix/hosts.ts";

const root = join(import.meta.dirname, "..");
const started = Date.now();
const r = spawnSync("npx", ["bun", "test", "--timeout", "900000", "test/matrix/journeys.test.ts"], {
  cwd: root,
  stdio: "inherit",
  env: process.env,
});
const wallS = (Date.now() - started) / 1000;
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`\nmatrix wall time: ${wallS.toFixed(0)} s (bun test exit ${r.status}; load average now ${load})\n`);
console.log("| host | journeys | boot | --fix blank → green | hello containers (sum) | ratio |");
console.log("|---|---|---|---|---|---|");
const wanted = (process.env.GVD_MATRIX_HOSTS ?? "").split(",").filter(Boolean);
for (const h of MATRIX_HOSTS) {
  const name = hostName(h);
  if (wanted.length && !wanted.includes(name) && !wanted.includes(h.suite)) continue;
  try {
    const res = JSON.parse(readFileSync(join(root, "test-results", "matrix", `${name}.json`), "utf8"));
    const f = res.figures;
    const passed = Object.values(res.journeys).filter((s) => s === "pass").length;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `| ${name} | ${passed}/${Object.keys(res.journeys).length} | ${s(f.bootMs)} | ${s(f.fixMs)} | ` +
        `${s(f.hellosMs)} | ${(f.fixMs / f.hellosMs).toFixed(2)}× |`,
    );
  } catch (e) {
    console.log(`| ${name} | no result (${(e as Error).message}) | | | | |`);
  }
}
