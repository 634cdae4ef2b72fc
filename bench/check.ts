// bench/check: the full `gvisor-doctor check` vs its slowest single probe, on a host set
// up the way the doctor leaves it: a throwaway dockerd with runsc registered, and Podman
// (in a private view of /etc/containers) with runsc registered by `configure podman`.
// The probes (docker hello, podman hello, runsc do) run concurrently inside check, so the
// full matrix should cost little more than the slowest of them alone. The real floor for the
// same work is the same probes launched at once by a shell (`docker run … & podman run … &
// runsc do … & wait`). Plus `check --quick`, and the peak RSS of check and --fix --dry-run.
// Goals: full ≤ 1.25× the probes at once; --quick ≤ 150 ms.   Run: npx bun bench/check.ts [runs]
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startDockerBed } from "../test/bed/bed.ts";
import { podmanSandbox } from "../test/helpers/configure.ts";
import { helloRootfs, imageTag } from "../platform/probe/rootfs.ts";
import { interleaved, peakRssMb, ratio, report } from "./lib.ts";

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
  console.log(
    `check before timing: exit ${first.code}; failing: ${
      first.json?.checks
        .filter((c: any) => c.status === "fail")
        .map((c: any) => c.id)
        .join(", ") || "none"
    }`,
  );
  const probes = [
    ["docker", "run", "--rm", "--runtime=runsc", tag, "dmesg"],
    ["podman", "--runtime", "runsc", "run", "--rm", "--network", "none", tag, "dmesg"],
    ["runsc", "--network=none", "do", "dmesg"],
  ];
  const q = (a: string[]) => a.map((x) => `'${x}'`).join(" ");
  const atOnce = `${probes.map((p) => `${q(p)} >/dev/null &`).join(" ")} wait`;
  const t = interleaved(
    [
      inBox("the probes at once (sh: … & … & … & wait)", ["/bin/sh", "-c", atOnce]),
      inBox("gvisor-doctor check (full)", [bin, "check"], [0, 1]),
      inBox("docker run --rm --runtime=runsc IMG dmesg", ["docker", "run", "--rm", "--runtime=runsc", tag, "dmesg"]),
      inBox("podman --runtime runsc run --rm IMG dmesg", [
        "podman",
        "--runtime",
        "runsc",
        "run",
        "--rm",
        "--network",
        "none",
        tag,
        "dmesg",
      ]),
      inBox("runsc --network=none do dmesg", ["runsc", "--network=none", "do", "dmesg"]),
      inBox("gvisor-doctor check --quick", [bin, "check", "--quick"], [0, 1]),
    ],
    runs,
  );
  const m = report("check", t);
  const names = [
    "docker run --rm --runtime=runsc IMG dmesg",
    "podman --runtime runsc run --rm IMG dmesg",
    "runsc --network=none do dmesg",
  ];
  const slowest = names.reduce((a, b) => (m[a] >= m[b] ? a : b));
  ratio(
    "check (full) / the probes at once (shell)",
    m["gvisor-doctor check (full)"],
    m["the probes at once (sh: … & … & … & wait)"],
    1.25,
  );
  ratio(`check (full) / slowest probe alone (${slowest.split(" ")[0]})`, m["gvisor-doctor check (full)"], m[slowest]);
  ratio(
    "check (full) / docker hello container",
    m["gvisor-doctor check (full)"],
    m["docker run --rm --runtime=runsc IMG dmesg"],
  );
  const rss = (args: string[]) => peakRssMb(inBox(args.join(" "), [bin, ...args], [0, 1, 3]))?.toFixed(0) ?? "n/a";
  console.log(
    `  peak RSS: check ${rss(["check"])} MB, check --fix --dry-run ${rss(["check", "--fix", "--dry-run"])} MB (max of 3)`,
  );
  console.log(
    `  check --quick median ${m["gvisor-doctor check --quick"].toFixed(1)} ms ${m["gvisor-doctor check --quick"] <= 150 ? "✓" : "✗"} goal ≤ 150 ms`,
  );
} finally {
  await bed.stop();
  rmSync(dir, { recursive: true, force: true });
}
