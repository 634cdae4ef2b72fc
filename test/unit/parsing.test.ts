import { describe, expect, test } from "bun:test";
import { gvisorArch, unameArch } from "../../platform/os/arch.ts";
import {
  dockerdServing,
  matchDockerd,
  daemonConfigPath,
  parseDockerInfo,
} from "../../platform/engines/docker/client.ts";
import { parseElf, readElf } from "../../platform/os/elf.ts";
import { parseFlags, type DaemonProcess } from "../../platform/os/processes.ts";
import { compareGvisor, parseGvisorVersion, parseKernel } from "../../platform/os/versions.ts";
import { memlockBug } from "../../checks/host.ts";

describe("versions", () => {
  test("kernel releases coerce to their numeric part, never the suffix", () => {
    expect(parseKernel("6.18.44-fc-v669")?.version).toBe("6.18.44");
    expect(parseKernel("5.15.153.1-microsoft-standard-WSL2")?.version).toBe("5.15.153");
    expect(parseKernel("5.15.0-1051-azure")?.version).toBe("5.15.0");
  });
  test("memlock-bug kernels are 5.1–5.3.15, 5.4.2 and 5.5", () => {
    expect(["5.1.0", "5.3.15", "5.4.2", "5.5.19"].every(memlockBug)).toBe(true);
    expect(["5.3.16", "5.4.3", "5.6.0", "4.19.0", "6.1.0"].some(memlockBug)).toBe(false);
  });
  test("gVisor versions: releases, nightlies, Debian builds, unstamped builds", () => {
    const rel = parseGvisorVersion("runsc version release-20260817.0\nspec: 1.1.0")!;
    expect(rel).toMatchObject({ date: "20260817", point: 0, commits: 0, isRelease: true, distro: false });
    const nightly = parseGvisorVersion("runsc version release-20260817.0-57-g0123456789ab\nspec: 1.1.0")!;
    expect(nightly).toMatchObject({ date: "20260817", commits: 57, isRelease: false });
    expect(parseGvisorVersion("runsc version 0.0~20221219.0\nspec: 1.0.2-dev")).toMatchObject({
      date: "20221219",
      point: 0,
      distro: true,
    });
    expect(parseGvisorVersion("runsc version VERSION_MISSING\nspec: 1.0.1-dev")).toBeNull();
    expect(compareGvisor(rel, nightly)).toBeLessThan(0);
    expect(
      compareGvisor(parseGvisorVersion("release-20260209.1")!, parseGvisorVersion("release-20260209.0")!),
    ).toBeGreaterThan(0);
  });
});

describe("architecture names", () => {
  test("Bun's names map to uname -m's, unsupported ones are refused", () => {
    expect(unameArch("x64")).toBe("x86_64");
    expect(unameArch("arm64")).toBe("aarch64");
    expect(gvisorArch("amd64")).toBe("x86_64");
    expect(gvisorArch("arm64")).toBe("aarch64");
    expect(gvisorArch("riscv64")).toBeNull();
  });
});

describe("ELF", () => {
  test("reads the machine and the interpreter of a real binary", () => {
    const sh = readElf("/bin/sh");
    expect(sh?.arch).toBe(unameArch() as any);
    expect(sh?.dynamic).toBe(true);
    expect(sh?.interpreter).toMatch(/ld-/);
  });
  test("an HTML error page is not an ELF", () => {
    expect(
      parseElf(new TextEncoder().encode("<?xml version='1.0'?><Error><Code>NoSuchKey</Code></Error>".padEnd(64))),
    ).toBeNull();
  });
  test("a header with the aarch64 machine is recognised as aarch64", () => {
    const b = new Uint8Array(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    new DataView(b.buffer).setUint16(18, 0xb7, true);
    expect(parseElf(b)?.arch).toBe("aarch64");
  });
});

describe("docker daemon discovery", () => {
  const proc = (argv: string[], uid = 0): DaemonProcess => ({
    pid: 1,
    exe: "/usr/sbin/dockerd",
    argv,
    flags: parseFlags(argv, ["--config-file", "-H", "--host"]),
    uid,
  });
  test("flags are parsed in both --flag value and --flag=value forms", () => {
    expect(
      parseFlags(["dockerd", "--config-file=/a.json", "-H", "unix:///x.sock", "--debug"], ["--config-file", "-H"]),
    ).toEqual({ "--config-file": ["/a.json"], "-H": ["unix:///x.sock"] });
  });
  test("the daemon behind DOCKER_HOST is matched by its -H socket", () => {
    const a = proc(["dockerd", "-H", "unix:///tmp/a.sock", "--config-file", "/tmp/a.json"]);
    const b = { ...proc(["dockerd", "--host=unix:///tmp/b.sock"]), pid: 2 };
    const def = { ...proc(["dockerd"]), pid: 3 };
    expect(matchDockerd("unix:///tmp/b.sock", [a, b, def])?.pid).toBe(2);
    expect(matchDockerd("unix:///var/run/docker.sock", [a, b, def])?.pid).toBe(3);
    expect(daemonConfigPath(a)).toBe("/tmp/a.json");
    expect(daemonConfigPath(def)).toBe("/etc/docker/daemon.json");
  });
  test("the snap's dockerd (confined in its base snap's root) serves this machine; another root's does not", () => {
    const gone = 4194304; // above pid_max: its /proc entries cannot be read, as for an unknown daemon
    const snap = { ...proc(["dockerd"]), pid: gone, exe: "/snap/docker/2932/bin/dockerd" };
    expect(dockerdServing("unix:///var/run/docker.sock", [snap])?.exe).toBe("/snap/docker/2932/bin/dockerd");
    expect(daemonConfigPath(snap)).toBe("/var/snap/docker/current/config/daemon.json");
    expect(dockerdServing("unix:///var/run/docker.sock", [{ ...proc(["dockerd"]), pid: gone }])).toBeNull();
  });
  test("rootless daemons read ~/.config/docker/daemon.json", () => {
    expect(daemonConfigPath(proc(["dockerd"], 1000), { HOME: "/home/u" })).toBe("/home/u/.config/docker/daemon.json");
  });
  test("docker info JSON becomes runtimes and versions", () => {
    const info = parseDockerInfo(
      JSON.stringify({
        ServerVersion: "20.10.24",
        DefaultRuntime: "runc",
        Runtimes: { runc: { path: "runc" }, runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } },
      }),
    );
    expect(info.runtimes.runsc).toEqual({ path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] });
    expect(info.serverVersion).toBe("20.10.24");
  });
});
