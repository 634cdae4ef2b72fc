// One-off runtimes of the podman and containerd probes (podman --runtime-flag, a ctr --runc-binary
// wrapper), never an edit of the engine's config:
// - a generic start failure is decoded from runsc's own debug logs, like docker.hello
//   (decode-docker.test.ts), by rerunning the probe itself. The fault is real: the runtime is a
//   wrapper that puts runsc's temp dir where the sandbox user (nobody) cannot reach it, so the
//   engine says nothing but "sync file … EOF";
// - with a runsc that knows --sidecar-usage-policy, the probe runs STRICT.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BED } from "../bed/bed.ts";
import { startContainerdBed, type ContainerdBed } from "../bed/containerd-bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { podmanSandbox, type PodmanSandbox } from "../helpers/configure.ts";
import { assertReportSchema } from "../helpers/schema.ts";
import { strictAwareRunsc } from "../helpers/strict-runsc.ts";

const CHROOT = "boot: error setting up chroot: error mounting tmpfs in choot: failed to safely mount: ";

/** A runsc wrapper whose TMPDIR nobody cannot reach (in a 0711 dir: a 0700 dir, then the tmp dir). */
function unreachableTmpWrapper(scratch: string): { wrapper: string; tmp: string } {
  chmodSync(scratch, 0o711);
  const priv = join(scratch, "private");
  mkdirSync(priv, { mode: 0o700 });
  const tmp = join(priv, "tmp");
  mkdirSync(tmp, { mode: 0o1777 });
  const wrapper = join(scratch, "runsc");
  writeFileSync(wrapper, `#!/bin/sh\nTMPDIR=${tmp} exec /usr/bin/runsc --network=none "$@"\n`);
  chmodSync(wrapper, 0o755);
  return { wrapper, tmp };
}

/** A bed config whose runsc runtime runs `binary` through the runc shim. */
function runcShimConfig(binary: string) {
  const runtimes = 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes';
  return ({ dir, socket }: { dir: string; socket: string }) =>
    `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n\n[grpc]\n  address = "${socket}"\n\n` +
    `[ttrpc]\n  address = "${socket}.ttrpc"\n\n[plugins."io.containerd.grpc.v1.cri"]\n` +
    `  disable_tcp_service = true\n  stream_server_address = "127.0.0.1"\n\n[${runtimes}.runc]\n` +
    `  runtime_type = "io.containerd.runc.v2"\n\n[${runtimes}.runsc]\n  runtime_type = "io.containerd.runc.v2"\n\n` +
    `[${runtimes}.runsc.options]\n  BinaryName = "${binary}"\n`;
}

/** Point the podman sandbox's runsc runtime at `path`. */
function podmanRuntime(box: PodmanSandbox, path: string): string {
  const file = join(box.etc, "containers.conf");
  writeFileSync(file, `${readFileSync(file, "utf8")}\n[engine.runtimes]\nrunsc = ["${path}"]\n`);
  return readFileSync(file, "utf8");
}

/** The temp dirs (debug logs, one-off runtimes) the doctor made and must have removed. */
const debugDirs = () => readdirSync(tmpdir()).filter((f) => /^gvd-(runsc-debug|ctr-oneoff)-/.test(f));

function expectDecoded(hello: any, tmp: string, via: RegExp) {
  expect(hello.status).toBe("fail");
  expect(hello.message).toContain("waiting for sandbox to start: EOF");
  expect(hello.diagnosis.rule).toBe("tmp-unreachable");
  expect(hello.diagnosis.cause).toContain(`chroot in ${tmp}, but it runs as nobody`);
  const line = `${CHROOT}Open(${tmp}, _, _): permission denied`;
  expect(hello.details).toContain(`  ${line}`);
  expect(hello.diagnosis.log[0]).toBe(line);
  expect(hello.diagnosis.log.length).toBeLessThanOrEqual(10);
  expect(hello.details.some((l: string) => via.test(l))).toBe(true);
}

describe.skipIf(!BED.ok)("podman.hello: a generic start failure is decoded through podman --runtime-flag", () => {
  let dir: string;
  let box: PodmanSandbox;
  let tmp: string;
  let conf: string;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-decode-podman-");
    box = podmanSandbox(dir);
    box.env.DOCKER_HOST = "unix:///nonexistent.sock";
    const w = unreachableTmpWrapper(mkdtempSync("/tmp/gvd-test-decode-"));
    tmp = w.tmp;
    conf = podmanRuntime(box, w.wrapper);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmp, "../.."), { recursive: true, force: true });
  });

  test("check --json: podman.hello fails with rule tmp-unreachable and the boot log's line", () => {
    const before = new Set(debugDirs());
    const r = box.gvd(["check", "--json", "--only", "podman.hello"]);
    assertReportSchema(r.json);
    const hello = finding(r.json, "podman.hello");
    if (process.env.GVD_SHOW) console.log(JSON.stringify(hello, null, 1));
    expectDecoded(hello, tmp, /--runtime-flag debug --runtime-flag debug-log=<private temp dir>\//);
    // Nothing of the user's changed, and the private log dir is gone.
    expect(readFileSync(join(box.etc, "containers.conf"), "utf8")).toBe(conf);
    expect(debugDirs().filter((d) => !before.has(d))).toEqual([]);
  }, 180_000);
});

const viaWrapper = "containerd.hello: a generic start failure is decoded through a one-off runc-shim wrapper";
describe.skipIf(!BED.ok)(viaWrapper, () => {
  let bed: ContainerdBed;
  let tmp: string;
  let wrapper: string;
  beforeAll(async () => {
    const w = unreachableTmpWrapper(mkdtempSync("/tmp/gvd-test-decode-"));
    tmp = w.tmp;
    wrapper = w.wrapper;
    bed = await startContainerdBed(runcShimConfig(wrapper));
  });
  afterAll(async () => {
    await bed?.stop();
    rmSync(join(tmp, "../.."), { recursive: true, force: true });
  });

  test("check --json: containerd.hello fails with rule tmp-unreachable; the config is untouched", () => {
    const config = readFileSync(bed.configFile, "utf8");
    const before = new Set(debugDirs());
    const env = {
      ...process.env,
      NO_COLOR: "1",
      CONTAINERD_ADDRESS: bed.socket,
      DOCKER_HOST: "unix:///nonexistent.sock",
    };
    const r = gvd(["check", "--json", "--only", "containerd.hello"], { env });
    assertReportSchema(r.json);
    const hello = finding(r.json, "containerd.hello");
    if (process.env.GVD_SHOW) console.log(JSON.stringify(hello, null, 1));
    expectDecoded(hello, tmp, /--runc-binary <one-off wrapper: .*runsc --debug --debug-log=<private temp dir>\/>/);
    expect(hello.details.some((l: string) => l.includes(`a one-off runtime: ${wrapper} with debug flags`))).toBe(true);
    expect(readFileSync(bed.configFile, "utf8")).toBe(config);
    expect(debugDirs().filter((d) => !before.has(d))).toEqual([]);
  }, 180_000);
});

describe.skipIf(!BED.ok)("the probes run STRICT where the runsc knows --sidecar-usage-policy", () => {
  const strictFlag = "--sidecar-usage-policy=STRICT";
  let scratch: string;
  let fake: { path: string; log: string };
  beforeAll(() => {
    scratch = mkdtempSync("/tmp/gvd-test-strict-");
    chmodSync(scratch, 0o755);
    fake = strictAwareRunsc(scratch, { extra: "--network=none" });
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  /** The runsc commands (create, …) that got the flag, from the wrapper's record. */
  const strictCalls = () =>
    readFileSync(fake.log, "utf8")
      .split("\n")
      .filter((l) => l.includes(strictFlag));

  test("podman.hello: --runtime-flag sidecar-usage-policy=STRICT reaches runsc; the probe passes", () => {
    const dir = mkdtempSync("/tmp/gvd-test-strict-podman-");
    try {
      const box = podmanSandbox(dir);
      box.env.DOCKER_HOST = "unix:///nonexistent.sock";
      const conf = podmanRuntime(box, fake.path);
      const r = box.gvd(["check", "--json", "--only", "podman.hello"]);
      const hello = finding(r.json, "podman.hello");
      expect(hello.status).toBe("pass");
      expect(hello.details[0]).toContain("--runtime-flag sidecar-usage-policy=STRICT");
      expect(hello.details.some((l: string) => l.startsWith("sidecars: STRICT"))).toBe(true);
      expect(strictCalls().some((l) => / create /.test(` ${l} `))).toBe(true);
      expect(readFileSync(join(box.etc, "containers.conf"), "utf8")).toBe(conf);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  test("containerd.hello: a one-off runc-shim wrapper passes STRICT; passes, the config is untouched", async () => {
    const bed = await startContainerdBed(runcShimConfig(fake.path));
    try {
      const config = readFileSync(bed.configFile, "utf8");
      const before = strictCalls().length;
      const dirsBefore = new Set(debugDirs());
      const env = {
        ...process.env,
        NO_COLOR: "1",
        CONTAINERD_ADDRESS: bed.socket,
        DOCKER_HOST: "unix:///nonexistent.sock",
      };
      const hello = finding(gvd(["check", "--json", "--only", "containerd.hello"], { env }).json, "containerd.hello");
      expect(hello.status).toBe("pass");
      expect(hello.details[0]).toMatch(/--runc-binary \/tmp\/gvd-ctr-oneoff-\S+\/runsc /);
      expect(hello.details).toContain(
        `sidecars: STRICT (--sidecar-usage-policy=STRICT: no embedded fallback can hide a missing sidecar) ` +
          `(--runtime io.containerd.runc.v2 --runc-binary <one-off wrapper: ${fake.path} ${strictFlag}>)`,
      );
      expect(strictCalls().length).toBeGreaterThan(before);
      expect(readFileSync(bed.configFile, "utf8")).toBe(config);
      expect(debugDirs().filter((d) => !dirsBefore.has(d))).toEqual([]); // the one-off runtime is gone
    } finally {
      await bed.stop();
    }
  }, 180_000);
});
