// bench/host-root: what --host-root costs. The same containerd config, planned with the
// `containerd config dump` check of the result, once as this machine's own file
// (`configure containerd --config F --dry-run`) and once as a node's file mounted at DIR
// (`configure containerd --host-root DIR --dry-run`: the node's containerd runs chrooted
// into DIR, files are read through the node's symlinks). Goal: host-root ≤ 1.3× native.
// Run: npx bun bench/host-root.ts [runs]   (root: chroot)
import { copyFileSync } from "node:fs";
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
  const r = interleaved([
    { name: "configure containerd --host-root DIR --dry-run", argv: [bin, "configure", "containerd", "--host-root", node.root, "--runtime-arg=--network=none", "--dry-run"] },
    { name: "configure containerd --config F --dry-run", argv: [bin, "configure", "containerd", "--config", own, "--runsc", "/usr/bin/runsc", "--runtime-arg=--network=none", "--dry-run"] },
  ], runs);
  const m = report("configure containerd: a node's config at DIR vs this machine's file (same content)", r);
  ratio("host-root / native", m["configure containerd --host-root DIR --dry-run"], m["configure containerd --config F --dry-run"], 1.3);
} finally {
  await node.stop();
}
