// Host-root mode's path rules: host paths in, the node's symlinks followed inside DIR,
// never out of it; --restart-command split into words without a shell.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { hostRestartArgv } from "../../platform/engines/host-restart.ts";
import { hostRootAt, resolveInRoot, SELF_ROOT } from "../../platform/os/host-root.ts";
import { splitCommandLine } from "../../src/host-root-flags.ts";
import { UsageError } from "../../platform/os/errors.ts";

describe("a host root", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-hostroot-unit-");
    mkdirSync(join(dir, "etc/containerd"), { recursive: true });
    mkdirSync(join(dir, "srv/cfg"), { recursive: true });
    // The node's config is an absolute link: on the node it means /srv/cfg/containerd.toml.
    symlinkSync("/srv/cfg/containerd.toml", join(dir, "etc/containerd/config.toml"));
    symlinkSync("../srv", join(dir, "etc/srv-rel"));
    symlinkSync("/", join(dir, "etc/up"));
    symlinkSync("loop-b", join(dir, "etc/loop-a"));
    symlinkSync("loop-a", join(dir, "etc/loop-b"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("maps host paths into DIR and back", () => {
    const root = hostRootAt(dir);
    expect(root.foreign).toBe(true);
    expect(root.local("/etc/crio/crio.conf")).toBe(join(dir, "etc/crio/crio.conf"));
    expect(root.host(join(dir, "etc/crio/crio.conf"))).toBe("/etc/crio/crio.conf");
    expect(root.host(dir)).toBe("/");
    expect(root.show("/etc/x")).toBe(`/etc/x (at ${join(dir, "etc/x")})`);
  });

  test("follows the node's absolute symlinks inside DIR, never into this machine's files", () => {
    expect(resolveInRoot(dir, "/etc/containerd/config.toml")).toBe(join(dir, "srv/cfg/containerd.toml"));
    expect(resolveInRoot(dir, "/etc/srv-rel/cfg")).toBe(join(dir, "srv/cfg"));
    expect(resolveInRoot(dir, "/etc/up/etc/up/etc")).toBe(join(dir, "etc"));
    expect(resolveInRoot(dir, "/../../etc/passwd")).toBe(join(dir, "etc/passwd"));
    expect(() => resolveInRoot(dir, "/etc/loop-a")).toThrow(/too many levels of symbolic links/);
  });

  test("'/' and no flag are this machine itself; a directory without etc/ is refused", () => {
    expect(hostRootAt(undefined)).toBe(SELF_ROOT);
    expect(hostRootAt("/")).toBe(SELF_ROOT);
    expect(SELF_ROOT.owns(process.pid)).toBe(true);
    expect(() => hostRootAt(join(dir, "srv"))).toThrow(UsageError);
    expect(() => hostRootAt(join(dir, "nope"))).toThrow(/no such directory/);
  });

  test.skipIf(process.getuid?.() !== 0 || !existsSync("/bin/busybox"))(
    "a process chrooted into DIR belongs to DIR's root, not to this machine's",
    async () => {
      copyFileSync("/bin/busybox", join(dir, "busybox"));
      chmodSync(join(dir, "busybox"), 0o755);
      const child = spawn("chroot", [dir, "/busybox", "sleep", "30"], { stdio: "ignore" });
      try {
        await new Promise((r) => child.once("spawn", r));
        // chroot execs busybox in the same process: wait until the exec happened.
        for (let i = 0; i < 100 && readlinkSync(`/proc/${child.pid}/exe`).endsWith("/chroot"); i++) await Bun.sleep(10);
        expect(hostRootAt(dir).owns(child.pid!)).toBe(true);
        expect(SELF_ROOT.owns(child.pid!)).toBe(false);
        expect(SELF_ROOT.owns(process.pid)).toBe(true);
        expect(hostRootAt(dir).owns(process.pid)).toBe(false);
      } finally {
        child.kill("SIGKILL");
      }
    },
  );

  test.skipIf(process.getuid?.() !== 0 || !existsSync("/bin/busybox"))(
    "a process in a container (own mount namespace, pivot_root) is not this machine's, though its root reads as /",
    async () => {
      const box = mkdtempSync("/tmp/gvd-test-hostroot-pivot-");
      copyFileSync("/bin/busybox", join(box, "busybox"));
      const script = `mount --bind ${box} ${box} && cd ${box} && mkdir -p old && pivot_root . old && exec /busybox sh -c 'umount -l /old; exec /busybox sleep 30'`;
      const child = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", script], { stdio: "ignore" });
      try {
        let pid = 0;
        for (let i = 0; i < 200 && !pid; i++) {
          await Bun.sleep(10);
          try {
            if (
              readlinkSync(`/proc/${child.pid}/exe`).endsWith("/busybox") &&
              readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes("sleep")
            )
              pid = child.pid!;
          } catch {}
        }
        expect(pid).toBeGreaterThan(0);
        expect(readlinkSync(`/proc/${pid}/root`)).toBe("/"); // why readlink cannot tell
        expect(SELF_ROOT.owns(pid)).toBe(false);
      } finally {
        child.kill("SIGKILL");
        rmSync(box, { recursive: true, force: true });
      }
    },
  );

  test("the default restart needs the node's systemctl and its PID 1; --restart-command wins", () => {
    const root = hostRootAt(dir);
    expect(hostRestartArgv(root, "containerd", null)).toEqual({ argv: null, why: "the host has no systemctl" });
    mkdirSync(join(dir, "usr/bin"), { recursive: true });
    writeFileSync(join(dir, "usr/bin/systemctl"), "");
    chmodSync(join(dir, "usr/bin/systemctl"), 0o755);
    // PID 1 of this machine does not run in DIR (no hostPID into this "node").
    expect(hostRestartArgv(root, "containerd", null).why).toContain("hostPID");
    expect(hostRestartArgv(root, "containerd", ["/bin/true"])).toEqual({
      argv: ["/bin/true"],
      why: "--restart-command",
    });
    // On a node whose PID 1 is visible the default is nsenter into it.
    const node = { ...root, owns: (pid: number) => pid === 1 };
    const argv = hostRestartArgv(node, "containerd.service", null).argv!;
    expect(argv.slice(1)).toEqual([
      "--target",
      "1",
      "--mount",
      "--uts",
      "--ipc",
      "--net",
      "--pid",
      "--",
      "systemctl",
      "restart",
      "containerd.service",
    ]);
    // A service with its own restart (microk8s: snap restart microk8s) runs that in the node's namespaces,
    // and --restart-command still wins.
    const snap = hostRestartArgv(node, "snap.microk8s.daemon-containerd", null, ["snap", "restart", "microk8s"]);
    expect(snap.argv!.slice(1)).toEqual([
      "--target",
      "1",
      "--mount",
      "--uts",
      "--ipc",
      "--net",
      "--pid",
      "--",
      "snap",
      "restart",
      "microk8s",
    ]);
    expect(hostRestartArgv(node, "x", ["/bin/true"], ["snap", "restart", "microk8s"]).argv).toEqual(["/bin/true"]);
    expect(hostRestartArgv(root, "x", null, ["snap", "restart", "microk8s"]).why).toContain("hostPID");
  });
});

describe("--restart-command is split into words, never given to a shell", () => {
  test.each([
    ["systemctl restart containerd", ["systemctl", "restart", "containerd"]],
    ["  chroot /host  systemctl restart containerd ", ["chroot", "/host", "systemctl", "restart", "containerd"]],
    [`sh -c 'kill -HUP $(cat /run/x.pid)'`, ["sh", "-c", "kill -HUP $(cat /run/x.pid)"]],
    [`a "b c" d\\ e ""`, ["a", "b c", "d e", ""]],
    [`x "say \\"hi\\"" ;rm`, ["x", 'say "hi"', ";rm"]],
  ])("%p", (line, words) => {
    expect(splitCommandLine(line)).toEqual(words);
  });
  test("an unterminated quote is a usage error", () => {
    expect(() => splitCommandLine("sh -c 'oops")).toThrow(UsageError);
  });
});
