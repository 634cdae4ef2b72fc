// Rootless engines (Podman as a normal user, a rootless dockerd): the errors their sandboxes meet
// on this machine, the fixes (no sudo for what the user owns), where wrappers go, and how the
// doctor finds a rootless dockerd's socket. Texts marked "real" were produced here (uid 1001,
// cgroup v1, runsc 20221219, podman 4.3.1, dockerd 20.10 under RootlessKit 1.1).
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecks, userOwnedFix } from "../../checks/runner.ts";
import { podmanHello } from "../../checks/podman.ts";
import { diagnose, registerFix } from "../../checks/rules.ts";
import { fail, type CheckOptions, type Finding } from "../../checks/types.ts";
import { DEFAULT_WRAPPER_DIR, defaultWrapperDir } from "../../platform/engines/edit/runtime-args.ts";
import { hasSubIds, type HostFacts } from "../../platform/facts/host-facts.ts";
import { listeningUnixPaths } from "../../platform/os/processes.ts";
import { dockerHost } from "../../platform/engines/docker/client.ts";
import { systemdUnitOf } from "../../platform/engines/daemon-control.ts";
import { planFixes } from "../../src/fix.ts";
import { planDaemonJson } from "../../platform/engines/docker/daemon-json.ts";
import { systemFileOfUser } from "../../src/configure-engines.ts";

const facts = (uid: number, dockerRootless = false) =>
  ({
    hostRoot: null,
    os: "linux",
    user: { uid, root: uid === 0 },
    sysctl: { ptraceScope: 1, maxUserNamespaces: 1000 },
    docker: { info: { rootless: dockerRootless, runtimes: {} } },
    engines: {},
    runsc: [],
  }) as unknown as HostFacts;
const opts: CheckOptions = { quick: false, offline: false, verbose: false, env: {} };

const REAL = {
  podmanCgroup:
    "Error: /usr/bin/runsc: creating container: cannot set up cgroup for root: configuring cgroup: mkdir " +
    "/sys/fs/cgroup/cpu/5f1cd8b7087aa937fe308abd704a1fcf5889cfecd393f0b82f93273838ccfa8e: permission denied: " +
    "OCI permission denied",
  dockerCgroup:
    "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: " +
    "creating container: cannot set up cgroup for root: configuring cgroup: mkdir " +
    "/sys/fs/cgroup/blkio/07f9804e4789f212da1f2ff877cfe8656948d5748: permission denied: unknown.",
  podmanNetns:
    'starting container: setting up network: creating interfaces from net namespace "/proc/22550/ns/net": ' +
    "cannot run with network enabled in root network namespace\n" +
    "Error: `/usr/bin/runsc --ignore-cgroups start beed615` failed: exit status 128",
};

describe("rootless sandboxes: each failure names the one flag it proves", () => {
  const podman = (text: string) =>
    diagnose("podman.hello", text, { facts: facts(1001), engine: "podman", runtime: "runsc" });
  const docker = (text: string) =>
    diagnose("docker.hello", text, { facts: facts(1001, true), engine: "docker", runtime: "runsc" });

  test("real (rootless podman, cgroup v1): a denied mkdir in /sys/fs/cgroup → cgroup-denied, only ignore-cgroups", () => {
    const d = podman(REAL.podmanCgroup)!;
    expect(d.rule).toBe("cgroup-denied");
    const argv = ["configure", "podman", "--runtime-arg=ignore-cgroups"];
    expect(d.fix).toMatchObject({ id: "podman.register-runtime", automatic: true, argv });
    expect(d.cause).toContain("not enforce");
  });

  test("real (rootless dockerd): the same denial → --ignore-cgroups in Docker's spelling", () => {
    const d = docker(REAL.dockerCgroup)!;
    expect(d.rule).toBe("cgroup-denied");
    expect(d.fix?.argv).toEqual(["configure", "docker", "--runtime-arg=--ignore-cgroups"]);
  });

  test("cgroup v2 without delegation (subtree_control) is the same rule", () => {
    expect(podman("open /sys/fs/cgroup/cgroup.subtree_control: permission denied")?.rule).toBe("cgroup-denied");
  });

  test("real: with ignore-cgroups, the next failure is the sandbox network → netns-root, network=none", () => {
    const d = podman(REAL.podmanNetns)!;
    expect(d.rule).toBe("netns-root");
    expect(d.fix?.argv).toEqual(["configure", "podman", "--runtime-arg=network=none"]);
  });

  test("AppArmor's userns restriction is read for rootless dockerd's errors too", () => {
    expect(docker("write /proc/self/uid_map: Operation not permitted")?.rule).toBe("userns-apparmor");
  });
});

describe("fixes for the engines a normal user runs need no sudo", () => {
  const podmanFix = () =>
    registerFix({ facts: facts(1001), engine: "podman", runtime: "runsc" }, "x", ["ignore-cgroups"]);
  const dockerFix = (f: HostFacts) =>
    registerFix({ facts: f, engine: "docker", runtime: "runsc" }, "x", ["--ignore-cgroups"]);

  test("podman as a normal user, a rootless dockerd: theirs; root, or a system dockerd: sudo", () => {
    expect(userOwnedFix(podmanFix(), facts(1001))).toBe(true);
    expect(userOwnedFix(dockerFix(facts(1001, true)), facts(1001, true))).toBe(true);
    expect(userOwnedFix(dockerFix(facts(1001, false)), facts(1001, false))).toBe(false);
    expect(userOwnedFix(podmanFix(), facts(0))).toBe(false);
  });

  test("the report shows the command without sudo", async () => {
    const diagnosis = { cause: "c", fix: podmanFix(), rule: "cgroup-denied" };
    const check = { id: "podman.hello", title: "t", run: () => fail("x", diagnosis) };
    const [user] = await runChecks([check], facts(1001), opts);
    expect(user.diagnosis?.fix?.command).toBe("gvisor-doctor configure podman --runtime-arg=ignore-cgroups");
    const [root] = await runChecks([check], facts(0), opts);
    expect(root.diagnosis?.fix?.command).toBe("sudo gvisor-doctor configure podman --runtime-arg=ignore-cgroups");
  });

  test("--fix's merged command keeps it that way", () => {
    const diagnosis = { cause: "c", fix: podmanFix(), rule: "cgroup-denied" };
    const f: Finding = {
      id: "podman.hello",
      title: "t",
      status: "fail",
      message: "m",
      details: [],
      durationMs: 1,
      diagnosis,
    };
    const cmd = planFixes([f], facts(1001))[0].fix.command;
    expect(cmd).toBe("gvisor-doctor configure podman --runtime-arg=ignore-cgroups");
    expect(planFixes([f], facts(0))[0].fix.command).toStartWith("sudo ");
  });

  test("podman.hello runs for a normal user (their rootless Podman), not only for root", () => {
    expect(podmanHello.requires?.root).toBeFalsy();
  });
});

describe("where a normal user's wrapper goes", () => {
  test("root: /usr/local/libexec/gvisor-doctor; a user: ~/.local/libexec/gvisor-doctor; the env variable wins", () => {
    expect(defaultWrapperDir({}, 0)).toBe(DEFAULT_WRAPPER_DIR);
    expect(defaultWrapperDir({ HOME: "/home/u" }, 1001)).toBe("/home/u/.local/libexec/gvisor-doctor");
    expect(defaultWrapperDir({ HOME: "/home/u", GVISOR_DOCTOR_WRAPPER_DIR: "/opt/w" }, 1001)).toBe("/opt/w");
  });
});

describe("a rootless dockerd's API socket is found although its main thread sits in another network namespace", () => {
  const root = mkdtempSync(join(tmpdir(), "gvd-proc-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // The shape seen here: /proc/PID/net/unix (main thread, libnetwork's netns) lists only libnetwork's socket;
  // the other threads' netns (RootlessKit's) lists docker.sock.
  const pid = join(root, "42");
  const header = "Num       RefCount Protocol Flags    Type St Inode Path\n";
  const row = (inode: number, path: string) =>
    `0000000067fab591: 00000002 00000000 00010000 0001 01 ${inode} ${path}\n`;
  for (const d of ["net", "ns", "fd", "task/42/ns", "task/42/net", "task/43/ns", "task/43/net"]) {
    mkdirSync(join(pid, d), { recursive: true });
  }
  writeFileSync(join(pid, "net/unix"), header + row(2256952, "/run/user/1001/docker/libnetwork/a6c8.sock"));
  writeFileSync(join(pid, "task/42/net/unix"), header + row(2256952, "/run/user/1001/docker/libnetwork/a6c8.sock"));
  writeFileSync(join(pid, "task/43/net/unix"), header + row(2255930, "/run/user/1001/docker.sock"));
  symlinkSync("net:[4026532179]", join(pid, "ns/net"));
  symlinkSync("net:[4026532179]", join(pid, "task/42/ns/net"));
  symlinkSync("net:[4026532327]", join(pid, "task/43/ns/net"));
  symlinkSync("socket:[2256952]", join(pid, "fd/14"));
  symlinkSync("socket:[2255930]", join(pid, "fd/8"));

  test("both sockets are listed", () => {
    const want = ["/run/user/1001/docker.sock", "/run/user/1001/docker/libnetwork/a6c8.sock"];
    expect(listeningUnixPaths(42, root)?.sort()).toEqual(want);
  });
});

describe("a rootless dockerd run by the user's systemd is reloaded by signal, never by the system's systemctl", () => {
  const root = mkdtempSync(join(tmpdir(), "gvd-cg-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "systemd"));
  const cgroup = (pid: number, text: string) => {
    mkdirSync(join(root, String(pid)), { recursive: true });
    writeFileSync(join(root, String(pid), "cgroup"), text);
  };
  cgroup(7, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service\n");
  cgroup(8, "0::/system.slice/docker.service\n");

  test("user@1000.service/…/docker.service → no system unit; system.slice/docker.service → docker.service", () => {
    expect(systemdUnitOf(7, root, join(root, "systemd"))).toBeNull();
    expect(systemdUnitOf(8, root, join(root, "systemd"))).toBe("docker.service");
  });
});

describe("configure as a normal user, no engine named: only the engines whose files are theirs", () => {
  const env = { HOME: "/home/u" };
  test("their ~/.config files are theirs; /etc/containerd's is the system's (skipped, with how to do it as root)", () => {
    expect(systemFileOfUser("/home/u/.config/containers/containers.conf.d/99-gvisor.conf", { env }, 1001)).toBeNull();
    expect(systemFileOfUser("/home/u/.config/docker/daemon.json", { env }, 1001)).toBeNull();
    expect(systemFileOfUser("/etc/containerd/config.toml", { env }, 1001)).toContain("sudo gvisor-doctor configure");
    expect(systemFileOfUser("/etc/containerd/config.toml", { env }, 0)).toBeNull();
  });
});

describe("--remove gives a user's daemon.json back byte for byte", () => {
  const mine = '{\n    "debug": false\n}\n';
  const req = (remove: boolean) => ({
    name: "runsc",
    runscPath: "/usr/bin/runsc",
    runtimeArgs: ["--ignore-cgroups"],
    makeDefault: false,
    remove,
  });
  const file = "/h/.config/docker/daemon.json";

  test('"runtimes": {} stays until dockerd dropped runsc (a reload needs it), then goes: the file is as it was', () => {
    const added = planDaemonJson({ file, before: mine, request: req(false), force: false }).after!;
    const rm = planDaemonJson({ file, before: added, request: req(true), force: false });
    expect(JSON.parse(rm.after!)).toEqual({ debug: false, runtimes: {} });
    expect(rm.afterReload).toEqual({ kind: "rewrite", text: mine });
  });

  test("other runtimes in the file: nothing more to do after the reload", () => {
    const two = '{"runtimes": {"kata": {"path": "/usr/bin/kata"}, "runsc": {"path": "/usr/bin/runsc"}}}\n';
    const rm = planDaemonJson({ file: "/d.json", before: two, request: req(true), force: false });
    expect(rm.afterReload).toEqual({ kind: "nothing" });
  });
});

describe("a rootless dockerd reached through a docker context (docker context use rootless), as the CLI does", () => {
  const home = mkdtempSync(join(tmpdir(), "gvd-ctx-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const id = createHash("sha256").update("rootless").digest("hex");
  mkdirSync(join(home, ".docker", "contexts", "meta", id), { recursive: true });
  writeFileSync(
    join(home, ".docker", "contexts", "meta", id, "meta.json"),
    JSON.stringify({ Name: "rootless", Endpoints: { docker: { Host: "unix:///run/user/1001/docker.sock" } } }),
  );
  writeFileSync(join(home, ".docker", "config.json"), JSON.stringify({ currentContext: "rootless" }));

  test("currentContext → its socket; DOCKER_HOST wins; DOCKER_CONTEXT=default → the default socket", () => {
    expect(dockerHost({ HOME: home })).toBe("unix:///run/user/1001/docker.sock");
    expect(dockerHost({ HOME: home, DOCKER_HOST: "unix:///x.sock" })).toBe("unix:///x.sock");
    expect(dockerHost({ HOME: home, DOCKER_CONTEXT: "default" })).toBe("unix:///var/run/docker.sock");
    expect(dockerHost({ HOME: join(home, "nowhere") })).toBe("unix:///var/run/docker.sock");
  });
});

describe("a normal user without subordinate ids", () => {
  const text = (subuid: string, subgid: string) => (p: string) => (p === "/etc/subuid" ? subuid : subgid);

  test("hasSubIds: a range in both files, by name or uid; one file without it is not enough", () => {
    expect(hasSubIds(1001, text("u:100000:65536\n", "u:100000:65536\n"), "u")).toBe(true);
    expect(hasSubIds(1001, text("1001:100000:65536\n", "1001:100000:65536\n"), "u")).toBe(true);
    expect(hasSubIds(1001, text("u:100000:65536\n", "other:100000:65536\n"), "u")).toBe(false);
    expect(
      hasSubIds(
        1001,
        () => {
          throw new Error("EACCES");
        },
        "u",
      ),
    ).toBeNull();
  });

  test("real: runsc's fork/exec EPERM is subids-missing for them, still sandbox-permissions otherwise", () => {
    const real =
      "Error: /usr/bin/runsc: creating container: cannot create sandbox: cannot create sandbox process: " +
      "starting sandbox: fork/exec /proc/self/exe: operation not permitted: OCI permission denied";
    const rule = (f: HostFacts) =>
      diagnose("podman.hello", real, { facts: f, engine: "podman", runtime: "runsc" })?.rule;
    const without = { ...facts(1002), user: { uid: 1002, root: false, subIds: false } } as HostFacts;
    expect(rule(without)).toBe("subids-missing");
    const withIds = { ...facts(1002), user: { uid: 1002, root: false, subIds: true } } as HostFacts;
    expect(rule(withIds)).toBe("sandbox-permissions");
  });
});
