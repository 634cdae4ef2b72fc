// A throwaway containerd for configure's end-to-end tests: its own config.toml, root,
// state and socket under /tmp/gvd-bed-*, with the CRI plugin (which reads runtime tables). The
// config file is the one `gvisor-doctor configure containerd --config` edits and
// `--restart` restarts, so the bed finds its daemon by that file, not by a fixed pid.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { helloRootfs, rootfsTar } from "../../platform/probe/rootfs.ts";
import { BED, BED_PREFIX, reapShims, unmountUnder, waitFor } from "./bed.ts";

export interface ContainerdBed {
  dir: string;
  configFile: string;
  socket: string;
  namespace: string;
  /** The containerd serving this bed now (a restart by configure changes it). */
  pid(): number | null;
  ctr(args: string[]): { code: number; stdout: string; stderr: string };
  /** A busybox root file system for `ctr run --rootfs`. */
  rootfs(): Promise<string>;
  stop(): Promise<void>;
}

/** Processes whose command line names `configFile` (containerd -c/--config FILE). */
export function containerdPidsFor(configFile: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "latin1").split("\0");
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue;
      if (argv[0].endsWith("containerd") && argv.includes(configFile)) pids.push(Number(e));
    } catch {}
  }
  return pids;
}

/** Start containerd with `configText(dir)` (default: version 2, private paths, CRI off). */
export async function startContainerdBed(
  configText?: (paths: { dir: string; socket: string }) => string,
): Promise<ContainerdBed> {
  if (!BED.ok) throw new Error(`test bed unavailable: ${BED.reason}`);
  const dir = mkdtempSync(BED_PREFIX);
  const socket = join(dir, "containerd.sock");
  const configFile = join(dir, "config.toml");
  // CRI on (it is what reads runtime tables), without its TCP service; everything under dir.
  const base = `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n\n[grpc]\n  address = "${socket}"\n\n[ttrpc]\n  address = "${socket}.ttrpc"\n\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_tcp_service = true\n  stream_server_address = "127.0.0.1"\n`;
  writeFileSync(configFile, configText ? configText({ dir, socket }) : base);
  const log = join(dir, "containerd.log");
  // The runc-shim path is what these beds test: containerd's PATH leaves out directories holding
  // containerd-shim-runsc-v1 (a host where gvisor-doctor installed it has one in /usr/local/bin).
  const dirs = (process.env.PATH ?? "").split(":").filter((d) => d && !existsSync(join(d, "containerd-shim-runsc-v1")));
  const env = { ...process.env, PATH: dirs.join(":") };
  const stdio: ("ignore" | number)[] = ["ignore", openSync(log, "a"), openSync(log, "a")];
  const cd = spawn("containerd", ["--config", configFile], { detached: true, stdio, env });
  cd.unref();
  appendFileSync(join(dir, "pids"), `${cd.pid}\n`);
  const namespace = `gvd-${dir.slice(BED_PREFIX.length)}`;
  const ctr = (args: string[]) => {
    const r = spawnSync("ctr", ["--address", socket, "--namespace", namespace, ...args], {
      encoding: "utf8",
      timeout: 120_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  await waitFor("containerd to answer", () => existsSync(socket) && ctr(["version"]).code === 0, 20_000, log);
  let rootfsDir: string | null = null;
  return {
    dir,
    configFile,
    socket,
    namespace,
    ctr,
    pid: () => containerdPidsFor(configFile)[0] ?? null,
    async rootfs() {
      if (rootfsDir) return rootfsDir;
      rootfsDir = join(dir, "rootfs");
      spawnSync("mkdir", ["-p", rootfsDir]);
      const tar = await rootfsTar(await helloRootfs());
      const r = spawnSync("tar", ["-x", "-C", rootfsDir], { input: tar });
      if (r.status !== 0) throw new Error(`could not unpack the probe rootfs: ${r.stderr}`);
      return rootfsDir;
    },
    async stop() {
      for (const pid of containerdPidsFor(configFile)) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {}
      }
      await waitFor("containerd to exit", () => containerdPidsFor(configFile).length === 0, 15_000).catch(() => {
        for (const pid of containerdPidsFor(configFile)) process.kill(pid, "SIGKILL");
      });
      reapShims(dir);
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
