// Which dockerd `configure docker` signals when several are visible (issue 13): the one
// behind the socket in use, never another that names the same -H path. Three real dockerd:
//  - B1 in a private mount namespace of this root, with a tmpfs over the socket's directory
//    (same path string, different file: what a second daemon in a mount namespace sees);
//  - B2 chrooted into another root (Docker-in-Docker, kind nodes, chroots) claiming it too;
//  - A, the bed dockerd, started last (highest pid), also listening on that path here.
// argv alone (the old matchDockerd) picks the lowest pid that names the path: B1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { dockerdServing, matchDockerd } from "../../platform/engines/docker/client.ts";
import { DOCKERD_VALUE_FLAGS, findProcesses, pidAlive } from "../../platform/os/processes.ts";
import { shellQuote } from "../../platform/os/shell.ts";
import {
  BED,
  BED_PREFIX,
  bedContainerdConfig,
  startDockerBed,
  unmountUnder,
  waitFor,
  type DockerBed,
} from "../bed/bed.ts";
import { BINARY, gvd } from "../helpers/cli.ts";

const RUNSC = "/usr/bin/runsc";

interface Other {
  /** Its bed dir (pids file, logs; for B2 also its root). */
  dir: string;
  pid: number;
  log: string;
}

/** sh lines that start containerd in `dir` (a path as the daemon sees it) and exec dockerd claiming `claim`. */
function daemonsScript(dir: string, claim: string, pidsFile: string): string {
  return `printf '{}\\n' >${claim}/daemon.json
containerd --config ${dir}/containerd.toml >>${dir}/containerd.log 2>&1 </dev/null &
echo $! >>${pidsFile}
while [ ! -S ${dir}/containerd.sock ]; do sleep 0.05; done
exec dockerd --config-file ${claim}/daemon.json -H unix://${claim}/docker.sock --data-root ${dir}/data \\
  --exec-root ${dir}/exec --pidfile ${dir}/dockerd.pid --containerd ${dir}/containerd.sock \\
  --iptables=false --ip-masq=false >>${dir}/dockerd.log 2>&1`;
}

async function startOther(dir: string, claim: string, script: string): Promise<Other> {
  const log = join(dir, "dockerd.log");
  // unshare and sh exec: the spawned pid is dockerd's. Own network namespace, as every bed dockerd.
  const argv = ["-m", "-n", "--propagation", "private", "sh", "-ec", script];
  const child = spawn("unshare", argv, { detached: true, stdio: "ignore" });
  child.unref();
  appendFileSync(join(dir, "pids"), `${child.pid}\n`);
  const pid = child.pid!;
  await waitFor(
    `dockerd pid ${pid} to listen`,
    () => {
      // Its socket as it sees it: through its root and mount namespace.
      const r = Bun.spawnSync(["docker", "-H", `unix:///proc/${pid}/root${claim}/docker.sock`, "version"]);
      return r.exitCode === 0;
    },
    45_000,
    log,
  );
  return { dir, pid, log };
}

async function stopOther(o: Other | undefined): Promise<void> {
  if (!o) return;
  const pids = readFileSync(join(o.dir, "pids"), "utf8").split("\n").filter(Boolean).map(Number);
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch {}
  }
  await waitFor("the other daemons to exit", () => pids.every((p) => !pidAlive(p)), 20_000).catch(() => {
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
  });
  // Its mounts lived in its own mount namespace, gone with it; nothing of ours is mounted there.
  unmountUnder(o.dir);
  rmSync(o.dir, { recursive: true, force: true });
}

/**
 * Run `script` (it execs containerd on bedContainerdConfig(dir)) in a private mount namespace: its pid, also in the
 * bed's pids file, so test/bed/cleanup.sh reaps it after a crash and afterAll stops it even if it never answers.
 */
function startContainerd(dir: string, script: string): number {
  const argv = ["-m", "--propagation", "private", "sh", "-ec", script];
  const child = spawn("unshare", argv, { detached: true, stdio: "ignore" });
  child.unref();
  appendFileSync(join(dir, "pids"), `${child.pid}\n`);
  return child.pid!;
}

const containerdAnswers = (dir: string) =>
  waitFor("containerd socket", () => existsSync(join(dir, "containerd.sock")), 20_000, join(dir, "containerd.log"));

async function stopContainerd(dir: string, pid: number): Promise<void> {
  if (pid) {
    process.kill(pid, "SIGTERM");
    await waitFor("containerd to exit", () => !pidAlive(pid), 15_000).catch(() => process.kill(pid, "SIGKILL"));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

describe.skipIf(!BED.ok)("configure docker signals the dockerd behind the socket in use", () => {
  let a: DockerBed;
  let b1: Other | undefined;
  let b2: Other | undefined;
  let b2root = "";
  let claimDir = "";

  beforeAll(async () => {
    claimDir = mkdtempSync(`${BED_PREFIX}identity-claim-`);
    // B1: this root, its own mount namespace; a tmpfs hides our claimDir from it.
    const d1 = mkdtempSync(`${BED_PREFIX}identity-b1-`);
    writeFileSync(join(d1, "containerd.toml"), bedContainerdConfig(d1));
    const hide = `mount -t tmpfs tmpfs ${claimDir}`;
    b1 = await startOther(d1, claimDir, `${hide}\n${daemonsScript(d1, claimDir, `${d1}/pids`)}`);
    // B2: another root: /usr and /etc bound read-only in its private mount namespace, then chroot.
    const d2 = mkdtempSync(`${BED_PREFIX}identity-b2-`);
    b2root = d2;
    const dirs = ["usr", "etc", "proc", "dev", "sys", "tmp", "var/run", claimDir.slice(1)];
    for (const d of dirs) mkdirSync(join(d2, d), { recursive: true });
    for (const l of ["bin", "sbin", "lib", "lib64"]) symlinkSync(`usr/${l}`, join(d2, l));
    writeFileSync(join(d2, "containerd.toml"), bedContainerdConfig(""));
    const ro = (d: string) => `mount --bind /${d} ${d2}/${d}; mount -o remount,bind,ro ${d2}/${d}`;
    const mounts = ["usr", "etc"].map(ro).join("\n");
    const inside = shellQuote(daemonsScript("", claimDir, "/pids"));
    b2 = await startOther(
      d2,
      claimDir,
      `${mounts}
mount -t proc proc ${d2}/proc; mount --rbind /dev ${d2}/dev; mount --rbind /sys ${d2}/sys
exec chroot ${d2} /bin/sh -ec ${inside}`,
    );
    // A: the bed dockerd, started last, also serving the claimed path in this root.
    a = await startDockerBed({ daemonJson: {}, dockerdArgs: ["-H", `unix://${claimDir}/docker.sock`] });
  }, 180_000);

  afterAll(async () => {
    await a?.stop();
    await stopOther(b1);
    await stopOther(b2);
    if (claimDir) {
      unmountUnder(claimDir);
      rmSync(claimDir, { recursive: true, force: true });
    }
  });

  const host = () => `unix://${claimDir}/docker.sock`;
  const env = () => ({ ...a.env, DOCKER_HOST: host() });

  test("three dockerd name the socket; argv alone picks the wrong one, the socket's owner is A", () => {
    const all = findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS);
    expect(all.map((d) => d.pid)).toEqual(expect.arrayContaining([b1!.pid, b2!.pid, a.dockerdPid]));
    expect(b1!.pid).toBeLessThan(a.dockerdPid); // the precondition that fooled argv matching
    expect(matchDockerd(host(), all)?.pid).not.toBe(a.dockerdPid);
    expect(dockerdServing(host(), all)?.pid).toBe(a.dockerdPid);
  });

  test("a dockerd of another root is never chosen, even for the socket it serves", () => {
    const all = findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS);
    // B2's socket is reachable from here through its root; it is still not this machine's dockerd.
    const b2sock = `unix://${b2root}${claimDir}/docker.sock`;
    expect(Bun.spawnSync(["docker", "-H", b2sock, "version"]).exitCode).toBe(0);
    expect(dockerdServing(b2sock, all)).toBeNull();
  });

  test("configure docker edits A's daemon.json, sends SIGHUP to A only, and docker info proves it", () => {
    const r = gvd(["configure", "docker", "--runsc", RUNSC, "--runtime-arg=--network=none", "--json"], { env: env() });
    const engine = r.json?.engines?.[0];
    expect(engine, r.stderr).toBeDefined();
    expect(engine.detected).toMatchObject({ pid: a.dockerdPid, configPath: a.configFile, running: true });
    expect(engine.reload).toMatchObject({ action: "reloaded", method: `SIGHUP to dockerd pid ${a.dockerdPid}` });
    expect(engine.verify.ok).toBe(true);
    expect(r.code).toBe(0);
    const runtimes = JSON.parse(a.docker(["info", "--format", "{{json .Runtimes}}"]).stdout);
    expect(runtimes.runsc).toEqual({ path: RUNSC, runtimeArgs: ["--network=none"] });
    // The others were not touched: no reload in their logs, and no daemon.json written at the path they claim.
    for (const o of [b1!, b2!]) expect(readFileSync(o.log, "utf8")).not.toContain("reload");
    expect(existsSync(join(claimDir, "daemon.json"))).toBe(false);
  });
});

// A lived-in host's containerd reads /etc/containerd/config.toml; a private view of /etc/containerd
// (a test sandbox, a second root) has another file at that path. Both sides here run in their own
// mount namespaces: the machine's own /etc/containerd is never read by a daemon nor written.
const NO_ETC_CONTAINERD = !existsSync("/etc/containerd");
describe.skipIf(!BED.ok || NO_ETC_CONTAINERD)("containerd detection: only a daemon reading our file is ours", () => {
  let dir = "";
  let pid = 0;
  const mine = () => join(dir, "mine");
  beforeAll(async () => {
    dir = mkdtempSync(`${BED_PREFIX}identity-cd-`);
    for (const d of ["theirs", "mine"]) mkdirSync(join(dir, d));
    writeFileSync(join(dir, "theirs/config.toml"), bedContainerdConfig(dir));
    writeFileSync(join(dir, "mine/config.toml"), "version = 2\n");
    const script =
      `mount --bind ${dir}/theirs /etc/containerd\nexec containerd -c /etc/containerd/config.toml` +
      ` >>${dir}/containerd.log 2>&1`;
    pid = startContainerd(dir, script);
    await containerdAnswers(dir);
  });
  afterAll(() => stopContainerd(dir, pid));

  /** configure containerd --dry-run with `etc` mounted over /etc/containerd (in a private mount namespace). */
  const dryRun = (etc: string) => {
    const r = Bun.spawnSync([
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-ec",
      `mount --bind ${etc} /etc/containerd\nexec "$0" configure containerd --dry-run --json`,
      BINARY,
    ]);
    return JSON.parse(r.stdout.toString()).engines[0].detected;
  };

  test("a containerd that reads another file at /etc/containerd/config.toml is not the one we would restart", () => {
    expect(dryRun(mine())).toMatchObject({ configPath: "/etc/containerd/config.toml", running: false, pid: null });
  });
  test("seen with its own file, the same daemon is ours", () => {
    const detected = dryRun(join(dir, "theirs"));
    expect(detected).toMatchObject({ configPath: "/etc/containerd/config.toml", running: true, pid });
  });
});

// containerd finds shims on its own PATH and next to its binary: a runsc shim in a directory
// the running daemon's PATH leaves out is not one it can use. The daemon and gvisor-doctor run in
// a private mount namespace whose /usr/local/bin (a tmpfs) holds a stand-in shim.
describe.skipIf(!BED.ok)("containerd detection: the runsc shim as the running daemon finds it", () => {
  let dir = "";
  let pid = 0;
  beforeAll(async () => {
    dir = mkdtempSync(`${BED_PREFIX}identity-shim-`);
    writeFileSync(join(dir, "config.toml"), bedContainerdConfig(dir));
    const script =
      `mount -t tmpfs tmpfs /usr/local/bin\ncp /bin/true /usr/local/bin/containerd-shim-runsc-v1\n` +
      `PATH=/usr/sbin:/usr/bin:/sbin:/bin exec containerd -c ${dir}/config.toml >>${dir}/containerd.log 2>&1`;
    pid = startContainerd(dir, script);
    await containerdAnswers(dir);
  });
  afterAll(() => stopContainerd(dir, pid));

  test("a shim in /usr/local/bin, which the daemon's PATH leaves out, is not the one it runs", () => {
    const env = { ...process.env, CONTAINERD_ADDRESS: join(dir, "containerd.sock") };
    const argv = ["nsenter", "-t", String(pid), "-m", BINARY, "configure", "containerd", "--dry-run", "--json"];
    const r = Bun.spawnSync(argv, { env });
    const detected = JSON.parse(r.stdout.toString()).engines[0].detected;
    expect(detected).toMatchObject({ running: true, pid, shim: null });
    expect(detected.notes).toContain("containerd-shim-runsc-v1 not found on containerd's PATH");
  });
});
