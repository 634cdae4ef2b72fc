// Rootless engines, for real: a throwaway unprivileged user with subordinate id ranges runs the
// compiled binary against their own Podman and their own dockerd under RootlessKit
// (dockerd-rootless.sh). check → --fix --yes → the hello container shows "Starting gVisor" →
// configure --remove puts the user's files back byte for byte; /etc/containers and /etc/docker are
// never written. The runtime flags come from what the sandbox says on this host (cgroup-denied →
// ignore-cgroups, then netns-root → network=none), not from a guess.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pidAlive } from "../../platform/os/processes.ts";
import { which } from "../../platform/os/which.ts";
import { BED, BED_PREFIX, waitFor } from "../bed/bed.ts";
import { BINARY, finding, gvd, type CliResult } from "../helpers/cli.ts";
import { recordMode } from "../helpers/mode-results.ts";
import { assertReportSchema } from "../helpers/schema.ts";

const ROOTLESS_SH = "/usr/share/docker.io/contrib/dockerd-rootless.sh";
/** The runsc configure registers by default (gvisor-doctor install's link first, as on a served host). */
const RUNSC = existsSync("/usr/local/bin/runsc") ? "/usr/local/bin/runsc" : "/usr/bin/runsc";
const TOOLS = ["runuser", "useradd", "userdel", "podman", "newuidmap"];
const missing = TOOLS.filter((t) => !which(t, "/usr/sbin:/usr/bin:/sbin:/bin"));
const CAN = BED.ok && !missing.length;
if (BED.ok && missing.length) {
  console.warn(`[rootless] skipped: missing ${missing.join(", ")} (test/bed/setup.sh installs them)`);
}
const DOCKER_ROOTLESS = CAN && existsSync(ROOTLESS_SH) && !!which("rootlesskit", "/usr/bin:/usr/sbin");

/** Every file under the dirs, as path → sha256 (absent dirs are empty). */
function snapshot(dirs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile()) out[p] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  dirs.forEach(walk);
  return out;
}

/** The pids of every process the user runs (podman's pause process, shims, RootlessKit). */
function userPids(uid: number): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] === String(uid);
      } catch {
        return false;
      }
    });
}

describe.skipIf(!CAN)("rootless engines: a normal user fixes their own Podman and dockerd, without sudo", () => {
  const user = `gvdrl${process.pid % 100000}`;
  let dir: string;
  let home: string;
  let uid: number;
  let runtimeDir: string;
  let system: Record<string, string>;
  const userEnv = (extra: Record<string, string> = {}) => [
    `HOME=${home}`,
    `USER=${user}`,
    `LOGNAME=${user}`,
    `XDG_RUNTIME_DIR=${runtimeDir}`,
    "NO_COLOR=1",
    "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ];
  /** The compiled binary, run as the user (a login-like environment: nothing of ours leaks in). */
  const asUser = (args: string[], extra: Record<string, string> = {}): CliResult =>
    gvd(["-u", user, "--", "env", "-i", ...userEnv(extra), BINARY, ...args], {
      binary: "runuser",
      cwd: home,
      timeoutMs: 240_000,
    });
  /** Another program run as the user. */
  const userRun = (argv: string[], extra: Record<string, string> = {}) =>
    spawnSync("runuser", ["-u", user, "--", "env", "-i", ...userEnv(extra), ...argv], { cwd: home, encoding: "utf8" });
  const NO_DOCKER = { DOCKER_HOST: "unix:///nonexistent.sock" };
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : null);

  beforeAll(() => {
    system = snapshot(["/etc/containers", "/etc/docker"]);
    dir = mkdtempSync(BED_PREFIX);
    chmodSync(dir, 0o755);
    const add = spawnSync("useradd", ["-m", "-s", "/bin/sh", "-d", join(dir, "home"), user], { encoding: "utf8" });
    if (add.status !== 0) throw new Error(`useradd: ${add.stderr}`);
    home = join(dir, "home");
    uid = statSync(home).uid;
    // useradd gives subordinate ids where login.defs says so; say it explicitly where it does not.
    for (const f of ["/etc/subuid", "/etc/subgid"]) {
      if (
        !readFileSync(f, "utf8")
          .split("\n")
          .some((l) => l.startsWith(`${user}:`))
      ) {
        appendFileSync(f, `${user}:${1_000_000 + (process.pid % 1000) * 65536}:65536\n`);
      }
    }
    runtimeDir = join(dir, "run");
    mkdirSync(runtimeDir, { mode: 0o700 });
    chownSync(runtimeDir, uid, uid);
    // The user's own settings, there before gvisor-doctor: --remove must give them back as they were.
    mkdirSync(join(home, ".config", "containers"), { recursive: true });
    writeFileSync(join(home, ".config", "containers", "containers.conf"), "# mine\n[containers]\nlog_size_max = -1\n");
    mkdirSync(join(home, ".config", "docker"), { recursive: true });
    writeFileSync(join(home, ".config", "docker", "daemon.json"), '{\n    "debug": false\n}\n');
    spawnSync("chown", ["-R", `${user}:${user}`, join(home, ".config")]);
  });

  afterAll(async () => {
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      for (const pid of userPids(uid)) {
        try {
          process.kill(pid, sig);
        } catch {}
      }
      const gone = () => userPids(uid).every((p) => !pidAlive(p));
      await waitFor("the test user's processes to exit", gone, 10_000).catch(() => {});
    }
    spawnSync("userdel", ["-r", user]);
    for (const f of ["/etc/subuid", "/etc/subgid"]) {
      const text = readFileSync(f, "utf8");
      const kept = text
        .split("\n")
        .filter((l) => !l.startsWith(`${user}:`))
        .join("\n");
      if (kept !== text) writeFileSync(f, kept);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("runsc direct: runsc.smoke runs for the user, rootless (runsc --rootless --network=none do)", () => {
    const r = asUser(["check", "--json", "--only", "runsc.smoke"], NO_DOCKER);
    const smoke = finding(r.json, "runsc.smoke");
    expect(smoke).toMatchObject({ status: "pass", message: expect.stringContaining("Starting gVisor") });
    expect(smoke.details[0]).toBe(`$ ${RUNSC} --rootless --network=none do dmesg`);
  });

  test("podman without subordinate ids: the probe ends at subids-missing (not runsc's permissions)", () => {
    // Only this user's lines go and come back: other users' ranges are never rewritten.
    const mine = (l: string) => l.startsWith(`${user}:`);
    const lines = (f: string) => readFileSync(f, "utf8").split("\n");
    const saved = ["/etc/subuid", "/etc/subgid"].map((f) => [f, lines(f).filter(mine).join("\n")] as const);
    try {
      for (const [f] of saved)
        writeFileSync(
          f,
          lines(f)
            .filter((l) => !mine(l))
            .join("\n"),
        );
      const r = asUser(["check", "--json", "--only", "podman"], NO_DOCKER);
      const hello = finding(r.json, "podman.hello");
      const diagnosis = { rule: "subids-missing", fix: { id: "host.subids", automatic: false } };
      expect(hello).toMatchObject({ status: "fail", diagnosis });
      expect(hello.details).toContain("→ cgroup-denied: retrying with --runtime-flag ignore-cgroups");
    } finally {
      for (const [f, text] of saved) {
        appendFileSync(f, `${readFileSync(f, "utf8").endsWith("\n") ? "" : "\n"}${text}\n`);
      }
    }
    // What the fix says after the ids are back: podman maps them again.
    expect(userRun(["podman", "system", "migrate"]).status).toBe(0);
  }, 120_000);

  const JOURNEYS = ["check", "--fix", "hello under runsc", "--remove restores"];
  const podmanVersion = () =>
    (spawnSync("podman", ["--version"], { encoding: "utf8" }).stdout ?? "").trim().split(" ").at(-1)!;
  test(
    "podman: check (cgroup-denied, no sudo) → --fix --yes → hello under runsc → --remove restores",
    () =>
      recordMode(
        JOURNEYS,
        () => ({
          id: "podman-rootless",
          engine: "Podman",
          version: podmanVersion(),
          mode: "rootless, as an unprivileged user",
          registered: "a wrapper running runsc --ignore-cgroups --network=none, in ~/.config/containers",
        }),
        () => {
          const userConf = join(home, ".config", "containers", "containers.conf");
          const mine = read(userConf);
          const before = asUser(["check", "--json", "--only", "podman"], NO_DOCKER);
          assertReportSchema(before.json);
          expect(before.json.host.user).toMatchObject({ uid, root: false, subIds: true });
          const hello = finding(before.json, "podman.hello");
          const diagnosis = { rule: "cgroup-denied", fix: { id: "podman.register-runtime", automatic: true } };
          expect(hello).toMatchObject({ status: "fail", diagnosis });
          // The probe re-ran the container with each flag a failure proved: cgroups first, then the network.
          expect(hello.details.filter((d: string) => d.startsWith("→ "))).toEqual([
            "→ cgroup-denied: retrying with --runtime-flag ignore-cgroups",
            "→ netns-root: retrying with --runtime-flag network=none",
          ]);
          const both = "gvisor-doctor configure podman --runtime-arg=ignore-cgroups --runtime-arg=network=none";
          expect(hello.diagnosis.fix.command).toBe(both);

          const fixed = asUser(["--fix", "--yes", "--json", "--only", "podman"], NO_DOCKER);
          expect(fixed.code).toBe(0);
          expect(fixed.json.fix.applied.map((a: any) => `${a.command} ${a.status}`)).toEqual([`${both} applied`]);
          const gvisor = { status: "pass", message: expect.stringContaining("Starting gVisor") };
          expect(finding(fixed.json, "podman.hello")).toMatchObject(gvisor);
          const wrapper = join(home, ".local", "libexec", "gvisor-doctor", "podman-runsc");
          expect(read(wrapper)).toContain(`exec ${RUNSC} --ignore-cgroups --network=none "$@"`);
          const dropIn = join(home, ".config", "containers", "containers.conf.d", "99-gvisor.conf");
          expect(read(dropIn)).toContain(`runsc = ["${wrapper}"]`);
          expect(statSync(wrapper).uid).toBe(uid);

          const removed = asUser(["configure", "--remove", "--json"], NO_DOCKER);
          expect(removed.code).toBe(0);
          const byEngine = Object.fromEntries(removed.json.engines.map((e: any) => [e.engine, e]));
          expect(byEngine.podman.status).toBe("changed");
          const notYours = expect.stringContaining("belongs to the system's engine");
          expect(byEngine.containerd).toMatchObject({ status: "skipped", message: notYours });
          expect(existsSync(dropIn)).toBe(false);
          expect(existsSync(wrapper)).toBe(false);
          expect(read(userConf)).toBe(mine);
          expect(snapshot(["/etc/containers", "/etc/docker"])).toEqual(system);
        },
      ),
    300_000,
  );

  const dockerJourney =
    "rootless dockerd (RootlessKit): --fix registers runsc in ~/.config/docker/daemon.json, " +
    "hello under runsc, --remove restores it";
  let rootlessDockerd = "";
  test.skipIf(!DOCKER_ROOTLESS)(
    dockerJourney,
    () =>
      recordMode(
        JOURNEYS,
        () => ({
          id: "dockerd-rootless",
          engine: "Docker",
          version: rootlessDockerd,
          mode: "rootless (RootlessKit), as an unprivileged user",
          registered: "runsc --ignore-cgroups --network=none, in ~/.config/docker/daemon.json",
        }),
        async () => {
          const daemonJson = join(home, ".config", "docker", "daemon.json");
          const mine = read(daemonJson);
          const sock = join(runtimeDir, "docker.sock");
          const host = `unix://${sock}`;
          const log = join(dir, "dockerd-rootless.log");
          writeFileSync(log, "");
          // /dev/net/tun is 0600 on this machine (slirp4netns: "open(/dev/net/tun): Permission denied"), so RootlessKit
          // shares a private network namespace (unshare -n) instead: no bridge, no iptables, containers use --network=none.
          const env = userEnv({
            DOCKERD_ROOTLESS_ROOTLESSKIT_NET: "host",
            DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER: "none",
          });
          const argv = [
            "-n",
            "runuser",
            "-u",
            user,
            "--",
            "env",
            "-i",
            ...env,
            ROOTLESS_SH,
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
          ];
          const out = openSync(log, "a");
          const d = spawn("unshare", argv, { detached: true, cwd: home, stdio: ["ignore", out, out] });
          appendFileSync(join(dir, "pids"), `${d.pid}\n`);
          const info = () => userRun(["docker", "info", "--format", "{{.ServerVersion}}"], { DOCKER_HOST: host });
          await waitFor("the rootless dockerd to answer", () => existsSync(sock) && info().status === 0, 60_000, log);
          rootlessDockerd = info().stdout.trim();

          // Without DOCKER_HOST (and no docker context) docker talks to the system's socket: the doctor says where yours is.
          const unset = finding(asUser(["check", "--json", "--only", "docker.daemon"]).json, "docker.daemon");
          const exportLine = { id: "docker.rootless-host", command: `export DOCKER_HOST=${host}` };
          expect(unset).toMatchObject({ status: "fail", diagnosis: { fix: exportLine } });

          const before = asUser(["check", "--json", "--only", "docker"], { DOCKER_HOST: host });
          const rt = finding(before.json, "docker.runtime");
          expect(rt).toMatchObject({ status: "fail", diagnosis: { fix: { id: "docker.register-runtime" } } });
          expect(rt.diagnosis.fix.command).toBe("gvisor-doctor configure docker");
          expect(rt.diagnosis.cause).toContain(daemonJson);

          const fixed = asUser(["--fix", "--yes", "--json", "--only", "docker"], { DOCKER_HOST: host });
          expect(fixed.code).toBe(0);
          expect(fixed.json.fix.applied.map((a: any) => `${a.command} ${a.status}`)).toEqual([
            "gvisor-doctor configure docker applied",
            `gvisor-doctor configure docker --runtime-arg=--ignore-cgroups --runsc ${RUNSC} applied`,
            `gvisor-doctor configure docker --runtime-arg=--ignore-cgroups --runtime-arg=--network=none --runsc ${RUNSC}` +
              " applied",
          ]);
          expect(finding(fixed.json, "docker.hello").status).toBe("pass");
          const gvisor = { status: "pass", message: expect.stringContaining("Starting gVisor") };
          expect(finding(fixed.json, "docker.signature")).toMatchObject(gvisor);
          const json = JSON.parse(read(daemonJson)!);
          const runsc = { path: RUNSC, runtimeArgs: ["--ignore-cgroups", "--network=none"] };
          expect(json).toMatchObject({ debug: false, runtimes: { runsc } });

          const removed = asUser(["configure", "--remove", "--json"], { DOCKER_HOST: host });
          expect(removed.code).toBe(0);
          const docker = removed.json.engines.find((e: any) => e.engine === "docker");
          expect(docker).toMatchObject({ status: "changed", verify: { ok: true } });
          expect(read(daemonJson)).toBe(mine);
          expect(snapshot(["/etc/containers", "/etc/docker"])).toEqual(system);
          try {
            process.kill(-d.pid!, "SIGTERM");
          } catch {}
        },
      ),
    300_000,
  );
});
