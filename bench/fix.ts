// bench/fix: `gvisor-doctor --fix --yes` on a host that needs runsc registered with Docker and
// containerd (a throwaway dockerd + containerd pair, test/bed/bed.ts), two binaries interleaved
// (A B A B …) on the same bed, reset to unregistered before each run. Prints each binary's median
// and how many times dockerd answered its info (GET /info, from dockerd's debug log: the CLI's
// `docker info` and the API request both arrive there) per run.
// With GVD_BENCH_QUICK=1, --quick: no hello containers, so one round and the fix machinery's own cost.
// Run as root: npx bun bench/fix.ts [runs] [before-binary] [after-binary]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDockerBed, waitFor } from "../test/bed/bed.ts";
import { containerdPidsFor } from "../test/bed/containerd-bed.ts";
import { machine, median } from "./lib.ts";

const runs = Number(process.argv[2] ?? 3);
const binaries = {
  before: process.argv[3] ?? "/tmp/gvd-bench-fix-before/dist/gvisor-doctor",
  after: process.argv[4] ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor"),
};
for (const b of Object.values(binaries)) if (!existsSync(b)) throw new Error(`no binary at ${b}`);

const bed = await startDockerBed({ daemonJson: { debug: true, runtimes: {} }, containerdCri: true });
const cdConfig = join(bed.dir, "containerd.toml");
const original = { daemonJson: readFileSync(bed.configFile, "utf8"), containerd: readFileSync(cdConfig, "utf8") };
const env = {
  ...bed.env,
  CONTAINERD_ADDRESS: bed.containerdSocket,
  GVISOR_DOCTOR_WRAPPER_DIR: join(bed.dir, "wrappers"),
};
const INFO = /Calling GET \/v[\d.]+\/info/g;
const infoCalls = () => (readFileSync(join(bed.dir, "dockerd.log"), "utf8").match(INFO) ?? []).length;

/** Back to a host with runsc registered nowhere (dockerd drops a runtime only for an empty "runtimes"). */
async function reset(): Promise<void> {
  writeFileSync(bed.configFile, original.daemonJson);
  writeFileSync(cdConfig, original.containerd);
  for (const pid of containerdPidsFor(cdConfig)) process.kill(pid, "SIGTERM");
  await waitFor("containerd to stop", () => containerdPidsFor(cdConfig).length === 0, 20_000);
  const log = openSync(join(bed.dir, "containerd.log"), "a");
  spawn("containerd", ["--config", cdConfig], { detached: true, stdio: ["ignore", log, log] }).unref();
  await waitFor("containerd to answer", () => containerdPidsFor(cdConfig).length === 1, 20_000);
  await bed.reload();
  const commit = () => bed.docker(["info", "--format", "{{.ContainerdCommit.ID}}"]).stdout.trim();
  await waitFor("dockerd to reach containerd", () => !["", "N/A"].includes(commit()), 60_000);
}

const times: Record<string, number[]> = { before: [], after: [] };
const infos: Record<string, number[]> = { before: [], after: [] };
const rounds: Record<string, number[]> = { before: [], after: [] };
try {
  for (let i = 0; i < runs; i++) {
    for (const [name, bin] of Object.entries(binaries)) {
      await reset();
      const n0 = infoCalls();
      const t0 = performance.now();
      const quick = process.env.GVD_BENCH_QUICK === "1" ? ["--quick"] : [];
      const r = spawnSync(bin, ["--fix", "--yes", "--offline", ...quick, "--json", "--only", "docker,containerd"], {
        env,
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
      const ms = performance.now() - t0;
      await Bun.sleep(500); // dockerd's log line may trail the answer
      const doc = JSON.parse(r.stdout);
      type Applied = { round: number; id: string; status: string };
      const applied = doc.fix.applied.map((a: Applied) => `${a.round}:${a.id}:${a.status}`).join(" ");
      console.log(`${name} #${i + 1}: exit ${r.status}, ${ms.toFixed(0)} ms, ${infoCalls() - n0} info, ${applied}`);
      times[name].push(ms);
      infos[name].push(infoCalls() - n0);
      rounds[name].push(doc.fix.rounds);
    }
  }
} finally {
  for (const pid of containerdPidsFor(cdConfig)) process.kill(pid, "SIGTERM");
  await bed.stop();
}
const mode = process.env.GVD_BENCH_QUICK === "1" ? " --quick" : "";
const when = new Date().toISOString().slice(0, 16);
console.log(`\n--fix --yes${mode}: docker + containerd registration  (${when}, ${machine()})`);
for (const name of Object.keys(binaries)) {
  const xs = times[name];
  const range = `min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}`;
  console.log(
    `  ${name.padEnd(8)} median ${median(xs).toFixed(0).padStart(6)} ms (n=${xs.length}, ${range}); ` +
      `dockerd info per run: ${infos[name].join(", ")}; rounds: ${rounds[name].join(", ")}`,
  );
}
console.log(`  after / before: ${(median(times.after) / median(times.before)).toFixed(2)}×`);
