// exec's own cgroup for a runsc sandbox's limits, on a made-up cgroup v1 tree.
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLimitGroup, joinGroupArgv, parseSelfCgroups } from "../../platform/exec/cgroup.ts";

let root = "";
afterEach(() => rmSync(root, { recursive: true, force: true }));
/** A fake /sys/fs/cgroup with these v1 controllers (and optionally a v2 root). */
function fakeRoot(ctrls: string[], v2 = false): string {
  root = mkdtempSync("/tmp/gvd-test-cgroup-");
  for (const c of ctrls) {
    mkdirSync(join(root, c, "ci/job"), { recursive: true });
    writeFileSync(join(root, c, "cgroup.procs"), "");
    writeFileSync(join(root, c, "ci/job", "cgroup.procs"), "");
  }
  if (v2) writeFileSync(join(root, "cgroup.controllers"), "cpu memory pids");
  return root;
}
const SELF = "9:name=systemd:/\n8:pids:/\n4:memory:/ci/job\n2:cpu,cpuacct:/\n0::/\n";

describe("limit cgroups", () => {
  test("/proc/self/cgroup: every controller of a line gets its path", () => {
    const m = parseSelfCgroups(SELF);
    expect(m.get("pids")).toBe("/");
    expect(m.get("memory")).toBe("/ci/job");
    expect(m.get("cpuacct")).toBe("/");
  });

  test("the group nests under this process's own cgroup per controller, with the limits written", async () => {
    const r = fakeRoot(["pids", "memory"]);
    const g = createLimitGroup("gvd-exec-x", { pids: 64, memoryBytes: 1 << 27 }, r, SELF)!;
    expect(g.procs).toEqual([
      join(r, "pids/gvd-exec-x/cgroup.procs"),
      join(r, "memory/ci/job/gvd-exec-x/cgroup.procs"),
    ]);
    expect(readFileSync(join(r, "pids/gvd-exec-x/pids.max"), "utf8")).toBe("64");
    expect(readFileSync(join(r, "memory/ci/job/gvd-exec-x/memory.limit_in_bytes"), "utf8")).toBe(String(1 << 27));
    // A fake tree's files make rmdir fail; a real cgroup's do not. Removal must still not throw.
    await g.remove();
  });

  test("no memory limit asked: only the pids group", () => {
    const g = createLimitGroup("g", { pids: 8, memoryBytes: null }, fakeRoot(["pids", "memory"]), SELF)!;
    expect(g.procs).toHaveLength(1);
    expect(existsSync(join(root, "memory/ci/job/g"))).toBe(false);
  });

  test("cgroup v2, or a missing controller: null, so runsc makes its own", () => {
    expect(createLimitGroup("g", { pids: 8, memoryBytes: null }, fakeRoot(["pids"], true), SELF)).toBeNull();
    rmSync(root, { recursive: true, force: true });
    expect(createLimitGroup("g", { pids: 8, memoryBytes: 1 << 27 }, fakeRoot(["pids"]), SELF)).toBeNull();
    rmSync(root, { recursive: true, force: true });
    expect(createLimitGroup("g", { pids: 8, memoryBytes: null }, fakeRoot(["memory"]), SELF)).toBeNull();
    expect(existsSync(join(root, "memory/ci/job/g"))).toBe(false);
  });

  test("the wrapper joins every group, then execs the command with its arguments untouched", () => {
    const [file, args] = joinGroupArgv(
      ["/cg/a/cgroup.procs", "/cg/b/cgroup.procs"],
      ["/usr/bin/runsc", "run", "--bundle", "/b; rm -rf /", "id"],
    );
    expect(file).toBe("/bin/sh");
    expect(args.slice(2)).toEqual([
      "sh",
      "/cg/a/cgroup.procs",
      "/cg/b/cgroup.procs",
      "--",
      "/usr/bin/runsc",
      "run",
      "--bundle",
      "/b; rm -rf /",
      "id",
    ]);
    // For real, with plain files standing in for cgroup.procs: the pid that execs is the one written.
    const r = fakeRoot([]);
    const [f, a] = joinGroupArgv([join(r, "a"), join(r, "b")], ["sh", "-c", 'echo "$$ $1"', "x", "it's; fine"]);
    const out = spawnSync(f, a, { encoding: "utf8" });
    const [pid, arg] = [out.stdout.split(" ")[0], out.stdout.slice(out.stdout.indexOf(" ") + 1)];
    expect(arg).toBe("it's; fine\n");
    expect(readFileSync(join(r, "a"), "utf8")).toBe(`${pid}\n`);
    expect(readFileSync(join(r, "b"), "utf8")).toBe(`${pid}\n`);
    expect(spawnSync(f, joinGroupArgv([join(r, "no/such/dir/cgroup.procs")], ["true"])[1]).status).toBe(125);
  });
});
