// The host faults of test/unit/host-faults.test.ts through a real engine: Docker's runsc runtime runs
// under a seccomp filter that refuses seccomp(2) (deny-syscall: what a kernel without CONFIG_SECCOMP
// or a profile around the engine does). Docker says only "sync file … EOF"; docker.hello's debug
// rerun reads the gofer's line and names rule seccomp-unavailable in --json.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { denySyscallTool } from "../helpers/deny-syscall.ts";
import { assertReportSchema } from "../helpers/schema.ts";

describe.skipIf(!BED.ok || !denySyscallTool())("docker.hello on a host where seccomp(2) is refused to runsc", () => {
  let bed: DockerBed;
  let scratch: string;
  beforeAll(async () => {
    scratch = mkdtempSync("/tmp/gvd-test-seccomp-");
    chmodSync(scratch, 0o755);
    const wrapper = join(scratch, "runsc");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${denySyscallTool()} 38 seccomp /usr/bin/runsc "$@"\n`);
    chmodSync(wrapper, 0o755);
    bed = await startDockerBed({ daemonJson: { runtimes: { runsc: { path: wrapper, runtimeArgs: ["--network=none"] } } } });
  });
  afterAll(async () => {
    await bed?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("check --json: docker.hello fails by rule seccomp-unavailable; the gofer's line is in log", () => {
    const r = gvd(["check", "--json", "--only", "docker.hello,host.seccomp"], { env: bed.env });
    assertReportSchema(r.json);
    // The doctor's own process has seccomp: the fault is around the engine's runsc only.
    expect(finding(r.json, "host.seccomp").status).toBe("pass");
    expect(r.json.host.seccomp.available).toBe(true);
    const hello = finding(r.json, "docker.hello");
    if (process.env.GVD_SHOW) console.log(JSON.stringify(hello, null, 1));
    expect(hello.status).toBe("fail");
    expect(hello.diagnosis.rule).toBe("seccomp-unavailable");
    expect(hello.diagnosis.cause).toContain("the engine runs under a filter that denies seccomp(2)");
    expect(hello.message).toContain("installing seccomp filters: function not implemented");
    expect(hello.diagnosis.log).toContain("gofer: installing seccomp filters: function not implemented");
    expect(hello.diagnosis.log.length).toBeLessThanOrEqual(10);
  }, 180_000);
});
