// The examples in examples/, exercised for real: the Dockerfiles are built by a test-bed dockerd
// (classic builder, base image imported from host files, no registry) and their images run
// under runsc and runc; the GitHub Actions workflow's shell steps run against a loopback release.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { BINARY, ROOT, gvd } from "../helpers/cli.ts";
import { libsOf } from "../helpers/doctor-image.ts";
import {
  DEFAULT_BASE,
  NOBODY,
  cleanEnv,
  fakeDoctor,
  hostAsset,
  makeRelease,
  runShell,
  serveDir,
  toolbox,
  type Served,
} from "../helpers/release.ts";

const EXAMPLES = join(ROOT, "examples");
const version = () =>
  spawnSync(BINARY, ["--version"], { encoding: "utf8" })
    .stdout.trim()
    .replace(/^gvisor-doctor /, "");
/** Whether the binary under test has `command` (the examples use commands other issues add). */
const hasCommand = (command: string) => gvd([command, "--help"]).code === 0;
const HAS_INSTALL = hasCommand("install");
if (!HAS_INSTALL)
  console.warn("[examples] Dockerfile.node-image test skipped: this gvisor-doctor has no `install` command yet");

/** A release directory for a build context: install.sh, SHA512SUMS and the .gz (the raw binary is left out, as the example's instructions do). */
async function contextRelease(dir: string): Promise<void> {
  const asset = hostAsset();
  await makeRelease(dir, { assets: [asset], binary: { path: BINARY }, version: version() });
  rmSync(join(dir, asset));
}

describe.skipIf(!BED.ok)("example Dockerfiles, built and run by a real dockerd", () => {
  let bed: DockerBed;
  let tmp: string;
  const BASE = "gvd-example/base:glibc-busybox";

  /** `docker` with the classic builder (dockerd 20.10 here; BuildKit would want to pull its frontend). */
  const docker = (args: string[]) => {
    const r = spawnSync("docker", args, {
      env: { ...bed.env, DOCKER_BUILDKIT: "0" },
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 64 << 20,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/gvd-examples-");
    bed = await startDockerBed();
    // The base image: a static busybox with all its applets (sh, gzip, sha512sum, awk, mktemp…)
    // plus the glibc files gvisor-doctor links: a small glibc distribution made from host files.
    const root = join(tmp, "base-rootfs");
    for (const d of ["bin", "usr/local/bin", "tmp", "proc", "sys", "dev", "etc", "root"])
      mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync("/bin/busybox", join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    for (const a of spawnSync("busybox", ["--list"], { encoding: "utf8" }).stdout.split("\n"))
      if (a && a !== "busybox") symlinkSync("busybox", join(root, "bin", a));
    for (const lib of libsOf(BINARY)) {
      mkdirSync(dirname(join(root, lib)), { recursive: true });
      copyFileSync(realpathSync(lib), join(root, lib));
    }
    writeFileSync(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    );
    const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
    const imp = spawnSync("docker", ["import", "--change", "ENV PATH=/usr/local/bin:/bin", "-", BASE], {
      input: tar.stdout,
      env: bed.env,
      encoding: "utf8",
    });
    if (imp.status !== 0) throw new Error(`docker import failed: ${imp.stderr}`);
  }, 120_000);
  afterAll(async () => {
    await bed?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  describe("Dockerfile.preflight", () => {
    const IMAGE = "gvd-example/preflight:test";
    beforeAll(async () => {
      const ctx = join(tmp, "ctx-preflight");
      await contextRelease(join(ctx, "gvisor-doctor-release"));
      mkdirSync(join(ctx, "app"));
      writeFileSync(join(ctx, "app/start"), '#!/bin/sh\necho "app started as pid $$ with: $*"\n', { mode: 0o755 });
      const b = docker([
        "build",
        "-f",
        join(EXAMPLES, "Dockerfile.preflight"),
        "--build-arg",
        `BASE=${BASE}`,
        "-t",
        IMAGE,
        ctx,
      ]);
      if (b.code !== 0) throw new Error(`docker build failed:\n${b.stdout}\n${b.stderr}`);
    }, 300_000);

    test("the image holds the release's gvisor-doctor, installed by install.sh during the build", () => {
      const r = docker(["run", "--rm", "--entrypoint", "gvisor-doctor", IMAGE, "--version"]);
      expect(r.stdout.trim()).toBe(`gvisor-doctor ${version()}`);
      expect(docker(["run", "--rm", "--entrypoint", "ls", IMAGE, "/tmp"]).stdout.trim()).toBe(""); // the release stayed in the build stage
    });

    test("under runsc: the app starts, as PID 1 (preflight execs it), with the container's arguments", () => {
      const r = docker(["run", "--rm", "--runtime=runsc", IMAGE, "--port", "8080"]);
      expect(r.stderr).not.toContain("refusing");
      expect(r.stdout.trim()).toBe("app started as pid 1 with: --port 8080");
      expect(r.code).toBe(0);
    });

    test("under runc: refuses to start the app, exit 1, and says why", () => {
      const r = docker(["run", "--rm", "--runtime=runc", IMAGE, "--port", "8080"]);
      expect(r.stdout).not.toContain("app started");
      expect(r.stderr).toContain("refusing to start /app/start: not running under gVisor");
      expect(r.code).toBe(1);
    });
  });

  describe.skipIf(!HAS_INSTALL)("Dockerfile.node-image", () => {
    const IMAGE = "gvd-example/node-image:test";
    const PORT = 18099;
    let httpd: ChildProcess | undefined;
    let build: { code: number; stdout: string; stderr: string };

    beforeAll(async () => {
      // A gVisor mirror in the bucket's legacy layout (Debian's runsc; a busybox copy as the shim),
      // served inside dockerd's own network namespace, where `docker build --network host` runs.
      const arch = spawnSync("uname", ["-m"], { encoding: "utf8" }).stdout.trim();
      const mirror = join(tmp, "mirror");
      const rel = join(mirror, "release", "20221219", arch);
      mkdirSync(rel, { recursive: true });
      copyFileSync("/usr/bin/runsc", join(rel, "runsc"));
      copyFileSync("/bin/busybox", join(rel, "containerd-shim-runsc-v1"));
      for (const f of ["runsc", "containerd-shim-runsc-v1"]) {
        const sum = spawnSync("sha512sum", [f], { cwd: rel, encoding: "utf8" }).stdout;
        writeFileSync(join(rel, `${f}.sha512`), sum);
      }
      spawnSync("nsenter", ["-t", String(bed.dockerdPid), "-n", "ip", "link", "set", "lo", "up"]);
      httpd = spawn(
        "nsenter",
        ["-t", String(bed.dockerdPid), "-n", "busybox", "httpd", "-f", "-p", `127.0.0.1:${PORT}`, "-h", mirror],
        { stdio: "ignore" },
      );
      const sums = `http://127.0.0.1:${PORT}/release/20221219/${arch}/runsc.sha512`;
      while (
        spawnSync("nsenter", ["-t", String(bed.dockerdPid), "-n", "busybox", "wget", "-q", "-O", "/dev/null", sums])
          .status !== 0
      )
        await Bun.sleep(50);
      const ctx = join(tmp, "ctx-node");
      await contextRelease(join(ctx, "gvisor-doctor-release"));
      build = docker([
        "build",
        "--network",
        "host",
        "-f",
        join(EXAMPLES, "Dockerfile.node-image"),
        "--build-arg",
        `BASE=${BASE}`,
        "--build-arg",
        `GVISOR_MIRROR=http://127.0.0.1:${PORT}`,
        "--build-arg",
        "GVISOR_VERSION=20221219",
        "-t",
        IMAGE,
        ctx,
      ]);
    }, 300_000);
    afterAll(() => {
      httpd?.kill();
    });

    test("`gvisor-doctor install --no-configure --mirror …` at build time puts a working runsc in the image", () => {
      expect({ code: build.code, out: build.code === 0 ? "" : build.stdout + build.stderr }).toEqual({
        code: 0,
        out: "",
      });
      const r = docker(["run", "--rm", IMAGE, "runsc", "--version"]);
      expect(r.stdout).toContain("20221219");
      expect(r.code).toBe(0);
    });
  });
});

describe.skipIf(process.getuid?.() !== 0)("examples/github-actions.yml", () => {
  const workflow = Bun.YAML.parse(readFileSync(join(EXAMPLES, "github-actions.yml"), "utf8")) as any;
  const steps: any[] = workflow.jobs.test.steps;
  const installStep = steps.find((s) => String(s.run ?? "").includes("install.sh"));
  const checkStep = steps.find((s) => String(s.run ?? "").startsWith("gvisor-doctor check"));
  let tmp: string;
  let srv: Served;
  let log: string;

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/gvd-gha-");
    chmodSync(tmp, 0o755);
    await makeRelease(join(tmp, "rel"), { assets: [hostAsset()], binary: { script: fakeDoctor() } });
    srv = serveDir(join(tmp, "rel"));
    log = join(tmp, "calls.log");
    writeFileSync(log, "");
    chmodSync(log, 0o666);
  });
  afterAll(() => {
    srv?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("the steps use bash with pipefail (GitHub's `shell: bash`), so a failed download fails the step", () => {
    for (const s of [installStep, checkStep]) expect(s.shell).toBe("bash");
    expect(installStep.run).toContain(`curl -fsSL ${DEFAULT_BASE}/install.sh | sh -s -- install`);
    expect(checkStep.run).toContain("gvisor-doctor check --json");
  });

  test("as the runner user (not root, passwordless sudo): the one-liner installs and runs `sudo -E gvisor-doctor install`; the next step finds gvisor-doctor and runs `check --json`", async () => {
    const bin = join(tmp, "usr-local-bin");
    mkdirSync(bin);
    chownSync(bin, NOBODY, NOBODY);
    const home = join(tmp, "home");
    mkdirSync(home);
    chownSync(home, NOBODY, NOBODY);
    // sudo on the runner: here a stand-in that logs and runs the command as the same user.
    const tools = toolbox(join(tmp, "tools"), {
      scripts: { sudo: `#!/bin/sh\necho "sudo $*" >>"$GVD_FAKE_LOG"\n[ "$1" = -E ] && shift\nexec "$@"\n` },
    });
    // GitHub runs `bash --noprofile --norc -eo pipefail {0}` for `shell: bash`.
    const stepEnv = (s: any) =>
      cleanEnv({
        ...s.env,
        HOME: home,
        PATH: `${bin}:${tools}`,
        GVISOR_DOCTOR_BASE: srv.url,
        GVISOR_DOCTOR_INSTALL_DIR: bin,
        GVD_FAKE_LOG: log,
      });
    const asStep = (s: any, url = srv.url) =>
      runShell('exec bash --noprofile --norc -eo pipefail -c "$1"', [String(s.run).replaceAll(DEFAULT_BASE, url)], {
        env: stepEnv(s),
        user: "nobody",
        cwd: home,
      });

    const install = await asStep(installStep);
    expect(install.code).toBe(0);
    const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
    expect(lines).toContain(`sudo -E ${bin}/gvisor-doctor install`);
    expect(lines.at(-1)).toBe(`${NOBODY}|/dev/null|install`);

    const check = await asStep(checkStep);
    expect(check.code).toBe(0);
    expect(readFileSync(join(home, "gvisor-doctor-report.json"), "utf8")).toBe(
      "fake gvisor-doctor ran: check --json\n",
    );

    const missing = await asStep(installStep, `${srv.url}/no-such-release`);
    expect(missing.code).not.toBe(0); // pipefail: curl's 404 fails the step
  });
});
