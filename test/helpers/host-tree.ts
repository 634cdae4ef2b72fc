// A node's file system in a directory, as a DaemonSet pod sees it at /host: a real
// containerd (the machine's binary and the libraries it links) runs chrooted into it on
// the tree's own /etc/containerd/config.toml, so "the node's containerd" is a real daemon
// whose /proc/PID/root is the tree. Lives under the test bed prefix: test/bed/cleanup.sh
// reaps its daemons (pids file), its /proc mount and the directory after a crash.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
  lstatSync,
  readlinkSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { BED_PREFIX, unmountUnder, waitFor } from "../bed/bed.ts";
import { parseLdd } from "../../platform/probe/rootfs.ts";
import { pidAlive } from "../../platform/os/processes.ts";
import { which } from "../../platform/os/which.ts";

export const NODE_CONFIG = `# /etc/containerd/config.toml — written by the node's provisioning
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  # the cluster's pause image
  sandbox_image = "registry.k8s.io/pause:3.9"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
`;

export interface HostTree {
  /** The bed directory (pids file, scripts, logs). */
  bed: string;
  /** The node's / (what --host-root names). */
  root: string;
  /** Argv-safe script that restarts the node's containerd (what --restart-command names). */
  restartScript: string;
  /** The pid of the node's containerd now. */
  containerdPid(): number | null;
  /** `containerd config dump` as the node sees it (chrooted). */
  configDump(): string;
  /** Path → sha256 (or "dir"/"-> target") of every file, except the daemon's live state. */
  snapshot(): Record<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The arguments that point a command at the node and restart its containerd with the node's own script. */
export const onNode = (node: Pick<HostTree, "root" | "restartScript">): string[] => [
  "--host-root",
  node.root,
  "--restart",
  "--restart-command",
  node.restartScript,
];

const STATE_DIRS = new Set(["proc", "run", "var/lib/containerd"]);

/** The pid in `pidFile` while that process lives, else null. */
export function livePid(pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    return pidAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** `containerd config dump` of the node's containerd, chrooted into the node tree. */
export function chrootConfigDump(root: string, containerd: string, config: string): string {
  const r = spawnSync("chroot", [root, containerd, "-c", config, "config", "dump"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`config dump failed: ${r.stderr}`);
  return r.stdout;
}

/** Every file, directory and link under `root` (mode + sha256, link target), minus the `skip` paths: byte-for-byte checks. */
export function treeSnapshot(root: string, skip: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.has(r)) continue;
      const p = join(root, r);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else out[r] = `${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
    }
  };
  walk("");
  return out;
}

export function copyWithLibs(bin: string, root: string, dest: string): void {
  mkdirSync(dirname(join(root, dest)), { recursive: true });
  copyFileSync(bin, join(root, dest));
  chmodSync(join(root, dest), 0o755);
  for (const lib of parseLdd(spawnSync("ldd", [bin], { encoding: "utf8" }).stdout)) {
    const to = join(root, lib);
    if (existsSync(to)) continue;
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(realpathSync(lib), to);
  }
}

export function makeHostTree(config = NODE_CONFIG): HostTree {
  const bed = mkdtempSync(`${BED_PREFIX}hostroot-`);
  const root = join(bed, "host");
  for (const d of ["etc/containerd", "usr/local/bin", "usr/bin", "var/lib", "run", "tmp", "proc"])
    mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  writeFileSync(join(root, "etc/containerd/config.toml"), config);
  copyWithLibs(realpathSync(which("containerd")!), root, "usr/bin/containerd");
  const pidFile = join(bed, "containerd.pid");
  const log = join(bed, "containerd.log");
  // What a node's init would do: stop the daemon, start it again on the same config.
  const startLine = `setsid chroot ${root} /usr/bin/containerd -c /etc/containerd/config.toml -a /run/containerd/containerd.sock --root /var/lib/containerd --state /run/containerd >>${log} 2>&1 </dev/null &
echo $! >${pidFile}; echo $! >>${bed}/pids`;
  const restartScript = join(bed, "restart-containerd");
  writeFileSync(
    restartScript,
    `#!/bin/sh
# Restart the node's containerd (the test's stand-in for systemctl restart containerd).
pid=$(cat ${pidFile} 2>/dev/null)
if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; fi
${startLine}
`,
  );
  chmodSync(restartScript, 0o755);
  const socket = join(root, "run/containerd/containerd.sock");
  const tree: HostTree = {
    bed,
    root,
    restartScript,
    containerdPid: () => livePid(pidFile),
    configDump: () => chrootConfigDump(root, "/usr/bin/containerd", "/etc/containerd/config.toml"),
    snapshot() {
      return treeSnapshot(root, STATE_DIRS);
    },
    async start() {
      spawnSync("mount", ["-t", "proc", "proc", join(root, "proc")]);
      spawnSync("sh", ["-c", startLine]);
      await waitFor(
        "the node's containerd socket",
        () => existsSync(socket) && statSync(socket).isSocket(),
        20_000,
        log,
      );
    },
    async stop() {
      const pid = tree.containerdPid();
      if (pid) {
        process.kill(pid, "SIGTERM");
        await waitFor("the node's containerd to exit", () => !pidAlive(pid), 15_000);
      }
      unmountUnder(root);
      rmSync(bed, { recursive: true, force: true });
    },
  };
  return tree;
}
