// docker.hello decodes a generic start failure from runsc's own debug logs. The fault is real:
// the bed's runsc runtime is a wrapper that puts runsc's temp dir where the sandbox user (nobody)
// cannot reach it, so the container dies with nothing but "sync file … EOF" from Docker.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";

const CHROOT = "boot: error setting up chroot: error mounting tmpfs in choot: failed to safely mount: ";

describe.skipIf(!BED.ok)("docker.hello: a generic start failure is decoded from runsc's debug logs", () => {
  let bed: DockerBed;
  let scratch: string;
  let tmp: string;
  beforeAll(async () => {
    scratch = mkdtempSync("/tmp/gvd-test-decode-"); // 0700: nobody cannot enter
    chmodSync(scratch, 0o711);
    const priv = join(scratch, "private");
    mkdirSync(priv, { mode: 0o700 });
    tmp = join(priv, "tmp");
    mkdirSync(tmp, { mode: 0o1777 });
    const wrapper = join(scratch, "runsc");
    writeFileSync(wrapper, `#!/bin/sh\nTMPDIR=${tmp} exec /usr/bin/runsc "$@"\n`);
    chmodSync(wrapper, 0o755);
    const runsc = { path: wrapper, runtimeArgs: ["--network=none"] };
    bed = await startDockerBed({ daemonJson: { runtimes: { runsc } } });
  });
  afterAll(async () => {
    await bed?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("check --json: docker.hello fails with rule tmp-unreachable and the boot log's line", () => {
    const r = gvd(["check", "--json", "--only", "docker.hello"], { env: bed.env });
    assertReportSchema(r.json);
    const hello = finding(r.json, "docker.hello");
    if (process.env.GVD_SHOW) console.log(JSON.stringify(hello, null, 1));
    expect(hello.status).toBe("fail");
    expect(hello.message).toContain("waiting for sandbox to start: EOF");
    expect(hello.diagnosis.rule).toBe("tmp-unreachable");
    expect(hello.diagnosis.cause).toContain(`chroot in ${tmp}, but it runs as nobody`);
    const line = `${CHROOT}Open(${tmp}, _, _): permission denied`;
    expect(hello.details).toContain(`  ${line}`);
    const said = (l: string) => l.includes("Docker cannot run a one-off runtime") && l.includes("not the container");
    expect(hello.details.some(said)).toBe(true);
    expect(hello.diagnosis.log[0]).toBe(line);
    const decisive = hello.details.filter((l: string) => /^ {2}(boot|gofer|create|start|run|do): /.test(l));
    expect(decisive.length).toBeGreaterThan(0);
    expect(decisive.length).toBeLessThanOrEqual(10);
    // The daemon.json still names only the wrapper: the probe registered nothing.
    expect(bed.docker(["info", "--format", "{{json .Runtimes}}"]).stdout).not.toContain("debug");
  }, 180_000);
});
