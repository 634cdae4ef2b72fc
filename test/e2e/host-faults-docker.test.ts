// The host faults of test/unit/host-faults.test.ts through a real engine, Docker, which says only
// "sync file … EOF" or "unable to retrieve OCI runtime error … exit status 2":
// - its runsc runs under a seccomp filter that refuses seccomp(2) (deny-syscall: what a kernel
//   without CONFIG_SECCOMP or a profile around the engine does): the debug rerun reads the gofer's
//   line → rule seccomp-unavailable;
// - its runsc runs where /proc/sys/vm/mmap_min_addr is unreadable (a mode-000 file bound over it in a
//   private mount namespace, DAC override dropped): runsc panics before any log, even on --version,
//   whose words name the cause → rule mmap-min-addr-unreadable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { denySyscallTool } from "../helpers/deny-syscall.ts";
import { assertReportSchema } from "../helpers/schema.ts";

/** daemon.json whose runsc runtime is `path`, with --network=none (this kernel's sandbox network fails). */
const runtimeJson = (path: string) => ({ runtimes: { runsc: { path, runtimeArgs: ["--network=none"] } } });

describe.skipIf(!BED.ok || !denySyscallTool())("docker.hello on a host where seccomp(2) is refused to runsc", () => {
  let bed: DockerBed;
  let scratch: string;
  beforeAll(async () => {
    scratch = mkdtempSync("/tmp/gvd-test-seccomp-");
    chmodSync(scratch, 0o755);
    const wrapper = join(scratch, "runsc");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${denySyscallTool()} 38 seccomp /usr/bin/runsc "$@"\n`);
    chmodSync(wrapper, 0o755);
    bed = await startDockerBed({ daemonJson: runtimeJson(wrapper) });
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

describe.skipIf(!BED.ok)("docker.hello on a host where runsc cannot read /proc/sys/vm/mmap_min_addr", () => {
  let bed: DockerBed;
  let scratch: string;
  beforeAll(async () => {
    scratch = mkdtempSync("/tmp/gvd-test-mmap-");
    chmodSync(scratch, 0o755);
    const file = join(scratch, "mmap_min_addr");
    writeFileSync(file, "65536\n", { mode: 0o000 });
    const drop = "--inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search";
    const wrapper = join(scratch, "runsc");
    writeFileSync(
      wrapper,
      "#!/bin/sh\nexec unshare -m --propagation private sh -c " +
        `'mount --bind ${file} /proc/sys/vm/mmap_min_addr && exec setpriv ${drop} "$0" "$@"' /usr/bin/runsc "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    bed = await startDockerBed({ daemonJson: runtimeJson(wrapper) });
  });
  afterAll(async () => {
    await bed?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  test("check --json: docker.hello fails by rule mmap-min-addr-unreadable, from the runtime's own --version", () => {
    const r = gvd(["check", "--json", "--only", "docker.hello"], { env: bed.env });
    assertReportSchema(r.json);
    const hello = finding(r.json, "docker.hello");
    if (process.env.GVD_SHOW) console.log(JSON.stringify(hello, null, 1));
    expect(hello.status).toBe("fail");
    expect(hello.message).toContain("unable to retrieve OCI runtime error");
    expect(hello.diagnosis.rule).toBe("mmap-min-addr-unreadable");
    expect(hello.diagnosis.cause).toContain("(open /proc/sys/vm/mmap_min_addr: permission denied)");
    const said = "--version` fails too: panic: couldn't open /proc/sys/vm/mmap_min_addr";
    expect(hello.details.some((l: string) => l.includes(said))).toBe(true);
  }, 180_000);
});
