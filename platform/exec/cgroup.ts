// The pids and memory limits of a runsc sandbox as a cgroup (v1) that exec makes
// itself, nested under exec's own cgroup for each controller, so an enclosing limit
// (a CI job's memory cap) still applies. runsc then runs with --ignore-cgroups: its
// own cgroup setup creates a group in every v1 hierarchy, at the root (escaping the
// caller's), and costs ~30 ms a run here. On cgroup v2 this returns null and runsc
// makes its own (a v2 group with processes cannot hand controllers to a child).
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readText } from "../os/fsutil.ts";
import { sleep } from "../os/sleep.ts";

export interface LimitGroup {
  /** The cgroup.procs files the sandbox's first process must join. */
  procs: string[];
  /** SIGKILL everything in the group, wait until it is empty, remove it (idempotent). */
  remove(): Promise<void>;
  /** How often a task could not start because of the pids limit (pids.events "max"), before remove(). */
  pidsLimitHits(): number;
}

/** /proc/self/cgroup (v1 lines "8:pids:/a/b", "2:cpu,cpuacct:/") → controller → path. */
export function parseSelfCgroups(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [, ctrls, path] = line.match(/^\d+:([^:]*):(.*)$/) ?? [];
    if (!ctrls) continue;
    for (const c of ctrls.split(",")) m.set(c, path);
  }
  return m;
}

const read = (p: string) => readText(p) ?? "";
const members = (dir: string) => read(join(dir, "cgroup.procs")).split("\n").filter(Boolean).map(Number);

/** Make `name` with the limits, or null when this host cannot (v2, controller missing, read-only). */
export function createLimitGroup(
  name: string,
  limits: { pids: number; memoryBytes: number | null },
  root = "/sys/fs/cgroup",
  self = read("/proc/self/cgroup"),
): LimitGroup | null {
  if (existsSync(join(root, "cgroup.controllers"))) return null; // v2 at the root
  const mine = parseSelfCgroups(self);
  const want: [string, Record<string, string>][] = [["pids", { "pids.max": String(limits.pids) }]];
  if (limits.memoryBytes) {
    // memsw (memory+swap) exists only with swap accounting; set after the plain limit.
    const memsw: Record<string, string> = existsSync(join(root, "memory", "memory.memsw.limit_in_bytes"))
      ? { "memory.memsw.limit_in_bytes": String(limits.memoryBytes) }
      : {};
    want.push(["memory", { "memory.limit_in_bytes": String(limits.memoryBytes), ...memsw }]);
  }
  const dirs: string[] = [];
  const removeDirs = () => {
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {}
    }
  };
  try {
    for (const [ctrl, files] of want) {
      if (!mine.has(ctrl) || !existsSync(join(root, ctrl, "cgroup.procs"))) throw new Error(`no ${ctrl} hierarchy`);
      const dir = join(root, ctrl, mine.get(ctrl)!, name);
      mkdirSync(dir);
      dirs.push(dir);
      for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
    }
  } catch {
    removeDirs();
    return null;
  }
  return {
    procs: dirs.map((d) => join(d, "cgroup.procs")),
    pidsLimitHits: () => Number(read(join(dirs[0], "pids.events")).match(/^max (\d+)$/m)?.[1] ?? 0),
    async remove() {
      // After a normal exit the sandbox's processes are still leaving for a few ms:
      // poll fast first, back off up to 50 ms, give up after ~5 s.
      for (let i = 0, waited = 0; waited < 5_000; i++) {
        const left = dirs.flatMap(members);
        if (!left.length) break;
        for (const pid of left) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
        const ms = Math.min(50, 2 ** i);
        await sleep(ms);
        waited += ms;
      }
      removeDirs();
    },
  };
}

/**
 * argv that joins the cgroups, then execs `argv`: a constant script, the paths and
 * the command as arguments. Exit 125 when joining fails.
 */
export function joinGroupArgv(procs: string[], argv: string[]): [string, string[]] {
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return ["/bin/sh", ["-c", script, "sh", ...procs, "--", ...argv]];
}
