// `gvisor-doctor configure` against real engines: a throwaway dockerd (own config file,
// own netns), a throwaway containerd, podman in a private mount namespace, and real
// file-system faults. Nothing here touches /etc/docker, /etc/containerd or /etc/containers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { helloRootfs, imageTag, rootfsTar } from "../../platform/probe/rootfs.ts";
import { inspectDaemonJson } from "../../platform/engines/docker/adapter.ts";
import { BED, BED_PREFIX, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { startContainerdBed, type ContainerdBed } from "../bed/containerd-bed.ts";
import { BINARY, gvd } from "../helpers/cli.ts";
import { assertConfigureReport, podmanSandbox } from "../helpers/configure.ts";
import { FIXTURES } from "../helpers/engines.ts";
import { hostState } from "../helpers/host-state.ts";
import { SYSTEM_BIN_DIRS, which, whichAll } from "../../platform/os/which.ts";

const RUNSC = "/usr/bin/runsc";
// Where no containerd runs, configure looks for containerd-shim-runsc-v1 where a containerd would
// (next to it and in the system directories): on a host gvisor-doctor installed, it is there.
const containerdBin = which("containerd");
const shimDirs = [...(containerdBin ? [dirname(containerdBin)] : []), ...SYSTEM_BIN_DIRS];
const SHIM_HERE = whichAll("containerd-shim-runsc-v1", shimDirs).length > 0;
const SHIM_TYPE = SHIM_HERE ? "io.containerd.runsc.v1" : "io.containerd.runc.v2";
const fixture = (engine: string, name: string) => readFileSync(join(FIXTURES, engine, name), "utf8");
const backups = (dir: string) => readdirSync(dir).filter((n) => n.includes(".gvisor-doctor-"));

/** `configure --json`, with the report checked against its schema. */
function configure(args: string[], env?: NodeJS.ProcessEnv) {
  const r = gvd(["configure", ...args, "--json"], { env: env ?? { ...process.env, NO_COLOR: "1" } });
  if (!r.json) throw new Error(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  assertConfigureReport(r.json);
  return { ...r, report: r.json, engine: r.json.engines[0] };
}

async function importProbe(bed: DockerBed): Promise<string> {
  const fs = await helloRootfs();
  const tag = imageTag(fs);
  if (bed.docker(["image", "inspect", tag]).code !== 0) {
    const r = bed.docker(["import", "-", tag], await rootfsTar(fs));
    if (r.code !== 0) throw new Error(r.stderr);
  }
  return tag;
}

describe("configure: the command line", () => {
  test("--help explains the engines, the options and the exit codes", () => {
    const r = gvd(["configure", "--help"]);
    expect(r.code).toBe(0);
    for (const s of [
      "--runtime-arg",
      "--dry-run",
      "--remove",
      "--restart",
      "never sent SIGHUP",
      "3 files written but an engine still needs a restart",
    ])
      expect(r.stdout).toContain(s);
  });
  test("usage errors exit 2 and say what is wrong", () => {
    const cases: [string[], string][] = [
      [["configure", "dockr"], "unknown engine 'dockr'"],
      [["configure", "--default", "--remove"], "--default and --remove contradict each other"],
      [["configure", "docker", "podman", "--config", "/x"], "--config names one engine's file"],
      [["configure", "docker", "--runtime-name", "runc", "--runsc", "/bin/sh"], "'runc' would replace"],
      [["configure", "docker", "--runsc", "/nonexistent"], "--runsc /nonexistent: not an executable file"],
    ];
    for (const [args, msg] of cases) {
      const r = gvd(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(msg);
    }
  });
});

describe.skipIf(!BED.ok)("configure docker against a real dockerd", () => {
  let bed: DockerBed;
  let original: string;
  beforeAll(async () => {
    original = fixture("docker", "registry-and-logs.json");
    bed = await startDockerBed({ daemonJson: original });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test("finds the daemon.json of the dockerd behind DOCKER_HOST, edits it, reloads with SIGHUP and proves it with dockerd's info", () => {
    const r = configure(["docker", "--runsc", RUNSC, "--runtime-arg=--network=none"], bed.env);
    expect(r.code).toBe(0);
    expect(r.engine).toMatchObject({
      status: "changed",
      action: "add",
      detected: { configPath: bed.configFile, running: true, pid: bed.dockerdPid },
    });
    expect(r.engine.files).toEqual([
      {
        path: bed.configFile,
        action: "modify",
        backup: expect.stringMatching(/daemon\.json\.gvisor-doctor-\d{8}T\d{6}Z\.bak$/),
      },
    ]);
    expect(readFileSync(r.engine.files[0].backup, "utf8")).toBe(original);
    expect(r.engine.reload).toMatchObject({ action: "reloaded", method: `SIGHUP to dockerd pid ${bed.dockerdPid}` });
    expect(r.engine.verify).toMatchObject({
      ok: true,
      message: "dockerd's GET /info lists runsc → /usr/bin/runsc --network=none",
    });
    const info = JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout);
    expect(info.runsc).toEqual({ path: RUNSC, runtimeArgs: ["--network=none"] });
  });

  test("a container runs under gVisor with the registered runtime", async () => {
    const image = await importProbe(bed);
    const r = bed.docker(["run", "--rm", "--runtime=runsc", image, "dmesg"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Starting gVisor");
  });

  test("a second run changes no byte, keeps the mtime and makes no backup", () => {
    const before = statSync(bed.configFile);
    const n = backups(bed.dir).length;
    const r = configure(["docker", "--runsc", RUNSC, "--runtime-arg=--network=none"], bed.env);
    expect(r.code).toBe(0);
    expect(r.engine).toMatchObject({ status: "unchanged", files: [], reload: null, verify: { ok: true } });
    expect(statSync(bed.configFile).mtimeMs).toBe(before.mtimeMs);
    expect(backups(bed.dir)).toHaveLength(n);
  });

  test("--default makes it dockerd's default runtime after the reload; --remove undoes both", () => {
    expect(configure(["docker", "--runsc", RUNSC, "--default"], bed.env).engine.verify.ok).toBe(true);
    expect(bed.docker(["info", "--format", "{{.DefaultRuntime}}"]).stdout.trim()).toBe("runsc");
    const r = configure(["docker", "--remove"], bed.env);
    expect(r.code).toBe(0);
    expect(r.engine).toMatchObject({
      status: "changed",
      action: "remove",
      verify: { ok: true, message: `dockerd's GET /info no longer lists "runsc"` },
    });
    expect(bed.docker(["info", "--format", "{{.DefaultRuntime}}"]).stdout.trim()).toBe("runc");
    expect(Object.keys(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout))).not.toContain(
      "runsc",
    );
    // The user's file is back, plus the reset default; the "runtimes": {} that made the reload drop runsc
    // is removed once dockerd has dropped it.
    const back = JSON.parse(readFileSync(bed.configFile, "utf8"));
    expect(back).toEqual({ ...JSON.parse(original), "default-runtime": "runc" });
  });

  test('why --remove leaves "runtimes": {}: dockerd\'s SIGHUP reload keeps runtimes when the key is absent', async () => {
    configure(["docker", "--runsc", RUNSC], bed.env);
    writeFileSync(bed.configFile, original); // no "runtimes" key at all
    await bed.reload();
    expect(Object.keys(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout))).toContain("runsc");
    writeFileSync(bed.configFile, original.replace(/\n}\n$/, ',\n  "runtimes": {}\n}\n'));
    await bed.reload();
    expect(Object.keys(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout))).not.toContain(
      "runsc",
    );
  });

  test("--no-reload writes the file, leaves dockerd alone and exits 3 with the command to run", () => {
    const r = configure(["docker", "--runsc", RUNSC, "--no-reload"], bed.env);
    expect(r.code).toBe(3);
    expect(r.engine.reload).toMatchObject({ action: "pending", command: `kill -HUP ${bed.dockerdPid}` });
    expect(Object.keys(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout))).not.toContain(
      "runsc",
    );
    // The next run sees the file is right but dockerd does not have it: it reloads.
    const again = configure(["docker", "--runsc", RUNSC], bed.env);
    expect(again.engine).toMatchObject({ status: "unchanged", reload: { action: "reloaded" }, verify: { ok: true } });
    expect(again.code).toBe(0);
  });
});

describe.skipIf(!BED.ok)("a fresh dockerd starts with the files configure wrote and lists the runtime", () => {
  // bom.json sets "iptables", which the bed also passes as a flag: a BOM file of its own here.
  const inputs: Record<string, string> = {
    "registry-and-logs.json": fixture("docker", "registry-and-logs.json"),
    "empty.json": "",
    "bom + object": '\uFEFF{"log-level": "warn"}\n',
    "compact.json": fixture("docker", "compact.json"),
    "tabs.json": fixture("docker", "tabs.json"),
  };
  for (const [f, text] of Object.entries(inputs)) {
    test(f, async () => {
      const dir = mkdtempSync("/tmp/gvd-test-cfg-");
      const file = join(dir, "daemon.json");
      writeFileSync(file, text);
      let bed: DockerBed | undefined;
      try {
        const r = configure(["docker", "--config", file, "--runsc", RUNSC, "--runtime-arg=--network=none"]);
        expect(r.code).toBe(0);
        expect(r.engine.status).toBe("changed");
        bed = await startDockerBed({ daemonJson: readFileSync(file, "utf8") });
        expect(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout).runsc).toEqual({
          path: RUNSC,
          runtimeArgs: ["--network=none"],
        });
      } finally {
        await bed?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});

describe.skipIf(!BED.ok)(
  "what dockerd says about files configure refuses or repairs (compared with the real dockerd 20.10)",
  () => {
    for (const f of [
      "empty.json",
      "whitespace.json",
      "bom.json",
      "bom-empty.json",
      "trailing-comma.json",
      "with-comment-invalid.json",
      "truncated.json",
      "runtimes-not-object.json",
    ]) {
      test(f, () => {
        const dir = mkdtempSync(`${BED_PREFIX}dockerd-says-`);
        try {
          const file = join(dir, "daemon.json");
          copyFileSync(join(FIXTURES, "docker", f), file);
          // dockerd exits while loading the file, before it touches anything else.
          const r = spawnSync(
            "unshare",
            [
              "-n",
              "dockerd",
              "--config-file",
              file,
              "--data-root",
              join(dir, "data"),
              "--exec-root",
              join(dir, "exec"),
              "--pidfile",
              join(dir, "pid"),
              "-H",
              `unix://${dir}/s.sock`,
              "--containerd",
              join(dir, "none.sock"),
              "--iptables=false",
            ],
            { encoding: "utf8", timeout: 20_000 },
          );
          const said = (r.stderr + r.stdout)
            .split("\n")
            .find((l) => l.startsWith("unable to configure the Docker daemon"));
          expect(r.status).not.toBe(0);
          const ins = inspectDaemonJson(readFileSync(file, "utf8"), file);
          if (f === "runtimes-not-object.json")
            expect(said).toContain("cannot unmarshal array into Go struct field Config.runtimes");
          else expect(ins.parseError?.whatDockerdWouldSay).toBe(said!);
        } finally {
          spawnSync("umount", ["-l", join(dir, "data")]);
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  },
);

describe.skipIf(!BED.ok)("configure containerd: config dump, a real restart, and ctr running runsc", () => {
  let bed: ContainerdBed;
  let original: string;
  beforeAll(async () => {
    bed = await startContainerdBed();
    original = readFileSync(bed.configFile, "utf8");
  });
  afterAll(async () => {
    await bed?.stop();
  });
  const args = () => [
    "containerd",
    "--config",
    bed.configFile,
    "--runsc",
    RUNSC,
    "--runtime-arg=--network=none",
    "--wrapper-dir",
    join(bed.dir, "bin"),
  ];

  test("without --restart: the file is written and checked with config dump; the restart is pending (exit 3), never a SIGHUP", () => {
    const pid = bed.pid();
    const r = configure(args());
    expect(r.code).toBe(3);
    expect(r.engine).toMatchObject({ status: "changed", detected: { running: true, pid } });
    expect(r.engine.notes).toContain("checked with containerd 1.6.20~ds1 config dump");
    expect(r.engine.reload.action).toBe("pending");
    expect(r.engine.reload.command).toContain(
      `gvisor-doctor configure containerd --config ${bed.configFile} --restart`,
    );
    expect(bed.pid()).toBe(pid);
    const dump = spawnSync("containerd", ["-c", bed.configFile, "config", "dump"], { encoding: "utf8" }).stdout;
    expect(dump).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]');
    expect(dump).toContain(`BinaryName = "${join(bed.dir, "bin", "containerd-runsc")}"`);
  });

  test("--restart: containerd is stopped and started again with its argv; the runc shim runs runsc through the wrapper (ctr run)", async () => {
    const old = bed.pid();
    const r = configure([...args(), "--restart"]);
    expect(r.code).toBe(0);
    expect(r.engine).toMatchObject({ status: "unchanged", reload: { action: "restarted" }, verify: { ok: true } });
    const now = bed.pid();
    expect(now).not.toBeNull();
    expect(now).not.toBe(old);
    // The restarted containerd loaded the runtime tables: its CRI plugin came up.
    expect(bed.ctr(["plugins", "ls"]).stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    // ctr ignores CRI runtime tables: pass the runc shim and the BinaryName configure wrote.
    const rootfs = await bed.rootfs();
    const run = bed.ctr([
      "run",
      "--rm",
      "--rootfs",
      "--runtime",
      "io.containerd.runc.v2",
      "--runc-binary",
      r.engine.effective.path,
      rootfs,
      "gvd-configure-test",
      "/bin/dmesg",
    ]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("Starting gVisor");
  });

  test("--remove restores the file byte for byte and deletes the wrapper", () => {
    const r = configure([
      "containerd",
      "--config",
      bed.configFile,
      "--remove",
      "--wrapper-dir",
      join(bed.dir, "bin"),
      "--restart",
    ]);
    expect(r.code).toBe(0);
    expect(r.engine).toMatchObject({ status: "changed", reload: { action: "restarted" }, verify: { ok: true } });
    expect(existsSync(join(bed.dir, "bin", "containerd-runsc"))).toBe(false);
    // The bed's file defined no runtimes, so registering wrote the built-in runc out (marked);
    // with runsc gone that table goes too, and containerd is back on its built-in runc.
    expect(r.engine.notes.join("\n")).toContain(
      'removed the [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc] table gvisor-doctor wrote out',
    );
    expect(readFileSync(bed.configFile, "utf8")).toBe(original);
    expect(bed.ctr(["plugins", "ls"]).stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
  });
});

describe.skipIf(!BED.ok)(
  "configure containerd over the fixture corpus: containerd config dump shows the runtime",
  () => {
    for (const f of [
      "k8s-v2-systemd.toml",
      "v1-no-version.toml",
      "debian-host.toml",
      "default-1.6.toml",
      "crlf-existing-runsc.toml",
    ]) {
      test(f, () => {
        const dir = mkdtempSync("/tmp/gvd-test-cfg-");
        try {
          const file = join(dir, "config.toml");
          const original = fixture("containerd", f);
          writeFileSync(file, original);
          const base = ["containerd", "--config", file, "--runsc", RUNSC, "--wrapper-dir", join(dir, "bin")];
          const r = configure([...base, "--runtime-arg=--network=none"]);
          expect(r.code).toBe(0);
          const shown = `containerd config dump shows runsc (${SHIM_TYPE})`;
          expect(r.engine).toMatchObject({ status: "changed", verify: { ok: true, message: shown } });
          const again = configure([...base, "--runtime-arg=--network=none"]);
          expect(again.engine.status).toBe("unchanged");
          const rm = configure([...base, "--remove"]);
          expect(rm.engine).toMatchObject({ status: "changed", verify: { ok: true } });
          // Back to the original byte for byte, unless runsc was there before or runc had to be written out.
          if (!original.includes("runsc") && !r.engine.notes.some((n: string) => n.includes("built-in runc")))
            expect(readFileSync(file, "utf8")).toBe(original);
          expect(existsSync(join(dir, "bin", "containerd-runsc"))).toBe(false);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
    test("a drop-in directory from imports gets the runtime; config dump shows the merged result", () => {
      const dir = mkdtempSync("/tmp/gvd-test-cfg-");
      try {
        const file = join(dir, "config.toml");
        writeFileSync(file, `version = 2\nimports = ["${dir}/conf.d/*.toml"]\n`);
        const r = configure(["containerd", "--config", file, "--runsc", RUNSC, "--wrapper-dir", join(dir, "bin")]);
        expect(r.code).toBe(0);
        // With the runsc shim at hand its options file comes too.
        const files = [join(dir, "conf.d", "99-gvisor.toml"), ...(SHIM_HERE ? [join(dir, "runsc.toml")] : [])].sort();
        expect(r.engine.files.map((x: any) => x.path).sort()).toEqual(files);
        expect(r.engine.verify.ok).toBe(true);
        const removed = configure(["containerd", "--config", file, "--remove"]).engine.files;
        expect(removed.map((x: any) => x.path).sort()).toEqual(files);
        expect(removed.every((x: any) => x.action === "delete" && x.backup === null)).toBe(true);
        expect(readdirSync(join(dir, "conf.d"))).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    test("version 3 on containerd 1.6 is refused with the reason, the file untouched", () => {
      const dir = mkdtempSync("/tmp/gvd-test-cfg-");
      try {
        const file = join(dir, "config.toml");
        writeFileSync(file, fixture("containerd", "v3-containerd2.toml"));
        const r = configure(["containerd", "--config", file, "--runsc", RUNSC]);
        expect(r.code).toBe(1);
        expect(r.engine).toMatchObject({ status: "refused", error: { code: "containerd.v3-on-1x", file, line: 1 } });
        expect(readFileSync(file, "utf8")).toBe(fixture("containerd", "v3-containerd2.toml"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

describe.skipIf(!BED.ok || !existsSync("/usr/bin/podman"))(
  "configure podman (private /etc/containers, private storage)",
  () => {
    let dir: string;
    let sb: ReturnType<typeof podmanSandbox>;
    let hostBefore: Record<string, string>;
    beforeAll(() => {
      hostBefore = hostState(["/etc/containers"]);
      dir = mkdtempSync("/tmp/gvd-test-podman-");
      sb = podmanSandbox(dir);
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    test("a drop-in and a wrapper: `podman --runtime runsc run` shows the gVisor dmesg signature", () => {
      const r = sb.gvd([
        "configure",
        "podman",
        "--runsc",
        RUNSC,
        "--runtime-arg",
        "network=none",
        "--wrapper-dir",
        join(dir, "bin"),
        "--json",
      ]);
      assertConfigureReport(r.json);
      const e = r.json.engines[0];
      expect(r.code).toBe(0);
      // The wrapper first: a crash between the writes never leaves the drop-in naming a missing file.
      expect(e.files).toEqual([
        { path: join(dir, "bin", "podman-runsc"), action: "create", backup: null },
        { path: "/etc/containers/containers.conf.d/99-gvisor.conf", action: "create", backup: null },
      ]);
      expect(e.verify.ok).toBe(true);
      expect(e.verify.message).toContain("Starting gVisor");
      expect(readFileSync(join(sb.etc, "containers.conf.d", "99-gvisor.conf"), "utf8")).toContain(
        `runsc = ["${join(dir, "bin", "podman-runsc")}"]`,
      );
      expect(hostState(["/etc/containers"])).toEqual(hostBefore); // the host's directory was never touched
    });

    test("--remove deletes the drop-in and the wrapper (both were created by configure)", () => {
      const r = sb.gvd(["configure", "podman", "--remove", "--wrapper-dir", join(dir, "bin"), "--json"]);
      expect(r.code).toBe(0);
      expect(r.json.engines[0].files.map((f: any) => [f.action, f.backup])).toEqual([
        ["delete", null],
        ["delete", null],
      ]);
      expect(readdirSync(join(sb.etc, "containers.conf.d"))).toEqual([]);
      expect(readdirSync(join(dir, "bin"))).toEqual([]);
    });
  },
);

describe.skipIf(!BED.ok)("write faults: nothing half-written, the cause named", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-faults-");
  });
  afterAll(() => {
    spawnSync("umount", ["-l", join(dir, "ro")]);
    rmSync(dir, { recursive: true, force: true });
  });
  const original = fixture("docker", "registry-and-logs.json");

  test("a read-only file system: refused with the mount named, file and directory untouched", () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", ro]).status).toBe(0);
    writeFileSync(join(ro, "daemon.json"), original);
    expect(spawnSync("mount", ["-o", "remount,ro", ro]).status).toBe(0);
    const r = configure(["docker", "--config", join(ro, "daemon.json"), "--runsc", RUNSC]);
    expect(r.code).toBe(1);
    expect(r.engine).toMatchObject({ status: "failed", error: { code: "read-only", file: join(ro, "daemon.json") } });
    expect(r.engine.error.message).toContain("is read-only");
    expect(readFileSync(join(ro, "daemon.json"), "utf8")).toBe(original);
    expect(readdirSync(ro)).toEqual(["daemon.json"]);
  });

  test("a directory the user may not write: refused as a permission problem, nothing changed", () => {
    const locked = join(dir, "locked");
    mkdirSync(locked, { mode: 0o755 });
    writeFileSync(join(locked, "daemon.json"), original, { mode: 0o644 });
    // The binary must be reachable by nobody: copy it next to the test files.
    const bin = join(dir, "gvisor-doctor");
    copyFileSync(BINARY, bin);
    chmodSync(bin, 0o755);
    chmodSync(dir, 0o755);
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        bin,
        "configure",
        "docker",
        "--config",
        join(locked, "daemon.json"),
        "--runsc",
        RUNSC,
        "--json",
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH, HOME: "/tmp", NO_COLOR: "1" } },
    );
    const report = JSON.parse(r.stdout);
    assertConfigureReport(report);
    expect(r.status).toBe(1);
    expect(report.engines[0]).toMatchObject({ status: "failed", error: { code: "permission" } });
    expect(report.engines[0].error.message).toContain(`permission denied in ${locked}`);
    expect(readdirSync(locked)).toEqual(["daemon.json"]);
  });

  test("SIGKILL at any moment: the file is always the old or the new content, never a mix", async () => {
    const f = join(dir, "kill", "daemon.json");
    mkdirSync(join(dir, "kill"));
    writeFileSync(f, original);
    const states = new Set([original]);
    for (let i = 0; i < 30; i++) {
      // Alternate add and remove so every run has something to write.
      const args = i % 2 === 0 ? ["--runsc", RUNSC] : ["--remove"];
      const child = spawn(BINARY, ["configure", "docker", "--config", f, "--no-reload", ...args], { stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      // Kill at a different moment each time: during start-up, planning, the write, or after.
      await new Promise((r) => setTimeout(r, (i * 7) % 60));
      child.kill("SIGKILL");
      await exited;
      const text = readFileSync(f, "utf8");
      JSON.parse(text); // never partial
      states.add(text);
    }
    // Old or new only: the original, the registered file, and the file after --remove.
    expect(states.size).toBeLessThanOrEqual(3);
    // Whatever the last kill left, the next run finishes the job (stale lock and temp files are taken over).
    expect(configure(["docker", "--config", f, "--runsc", RUNSC]).code).toBe(0);
    expect(readdirSync(join(dir, "kill")).filter((n) => n.includes(".gvd-tmp-"))).toEqual([]);
  }, 60_000);

  test("four configure runs at once on one file: one writes, the others find nothing to do", async () => {
    const d = join(dir, "race");
    mkdirSync(d);
    const f = join(d, "daemon.json");
    writeFileSync(f, original);
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; out: string }>((resolve) => {
            const child = spawn(
              BINARY,
              ["configure", "docker", "--config", f, "--runsc", RUNSC, "--runtime-arg=--network=none", "--json"],
              { stdio: ["ignore", "pipe", "pipe"] },
            );
            let out = "";
            child.stdout!.on("data", (b) => (out += b));
            child.on("exit", (code) => resolve({ code, out }));
          }),
      ),
    );
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const statuses = runs.map((r) => JSON.parse(r.out).engines[0].status).sort();
    expect(statuses).toEqual(["changed", "unchanged", "unchanged", "unchanged"]);
    expect(backups(d)).toHaveLength(1);
    expect(JSON.parse(readFileSync(f, "utf8")).runtimes.runsc).toEqual({
      path: RUNSC,
      runtimeArgs: ["--network=none"],
    });
  });

  test("through a symlink, keeping mode and owner: the link stays a link, the backup sits by the real file", () => {
    const d = join(dir, "link");
    mkdirSync(join(d, "real"), { recursive: true });
    const real = join(d, "real", "daemon.json");
    writeFileSync(real, original);
    chmodSync(real, 0o640);
    chownSync(real, 1234, 4321);
    symlinkSync(real, join(d, "daemon.json"));
    const r = configure(["docker", "--config", join(d, "daemon.json"), "--runsc", RUNSC]);
    expect(r.code).toBe(0);
    expect(lstatSync(join(d, "daemon.json")).isSymbolicLink()).toBe(true);
    const st = statSync(real);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o640, 1234, 4321]);
    expect(JSON.parse(readFileSync(real, "utf8")).runtimes.runsc.path).toBe(RUNSC);
    expect(backups(join(d, "real"))).toHaveLength(1);
  });

  test("a file managed by Puppet is left alone with the snippet to add; --force edits it", () => {
    const d = join(dir, "managed");
    mkdirSync(d);
    const f = join(d, "daemon.json");
    const text = fixture("docker", "managed-puppet.json");
    writeFileSync(f, text);
    const r = configure(["docker", "--config", f, "--runsc", RUNSC, "--runtime-arg=--network=none"]);
    expect(r.code).toBe(1);
    expect(r.engine).toMatchObject({ status: "refused", error: { code: "managed" } });
    expect(JSON.parse(r.engine.error.snippet)).toEqual({
      runtimes: { runsc: { path: RUNSC, runtimeArgs: ["--network=none"] } },
    });
    expect(readFileSync(f, "utf8")).toBe(text);
    const human = gvd(["configure", "docker", "--config", f, "--runsc", RUNSC]);
    expect(human.stdout).toContain("managed by Puppet");
    expect(human.stdout).toContain("snippet:");
    expect(configure(["docker", "--config", f, "--runsc", RUNSC, "--force"]).engine.status).toBe("changed");
  });

  test("--dry-run prints the unified diff and changes nothing", () => {
    const d = join(dir, "dry");
    mkdirSync(d);
    const f = join(d, "daemon.json");
    writeFileSync(f, original);
    const mtime = statSync(f).mtimeMs;
    const r = gvd(["configure", "docker", "--config", f, "--runsc", RUNSC, "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--- ${f}\n+++ ${f}\n@@ `);
    expect(r.stdout).toContain('+  "runtimes": {');
    expect(r.stdout).toContain("dry run: nothing was written");
    expect(statSync(f).mtimeMs).toBe(mtime);
    expect(readdirSync(d)).toEqual(["daemon.json"]);
  });
});
