// Podman, for real, in a private view of /etc/containers and its storage: runsc only
// through Podman's built-in path → the hello container hits the sandbox-network
// failure → --fix registers runsc with network=none (a wrapper) → check passes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { BED } from "../bed/bed.ts";
import { finding } from "../helpers/cli.ts";
import { podmanSandbox, type PodmanSandbox } from "../helpers/configure.ts";

describe.skipIf(!BED.ok)("broken Podman host: diagnosed, then fixed by --fix", () => {
  let dir: string;
  let box: PodmanSandbox;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-podman-");
    box = podmanSandbox(dir);
    box.env.GVISOR_DOCTOR_WRAPPER_DIR = `${dir}/wrappers`;
    box.env.DOCKER_HOST = "unix:///nonexistent.sock";
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("podman.runtime warns (built-in path, no flags), podman.hello fails with netns-root → --fix → podman.hello shows Starting gVisor", () => {
    const before = box.gvd(["check", "--json", "--only", "podman"]);
    expect(finding(before.json, "podman.runtime")).toMatchObject({ status: "warn" });
    expect(finding(before.json, "podman.hello")).toMatchObject({
      status: "fail",
      diagnosis: { rule: "netns-root", fix: { id: "podman.register-runtime", automatic: true } },
    });
    expect(finding(before.json, "podman.hello").diagnosis.fix.command).toContain("--runtime-arg=network=none");
    const r = box.gvd(["--fix", "--json", "--only", "podman"]);
    expect(r.json.fix.applied.map((a: any) => `${a.id}:${a.status}`)).toEqual(["podman.register-runtime:applied"]);
    expect(r.code).toBe(0);
    const after = box.gvd(["check", "--json", "--only", "podman"]);
    expect(finding(after.json, "podman.runtime")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("network=none"),
    });
    expect(finding(after.json, "podman.hello")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("Starting gVisor"),
    });
    expect(after.json.matrix.find((m: any) => m.engine === "podman").cells).toEqual({
      registered: "pass",
      hello: "pass",
      signature: "pass",
    });
  });
});
