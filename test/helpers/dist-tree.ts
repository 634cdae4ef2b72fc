// A Kubernetes distribution's node in a directory, as the DaemonSet pod sees it at /host:
// the distribution's containerd config files at its paths (test/fixtures/k8s-dist), and a
// real containerd (this machine's 1.6, or 2.1 from the host matrix's sid tree) chrooted into
// it with the distribution's flags — config path, socket, root and state. `start` does what
// the distribution does when it starts: render its config (k3s/RKE2: the template with its
// base config in place of {{ template "base" . }}; k0s: its CRI config plus the drop-ins'
// tables; microk8s: the template with ${VARS} replaced), then (re)start containerd. The same
// script is the --restart-command. Under the bed prefix: test/bed/cleanup.sh reaps it.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { BED_PREFIX, unmountUnder, waitFor } from "../bed/bed.ts";
import { pidAlive } from "../../platform/os/processes.ts";
import { which } from "../../platform/os/which.ts";
import { DISTRIBUTIONS, MICROK8S_VARS, type DistributionId } from "../../platform/engines/containerd/k8s-dist.ts";
import { chrootConfigDump, copyWithLibs, livePid, treeSnapshot, type HostTree } from "./host-tree.ts";

const FIX = join(import.meta.dir, "../fixtures/k8s-dist");

/** A node tree (host-tree.ts) laid out and started as distribution `id` does it. */
export interface DistTree extends HostTree {
  id: DistributionId;
}

/** Where each distribution keeps its containerd binary, and its root/state directories. */
const LAYOUT: Record<DistributionId, { bin: string; root: string; state: string }> = {
  k3s: {
    bin: "/var/lib/rancher/k3s/data/current/bin/containerd",
    root: "/var/lib/rancher/k3s/agent/containerd",
    state: "/run/k3s/containerd",
  },
  rke2: {
    bin: "/var/lib/rancher/rke2/bin/containerd",
    root: "/var/lib/rancher/rke2/agent/containerd",
    state: "/run/k3s/containerd",
  },
  k0s: { bin: "/var/lib/k0s/bin/containerd", root: "/var/lib/k0s/containerd", state: "/run/k0s/containerd" },
  microk8s: {
    bin: "/snap/microk8s/current/bin/containerd",
    root: "/var/snap/microk8s/common/var/lib/containerd",
    state: "/var/snap/microk8s/common/run/containerd",
  },
};
const STATE = new Set([
  "proc",
  "run",
  "var/lib/rancher/k3s/agent/containerd",
  "var/lib/rancher/rke2/agent/containerd",
  "var/lib/k0s/containerd",
  "var/snap/microk8s/common",
]);

/**
 * `containerd`: the binary to run (host path on this machine); `v3`: k3s/RKE2 as they
 * ship with containerd 2.x (config-v3 base). `template`: a custom template already there.
 */
export function makeDistTree(
  id: DistributionId,
  containerd: string,
  opts: { v3?: boolean; template?: string; runsc?: boolean } = {},
): DistTree {
  const dist = DISTRIBUTIONS[id];
  const lay = LAYOUT[id];
  const bed = mkdtempSync(`${BED_PREFIX}dist-${id}-`);
  const root = join(bed, "host");
  for (const d of ["etc", "usr/local/bin", "usr/bin", "var/lib", "run", "tmp", "proc"]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, "tmp"), 0o1777);
  copyWithLibs(containerd, root, lay.bin);
  // The runsc the node has (what gvisor-doctor install puts there; runsc: false leaves that to install).
  if (opts.runsc !== false) {
    copyFileSync(which("runsc")!, join(root, "usr/local/bin/runsc"));
    chmodSync(join(root, "usr/local/bin/runsc"), 0o755);
  }
  const at = (p: string) => join(root, p);
  const put = (p: string, text: string) => {
    mkdirSync(join(at(p), ".."), { recursive: true });
    writeFileSync(at(p), text);
  };
  const fixture = (p: string) => readFileSync(join(FIX, p), "utf8");
  let render: string;
  if (id === "k3s" || id === "rke2") {
    // The distribution's built-in base template, rendered: it lives in its binary, not on the node.
    writeFileSync(join(bed, "base.toml"), fixture(`${id}/${opts.v3 ? "config-v3" : "config"}.toml`));
    const dir = dist.editDir;
    mkdirSync(at(dir), { recursive: true });
    if (opts.template) put(`${dir}/config.toml.tmpl`, opts.template);
    // As k3s does: config-v3.toml.tmpl for containerd 2.x, else config.toml.tmpl, else the base alone.
    const tmpls = [...(opts.v3 ? [`${dir}/config-v3.toml.tmpl`] : []), `${dir}/config.toml.tmpl`].map(at);
    render = `tmpl=""
for t in ${tmpls.join(" ")}; do if [ -f "$t" ]; then tmpl="$t"; break; fi; done
if [ -n "$tmpl" ]; then
  awk -v base=${bed}/base.toml \\
    '$0 == "{{ template \\"base\\" . }}" { while ((getline l < base) > 0) print l; close(base); next } { print }' \\
    "$tmpl" >${at(dist.config)}
else cp ${bed}/base.toml ${at(dist.config)}; fi`;
  } else if (id === "k0s") {
    put(dist.config, fixture("k0s/containerd.toml"));
    mkdirSync(at(dist.editDir), { recursive: true });
    writeFileSync(join(bed, "cri-base.toml"), fixture("k0s/containerd-cri.toml"));
    // k0s merges the CRI tables of each drop-in into its generated CRI config.
    render = `mkdir -p ${at("/run/k0s")}
{ cat ${bed}/cri-base.toml
  for f in ${at(dist.editDir)}/*.toml; do [ -f "$f" ] && grep -v '^version' "$f"; done; } >${at(dist.rendered)}`;
  } else {
    mkdirSync(at("/var/snap/microk8s/7394/args"), { recursive: true });
    symlinkSync("7394", at("/var/snap/microk8s/current"));
    mkdirSync(at("/var/snap/microk8s/common/run"), { recursive: true });
    put("/var/snap/microk8s/current/args/containerd-template.toml", fixture("microk8s/containerd-template.toml"));
    const subst = Object.entries(MICROK8S_VARS)
      .map(([k, v]) => `-e 's#\${${k}}#${v}#g'`)
      .join(" ");
    render = `sed ${subst} ${at("/var/snap/microk8s/current/args/containerd-template.toml")} >${at(dist.config)}`;
  }
  const pidFile = join(bed, "containerd.pid");
  const log = join(bed, "containerd.log");
  // Its own network namespace: the distributions' configs bind fixed loopback ports (10010, 1338).
  const config = id === "microk8s" ? "/var/snap/microk8s/7394/args/containerd.toml" : dist.config;
  const startLine = `setsid unshare -n chroot ${root} ${lay.bin} -c ${config} -a ${dist.socket} \\
  --root ${lay.root} --state ${lay.state} >>${log} 2>&1 </dev/null &
echo $! >${pidFile}; echo $! >>${bed}/pids`;
  const restartScript = join(bed, `start-${id}`);
  writeFileSync(
    restartScript,
    `#!/bin/sh
# ${dist.title} starting on the node: render its containerd config, (re)start its containerd.
set -e
pid=$(cat ${pidFile} 2>/dev/null || true)
if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; fi
rm -f ${at(dist.socket)}
${render}
${startLine}
`,
  );
  chmodSync(restartScript, 0o755);
  const tree: DistTree = {
    id,
    bed,
    root,
    restartScript,
    containerdPid: () => livePid(pidFile),
    configDump: () => chrootConfigDump(root, lay.bin, dist.config),
    snapshot() {
      return treeSnapshot(root, STATE);
    },
    async start() {
      spawnSync("mount", ["-t", "proc", "proc", join(root, "proc")]);
      const r = spawnSync("sh", [restartScript], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${restartScript}: ${r.stderr}`);
      const socket = at(dist.socket);
      const serving = () => existsSync(socket) && statSync(socket).isSocket();
      await waitFor(`${dist.title}'s containerd socket`, serving, 20_000, log);
    },
    async stop() {
      const pid = tree.containerdPid();
      if (pid) {
        process.kill(pid, "SIGTERM");
        await waitFor(`${dist.title}'s containerd to exit`, () => !pidAlive(pid), 15_000);
      }
      unmountUnder(root);
      rmSync(bed, { recursive: true, force: true });
    },
  };
  return tree;
}
