// Daemons found through /proc: one pass for several daemons finds what one pass per daemon finds.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CONTAINERD_VALUE_FLAGS,
  DOCKERD_VALUE_FLAGS,
  findDaemons,
  findProcesses,
} from "../../platform/os/processes.ts";

const proc = mkdtempSync(join(tmpdir(), "gvd-proc-"));
afterAll(() => rmSync(proc, { recursive: true, force: true }));

/** A /proc/PID entry: its argv, executable (null: unreadable link, as for another user's process) and uid. */
function fake(pid: number, argv: string[], exe: string | null, uid = 0) {
  const d = join(proc, String(pid));
  mkdirSync(d);
  writeFileSync(join(d, "cmdline"), `${argv.join("\0")}\0`);
  if (exe) symlinkSync(exe, join(d, "exe"));
  writeFileSync(join(d, "status"), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
}
fake(30, ["/usr/bin/containerd", "--config", "/etc/containerd/config.toml"], "/usr/bin/containerd");
fake(12, ["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"], "/usr/bin/dockerd");
fake(40, ["containerd", "-c", "/var/run/docker/containerd/containerd.toml"], null, 1000);
fake(50, ["/usr/bin/containerd-shim-runc-v2", "-id", "abc"], "/usr/bin/containerd-shim-runc-v2");
fake(60, ["/usr/sbin/dockerd (deleted)"], "/usr/sbin/dockerd (deleted)");
mkdirSync(join(proc, "self"));

describe("processes", () => {
  test("findDaemons: one pass over /proc, the same daemons and flags as one findProcesses per daemon", () => {
    const both = findDaemons({ dockerd: DOCKERD_VALUE_FLAGS, containerd: CONTAINERD_VALUE_FLAGS }, proc);
    expect(both).toEqual({
      dockerd: findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS, proc),
      containerd: findProcesses(["containerd"], CONTAINERD_VALUE_FLAGS, proc),
    });
    expect(both.dockerd.map((d) => d.pid)).toEqual([12, 60]);
    expect(both.dockerd[0].flags["-H"]).toEqual(["fd://"]);
    expect(both.containerd).toEqual([
      {
        pid: 30,
        exe: "/usr/bin/containerd",
        argv: ["/usr/bin/containerd", "--config", "/etc/containerd/config.toml"],
        flags: { "--config": ["/etc/containerd/config.toml"] },
        uid: 0,
      },
      {
        pid: 40,
        exe: "containerd",
        argv: ["containerd", "-c", "/var/run/docker/containerd/containerd.toml"],
        flags: { "-c": ["/var/run/docker/containerd/containerd.toml"] },
        uid: 1000,
      },
    ]);
  });
});
