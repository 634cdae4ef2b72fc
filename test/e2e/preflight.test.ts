// The preflight in all its forms — `gvisor-doctor preflight`, dist/gvisor-preflight.sh (POSIX sh)
// and the static C gvisor-preflight — held to one spec: on this host, and inside real
// containers, where under runsc it passes and execs the app, and under runc it refuses to.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { BINARY } from "../helpers/cli.ts";
import {
  importDoctorImage,
  importScratchPreflightImage,
  PREFLIGHT_SH,
  removeStaticPreflight,
  staticPreflight,
} from "../helpers/doctor-image.ts";

interface Impl {
  name: string;
  /** argv on this host */
  host: () => string[];
  /** argv inside the test image */
  image: string[];
}
const IMPLS: Impl[] = [
  { name: "gvisor-doctor preflight", host: () => [BINARY, "preflight"], image: ["gvisor-doctor", "preflight"] },
  {
    name: "gvisor-preflight.sh under dash",
    host: () => ["dash", PREFLIGHT_SH],
    image: ["/usr/local/bin/gvisor-preflight.sh"],
  },
  {
    name: "gvisor-preflight.sh under busybox sh",
    host: () => ["busybox", "sh", PREFLIGHT_SH],
    image: ["/usr/local/bin/gvisor-preflight.sh"],
  }, // by its #!/bin/sh (busybox)
  { name: "static gvisor-preflight", host: () => [staticPreflight()], image: ["/usr/local/bin/gvisor-preflight"] },
];

afterAll(removeStaticPreflight);

function onHost(impl: Impl, args: string[]) {
  const [file, ...pre] = impl.host();
  const r = spawnSync(file, [...pre, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
/**
 * The JSON document without the version (source vs build stamps differ) and without the kernel
 * log's first line: on a busy host the log wraps between two runs, and the static preflight reads
 * it with syslog(2), whose window can start elsewhere than dmesg's /dev/kmsg.
 */
const doc = (stdout: string) => {
  const d = JSON.parse(stdout);
  delete d.tool.version;
  expect(typeof d.evidence.dmesgFirstLine).toBe("string");
  d.evidence.dmesgFirstLine = "(a line)";
  return d;
};
/**
 * Run impl with a /proc where /proc/gvisor/kernel_is_gvisor holds `marker`, as runsc
 * --gvisor-marker-file makes it (neither runsc on this host has the flag): in a private mount
 * namespace, a tmpfs over /proc whose other entries link to the real one (the binary needs
 * /proc/self/exe). Null where unshare cannot do it here.
 */
function withMarker(impl: Impl, args: string[], marker: string) {
  const real = mkdtempSync(join(tmpdir(), "gvd-realproc-"));
  try {
    const script = [
      'mount --rbind /proc "$R" && mount -t tmpfs gvd-proc /proc && for e in "$R"/*; do ln -s "$e" /proc/; done',
      'mkdir /proc/gvisor && printf "%s\\n" "$M" > /proc/gvisor/kernel_is_gvisor && exec "$@"',
    ].join(" && ");
    const r = spawnSync("unshare", ["-r", "-m", "sh", "-c", script, "sh", ...impl.host(), ...args], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", R: real, M: marker },
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(real, { recursive: true, force: true });
  }
}
/** doc() where the kernel log is unreadable (syslog(2) is refused in a user namespace; each reader words it). */
const markerDoc = (stdout: string) => {
  const d = JSON.parse(stdout);
  delete d.tool.version;
  d.evidence.dmesgFirstLine = d.evidence.dmesgError = "(refused)";
  return d;
};
const UNSHARE_OK = spawnSync("unshare", ["-r", "-m", "true"]).status === 0;

const report = (stdout: string) => stdout.replace(/^ {2}dmesg: .*$/m, "  dmesg: (a line)");

describe.each(IMPLS)("$name on this host (not sandboxed)", (impl) => {
  const binary = IMPLS[0];
  test("reports no tell, exit 0 without --require; the same report as the binary", () => {
    const r = onHost(impl, []);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("! not running under gVisor: no tell matched");
    expect(report(r.stdout)).toBe(report(onHost(binary, []).stdout));
  });
  test("--require exits 1; with -- CMD the command is never run", () => {
    expect(onHost(impl, ["--require"]).code).toBe(1);
    const r = onHost(impl, ["--require", "--", "sh", "-c", "echo SHOULD-NOT-RUN"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("SHOULD-NOT-RUN");
    expect(r.stderr).toContain("refusing to start sh: not running under gVisor");
    expect(report(r.stderr)).toBe(
      report(onHost(binary, ["--require", "--", "sh", "-c", "echo SHOULD-NOT-RUN"]).stderr),
    );
  });
  test("--json reports the evidence of each tell, the document the binary prints", () => {
    const r = onHost(impl, ["--json"]);
    expect(doc(r.stdout)).toMatchObject({
      schemaVersion: 1,
      tool: { name: "gvisor-doctor" },
      sandboxed: false,
      required: false,
      tells: [],
    });
    expect(doc(r.stdout)).toEqual(doc(onHost(binary, ["--json"]).stdout));
  });
  test.skipIf(!UNSHARE_OK)("/proc/gvisor/kernel_is_gvisor = gvisor: the first tell; the binary's report", () => {
    const r = withMarker(impl, ["--json"], "gvisor");
    expect(r.stderr).toBe("");
    const d = markerDoc(r.stdout);
    const marked = { sandboxed: true, tells: ["/proc/gvisor/kernel_is_gvisor"], evidence: { kernelIsGvisor: true } };
    expect(d).toMatchObject(marked);
    expect(d).toEqual(markerDoc(withMarker(binary, ["--json"], "gvisor").stdout));
    const v = withMarker(impl, ["-v", "--require", "--", "sh", "-c", "echo app-ran"], "gvisor");
    expect(v.code).toBe(0);
    expect(v.stdout).toBe("app-ran\n");
    expect(v.stderr).toContain("✓ running under gVisor (/proc/gvisor/kernel_is_gvisor)");
    expect(v.stderr).toContain("  /proc/gvisor/kernel_is_gvisor: gvisor");
    expect(report(v.stderr)).toBe(report(withMarker(binary, ["-v"], "gvisor").stdout));
  });
  test.skipIf(!UNSHARE_OK)("a marker file holding anything but gvisor is no tell", () => {
    const r = withMarker(impl, ["--json"], "runc");
    expect(markerDoc(r.stdout)).toMatchObject({ sandboxed: false, tells: [], evidence: { kernelIsGvisor: false } });
  });
  test("usage errors exit 2 with the binary's message", () => {
    for (const args of [["--"], ["--frob"], ["extra"]]) {
      const r = onHost(impl, args);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(onHost(binary, args).stderr.split("\n")[0]);
    }
  });
});

test("`gvisor-doctor preflight --print-script` prints dist/gvisor-preflight.sh with the binary's version", () => {
  const r = spawnSync(BINARY, ["preflight", "--print-script"], { encoding: "utf8" });
  const version = spawnSync(BINARY, ["--version"], { encoding: "utf8" }).stdout.trim().replace("gvisor-doctor ", "");
  expect(r.status).toBe(0);
  const file = require("node:fs").readFileSync(PREFLIGHT_SH, "utf8") as string;
  expect(r.stdout).toBe(file.replace(/^GVD_VERSION=.*$/m, `GVD_VERSION="${version}"`));
});

describe.skipIf(!BED.ok)("preflight in containers", () => {
  let bed: DockerBed;
  let image: string;
  let scratch: string;
  beforeAll(async () => {
    bed = await startDockerBed();
    image = importDoctorImage("docker", bed.env);
    scratch = importScratchPreflightImage("docker", bed.env);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  describe.each(IMPLS.filter((i) => !i.name.includes("dash")))("$name", (impl) => {
    test("under runsc: every tell matches and the app starts, replacing the preflight (same PID, its exit code)", () => {
      const r = bed.docker([
        "run",
        "--rm",
        "--runtime=runsc",
        image,
        ...impl.image,
        "--require",
        "--",
        "sh",
        "-c",
        "echo app-pid=$$; exit 7",
      ]);
      expect(r.stderr).not.toContain("refusing");
      // The preflight is PID 1 and execs the app, so the app is PID 1 too.
      expect(r.stdout.trim()).toBe("app-pid=1");
      expect(r.code).toBe(7);
    });

    test("under runsc: --json lists /proc/sentry-meminfo, dmesg and uname as tells", () => {
      const r = bed.docker(["run", "--rm", "--runtime=runsc", image, ...impl.image, "--json"]);
      const d = JSON.parse(r.stdout);
      expect(d.sandboxed).toBe(true);
      // Debian's runsc reports 4.4.0, the host does not; 20221219 has no --gvisor-marker-file, so no marker tell
      expect(d.tells).toEqual(["/proc/sentry-meminfo", "dmesg", "uname"]);
      expect(d.evidence.kernelIsGvisor).toBe(false);
      expect(d.evidence.dmesgFirstLine).toContain("Starting gVisor");
    });

    test("under runsc: a CMD that does not exist is exit 127", () => {
      const r = bed.docker(["run", "--rm", "--runtime=runsc", image, ...impl.image, "--", "no-such-app"]);
      expect(r.code).toBe(127);
      expect(r.stderr).toContain("error: no-such-app: command not found (PATH=");
    });

    test("under runc: refuses to start the app, exit 1, explains why on stderr", () => {
      const r = bed.docker(["run", "--rm", image, ...impl.image, "--require", "--", "sh", "-c", "echo SHOULD-NOT-RUN"]);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toContain("SHOULD-NOT-RUN");
      expect(r.stderr).toContain("✗ not running under gVisor: no tell matched");
      expect(r.stderr).toContain("RUN steps never run under runsc");
      expect(r.stderr).toContain("gvisor-doctor preflight: refusing to start sh: not running under gVisor");
    });

    test("under runsc: a signal sent to the container reaches the app (no wrapper in between)", async () => {
      const name = `gvd-sig-${process.pid}-${impl.image.length}-${impl.image.at(-1)!.length}`;
      const run = Bun.spawn(
        [
          "docker",
          "run",
          "--rm",
          "--name",
          name,
          "--runtime=runsc",
          image,
          ...impl.image,
          "--",
          "sh",
          "-c",
          "trap 'echo got-TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        { env: bed.env, stdout: "pipe", stderr: "pipe" },
      );
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

  test("gvisor-doctor preflight under runsc reads the kernel log itself (syslog(2)): no dmesg program needed", () => {
    const r = bed.docker([
      "run",
      "--rm",
      "--runtime=runsc",
      image,
      "sh",
      "-c",
      "rm /bin/dmesg && exec gvisor-doctor preflight --json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.tells).toEqual(["/proc/sentry-meminfo", "dmesg", "uname"]);
    expect(d.evidence.dmesgFirstLine).toContain("Starting gVisor");
  });

  describe("static gvisor-preflight in an image FROM scratch (no shell, no libc, no dmesg)", () => {
    test("under runsc: all three tells (the kernel log read with syslog(2)), then the app", () => {
      const r = bed.docker([
        "run",
        "--rm",
        "--runtime=runsc",
        scratch,
        "/gvisor-preflight",
        "--require",
        "--",
        "/gvisor-preflight",
        "--json",
      ]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        sandboxed: true,
        tells: ["/proc/sentry-meminfo", "dmesg", "uname"],
      });
    });
    test("under runc: refuses, exit 1", () => {
      const r = bed.docker([
        "run",
        "--rm",
        scratch,
        "/gvisor-preflight",
        "--require",
        "--",
        "/gvisor-preflight",
        "--json",
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(
        "gvisor-doctor preflight: refusing to start /gvisor-preflight: not running under gVisor",
      );
    });
  });
});
