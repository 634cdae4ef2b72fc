// runsc directly (root), like `runsc do` but with a real read-only root: an OCI
// bundle in a private temp dir (config.json, a private state dir, and a rootfs copy
// only when the cached probe rootfs lacks a mount point) run by
// `runsc --network=none run`, inside a cgroup with the limits (cgroup.ts) when the
// host allows. Cleanup removes the temp dir and the cgroups.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { echoInput } from "../os/echo-input.ts";
import { UsageError } from "../os/errors.ts";
import { readText } from "../os/fsutil.ts";
import { sleep } from "../os/sleep.ts";
import { run } from "../os/spawn.ts";
import { findTool } from "../os/which.ts";
import { ensureProbeRootfsDir } from "../probe/images.ts";
import { createLimitGroup, joinGroupArgv } from "./cgroup.ts";
import { writeRootfs } from "../probe/rootfs.ts";
import type { ExecRequest, Launch } from "./types.ts";

/** PATH inside the sandbox (Docker's default for images without one). */
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NO_CAPS = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };

/** The OCI runtime spec for one run: read-only root, no capabilities, no new privileges, limits. */
export function runscSpec(req: ExecRequest, rootfs: string): Record<string, unknown> {
  const env = { PATH: SANDBOX_PATH, HOME: "/root", ...req.env };
  const namespaces = ["pid", "ipc", "uts", "mount", ...(req.network === "none" ? ["network"] : [])].map((type) => ({
    type,
  }));
  return {
    ociVersion: "1.0.0",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: req.command,
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: req.workdir ?? "/",
      capabilities: NO_CAPS,
      noNewPrivileges: true,
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1048576, soft: 1048576 }],
    },
    root: { path: rootfs, readonly: true },
    hostname: "sandbox",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      ...req.mounts.map((m) => ({
        destination: m.target,
        type: "bind",
        source: m.source,
        options: ["rbind", m.writable ? "rw" : "ro"],
      })),
    ],
    linux: {
      namespaces,
      resources: { pids: { limit: req.pids }, ...(req.memoryBytes ? { memory: { limit: req.memoryBytes } } : {}) },
    },
  };
}

/** runsc's global flags for this run. */
export function runscGlobalArgs(state: string, network: ExecRequest["network"], ignoreCgroups: boolean): string[] {
  return ["--root", state, `--network=${network}`, ...(ignoreCgroups ? ["--ignore-cgroups"] : [])];
}

/**
 * Whether runsc can make the sandbox's cgroups (which enforce the pids and memory
 * limits): the pids controller (v1) or the unified hierarchy (v2) is mounted
 * read-write. In an unprivileged container it is read-only and runsc fails unless
 * told --ignore-cgroups (gvisor#8111); a /.dockerenv alone does not decide it.
 * Read from mountinfo, not access(2): Deno's access() judges root by mode bits.
 */
export function cgroupsWritable(mountinfo: string = readText("/proc/self/mountinfo") ?? ""): boolean {
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post) continue;
    const f = pre.split(" ");
    const [fstype, , superOpts = ""] = post.split(" ");
    const mountpoint = f[4];
    const rw = (f[5] ?? "").split(",").includes("rw");
    if (fstype === "cgroup2" && mountpoint === "/sys/fs/cgroup") return rw;
    if (fstype === "cgroup" && superOpts.split(",").includes("pids")) return rw;
  }
  return false;
}

/** The controllers runsc's cgroup v2 setup refuses to run without (runsc/cgroup: mandatory). */
export const RUNSC_V2_CONTROLLERS = ["cpu", "cpuset", "io", "memory", "pids"];

/**
 * On a cgroup v2 host, the controllers runsc needs that the tree does not offer (a hybrid
 * kernel, controllers delegated away: nested containers, some rootless setups); runsc then
 * fails with `mandatory cgroup controller "memory" is missing` unless told --ignore-cgroups.
 * Empty on cgroup v1 and when the tree offers them all.
 */
export function missingCgroupControllers(root = "/sys/fs/cgroup"): string[] {
  const text = readText(join(root, "cgroup.controllers")) ?? "";
  if (!existsSync(join(root, "cgroup.controllers"))) return [];
  const have = new Set(text.split(/\s+/).filter(Boolean));
  return RUNSC_V2_CONTROLLERS.filter((c) => !have.has(c));
}

/** runsc's own failures exit 128 with "running container: …"; map them like Docker does (125/126/127). */
export function runscStartFailure(code: number | null, stderr: string): number | null {
  if (code !== 128) return null;
  const line = stderr
    .split("\n")
    .reverse()
    .find((l) => /^running container: /.test(l));
  if (!line) return null;
  if (/no such file or directory|executable file not found/.test(line)) return 127;
  if (/permission denied/.test(line)) return 126;
  return 125;
}

/** cgroups runsc made for container `id` (v1: one per controller; v2: one). */
function removeCgroups(id: string): void {
  const root = "/sys/fs/cgroup";
  let dirs: string[] = [];
  try {
    dirs = readdirSync(root).map((c) => join(root, c, id));
  } catch {}
  for (const d of [join(root, id), ...dirs]) {
    if (!existsSync(d)) continue;
    try {
      rmdirSync(d);
    } catch {}
  }
}

export interface RunscTarget {
  runsc: string;
  ignoreCgroups: boolean;
}

/** Where the sandbox needs a directory (or, for a file bind, a file) to exist in its root. */
export function mountPoints(req: ExecRequest): { path: string; dir: boolean }[] {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return true;
    }
  };
  return [
    ...req.mounts.map((m) => ({ path: m.target, dir: isDir(m.source) })),
    ...(req.workdir ? [{ path: req.workdir, dir: true }] : []),
  ];
}

function hasPoint(root: string, p: { path: string; dir: boolean }): boolean {
  try {
    const st = statSync(join(root, p.path));
    return p.dir ? st.isDirectory() : st.isFile();
  } catch {
    return false;
  }
}

/**
 * The sandbox's root directory. runsc creates missing mount points inside the root
 * it is given, so the shared cached rootfs is used only when every mount point is
 * already there (e.g. /work, /tmp); otherwise this run gets its own copy in `dir`.
 * A caller's --image directory is never written to: missing points are an error.
 */
async function sandboxRoot(req: ExecRequest, dir: string): Promise<string> {
  const points = mountPoints(req);
  if (req.image) {
    if (!hasPoint(req.image, { path: "/", dir: true }))
      throw new UsageError(
        `--image ${echoInput(req.image)}: with --via runsc the image is a root file system directory`,
        "give a directory holding the sandbox's /, or leave --image out for the built-in one",
      );
    for (const p of [...["/proc", "/dev", "/sys"].map((path) => ({ path, dir: true })), ...points]) {
      if (!hasPoint(req.image, p))
        throw new UsageError(
          `${echoInput(p.path)} does not exist in ${echoInput(req.image)}${p.dir ? "" : " (as a file)"}`,
          `create it: ${p.dir ? "mkdir -p" : "touch"} ${echoInput(join(req.image, p.path))}`,
        );
    }
    return req.image;
  }
  const cached = await ensureProbeRootfsDir();
  if (points.every((p) => hasPoint(cached.dir, p))) return cached.dir;
  const root = join(dir, "rootfs");
  writeRootfs(cached.rootfs, root);
  for (const p of points) {
    if (hasPoint(root, p)) continue;
    mkdirSync(join(root, p.dir ? p.path : dirname(p.path)), { recursive: true });
    if (!p.dir) writeFileSync(join(root, p.path), "");
  }
  return root;
}

/** Build the bundle (throws UsageError for an unusable --image directory). */
export async function launchRunsc(req: ExecRequest, t: RunscTarget): Promise<Launch> {
  const dir = mkdtempSync(join(tmpdir(), "gvd-exec-"));
  try {
    writeFileSync(join(dir, "config.json"), JSON.stringify(runscSpec(req, await sandboxRoot(req, dir))));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const state = join(dir, "state");
  const id = basename(dir);
  // Limits in a cgroup of our own when we can (cgroup v1); else runsc makes its own.
  const group = t.ignoreCgroups ? null : createLimitGroup(id, { pids: req.pids, memoryBytes: req.memoryBytes });
  const global = runscGlobalArgs(state, req.network, t.ignoreCgroups || !!group);
  // The sandbox dies with exec, even with a SIGKILLed exec: `runsc run` gets SIGKILL when its parent dies, and
  // takes its --attached sandbox along. Left running, `runsc delete --force` later fails (exit 128).
  const runArgv = [...dieWithParent(), t.runsc, ...global, "run", "--bundle", dir, id];
  const [file, args] = group ? joinGroupArgv(group.procs, runArgv) : [runArgv[0], runArgv.slice(1)];
  let tornDown = false;
  const runsc = (args: string[]) => run(t.runsc, [...global, ...args], { timeoutMs: 30_000 });
  return {
    method: "runsc",
    sandboxed: true,
    file,
    args,
    async forward(sig) {
      await runsc(["kill", id, sig.replace(/^SIG/, "")]);
    },
    async teardown({ pid, exited }) {
      tornDown = true;
      let done = false;
      void exited.then(() => (done = true));
      // Kill until `runsc run` is gone: the container may not exist yet on the first try.
      for (let i = 0; !done; i++) {
        await runsc(["kill", "--all", id, "KILL"]);
        await Promise.race([exited, sleep(250)]);
        if (!done && i >= 20 && pid) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
      }
    },
    verdict(code) {
      const hits = group?.pidsLimitHits() ?? 0;
      if (!hits || code === 0) return null;
      // Past the limit gVisor cannot start a host thread and the whole sandbox dies (exit 2, silently).
      return {
        exitCode: code === 2 ? 137 : undefined,
        message:
          `the sandbox reached its pids limit (--pids ${req.pids}, which counts gVisor's own host ` +
          `threads too) and gVisor stopped it${code === 2 ? " (exit 137)" : ""}; raise --pids if the command ` +
          "needs more processes",
      };
    },
    async cleanup() {
      // `runsc run` deletes its container when it ends normally; after a kill it may not have.
      if (tornDown || readdirSafe(state).some((f) => f.includes(id))) await runsc(["delete", "--force", id]);
      await group?.remove();
      rmSync(dir, { recursive: true, force: true });
      removeCgroups(id);
    },
  };
}

/**
 * argv prefix that makes what follows die (SIGKILL) when exec does: util-linux `setpriv --pdeathsig`, which
 * the exec()s of the cgroup join script and of runsc keep. None when setpriv is missing.
 */
export function dieWithParent(): string[] {
  const setpriv = findTool("setpriv");
  return setpriv ? [setpriv, "--pdeathsig", "KILL", "--"] : [];
}

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}
