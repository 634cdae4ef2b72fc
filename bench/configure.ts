// bench/configure: what a surgical, checked edit costs next to the tools people use.
//  1. `configure docker --config F` (plan, lock, backup, atomic write; no daemon) vs
//     `runsc install --config_file F` (re-serialise and write), both from the same
//     original file before each run.
//  2. `configure containerd --config F --dry-run` (plan, `containerd --version`, and the
//     `containerd config dump` check of the result; a second dump only when the config
//     imports other files) vs one `containerd config dump`.
// Goals: docker ≤ 2× runsc install; containerd ≤ 3× one config dump.   Run: npx bun bench/configure.ts [runs]
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { interleaved, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 20);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const fixtures = join(import.meta.dirname, "..", "test", "fixtures", "engines");
const dir = mkdtempSync("/tmp/gvd-bench-configure-");
try {
  const a = join(dir, "a.json");
  const b = join(dir, "b.json");
  const fresh = (f: string) => () => {
    for (const n of readdirSync(dir)) if (n.includes(".gvisor-doctor-") || n.endsWith("~")) rmSync(join(dir, n));
    copyFileSync(join(fixtures, "docker", "registry-and-logs.json"), f);
  };
  const docker = interleaved(
    [
      {
        name: "gvisor-doctor configure docker --config F",
        argv: [bin, "configure", "docker", "--config", a, "--runsc", "/usr/bin/runsc", "--runtime-arg=--network=none"],
        before: fresh(a),
      },
      {
        name: "runsc install --config_file F",
        argv: ["runsc", "install", "--config_file", b, "--", "--network=none"],
        before: fresh(b),
      },
    ],
    runs,
  );
  const md = report("configure docker vs runsc install (same daemon.json, rewritten each run)", docker);
  ratio(
    "configure docker / runsc install",
    md["gvisor-doctor configure docker --config F"],
    md["runsc install --config_file F"],
    2,
  );

  const c = join(dir, "config.toml");
  copyFileSync(join(fixtures, "containerd", "k8s-v2-systemd.toml"), c);
  const containerd = interleaved(
    [
      {
        name: "gvisor-doctor configure containerd --dry-run",
        argv: [
          bin,
          "configure",
          "containerd",
          "--config",
          c,
          "--runsc",
          "/usr/bin/runsc",
          "--runtime-arg=--network=none",
          "--dry-run",
        ],
      },
      { name: "containerd -c F config dump", argv: ["containerd", "-c", c, "config", "dump"] },
    ],
    runs,
  );
  const mc = report("configure containerd (planning with the config dump check) vs one config dump", containerd);
  ratio(
    "configure containerd / config dump",
    mc["gvisor-doctor configure containerd --dry-run"],
    mc["containerd -c F config dump"],
    3,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
