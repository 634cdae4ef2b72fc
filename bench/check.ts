// bench/check: the full `gvisor-doctor check` vs its slowest single probe, on a host set
// up the way the doctor leaves it: a throwaway dockerd with runsc registered, and Podman
// (in a private view of /etc/containers) with runsc registered by `configure podman`.
// The probes (docker hello, podman hello, runsc do) run concurrently inside check, so the
// full matrix should cost little more than the slowest of them alone. Plus `check --quick`.
// Goals: full ≤ 1.25× the slowest probe; --quick ≤ 150 ms.   Run: npx bun bench/check.ts [runs]
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startDockerBed } from "../test/bed/bed.ts";
import { podmanSandbox } from "../test/helpers/configure.ts";
import { helloRootfs, imageTag } from "../platform/rootfs.ts";
import { interleaved, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 10);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const bed = await startDockerBed();
const dir = mkdtempSync("/tmp/gvd-bench-check-");
try {
  const box = podmanSandbox(dir);
  Object.assign(box.env, { DOCKER_HOST: bed.host, GVISOR_DOCTOR_WRAPPER_DIR: join(dir, "wrappers") });
  const cfg = box.gvd(["configure", "podman", "--runtime-arg=network=none"]);
  if (cfg.code !== 0) throw new Error(`configure podman failed: ${cfg.stdout}${cfg.stderr}`);
  const env = box.env;
  const tag = imageTag(await helloRootfs());
  const inBox = (name: string, cmd: string[], okCodes = [0]) => ({ name, argv: box.argv(cmd), env, okCodes });
  const first = box.gvd(["check", "--json"]);
  console.log(`check before timing: exit ${first.code}; failing: ${first.json?.checks.filter((c: any) => c.status === "fail").map((c: any) => c.id).join(", ") || "none"}`);
  const t = interleaved([
    inBox("gvisor-doctor check (full)", [bin, "check"], [0, 1]),
    inBox("docker run --rm --runtime=runsc IMG dmesg", ["docker", "run", "--rm", "--runtime=runsc", tag, "dmesg"]),
    inBox("podman --runtime runsc run --rm IMG dmesg", ["podman", "--runtime", "runsc", "run", "--rm", "--network", "none", tag, "dmesg"]),
    inBox("runsc --network=none do dmesg", ["runsc", "--network=none", "do", "dmesg"]),
    inBox("gvisor-doctor check --quick", [bin, "check", "--quick"], [0, 1]),
  ], runs);
  const m = report("check", t);
  const probes = ["docker run --rm --runtime=runsc IMG dmesg", "podman --runtime runsc run --rm IMG dmesg", "runsc --network=none do dmesg"];
  const slowest = probes.reduce((a, b) => (m[a] >= m[b] ? a : b));
  ratio(`check (full) / slowest probe (${slowest.split(" ")[0]})`, m["gvisor-doctor check (full)"], m[slowest], 1.25);
  ratio("check (full) / docker hello container", m["gvisor-doctor check (full)"], m["docker run --rm --runtime=runsc IMG dmesg"]);
  console.log(`  check --quick median ${m["gvisor-doctor check --quick"].toFixed(1)} ms ${m["gvisor-doctor check --quick"] <= 150 ? "✓" : "✗"} goal ≤ 150 ms`);
} finally {
  await bed.stop();
  rmSync(dir, { recursive: true, force: true });
}
