// The Kubernetes installer image, for real: scripts/k8s-image.ts assembles the context from
// the compiled binary (plus chroot, nsenter and the libraries ldd names), a test-bed dockerd builds
// examples/k8s/Dockerfile from it (FROM scratch: nothing pulled, classic builder), and the
// image runs the way the manifests' containers run it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { BINARY, ROOT, gvd } from "../helpers/cli.ts";
import { bucketDir, RELEASES } from "../helpers/fake-bucket.ts";
import { makeHostTree } from "../helpers/host-tree.ts";
import { assembleImageContext, IMAGE_BINARY, type ImageContext } from "../../scripts/k8s-image.ts";

const IMAGE = "gvd-test/k8s-installer:e2e";
const V = "20260817.0";

describe.skipIf(!BED.ok)(
  "the installer image (examples/k8s/Dockerfile), built by a real dockerd from local files only",
  () => {
    let bed: DockerBed;
    let ctx: ImageContext;
    let tmp: string;

    /** docker against the bed, classic builder (dockerd 20.10; BuildKit would want to pull its frontend). */
    const docker = (args: string[]) => {
      const r = spawnSync("docker", args, {
        env: { ...bed.env, DOCKER_BUILDKIT: "0" },
        encoding: "utf8",
        timeout: 300_000,
        maxBuffer: 256 << 20,
      });
      return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    };

    beforeAll(async () => {
      tmp = mkdtempSync("/tmp/gvd-k8s-image-");
      ctx = assembleImageContext(tmp, { binary: BINARY });
      bed = await startDockerBed();
      const b = docker(["build", "-f", join(ROOT, "examples", "k8s", "Dockerfile"), "-t", IMAGE, tmp]);
      if (b.code !== 0) throw new Error(`docker build failed:\n${b.stdout}\n${b.stderr}`);
    }, 300_000);
    afterAll(async () => {
      if (bed) {
        docker(["rmi", "-f", IMAGE]);
        await bed.stop();
      }
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }, 120_000);

    test("docker run --rm IMAGE --help prints gvisor-doctor's help: the entrypoint is the binary", () => {
      const r = docker(["run", "--rm", IMAGE, "--help"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${gvd(["--help"]).stdout}`);
      expect(r.stdout).toContain("Usage: gvisor-doctor [command] [options]");
    });

    test("without arguments it prints the help too (CMD --help), and the version is the binary's", () => {
      expect(docker(["run", "--rm", IMAGE]).stdout).toContain("Usage: gvisor-doctor [command] [options]");
      expect(docker(["run", "--rm", IMAGE, "--version"]).stdout).toBe(gvd(["--version"]).stdout);
    });

    test("the manifests' `command: [gvisor-doctor]` resolves through the image's PATH", () => {
      const r = docker([
        "run",
        "--rm",
        "--entrypoint",
        "gvisor-doctor",
        IMAGE,
        "k8s",
        "manifests",
        "--version",
        V,
        "--json",
      ]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(gvd(["k8s", "manifests", "--version", V, "--json"]).json);
    });

    test("nsenter runs in the image (install --restart reaches the node's init with it; the pod has hostPID)", () => {
      const r = docker(["run", "--rm", "--entrypoint", "nsenter", IMAGE, "--version"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("nsenter from util-linux");
    });

    test("chroot runs in the image, into a host root mounted at /host: the node's own programs run with the node's libraries", () => {
      // What --host-root does with the node's runsc, ctr or docker; here the "node" is this machine's /.
      const r = docker([
        "run",
        "--rm",
        "-v",
        "/:/host:ro",
        "--entrypoint",
        "chroot",
        IMAGE,
        "/host",
        "/bin/sh",
        "-c",
        "echo from-the-host",
      ]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("from-the-host\n");
    });

    test("as the DaemonSet's init containers run it: install and check a node mounted at /host (hostPID; SYS_PTRACE to see the node's daemons)", async () => {
      // The "node": a tree with a real containerd running chrooted into it (see test/helpers/host-tree.ts).
      const node = makeHostTree();
      try {
        await node.start();
        const pristine = node.snapshot();
        // This machine runs in a container whose capability set --privileged exceeds: the caps the pod needs here.
        const pod = (args: string[]) =>
          docker([
            "run",
            "--rm",
            "--cap-add=SYS_PTRACE",
            "--cap-add=SYS_ADMIN",
            "--security-opt=apparmor=unconfined",
            "--pid=host",
            "--network=none",
            "-v",
            `${node.root}:/host`,
            "-v",
            `${bucketDir()}:/mirror:ro`,
            IMAGE,
            ...args,
          ]);
        const install = pod([
          "install",
          "--host-root",
          "/host",
          "--mirror",
          "/mirror",
          "--version",
          RELEASES.current,
          "--runtime-arg=--network=none",
          "--json",
        ]);
        // Written and verified with the node's containerd (chrooted dump); its restart is the node's init's job (exit 3 without --restart).
        expect(install.code, install.stderr).toBe(3);
        const doc = JSON.parse(install.stdout);
        expect(doc).toMatchObject({ action: "installed", hostRoot: "/host", links: { runsc: "/usr/local/bin/runsc" } });
        const cd = doc.configure.engines.find((e: any) => e.engine === "containerd");
        expect(cd).toMatchObject({ status: "changed", reload: { action: "pending" } });
        expect(cd.detected.pid).toBe(node.containerdPid()); // the node's daemon, seen through hostPID and /proc/PID/root
        expect(cd.notes.join("\n")).toContain("checked with containerd");
        // The node's init restarts containerd; then the check container passes.
        spawnSync(node.restartScript);
        await Bun.sleep(500);
        const check = pod(["check", "--host-root", "/host", "--json"]);
        const report = JSON.parse(check.stdout);
        expect(report.checks.filter((c: any) => c.status === "fail")).toEqual([]);
        expect(report.checks.find((c: any) => c.id === "containerd.runtime")).toMatchObject({ status: "pass" });
        expect(check.code).toBe(0);
        // And out again, byte for byte (configure --remove, then uninstall).
        expect(pod(["uninstall", "--host-root", "/host", "--json"]).code).toBe(3);
        spawnSync(node.restartScript);
        expect(node.snapshot()).toEqual(pristine);
      } finally {
        await node.stop();
      }
    });

    /** `tar -tv` of the image's file system (a created container, exported). */
    const listing = (): string[] => {
      const id = docker(["create", IMAGE]).stdout.trim();
      try {
        const exp = spawnSync("docker", ["export", id], { env: bed.env, maxBuffer: 1 << 30 });
        return spawnSync("tar", ["-tv"], { input: exp.stdout, encoding: "utf8", maxBuffer: 64 << 20 })
          .stdout.split("\n")
          .filter(Boolean);
      } finally {
        docker(["rm", "-f", id]);
      }
    };
    const pathOf = (line: string) =>
      line
        .split(/\s+/)
        .slice(5)
        .join(" ")
        .replace(/^\.\//, "")
        .replace(/ -> .*$/, "");

    test("the image holds the binary, chroot, nsenter, the libraries they load and passwd/group: nothing else", () => {
      // docker adds the runtime's mount points, /etc files and .dockerenv to an exported container.
      const added = /^(\.dockerenv|dev|proc|sys|etc\/(hostname|hosts|resolv\.conf|mtab))(\/|$)/;
      const files = listing()
        .filter((l) => !l.startsWith("d"))
        .map(pathOf)
        .filter((f) => !added.test(f))
        .sort();
      expect(files).toEqual(ctx.files);
      expect(ctx.files).toContain(IMAGE_BINARY);
      expect(ctx.files).toContain("usr/bin/nsenter");
      expect(ctx.files).toContain("usr/bin/chroot");
      expect(ctx.files.some((f) => /^(usr\/)?lib.*\/libc\.so\.6$/.test(f))).toBe(true);
    });

    test("/tmp is world-writable and sticky (the agent's readiness marker lives there); the binary is executable", () => {
      const modes = new Map(listing().map((l) => [pathOf(l).replace(/\/$/, ""), l.split(/\s+/)[0]]));
      expect(modes.get("tmp")).toBe("drwxrwxrwt");
      expect(modes.get(IMAGE_BINARY)).toBe("-rwxr-xr-x");
    });
  },
);
