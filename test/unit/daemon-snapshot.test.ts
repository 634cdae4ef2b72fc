// One model of the daemons (issue 17 item 2): the engine layer declares the daemon snapshot
// (platform/engines/snapshot.ts), the host facts are one, the adapters read only it, and the
// checks read each fact in one place: what dockerd runs and loaded in facts.docker, what its
// config file declares in facts.engines.docker.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerRuntime } from "../../checks/docker.ts";
import type { CheckContext, Finding, Outcome } from "../../checks/types.ts";
import { crioAdapter } from "../../platform/engines/crio/adapter.ts";
import { dockerAdapter } from "../../platform/engines/docker/adapter.ts";
import type { DockerDaemonFacts, DockerInfo } from "../../platform/engines/docker/client.ts";
import type { DaemonSnapshot } from "../../platform/engines/snapshot.ts";
import type { EngineContext } from "../../platform/engines/types.ts";
import { engineFacts } from "../../platform/facts/engine-facts.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import type { DaemonProcess } from "../../platform/os/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "gvd-snapshot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const daemonJson = join(dir, "daemon.json");
writeFileSync(daemonJson, `{ "runtimes": { "runsc": { "path": "/usr/bin/runsc" } } }\n`);

const info = (runtimes: DockerInfo["runtimes"]): DockerInfo => ({
  serverVersion: "27.5.1",
  defaultRuntime: "runc",
  runtimes,
  rootless: false,
  cgroupDriver: "systemd",
  cgroupVersion: "2",
  dockerRootDir: "/var/lib/docker",
  operatingSystem: "Debian GNU/Linux 13 (trixie)",
});

/** A dockerd as the facts found it; this process stands in for its pid (systemd unit lookup reads /proc). */
const dockerd = (argv: string[]): DaemonProcess => ({
  pid: process.pid,
  exe: "/usr/bin/dockerd",
  argv,
  flags: { "--config-file": [daemonJson] },
  uid: 0,
});

const dockerFacts = (daemon: DaemonProcess | null, runtimes: DockerInfo["runtimes"] = {}): DockerDaemonFacts => ({
  // Paths that exist nowhere: a value in the detection can only have come from the snapshot.
  cli: "/snapshot/bin/docker",
  api: "/snapshot/docker.sock",
  via: "api",
  probeVia: "api",
  host: "unix:///snapshot/docker.sock",
  daemon,
  configPath: daemonJson,
  info: info(runtimes),
  infoError: null,
  infoResult: null,
});

// DOCKER_HOST and PATH say something else: the adapter must not look again.
const env = { PATH: "/nonexistent", DOCKER_HOST: "unix:///elsewhere/docker.sock", HOME: dir };
const ctx = (daemons: DaemonSnapshot | null): EngineContext => ({
  env,
  daemons,
  wrapperDir: join(dir, "wrappers"),
  force: false,
  now: () => new Date(),
  log: () => {},
  lightDetect: true,
});

describe("adapters read the daemon snapshot, declared in the engine layer", () => {
  const argv = ["dockerd", "--config-file", daemonJson, "--add-runtime", "x=/x"];
  const snapshot: DaemonSnapshot = { dockerd: [], docker: dockerFacts(dockerd(argv)) };

  test("docker's detection is the snapshot's daemon: host, pid, argv, CLI, version and daemon.json", async () => {
    const det = await dockerAdapter.detect(ctx(snapshot));
    expect(det).toMatchObject({
      engine: "docker",
      host: "unix:///snapshot/docker.sock",
      cli: "/snapshot/bin/docker",
      installed: true,
      running: true,
      pid: process.pid,
      version: "27.5.1",
      configPath: daemonJson,
      configSource: `--config-file of dockerd pid ${process.pid}`,
      daemonArgv: argv,
      daemonConfigPath: daemonJson,
    });
    expect(det.notes).toEqual([
      "DOCKER_HOST unix:///snapshot/docker.sock",
      `dockerd pid ${process.pid} reads ${daemonJson}`,
    ]);
  });

  test("engine facts take the snapshot as it is (no cast) and inspect the file that daemon reads", async () => {
    const f = await engineFacts("docker", env, snapshot);
    expect(f.error).toBeNull();
    expect(f.detection?.pid).toBe(process.pid);
    expect(f.inspection?.configPath).toBe(daemonJson);
    expect(f.inspection?.runtimes.runsc?.path).toBe("/usr/bin/runsc");
  });

  test("CRI-O's detection is the snapshot's crio (no second walk of /proc): its pid and its --config-dir", async () => {
    const dropIns = join(dir, "crio.conf.d");
    const crio: DaemonProcess = {
      pid: process.pid,
      exe: "/nonexistent/crio",
      argv: ["crio", "--config-dir", dropIns],
      flags: { "--config-dir": [dropIns] },
      uid: 0,
    };
    const running = await crioAdapter.detect(ctx({ crio: [crio] }));
    expect([running.running, running.pid, running.dropInDir]).toEqual([true, process.pid, dropIns]);
    const none = await crioAdapter.detect(ctx({ crio: [] }));
    expect([none.running, none.pid, none.version]).toEqual([false, null, null]);
  });

  test("without a snapshot (configure on its own) the adapter finds the daemon itself", async () => {
    const det = await dockerAdapter.detect(ctx(null));
    expect(det.host).toBe("unix:///elsewhere/docker.sock");
    // No dockerd serves that socket, and only the facts' `docker info` gives a version.
    expect(det.pid).toBeNull();
    expect(det.version).toBeNull();
  });

  test("host facts are a daemon snapshot: --fix hands its facts to the adapters as they are", () => {
    const facts = { dockerd: [], containerd: [], docker: dockerFacts(null) } as unknown as HostFacts;
    const given: DaemonSnapshot = facts; // compiles only while the host facts hold the daemons as the snapshot does
    expect(given.docker?.host).toBe("unix:///snapshot/docker.sock");
  });
});

describe("docker.runtime reads each fact in one place", () => {
  const runsc = { runsc: { path: "/usr/bin/runsc" }, runc: { path: "runc" } };
  /** dockerd has runsc loaded; its daemon.json (the engine's inspection) declares no runtime. */
  const check = async (argv: string[]) => {
    const facts = {
      docker: dockerFacts(dockerd(argv), runsc),
      engines: { docker: { detection: null, inspection: { runtimes: {} }, error: null } },
    } as unknown as HostFacts;
    const c = {
      facts,
      options: { quick: false, offline: true, verbose: false, env },
      finding: (id: string) => ({ id, status: "pass" }) as Finding,
      signal: new AbortController().signal,
    } as CheckContext;
    return (await dockerRuntime.run(c)) as Outcome;
  };

  test("a runtime from dockerd's --add-runtime flag (the daemon's argv in facts.docker) passes", async () => {
    const o = await check(["dockerd", "--add-runtime", "runsc=/usr/bin/runsc"]);
    expect(o.status).toBe("pass");
    expect(o.message).toBe("runsc → /usr/bin/runsc (from dockerd's --add-runtime flag)");
    expect(o.details).toEqual(["default runtime: runc", `config: ${daemonJson}`]);
  });

  test("loaded but no longer in the file dockerd reads (facts.docker.configPath) warns", async () => {
    const o = await check(["dockerd"]);
    expect(o.status).toBe("warn");
    expect(o.message).toBe(`runsc → /usr/bin/runsc is loaded, but ${daemonJson} no longer declares it`);
  });
});
