// `gvisor-doctor preflight` inside real containers: under runsc it passes and execs the
// app; under runc it refuses to start it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { gvd } from "../helpers/cli.ts";
import { importDoctorImage } from "../helpers/doctor-image.ts";

describe("preflight on this host (not sandboxed)", () => {
  test("reports no tell, exit 0 without --require", () => {
    const r = gvd(["preflight"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("not running under gVisor");
  });
  test("--require exits 1; with -- CMD the command is never run", () => {
    expect(gvd(["preflight", "--require"]).code).toBe(1);
    const r = gvd(["preflight", "--require", "--", "sh", "-c", "echo SHOULD-NOT-RUN"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("SHOULD-NOT-RUN");
    expect(r.stderr).toContain("refusing to start sh: not running under gVisor");
  });
  test("--json reports the evidence of each tell", () => {
    const r = gvd(["preflight", "--json"]);
    expect(r.json).toMatchObject({ schemaVersion: 1, sandboxed: false, tells: [] });
    expect(r.json.evidence).toHaveProperty("sentryMeminfo", false);
  });
  test("-- with nothing after it is a usage error", () => {
    expect(gvd(["preflight", "--"]).code).toBe(2);
  });
});

describe.skipIf(!BED.ok)("preflight in containers", () => {
  let bed: DockerBed;
  let image: string;
  beforeAll(async () => {
    bed = await startDockerBed();
    image = importDoctorImage("docker", bed.env);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  test("under runsc: every tell matches and the app starts, replacing the preflight (same PID, its exit code)", () => {
    const r = bed.docker(["run", "--rm", "--runtime=runsc", image, "gvisor-doctor", "preflight", "--require", "--", "sh", "-c", "echo app-pid=$$; exit 7"]);
    expect(r.stderr).not.toContain("refusing");
    // The preflight is PID 1 and execs the app, so the app is PID 1 too.
    expect(r.stdout.trim()).toBe("app-pid=1");
    expect(r.code).toBe(7);
  });

  test("under runsc: --json lists /proc/sentry-meminfo, dmesg and uname as tells", () => {
    const r = bed.docker(["run", "--rm", "--runtime=runsc", image, "gvisor-doctor", "preflight", "--json"]);
    const doc = JSON.parse(r.stdout);
    expect(doc.sandboxed).toBe(true);
    expect(doc.tells).toContain("/proc/sentry-meminfo");
    expect(doc.tells).toContain("dmesg");
    expect(doc.tells).toContain("uname"); // Debian's runsc reports 4.4.0, the host does not
    expect(doc.evidence.dmesgFirstLine).toContain("Starting gVisor");
  });

  test("under runc: refuses to start the app, exit 1, explains why on stderr", () => {
    const r = bed.docker(["run", "--rm", image, "gvisor-doctor", "preflight", "--require", "--", "sh", "-c", "echo SHOULD-NOT-RUN"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("SHOULD-NOT-RUN");
    expect(r.stderr).toContain("not running under gVisor");
    expect(r.stderr).toContain("RUN steps never run under runsc");
  });

  test("under runsc: a signal sent to the container reaches the app (no wrapper in between)", async () => {
    const name = `gvd-sig-${process.pid}`;
    const run = Bun.spawn(["docker", "run", "--rm", "--name", name, "--runtime=runsc", image, "gvisor-doctor", "preflight", "--", "sh", "-c", "trap 'echo got-TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done"], { env: bed.env, stdout: "pipe", stderr: "pipe" });
    const reader = run.stdout.getReader();
    let out = "";
    while (!out.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    bed.docker(["kill", "--signal", "TERM", name]);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain("got-TERM");
    expect(await run.exited).toBe(42);
  });
});
