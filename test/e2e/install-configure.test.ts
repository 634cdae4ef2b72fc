// install hands over to configure: the new <prefix>/bin/runsc (the stable link, never the
// versioned path) is registered with every engine installed here; uninstall unregisters
// it first. Run in a private view of /etc/containers and /etc/containerd, against a
// throwaway dockerd, so the host's engine configs are never touched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { podmanSandbox, type PodmanSandbox } from "../helpers/configure.ts";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";

describe.skipIf(!BED.ok)("install → configure, uninstall → configure --remove", () => {
  let bed: DockerBed;
  let bucket: FakeBucket;
  let dir: string;
  let box: PodmanSandbox;
  let prefix: string;
  beforeAll(async () => {
    [bed, bucket] = await Promise.all([startDockerBed({ daemonJson: { runtimes: {} } }), startFakeBucket()]);
    dir = mkdtempSync("/tmp/gvd-test-handoff-");
    chmodSync(dir, 0o755); // the sandbox user (nobody) must reach the prefix
    prefix = join(dir, "prefix");
    box = podmanSandbox(dir, { containerd: true });
    Object.assign(box.env, {
      DOCKER_HOST: bed.host,
      GVISOR_DOCTOR_WRAPPER_DIR: join(dir, "wrappers"),
      NO_PROXY: "127.0.0.1,localhost",
    });
  });
  afterAll(async () => {
    await bed?.stop();
    bucket?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("install registers <prefix>/bin/runsc with docker (reloaded), containerd and podman; podman's proof run meets this kernel's sandbox-network failure, and --fix repairs it", () => {
    // A local-directory mirror: the sandbox runs the binary synchronously, and an in-process HTTP server would wait.
    const r = box.gvd(["install", "--mirror", bucket.dir, "--prefix", prefix, "--version", RELEASES.legacy, "--json"]);
    expect(r.json).toMatchObject({ command: "install", action: "installed" });
    const link = join(prefix, "bin/runsc");
    const engines = Object.fromEntries(r.json.configure.engines.map((e: any) => [e.engine, e]));
    expect(engines.docker).toMatchObject({ status: "changed", reload: { action: "reloaded" } });
    expect(JSON.parse(readFileSync(bed.configFile, "utf8")).runtimes.runsc.path).toBe(link);
    expect(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout).runsc.path).toBe(link);
    expect(engines.containerd.status).toBe("changed");
    // The link is the runtime's binary: BinaryName in config.toml (runc shim), or binary_name in runsc.toml
    // when containerd-shim-runsc-v1 is on containerd's PATH (as on a host where gvisor-doctor installed it).
    const containerdFiles = ["config.toml", "runsc.toml"].map((f) => join(box.etcContainerd!, f)).filter(existsSync);
    expect(containerdFiles.map((f) => readFileSync(f, "utf8")).join("\n")).toContain(link);
    // Podman: registered, but its proof run fails the way this kernel fails (no --network=none yet).
    expect(engines.podman.status).toBe("failed");
    expect(engines.podman.message).toContain("cannot run with network enabled in root network namespace");
    expect(existsSync(join(box.etc, "containers.conf.d", "99-gvisor.conf"))).toBe(true);
    expect(r.code).toBe(1); // the install stays; the engine failure is the exit code
    expect(r.json.next).toBe("gvisor-doctor check");

    const fix = box.gvd(["--fix", "--json", "--only", "podman,docker"]);
    expect(fix.json.fix.applied.map((a: any) => `${a.id}:${a.status}`)).toEqual([
      "docker.register-runtime:applied",
      "podman.register-runtime:applied",
    ]);
    expect(fix.code).toBe(0);
    expect(fix.json.checks.find((c: any) => c.id === "podman.hello").status).toBe("pass");
    expect(fix.json.checks.find((c: any) => c.id === "docker.signature").status).toBe("pass");
  });

  test("uninstall unregisters it from those engines first, then removes the files", () => {
    const r = box.gvd(["uninstall", "--prefix", prefix, "--json"]);
    expect(r.json).toMatchObject({ command: "uninstall", action: "uninstalled" });
    expect(r.json.configure.engines.map((e: any) => e.engine).sort()).toEqual(["containerd", "docker", "podman"]);
    expect(r.json.configure.engines.every((e: any) => e.status === "changed")).toBe(true);
    // daemon.json held nothing of the user's but an empty "runtimes": removed, as if never there.
    expect(existsSync(bed.configFile) ? JSON.parse(readFileSync(bed.configFile, "utf8")).runtimes : {}).toEqual({});
    expect(JSON.parse(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout).runsc).toBeUndefined();
    expect(readFileSync(join(box.etcContainerd!, "config.toml"), "utf8")).not.toContain(join(prefix, "bin/runsc"));
    expect(existsSync(join(box.etc, "containers.conf.d", "99-gvisor.conf"))).toBe(false);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(false);
    expect(r.code).toBe(0);
  });
});
