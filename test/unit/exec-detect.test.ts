// Method detection and what each method is asked to run, from made-up host views.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "bun:test";
import type { DockerDaemonFacts } from "../../platform/engines/docker/client.ts";
import { chooseMethod, detectFromView, runscRuntime, type SandboxView } from "../../platform/exec/detect.ts";
import { normalizeRequest } from "../../platform/exec/options.ts";
import { engineRunArgs } from "../../platform/exec/via-engine.ts";
import { hostWorkdir, launchNone } from "../../platform/exec/via-none.ts";
import {
  cgroupsWritable,
  missingCgroupControllers,
  runscGlobalArgs,
  runscSpec,
  runscStartFailure,
} from "../../platform/exec/via-runsc.ts";

const docker = (
  runtimes: Record<string, { path: string; runtimeArgs?: string[] }> | null,
  infoError = "Cannot connect to the Docker daemon",
): DockerDaemonFacts => ({
  cli: "/usr/bin/docker",
  api: "/var/run/docker.sock",
  via: "cli",
  probeVia: "cli",
  host: "unix:///var/run/docker.sock",
  daemon: null,
  configPath: "/etc/docker/daemon.json",
  info: runtimes
    ? {
        serverVersion: "20.10.24",
        defaultRuntime: "runc",
        runtimes,
        rootless: false,
        cgroupDriver: "cgroupfs",
        cgroupVersion: "1",
        dockerRootDir: "/var/lib/docker",
        operatingSystem: "Debian",
      }
    : null,
  infoError: runtimes ? null : infoError,
  infoResult: null,
});
const RUNSC = [{ path: "/usr/bin/runsc", versionOk: true, versionText: "runsc version 0.0~20221219.0" }];
const WITH_RUNSC = { runc: { path: "runc" }, runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } };

/** A host view with every fact gathered (so choosing never probes the real host). */
const view = (over: Partial<SandboxView> = {}): SandboxView => ({
  root: true,
  container: { inside: false, tells: [], kubernetes: false },
  runsc: RUNSC,
  docker: docker(WITH_RUNSC),
  podman: "/usr/bin/podman",
  ...over,
});
const status = (v: SandboxView, m: string) => detectFromView(v).methods.find((s) => s.method === m)!;

describe("which methods are available, and why not", () => {
  test("a host with Docker and a runsc runtime: auto picks docker", () => {
    const d = detectFromView(view());
    expect(d.methods.map((m) => m.method)).toEqual(["docker", "podman", "runsc", "none"]);
    expect(d.auto).toBe("docker");
    expect(d.gvisor).toBe(true);
    expect(status(view(), "docker").reason).toContain("runtime runsc → /usr/bin/runsc --network=none");
  });
  test("inside a container or pod with a working runsc: auto picks runsc directly", () => {
    const v = view({ container: { inside: true, tells: ["KUBERNETES_SERVICE_HOST"], kubernetes: true } });
    const d = detectFromView(v);
    expect(d.methods.map((m) => m.method)).toEqual(["runsc", "docker", "podman", "none"]);
    expect(d.auto).toBe("runsc");
    expect(status(v, "runsc").reason).toContain("inside a container (KUBERNETES_SERVICE_HOST)");
  });
  test("dockerd without runsc names the runtimes it has and the fix", () => {
    const s = status(view({ docker: docker({ runc: { path: "runc" } }), podman: null, runsc: [] }), "docker");
    expect(s.available).toBe(false);
    expect(s.reason).toBe(
      "dockerd at unix:///var/run/docker.sock has no runsc runtime (it has: runc); fix: sudo gvisor-doctor configure docker",
    );
  });
  test("an unreachable dockerd says so in Docker's words", () => {
    expect(status(view({ docker: docker(null) }), "docker").reason).toBe(
      "cannot reach dockerd at unix:///var/run/docker.sock: Cannot connect to the Docker daemon",
    );
  });
  test("a runsc runtime under another name is found by its path", () => {
    expect(runscRuntime({ runc: { path: "runc" }, gvisor: { path: "/usr/local/bin/runsc" } })).toBe("gvisor");
    expect(runscRuntime({ runc: { path: "runc" }, kata: { path: "/usr/bin/kata-runtime" } })).toBeNull();
  });
  test("runsc directly needs root and a binary that runs", () => {
    expect(status(view({ root: false }), "runsc")).toMatchObject({
      available: false,
      reason: expect.stringContaining("needs root"),
    });
    expect(status(view({ runsc: [] }), "runsc").reason).toContain("no runsc binary on PATH");
    expect(
      status(
        view({ runsc: [{ path: "/usr/local/bin/runsc", versionOk: false, versionText: "exec format error" }] }),
        "runsc",
      ).reason,
    ).toBe("/usr/local/bin/runsc does not run: exec format error");
  });
  test("podman needs a runsc binary and root (rootless would drop the limits)", () => {
    expect(status(view({ podman: null }), "podman").reason).toBe("podman is not installed");
    expect(status(view({ runsc: [] }), "podman").reason).toContain("podman runs runsc by path, and no runsc binary");
    expect(status(view({ root: false }), "podman").reason).toContain(
      "rootless Podman cannot enforce the pids and memory limits",
    );
  });
  test("nothing sandboxed: auto is none and gvisor is false", () => {
    const d = detectFromView(view({ root: false, docker: docker(null) }));
    expect(d.auto).toBe("none");
    expect(d.gvisor).toBe(false);
  });
});

describe("choosing", () => {
  const env = {};
  test("auto falls back to a plain subprocess when nothing is there", async () => {
    const c = await chooseMethod("auto", false, env, view({ root: false, docker: docker(null) }));
    expect(c.ok && c.status.method).toBe("none");
  });
  test("--require-sandbox turns the fallback into a refusal that lists every reason", async () => {
    const c = await chooseMethod("auto", true, env, view({ root: false, docker: docker(null), podman: null }));
    expect(c.ok).toBe(false);
    if (!c.ok)
      expect(c.message).toBe(
        "no gVisor sandbox is available (docker: cannot reach dockerd at unix:///var/run/docker.sock: Cannot connect to the Docker daemon; podman: podman is not installed; runsc: running /usr/bin/runsc directly needs root (like `runsc do`); run as root, or register runsc with Docker); --require-sandbox refuses to run without one",
      );
  });
  test("an explicit method never falls back", async () => {
    const c = await chooseMethod("docker", false, env, view({ docker: docker(null) }));
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.message).toStartWith("--via docker is not available here: cannot reach dockerd");
    const ok = await chooseMethod("runsc", false, env, view());
    expect(ok.ok && ok.status.detail.runsc).toBe("/usr/bin/runsc");
  });
  test("auto stops at the first method that works", async () => {
    const c = await chooseMethod("auto", true, env, view({ docker: docker({ runc: { path: "runc" } }) }));
    expect(c.ok && c.status.method).toBe("podman");
  });
});

describe("what each method runs", () => {
  const dir = import.meta.dirname;
  const req = normalizeRequest({
    command: ["sh", "-c", "echo hi"],
    mounts: [`${dir}:/in`, `${dir}:/out:rw`],
    workdir: "/out",
    env: { A: "1" },
    pids: 64,
    memoryBytes: 256 * 1024 ** 2,
  });

  test("docker: the runsc runtime and every security default, then the image and the command verbatim", () => {
    const a = engineRunArgs(
      req,
      {
        engine: "docker",
        cli: "docker",
        runtime: "runsc",
        image: "gvisor-doctor/hello:abc",
        localImage: true,
        name: "gvd-exec-1",
      },
      { stdin: false },
    );
    expect(a.slice(0, 5)).toEqual(["run", "--rm", "--name", "gvd-exec-1", "--label"]);
    for (const f of [
      "--runtime=runsc",
      "--network=none",
      "--read-only",
      "--security-opt=no-new-privileges",
      "--cap-drop=ALL",
      "--pids-limit=64",
      "--memory=268435456",
      "--memory-swap=268435456",
      "--pull=never",
    ])
      expect(a).toContain(f);
    expect(a.join(" ")).toContain(`--volume ${dir}:/in:ro --volume ${dir}:/out:rw --workdir /out --env A=1`);
    expect(a.slice(-5)).toEqual(["--entrypoint=", "gvisor-doctor/hello:abc", "sh", "-c", "echo hi"]);
    expect(a).not.toContain("--interactive");
  });
  test("podman runs runsc by path with its network flag; a user image may be pulled; stdin needs -i", () => {
    const a = engineRunArgs(
      normalizeRequest({ command: ["id"], network: "host" }),
      { engine: "podman", cli: "podman", runsc: "/usr/bin/runsc", image: "alpine", localImage: false, name: "n" },
      { stdin: true },
    );
    expect(a.join(" ")).toContain("--runtime /usr/bin/runsc --runtime-flag=network=host --network=host");
    expect(a).toContain("--interactive");
    expect(a).not.toContain("--pull=never");
    expect(a.some((x) => x.startsWith("--log-driver"))).toBe(false);
  });
  test("runsc: a read-only root, no capabilities, no new privileges, limits, read-only mounts unless rw", () => {
    const s = runscSpec(req, "/cache/rootfs") as any;
    expect(s.root).toEqual({ path: "/cache/rootfs", readonly: true });
    expect(s.process.noNewPrivileges).toBe(true);
    expect(Object.values(s.process.capabilities).every((l: any) => l.length === 0)).toBe(true);
    expect(s.process.args).toEqual(["sh", "-c", "echo hi"]);
    expect(s.process.cwd).toBe("/out");
    expect(s.process.env).toContain("A=1");
    expect(s.linux.resources).toEqual({ pids: { limit: 64 }, memory: { limit: 268435456 } });
    expect(s.linux.namespaces.map((n: any) => n.type)).toContain("network");
    expect(s.mounts.slice(3)).toEqual([
      { destination: "/in", type: "bind", source: dir, options: ["rbind", "ro"] },
      { destination: "/out", type: "bind", source: dir, options: ["rbind", "rw"] },
    ]);
  });
  test("runsc --network host shares the host's network namespace", () => {
    const s = runscSpec(normalizeRequest({ command: ["true"], network: "host" }), "/r") as any;
    expect(s.linux.namespaces.map((n: any) => n.type)).not.toContain("network");
    expect(runscGlobalArgs("/st", "host", false)).toEqual(["--root", "/st", "--network=host"]);
    expect(runscGlobalArgs("/st", "none", true)).toEqual(["--root", "/st", "--network=none", "--ignore-cgroups"]);
  });
  test("runsc's own start failures map like Docker's: 127 not found, 126 not runnable, 125 otherwise", () => {
    const nf =
      'running container: starting container: starting root container: starting sandbox: error finding executable "nosuch" in PATH [/bin]: no such file or directory';
    expect(runscStartFailure(128, `${nf}\n`)).toBe(127);
    expect(runscStartFailure(128, "running container: creating container: permission denied")).toBe(126);
    expect(
      runscStartFailure(
        128,
        "running container: creating container: cannot create sandbox: cannot read client sync file: waiting for sandbox to start: EOF",
      ),
    ).toBe(125);
    expect(runscStartFailure(128, "the command's own output\n")).toBeNull(); // a command may exit 128 itself
    expect(runscStartFailure(1, nf)).toBeNull();
  });
  test("cgroups count as writable only when the pids controller (v1) or the v2 root is mounted rw", () => {
    const v1 = (opts: string) => `39 31 0:36 / /sys/fs/cgroup/pids ${opts},relatime - cgroup cgroup rw,pids\n`;
    expect(cgroupsWritable(v1("rw"))).toBe(true);
    expect(cgroupsWritable(v1("ro"))).toBe(false);
    expect(
      cgroupsWritable("30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n"),
    ).toBe(false);
    expect(
      cgroupsWritable("30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n"),
    ).toBe(true);
    expect(cgroupsWritable("")).toBe(false);
  });
  test("a cgroup v2 tree without runsc's mandatory controllers is detected (the sid/trixie host shape); v1 and full trees are not", () => {
    const dir = mkdtempSync("/tmp/gvd-test-cg-");
    try {
      expect(missingCgroupControllers(dir)).toEqual([]); // no cgroup.controllers: v1
      writeFileSync(join(dir, "cgroup.controllers"), "hugetlb\n");
      expect(missingCgroupControllers(dir)).toEqual(["cpu", "cpuset", "io", "memory", "pids"]);
      writeFileSync(join(dir, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
      expect(missingCgroupControllers(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("podman on such a host: runsc gets ignore-cgroups as a runtime flag", () => {
    const t = {
      engine: "podman" as const,
      cli: "podman",
      runsc: "/usr/bin/runsc",
      image: "alpine",
      localImage: false,
      name: "n",
    };
    expect(engineRunArgs(req, { ...t, ignoreCgroups: true }, { stdin: false })).toContain(
      "--runtime-flag=ignore-cgroups",
    );
    expect(engineRunArgs(req, t, { stdin: false })).not.toContain("--runtime-flag=ignore-cgroups");
  });
  test("none: a workdir inside a mount runs in the mount's host directory", () => {
    const m = [{ source: "/home/u/repo", target: "/work", writable: true }];
    expect(hostWorkdir({ workdir: "/work/pkg", mounts: m }, "/cwd")).toBe("/home/u/repo/pkg");
    expect(hostWorkdir({ workdir: "/work", mounts: m }, "/cwd")).toBe("/home/u/repo");
    expect(hostWorkdir({ workdir: "/workshop", mounts: m }, "/cwd")).toBe("/workshop");
    expect(hostWorkdir({ workdir: null, mounts: m }, "/cwd")).toBe("/cwd");
  });
  test('none: a workdir that is not a host directory is a usage error, not "command not found"', () => {
    expect(() => launchNone(normalizeRequest({ command: ["pwd"], workdir: "/no/such/dir" }), {})).toThrow(
      "--workdir /no/such/dir: /no/such/dir is not a directory on this host",
    );
    const l = launchNone(normalizeRequest({ command: ["pwd"], workdir: "/tmp", env: { A: "1" } }), {
      PATH: "/bin",
      HOME: "/h",
      SECRET: "x",
    });
    expect(l).toMatchObject({ cwd: "/tmp", sandboxed: false });
    // The host's other variables stay out; the run's marker (escapees.ts) goes in.
    const marker = expect.stringMatching(/^\d+-[0-9a-f]{16}$/);
    expect(l.env).toEqual({ PATH: "/bin", HOME: "/h", A: "1", GVISOR_DOCTOR_EXEC_ID: marker });
  });
});
