// `gvisor-doctor exec` against the real parts: a throwaway dockerd with runsc
// registered (the test bed), runsc directly (root), Podman, and the fallback on a
// host view without gVisor (an unprivileged user with no Docker socket).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BED, scratchDir, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { BINARY, gvd } from "../helpers/cli.ts";
import { parseSelfCgroups } from "../../platform/exec/cgroup.ts";

const GVISOR = "Starting gVisor";
// Sandboxes on a busy 2-core machine: a slow run must fail on its own assertions, not on bun's 5 s default
// (whose timeout also kills the test bed's daemons as "dangling processes").
setDefaultTimeout(180_000);
const LABEL = "gvisor-doctor.exec";
const hasPodman = spawnSync("sh", ["-c", "command -v podman"]).status === 0;
/** `yes 0123456789abcdef | head -c N` */
const yesBytes = (n: number) => "0123456789abcdef\n".repeat(Math.ceil(n / 17)).slice(0, n);
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: any;
}

/** Start the binary without blocking the event loop (for signals and servers in this process). */
function gvdAsync(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
    for (const w of waiters) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<Done>((resolve) =>
    child.on("close", (code) => {
      let json;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, stdout, stderr, json });
    }),
  );
  const sawOnStdout = (text: string) =>
    new Promise<void>((resolve) => (stdout.includes(text) ? resolve() : waiters.push({ text, resolve })));
  return { child, done, sawOnStdout };
}

/** What exec could leave behind: containers, sandbox processes, temp dirs, cgroups. */
function leftovers(bed: DockerBed) {
  const procs: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ");
    } catch {
      continue;
    }
    // runsc sandboxes under the bed name its exec root; direct ones name their gvd-exec-* bundle.
    if (cmd.includes(bed.dir) || cmd.includes("gvd-exec-")) procs.push(cmd);
  }
  // runsc's own cgroups sit at the root of each hierarchy; exec's nest under its own cgroup.
  const self = parseSelfCgroups(readFileSync("/proc/self/cgroup", "utf8"));
  const cgroupDirs = [
    "/sys/fs/cgroup",
    ...readdirSync("/sys/fs/cgroup").flatMap((c) => [
      join("/sys/fs/cgroup", c),
      join("/sys/fs/cgroup", c, self.get(c) ?? ""),
    ]),
  ];
  const cgroups = [...new Set(cgroupDirs)].flatMap((d) => {
    try {
      return readdirSync(d)
        .filter((n) => n.startsWith("gvd-exec-"))
        .map((n) => join(d, n));
    } catch {
      return [];
    }
  });
  return {
    containers: bed
      .docker(["ps", "-aq", "--filter", `label=${LABEL}`])
      .stdout.trim()
      .split("\n")
      .filter(Boolean).length,
    processes: procs.sort(),
    tempDirs: readdirSync(tmpdir()).filter((n) => n.startsWith("gvd-exec-")),
    cgroups,
  };
}

describe.skipIf(!BED.ok)("exec: sandboxed methods on this host", () => {
  let bed: DockerBed;
  let scratch: string;
  let clean: ReturnType<typeof leftovers>;
  const exec = (args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) =>
    gvd(["exec", ...args], { env: opts.env ?? bed.env, input: opts.input });

  beforeAll(async () => {
    bed = await startDockerBed();
    scratch = scratchDir("/tmp/gvd-test-exec-");
    clean = leftovers(bed);
  });
  afterAll(async () => {
    await bed?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const via of ["docker", "runsc"] as const) {
    describe(`--via ${via}`, () => {
      test("runs under gVisor: dmesg shows the gVisor signature, and nothing is left behind", () => {
        const r = exec(["--via", via, "--json", "--", "dmesg"]);
        expect(r.json).toMatchObject({
          method: via,
          sandboxed: true,
          exitCode: 0,
          signal: null,
          timedOut: false,
          stderr: "",
          truncated: false,
        });
        expect(r.json.stdout).toContain(GVISOR);
        expect(Object.keys(r.json)).toEqual([
          "method",
          "sandboxed",
          "exitCode",
          "signal",
          "timedOut",
          "durationMs",
          "stdout",
          "stderr",
          "truncated",
        ]);
        expect(r.code).toBe(0);
        expect(leftovers(bed)).toEqual(clean);
      });

      test("output streams through and the exit code is the command's", () => {
        const r = exec(["--via", via, "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
        expect(r.stdout).toBe("out\n");
        expect(r.stderr).toBe("err\n");
        expect(r.code).toBe(7);
      });

      test("a command that does not exist exits 127, and the failed start leaves nothing behind", () => {
        const r = exec(["--via", via, "--json", "--", "no-such-command"]);
        expect(r.code).toBe(127);
        expect(r.json.exitCode).toBe(127);
        expect(r.json.stderr).toContain("no-such-command");
        expect(leftovers(bed)).toEqual(clean); // docker: the containerd shim runsc's failed start strands is reaped
      });

      test("the root file system is read-only: writing outside the mounts fails", () => {
        const r = exec([
          "--via",
          via,
          "--",
          "sh",
          "-c",
          "for f in /gvd-probe /etc/gvd-probe /bin/gvd-probe; do touch $f && exit 9; done; exit 0",
        ]);
        expect(r.stderr).toBe(
          ["/gvd-probe", "/etc/gvd-probe", "/bin/gvd-probe"]
            .map((f) => `touch: ${f}: Read-only file system\n`)
            .join(""),
        );
        expect(r.code).toBe(0);
      });

      test("/tmp is gVisor's private in-memory tmpfs: writable, gone afterwards, never on the host", () => {
        const r = exec([
          "--via",
          via,
          "--",
          "sh",
          "-c",
          "echo scratch > /tmp/gvd-probe && cat /tmp/gvd-probe && grep ' /tmp ' /proc/mounts",
        ]);
        expect(r.stdout).toMatch(/^scratch\nnone \/tmp tmpfs rw/);
        expect(exec(["--via", via, "--", "ls", "-A", "/tmp"]).stdout).toBe("");
        if (via === "runsc")
          expect(
            readdirSync("/var/cache/gvisor-doctor/rootfs").flatMap((d) =>
              existsSync(`/var/cache/gvisor-doctor/rootfs/${d}/tmp`)
                ? readdirSync(`/var/cache/gvisor-doctor/rootfs/${d}/tmp`)
                : [],
            ),
          ).toEqual([]);
      });

      test("mounts are read-only unless :rw, and a rw mount's writes reach the host", () => {
        const ro = join(scratch, `${via}-ro`);
        const rw = join(scratch, `${via}-rw`);
        mkdirSync(ro);
        mkdirSync(rw);
        writeFileSync(join(ro, "input.txt"), "from the host\n");
        const r = exec([
          "--via",
          via,
          "--mount",
          `${ro}:/in`,
          "--mount",
          `${rw}:/out:rw`,
          "--workdir",
          "/out",
          "--",
          "sh",
          "-c",
          "cat /in/input.txt; echo x > /in/written || echo ro-refused; echo result > made.txt && pwd",
        ]);
        expect(r.stdout).toBe("from the host\nro-refused\n/out\n");
        expect(r.stderr).toMatch(/\/in\/written: (Read-only file system|Permission denied)/);
        expect(existsSync(join(ro, "written"))).toBe(false);
        expect(readFileSync(join(rw, "made.txt"), "utf8")).toBe("result\n");
        expect(r.code).toBe(0);
      });

      test("the environment is only what is given (K=V, or K copied from the host), never the host's", () => {
        const env = { ...bed.env, GVD_SECRET: "host-secret", GVD_COPIED: "copied" };
        const r = exec(["--via", via, "--env", "GREETING=hello world", "--env", "GVD_COPIED", "--", "env"], { env });
        expect(r.stdout).toContain("GREETING=hello world\n");
        expect(r.stdout).toContain("GVD_COPIED=copied\n");
        expect(r.stdout).not.toContain("host-secret");
        expect(r.code).toBe(0);
      });

      test("stdin is passed to the command", () => {
        const r = exec(["--via", via, "--", "sh", "-c", "wc -c"], { input: "twelve bytes" });
        expect(r.stdout.trim()).toBe("12");
      });

      test("no network by default: only a loopback interface", () => {
        const r = exec(["--via", via, "--", "cat", "/proc/net/dev"]);
        const ifaces = r.stdout
          .split("\n")
          .slice(2)
          .map((l) => l.split(":")[0].trim())
          .filter(Boolean);
        expect(ifaces).toEqual(["lo"]);
      });

      test("--memory is enforced: a sandbox that outgrows it is killed (137)", () => {
        const grow = ["sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1M count=300 2>/dev/null; echo survived"];
        const limited = exec(["--via", via, "--memory", "128m", "--json", "--", ...grow]);
        expect(limited.json).toMatchObject({ exitCode: 137, stdout: "" });
        expect(exec(["--via", via, "--memory", "1g", "--json", "--", ...grow]).json).toMatchObject({
          exitCode: 0,
          stdout: "survived\n",
        });
      });

      test("the pids limit is enforced (under gVisor it counts the sandbox's host threads: past it the sandbox dies)", () => {
        const fork50 = ["sh", "-c", "n=0; while [ $n -lt 50 ]; do sleep 1 & n=$((n+1)); done; wait; echo spawned $n"];
        const limited = exec(["--via", via, "--pids", "64", "--json", "--", ...fork50]);
        expect(limited.json.exitCode).not.toBe(0);
        expect(limited.json.stdout).toBe("");
        expect(exec(["--via", via, "--json", "--", ...fork50]).json).toMatchObject({
          exitCode: 0,
          stdout: "spawned 50\n",
        });
        expect(leftovers(bed)).toEqual(clean);
      });

      test("--timeout kills the sandbox: exit 124, and no container, process, temp dir or cgroup is left", () => {
        const r = exec(["--via", via, "--timeout", "1.5", "--json", "--", "sh", "-c", "echo started; sleep 60"]);
        expect(r.json).toMatchObject({
          method: via,
          exitCode: 124,
          timedOut: true,
          signal: "SIGKILL",
          stdout: "started\n",
        });
        expect(r.code).toBe(124);
        expect(leftovers(bed)).toEqual(clean);
      });

      test("SIGTERM is forwarded to the command, which may handle it", async () => {
        const p = gvdAsync(
          ["exec", "--via", via, "--", "sh", "-c", 'trap "echo got TERM; exit 3" TERM; echo ready; sleep 60 & wait'],
          bed.env,
        );
        await p.sawOnStdout("ready");
        p.child.kill("SIGTERM");
        const r = await p.done;
        expect(r.stdout).toBe("ready\ngot TERM\n");
        expect(r.code).toBe(3);
        expect(leftovers(bed)).toEqual(clean);
      });

      test("a command that ignores SIGTERM is torn down on a second signal: 128+15, nothing left", async () => {
        // --json prints nothing until the end, so the command says "ready" through a mount.
        const dir = join(scratch, `${via}-sig`);
        mkdirSync(dir);
        const p = gvdAsync(
          [
            "exec",
            "--via",
            via,
            "--json",
            "--mount",
            `${dir}:/sig:rw`,
            "--",
            "sh",
            "-c",
            'trap "" TERM INT; echo ready; touch /sig/ready; sleep 60',
          ],
          bed.env,
        );
        while (!existsSync(join(dir, "ready"))) await new Promise((r) => setTimeout(r, 50));
        p.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        p.child.kill("SIGINT");
        const r = await p.done;
        expect(r.json).toMatchObject({ exitCode: 143, signal: "SIGTERM", timedOut: false, stdout: "ready\n" });
        expect(r.code).toBe(143);
        expect(leftovers(bed)).toEqual(clean);
      });

      test("1 MB of output arrives intact, streamed and in --json", () => {
        const want = yesBytes(1 << 20);
        const streamed = exec(["--via", via, "--", "sh", "-c", "yes 0123456789abcdef | head -c 1048576"]);
        expect(streamed.stdout.length).toBe(1 << 20);
        expect(sha(streamed.stdout)).toBe(sha(want));
        const captured = exec(["--via", via, "--json", "--", "sh", "-c", "yes 0123456789abcdef | head -c 1048576"]);
        expect(captured.json.truncated).toBe(false);
        expect(sha(captured.json.stdout)).toBe(sha(want));
      });

      test("10 concurrent execs all succeed and all are cleaned up", async () => {
        const runs = Array.from(
          { length: 10 },
          (_, i) => gvdAsync(["exec", "--via", via, "--json", "--", "sh", "-c", `echo job-${i}`], bed.env).done,
        );
        const results = await Promise.all(runs);
        results.forEach((r, i) => {
          expect(r.json).toMatchObject({ method: via, sandboxed: true, exitCode: 0, stdout: `job-${i}\n` });
        });
        expect(leftovers(bed)).toEqual(clean);
      });
    });
  }

  test("--json caps captured output at 4 MiB per stream and says so", () => {
    const r = exec(["--via", "runsc", "--json", "--", "sh", "-c", "yes 0123456789abcdef | head -c 5242880"]);
    expect(r.json.truncated).toBe(true);
    expect(r.json.stdout.length).toBe(4 * 1024 * 1024);
    expect(r.json.stdout).toBe(yesBytes(4 * 1024 * 1024));
    expect(r.code).toBe(0);
  });

  test("--network none blocks a server on the host's loopback; --network host (runsc) reaches it", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("pong-from-host") });
    try {
      const probe = ["sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 ${server.port}; echo nc=$?`];
      const none = await gvdAsync(["exec", "--via", "runsc", "--", ...probe], bed.env).done;
      expect(none.stdout).not.toContain("pong-from-host");
      expect(none.stdout).toContain("nc=1");
      const viaDocker = await gvdAsync(["exec", "--via", "docker", "--", ...probe], bed.env).done;
      expect(viaDocker.stdout).not.toContain("pong-from-host");
      const host = await gvdAsync(["exec", "--via", "runsc", "--network", "host", "--", ...probe], bed.env).done;
      expect(host.stdout).toContain("pong-from-host"); // the probe can see a network when there is one
    } finally {
      server.stop(true);
    }
  });

  test("auto on this host (root, runsc, a dockerd with runsc) picks a sandbox", () => {
    const r = exec(["--json", "-v", "--", "dmesg"]);
    expect(r.json.sandboxed).toBe(true);
    expect(["runsc", "docker"]).toContain(r.json.method);
    expect(r.json.stdout).toContain(GVISOR);
    expect(r.stderr).toMatch(new RegExp(`exec: via ${r.json.method}: `));
  });

  test("--via docker with no reachable dockerd refuses with Docker's reason (exit 1, no fallback)", () => {
    const marker = join(scratch, "docker-marker");
    const r = exec(["--via", "docker", "--", "touch", marker], {
      env: { ...bed.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "--via docker is not available here: cannot reach dockerd at unix:///nonexistent/docker.sock",
    );
    expect(existsSync(marker)).toBe(false);
  });

  test("--via runsc --image DIR uses that directory as the root and refuses to create mount points in it", () => {
    const root = join(scratch, "image-root");
    for (const d of ["proc", "dev", "sys", "bin"]) mkdirSync(join(root, d), { recursive: true });
    spawnSync("cp", [
      spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim(),
      join(root, "bin", "busybox"),
    ]);
    const ok = exec(["--via", "runsc", "--image", root, "--", "/bin/busybox", "echo", "own root"]);
    expect(ok.stdout).toBe("own root\n");
    const refused = exec([
      "--via",
      "runsc",
      "--image",
      root,
      "--mount",
      `${scratch}:/data`,
      "--",
      "/bin/busybox",
      "true",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`/data does not exist in ${root}`);
    expect(existsSync(join(root, "data"))).toBe(false);
  });

  describe.skipIf(!hasPodman)("--via podman", () => {
    let hadImage = true;
    let tag = "";
    beforeAll(async () => {
      const { helloRootfs, imageTag } = await import("../../platform/probe/rootfs.ts");
      tag = imageTag(await helloRootfs());
      hadImage = spawnSync("podman", ["image", "exists", tag]).status === 0;
    });
    afterAll(() => {
      if (!hadImage) spawnSync("podman", ["rmi", "-f", tag]);
    });
    test("runs under gVisor with the security defaults, and removes its container", () => {
      const r = exec([
        "--via",
        "podman",
        "--json",
        "--",
        "sh",
        "-c",
        "dmesg | head -1; touch /etc/x 2>/dev/null || echo ro; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
      ]);
      expect(r.json).toMatchObject({ method: "podman", sandboxed: true, exitCode: 0 });
      expect(r.json.stdout).toMatch(new RegExp(`${GVISOR}.*\\nro\\n\\s*lo\\n$`));
      expect(spawnSync("podman", ["ps", "-aq", "--filter", `label=${LABEL}`], { encoding: "utf8" }).stdout.trim()).toBe(
        "",
      );
    });
    test("--timeout removes the container too", () => {
      const r = exec(["--via", "podman", "--timeout", "2", "--", "sleep", "60"]);
      expect(r.code).toBe(124);
      expect(spawnSync("podman", ["ps", "-aq", "--filter", `label=${LABEL}`], { encoding: "utf8" }).stdout.trim()).toBe(
        "",
      );
    });
  });
});

describe.skipIf(!BED.ok)("exec: the fallback on a host without gVisor", () => {
  // An unprivileged user with no Docker socket: runsc needs root, rootless Podman is
  // refused, dockerd is unreachable — what a CI job without gVisor looks like.
  let scratch: string;
  const asNobody = (args: string[]) => {
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", BINARY, "exec", ...args], {
      cwd: "/",
      env: { PATH: process.env.PATH, HOME: "/", NO_COLOR: "1", DOCKER_HOST: "unix:///nonexistent/docker.sock" },
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  beforeAll(() => {
    scratch = scratchDir("/tmp/gvd-test-exec-nobody-");
    chmodSync(scratch, 0o777);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test("auto runs a plain subprocess, says so on stderr, and reports sandboxed: false", () => {
    const r = asNobody(["--json", "--", "id", "-u"]);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ method: "none", sandboxed: false, exitCode: 0, stdout: "65534\n" });
    expect(r.stderr).toContain("warning: no gVisor sandbox here (");
    expect(r.stderr).toContain("docker: cannot reach dockerd at unix:///nonexistent/docker.sock");
    expect(r.stderr).toContain("runsc: running /usr/bin/runsc directly needs root");
    expect(r.stderr).toContain("podman: rootless Podman cannot enforce the pids and memory limits");
    expect(r.stderr).toContain("running 'id' as a plain subprocess without gVisor isolation, the read-only root");
    expect(r.stderr).toContain("--require-sandbox refuses instead");
    expect(r.code).toBe(0);
  });

  test("--require-sandbox refuses: exit 1, the reasons, and the command never runs", () => {
    const marker = join(scratch, "ran");
    const r = asNobody(["--require-sandbox", "--", "touch", marker]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: no gVisor sandbox is available (");
    expect(r.stderr).toContain("docker: cannot reach dockerd at unix:///nonexistent/docker.sock");
    expect(r.stderr).toContain("runsc: running /usr/bin/runsc directly needs root");
    expect(r.stdout).toBe("");
    expect(existsSync(marker)).toBe(false);
  });

  test("the fallback still enforces the timeout and leaves no process behind", () => {
    const r = asNobody(["--timeout", "1", "--", "sh", "-c", "sleep 61 & sleep 61; echo never"]);
    expect(r.code).toBe(124);
    expect(r.stdout).toBe("");
    const stray = spawnSync("pgrep", ["-f", "^sleep 61$"], { encoding: "utf8" }).stdout.trim();
    expect(stray).toBe("");
  });

  test("--timeout 2 returns 124 at once although a setsid descendant holds stdout (it is killed too)", () => {
    const t0 = performance.now();
    const r = asNobody(["--via", "none", "--timeout", "2", "--", "sh", "-c", "setsid sleep 62 & echo up; sleep 62"]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 124, stdout: "up\n" });
    expect(performance.now() - t0).toBeLessThan(10_000); // was 615 s with a longer sleep: all of it
    expect(spawnSync("pgrep", ["-f", "^sleep 62$"], { encoding: "utf8" }).stdout.trim()).toBe("");
  });
});
