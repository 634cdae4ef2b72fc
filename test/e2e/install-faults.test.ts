// Every way a download or a release can go wrong: the right message, exit 1, the
// installed version untouched and still running, and no temp files left behind.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { ARCH, RELEASES, startFakeBucket, type Fault, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, leftovers, makePrefix, removePrefix, tree } from "../helpers/install-env.ts";

setDefaultTimeout(120_000);

let bucket: FakeBucket;
let prefix: string;
let before: string[];
beforeAll(async () => {
  bucket = await startFakeBucket();
}, 180_000);
afterAll(() => bucket?.close());
afterEach(() => removePrefix(prefix));

// Short timeouts and few retries keep the failing cases quick; the logic is the same.
const env = cleanEnv({ GVISOR_DOCTOR_HTTP_TIMEOUT: "1", GVISOR_DOCTOR_HTTP_RETRIES: "2" });
const rel = (version: string, file: string) => `release/${version}/${ARCH}/${file}`;
const install = (mirror: string, ...args: string[]) =>
  gvd(["install", "--mirror", mirror, "--prefix", prefix, "--no-configure", ...args], env);

/** The failed install changed nothing: same tree, the old runsc still runs, nothing left over. */
function expectNothingChanged(): void {
  expect(tree(prefix)).toEqual(before);
  expect(leftovers(prefix)).toEqual([]);
  const v = spawnSync(join(prefix, "bin/runsc"), ["--version"], { encoding: "utf8" });
  expect(v.status).toBe(0);
  expect(realpathSync(join(prefix, "lib/gvisor/current"))).toEndWith(`/${RELEASES.legacy}`);
}

describe("with a version installed, a failing install changes nothing", () => {
  beforeEach(async () => {
    prefix = makePrefix();
    const r = await install(bucket.mirror(), "--version", RELEASES.legacy);
    expect(r.code).toBe(0);
    before = tree(prefix);
  });

  const failures: [string, Fault | null, string[], (string | RegExp)[]][] = [
    [
      "404 everywhere: which URLs were tried",
      "404",
      ["--version", RELEASES.current],
      [
        `release ${RELEASES.current} was not found for ${ARCH} at `,
        new RegExp(
          `tried:\n  \\S+/f/404/release/20260907\\.0/${ARCH}/gvisor\\.tar\\.zstd\\.sha512\n  \\S+/gvisor\\.tar\\.bz2\\.sha512\n  \\S+/runsc\\.sha512\n`,
        ),
        /gVisor may not have published 20260907\.0 for .* --version latest/,
      ],
    ],
    [
      "a body cut short on every attempt",
      "truncated",
      ["--version", RELEASES.current],
      [/failed after [\d.]+ MB of [\d.]+ MB: .*\(3 attempts\)\nnothing was installed/],
    ],
    [
      "a wrong hash in the .sha512",
      "wrong-hash",
      ["--version", RELEASES.current],
      [
        /sha512 mismatch for .*gvisor\.tar\.zstd\n  expected [0-9a-f]{128} \(from .*gvisor\.tar\.zstd\.sha512\)\n  got      [0-9a-f]{128}\nnothing was installed/,
      ],
    ],
    [
      "an HTML page with status 200 instead of the .sha512",
      "html",
      ["--version", RELEASES.current],
      [
        /gvisor\.tar\.zstd\.sha512 is an HTML page, not a checksum file \(starts with "<!DOCTYPE html>/,
        "captive portal",
      ],
    ],
    [
      "a server that never answers",
      "no-response",
      ["--version", RELEASES.current],
      [/failed: no response within 1 s \(3 attempts\)/],
    ],
    [
      "a body that stalls",
      "stall",
      ["--version", RELEASES.current],
      [/failed after [\d.]+ MB of [\d.]+ MB: no data for 1 s \(3 attempts\)/],
    ],
    [
      "a wrong-architecture ELF (hash matches)",
      null,
      ["--version", RELEASES.wrongArch],
      [
        `runsc is an ${ARCH === "x86_64" ? "aarch64" : "x86_64"} binary; this host is ${ARCH}`,
        "the mirror serves the wrong files",
      ],
    ],
    [
      "a tarball with a ../ member (hash matches)",
      null,
      ["--version", RELEASES.dotdot],
      [
        `(its sha512 matches) cannot be installed safely: member "../gvd-escaped" climbs out of the directory with ".."`,
      ],
    ],
    [
      "a tarball with an absolute member (hash matches)",
      null,
      ["--version", RELEASES.absolute],
      [`member "/tmp/gvd-absolute-member" has an absolute path`],
    ],
    [
      "a tarball with a symlink out of the release",
      null,
      ["--version", RELEASES.symlinkEscape],
      [`is a symlink to "../../../../../etc/passwd", outside the release directory`],
    ],
    [
      "a tarball with a device file",
      null,
      ["--version", RELEASES.device],
      [`member "./gvisor-bin/console" is a device file`],
    ],
    [
      "a tarball with an unexpected member",
      null,
      ["--version", RELEASES.unexpected],
      [`unexpected member "./etc/cron.d/gvd"`],
    ],
  ];

  test.each(failures)("%s", async (_name, fault, args, messages) => {
    const r = await install(fault ? bucket.mirror(fault) : bucket.mirror(), ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("resolving");
    for (const m of messages) {
      if (typeof m === "string") expect(r.stderr).toContain(m);
      else expect(r.stderr).toMatch(m);
    }
    expect(r.stdout).not.toContain("installed gVisor");
    expectNothingChanged();
    expect(existsSync("/tmp/gvd-absolute-member")).toBe(false);
    expect(existsSync(join(prefix, "lib/gvisor/..", "gvd-escaped"))).toBe(false);
  });

  test("an HTML page where the pinned tarball should be says what it got", async () => {
    const sha = bucket.sha(rel(RELEASES.current, "gvisor.tar.zstd"));
    const r = await install(bucket.mirror("html"), "--version", RELEASES.current, "--format", "zstd", "--sha512", sha);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${bucket.mirror("html")}/${rel(RELEASES.current, "gvisor.tar.zstd")} is not a zstd archive: it starts with "<!DOCTYPE html><html><head><title>Sign i", Content-Type text/html; charset=utf-8: an HTML page`,
    );
    expectNothingChanged();
  });

  test("a mirror nobody listens on", async () => {
    const r = await install("http://127.0.0.1:9/gvisor", "--version", RELEASES.current);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("GET http://127.0.0.1:9/gvisor/release/20260907.0/");
    expect(r.stderr).toContain("connection refused");
    expectNothingChanged();
  });

  test("a JSON document for machines even when it fails", async () => {
    const r = await install(bucket.mirror("wrong-hash"), "--version", RELEASES.current, "--json");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, command: "install", ok: false });
    expect(doc.error.message).toContain("sha512 mismatch");
    expectNothingChanged();
  });
});

describe("transient faults are retried and the install succeeds", () => {
  beforeEach(() => {
    prefix = makePrefix();
  });
  test.each(["500-then-200", "429-then-200", "reset-once", "reset-once-no-range"] as Fault[])("%s", async (fault) => {
    const n = bucket.requests.length;
    const r = await install(bucket.mirror(fault), "--version", RELEASES.current, "--json");
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(r.json.sha512).toBe(bucket.sha(rel(RELEASES.current, "gvisor.tar.zstd")));
    const gets = bucket.requests.slice(n).filter((q) => q.path.endsWith("gvisor.tar.zstd"));
    if (fault === "reset-once")
      expect(gets.map((q) => [q.status, !!q.range])).toEqual([
        [200, false],
        [206, true],
      ]);
    expect(spawnSync(join(prefix, "bin/runsc"), ["--version"]).status).toBe(0);
    expect(leftovers(prefix)).toEqual([]);
  });
});

describe("on an empty prefix, a failed install leaves it empty", () => {
  beforeEach(() => {
    prefix = makePrefix();
  });
  test.each([
    ["wrong-hash", RELEASES.current],
    ["404", RELEASES.current],
    [null, RELEASES.dotdot],
  ] as [Fault | null, string][])("%s %s", async (fault, version) => {
    const r = await install(fault ? bucket.mirror(fault) : bucket.mirror(), "--version", version);
    expect(r.code).toBe(1);
    expect(tree(prefix)).toEqual([]);
  });
});
