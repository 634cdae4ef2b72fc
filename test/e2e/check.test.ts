// `gvisor-doctor check` against a real dockerd (throwaway, in its own netns) and Debian's runsc.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";

// These tests are about Docker: the host's own Podman/containerd (and their storage) stay out of it.
const NOT_OTHER_ENGINES = ["--skip", "podman,containerd,crio,k8s"];

describe.skipIf(!BED.ok)("check against a real dockerd", () => {
  let bed: DockerBed;
  beforeAll(async () => {
    bed = await startDockerBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test("with runsc registered: docker.runtime, docker.hello and docker.signature pass, the dmesg signature is in the details", () => {
    const r = gvd(["check", "--json", ...NOT_OTHER_ENGINES], { env: bed.env });
    expect(r.json).toBeDefined();
    assertReportSchema(r.json);
    const daemon = finding(r.json, "docker.daemon");
    expect(daemon.status).toBe("pass");
    expect(daemon.details).toContain(`config: ${bed.configFile}`); // found from the dockerd process behind DOCKER_HOST
    expect(finding(r.json, "docker.runtime")).toMatchObject({
      status: "pass",
      message: "runsc → /usr/bin/runsc --network=none",
    });
    const hello = finding(r.json, "docker.hello");
    expect(hello.status).toBe("pass");
    expect(hello.details).toContain("dmesg: [   0.000000] Starting gVisor...");
    const sig = finding(r.json, "docker.signature");
    expect(sig.status).toBe("pass");
    expect(sig.details.some((d: string) => /dmesg: .*Starting gVisor/.test(d))).toBe(true);
    expect(finding(r.json, "docker.network")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("--network=none"),
    });
    expect(r.json.host.docker.configPath).toBe(bed.configFile);
    // A unix socket and a CLI: info through the Engine API, the hello through the CLI (each the faster).
    expect(r.json.host.docker).toMatchObject({ via: "api", probeVia: "cli" });
    expect(hello.details[0]).toMatch(/^\$ docker run --pull=never /);
    expect(r.code).toBe(0);
    expect(r.json.ok).toBe(true);
  });

  test("the probe image is built once, tagged by content hash, and reused", () => {
    const images = bed
      .docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "gvisor-doctor/hello"])
      .stdout.trim()
      .split("\n");
    expect(images).toHaveLength(1);
    expect(images[0]).toMatch(/^gvisor-doctor\/hello:[0-9a-f]{16}$/);
    const r = gvd(["check", "--json", "--only", "docker.hello", "-v"], { env: bed.env });
    expect(finding(r.json, "docker.hello").status).toBe("pass");
    expect(finding(r.json, "docker.hello").details.join("\n")).not.toContain("built now");
  });

  test("--quick skips the container probe and is still a valid report", () => {
    const r = gvd(["check", "--json", "--quick", ...NOT_OTHER_ENGINES], { env: bed.env });
    assertReportSchema(r.json);
    expect(finding(r.json, "docker.hello")).toMatchObject({
      status: "skip",
      message: "skipped by --quick (starts a container)",
    });
    expect(finding(r.json, "docker.runtime").status).toBe("pass");
  });

  test("with runsc removed from daemon.json and dockerd reloaded: docker.runtime fails with a fix, docker.hello is skipped", async () => {
    // An empty "runtimes" object: dockerd's SIGHUP reload keeps runtimes when the key is absent.
    writeFileSync(bed.configFile, '{ "runtimes": {} }\n');
    await bed.reload();
    try {
      const r = gvd(["check", "--json", ...NOT_OTHER_ENGINES], { env: bed.env });
      assertReportSchema(r.json);
      const rt = finding(r.json, "docker.runtime");
      expect(rt.status).toBe("fail");
      expect(rt.diagnosis.fix).toMatchObject({ id: "docker.register-runtime", automatic: true });
      expect(rt.diagnosis.fix.command).toContain("gvisor-doctor configure docker");
      expect(rt.diagnosis.cause).toContain(bed.configFile);
      expect(finding(r.json, "docker.hello")).toMatchObject({
        status: "skip",
        message: "needs docker.runtime (failed)",
      });
      expect(r.code).toBe(1);
      expect(r.json.ok).toBe(false);

      const human = gvd(["check", ...NOT_OTHER_ENGINES], { env: bed.env });
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/✗ docker\.runtime +dockerd at .* does not list a "runsc" runtime/);
      expect(human.stdout).toContain("fix:");
      expect(human.stdout).toContain("sudo gvisor-doctor configure docker");
      expect(human.stdout).toMatch(/\d+ passed · \d+ warnings? · 1 failed · \d+ skipped/);
    } finally {
      writeFileSync(
        bed.configFile,
        JSON.stringify({ runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } } }),
      );
      await bed.reload();
    }
  });

  test("a runtime whose path is not runsc: the hello container runs but fails the gVisor signature", async () => {
    writeFileSync(bed.configFile, JSON.stringify({ runtimes: { runsc: { path: "/usr/sbin/runc" } } }));
    await bed.reload();
    try {
      const r = gvd(["check", "--json", "--only", "docker.signature,docker.runtime-path"], { env: bed.env });
      expect(finding(r.json, "docker.hello").status).toBe("pass");
      const sig = finding(r.json, "docker.signature");
      expect(sig.status).toBe("fail");
      expect(sig.message).toContain("not under gVisor");
      expect(sig.message).toContain("klogctl"); // runc denies syslog(2); gVisor allows it
      expect(finding(r.json, "docker.runtime-path")).toMatchObject({ status: "warn" }); // runc is not the runsc on PATH
    } finally {
      writeFileSync(
        bed.configFile,
        JSON.stringify({ runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } } }),
      );
      await bed.reload();
    }
  });

  test("with two dockerd running, the doctor reads the config of the one behind DOCKER_HOST", async () => {
    const other = await startDockerBed({ daemonJson: {} });
    try {
      const a = gvd(["check", "--json", "--quick", ...NOT_OTHER_ENGINES], { env: bed.env });
      const b = gvd(["check", "--json", "--quick"], { env: other.env });
      expect(a.json.host.docker.configPath).toBe(bed.configFile);
      expect(b.json.host.docker.configPath).toBe(other.configFile);
      expect(finding(b.json, "docker.runtime").status).toBe("fail");
      expect(finding(a.json, "docker.runtime").status).toBe("pass");
    } finally {
      await other.stop();
    }
  });

  test("-v lists every command run with its timing on stderr", () => {
    const r = gvd(["check", "-v", "--only", "docker.runtime"], { env: bed.env });
    expect(r.stderr).toContain("commands run:");
    // DOCKER_HOST is a unix socket: dockerd's info comes from the Engine API, each request traced.
    expect(r.stderr).toMatch(/\d+ ms +GET \/_ping/);
    expect(r.stderr).toMatch(/\d+ ms +GET \/v1\.\d+\/info +→ HTTP 200/);
  });
});
