// bench/check: the full `gvisor-doctor check` vs the hello container alone, against a
// throwaway dockerd (the test bed) with runsc registered; plus `check --quick`.
// Goals: full ≤ 1.25× the hello container; --quick ≤ 150 ms.   Run: npx bun bench/check.ts [runs]
import { join } from "node:path";
import { startDockerBed } from "../test/bed/bed.ts";
import { helloRootfs, imageTag } from "../platform/rootfs.ts";
import { interleaved, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 10);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const bed = await startDockerBed();
try {
  const env = bed.env;
  const tag = imageTag(await helloRootfs());
  const t = interleaved([
    { name: "gvisor-doctor check (full)", argv: [bin, "check"], env },
    { name: "docker run --rm --runtime=runsc IMG dmesg", argv: ["docker", "run", "--rm", "--runtime=runsc", tag, "dmesg"], env },
    { name: "gvisor-doctor check --quick", argv: [bin, "check", "--quick"], env },
  ], runs);
  const m = report("check", t);
  ratio("check (full) / hello container", m["gvisor-doctor check (full)"], m["docker run --rm --runtime=runsc IMG dmesg"], 1.25);
  console.log(`  check --quick median ${m["gvisor-doctor check --quick"].toFixed(1)} ms ${m["gvisor-doctor check --quick"] <= 150 ? "✓" : "✗"} goal ≤ 150 ms`);
} finally {
  await bed.stop();
}
