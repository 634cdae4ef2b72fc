// bench/host-root: what --host-root costs. The same containerd config, planned with the
// `containerd config dump` check of the result, once as this machine's own file
// (`configure containerd --config F --dry-run`) and once as a node's file mounted at DIR
// (`configure containerd --host-root DIR --dry-run`: the node's containerd runs chrooted
// into DIR, files are read through the node's symlinks). Goal: host-root ≤ 1.3× native.
// Then what the DaemonSet's agent pays every round: `check --host-root DIR` against the
// node (a real containerd chrooted into DIR) vs the bare facts a shell probe would gather
// (`chroot DIR containerd config dump` + the node's `runsc --version`), and its peak RSS
// (the manifests give the agent a 256 MiB limit). Goals: ≤ 3× the bare probe, ≤ 128 MB.
// Run: npx bun bench/host-root.ts [runs]   (root: chroot)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { makeHostTree } from "../test/helpers/host-tree.ts";
import { interleaved, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 20);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
const node = makeHostTree();
try {
  copyFileSync("/usr/bin/runsc", join(node.root, "usr/local/bin/runsc"));
  const own = join(node.bed, "config.toml");
  copyFileSync(join(node.root, "etc/containerd/config.toml"), own);
  const r = interleaved(
    [
      {
        name: "configure containerd --host-root DIR --dry-run",
        argv: [bin, "configure", "containerd", "--host-root", node.root, "--runtime-arg=--network=none", "--dry-run"],
      },
      {
        name: "configure containerd --config F --dry-run",
        argv: [
          bin,
          "configure",
          "containerd",
          "--config",
          own,
          "--runsc",
          "/usr/bin/runsc",
          "--runtime-arg=--network=none",
          "--dry-run",
        ],
      },
    ],
    runs,
  );
  const m = report("configure containerd: a node's config at DIR vs this machine's file (same content)", r);
  ratio(
    "host-root / native",
    m["configure containerd --host-root DIR --dry-run"],
    m["configure containerd --config F --dry-run"],
    1.3,
  );

  await node.start();
  // A node with gVisor registered and loaded, as the agent finds it after install.
  const reg = spawnSync(bin, [
    "configure",
    "containerd",
    "--host-root",
    node.root,
    "--runtime-arg=--network=none",
    "--restart",
    "--restart-command",
    node.restartScript,
  ]);
  if (reg.status !== 0) throw new Error(`configure --host-root failed: ${reg.stderr}`);
  const agent = interleaved(
    [
      {
        name: "check --host-root DIR (the agent's round)",
        argv: [bin, "check", "--host-root", node.root, "--json", "--offline"],
      },
      {
        name: "sh: chroot DIR containerd config dump; DIR/…/runsc --version",
        argv: [
          "sh",
          "-c",
          `chroot ${node.root} /usr/bin/containerd -c /etc/containerd/config.toml config dump >/dev/null && ${node.root}/usr/local/bin/runsc --version >/dev/null`,
        ],
      },
    ],
    runs,
  );
  const ma = report("the agent's round vs the bare facts a shell probe gathers", agent);
  ratio(
    "check --host-root / shell probe",
    ma["check --host-root DIR (the agent's round)"],
    ma["sh: chroot DIR containerd config dump; DIR/…/runsc --version"],
    3,
  );
  if (existsSync("/usr/bin/time")) {
    const rss = Array.from({ length: 5 }, () =>
      Number(
        spawnSync(
          "/usr/bin/time",
          ["-f", "GVD_MAXRSS %M", bin, "check", "--host-root", node.root, "--json", "--offline"],
          { encoding: "utf8" },
        ).stderr.match(/GVD_MAXRSS (\d+)/)?.[1] ?? 0,
      ),
    );
    const peak = Math.max(...rss) / 1024;
    console.log(
      `  peak RSS of check --host-root   ${peak.toFixed(0)} MB (max of 5 runs; goal ≤ 128 MB: ${peak <= 128 ? "✓" : "✗"})`,
    );
  }
} finally {
  await node.stop();
}
