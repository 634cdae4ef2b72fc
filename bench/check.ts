// bench/check: the full `gvisor-doctor check` vs its slowest single probe, against a
// throwaway dockerd (the test bed) with runsc registered; plus `check --quick`.
// The probes (docker hello, runsc do, podman hello, ctr) run concurrently inside check,
// so the full matrix should cost little more than the slowest one.
// Goals: full ≤ 1.25× the slowest probe; --quick ≤ 150 ms.   Run: npx bun bench/check.ts [runs]
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
  // Exit 1 is fine for check: on a host whose Podman is not set up, podman.hello fails (fast).
  const ok = [0, 1];
  const t = interleaved([
    { name: "gvisor-doctor check (full)", argv: [bin, "check"], env, okCodes: ok },
    { name: "docker run --rm --runtime=runsc IMG dmesg", argv: ["docker", "run", "--rm", "--runtime=runsc", tag, "dmesg"], env },
    { name: "runsc --network=none do dmesg", argv: ["runsc", "--network=none", "do", "dmesg"], env },
    { name: "gvisor-doctor check --quick", argv: [bin, "check", "--quick"], env, okCodes: ok },
  ], runs);
  const m = report("check", t);
  const slowest = Math.max(m["docker run --rm --runtime=runsc IMG dmesg"], m["runsc --network=none do dmesg"]);
  ratio("check (full) / slowest single probe", m["gvisor-doctor check (full)"], slowest, 1.25);
  ratio("check (full) / docker hello container", m["gvisor-doctor check (full)"], m["docker run --rm --runtime=runsc IMG dmesg"], 1.25);
  console.log(`  check --quick median ${m["gvisor-doctor check --quick"].toFixed(1)} ms ${m["gvisor-doctor check --quick"] <= 150 ? "✓" : "✗"} goal ≤ 150 ms`);
} finally {
  await bed.stop();
}
