// How install downloads and unpacks against a server or a host that misbehaves: a magic number split
// across chunks, a file larger than any release, a bad member early in a big tarball, a full disk.
// Each time the message names the real cause and nothing is installed.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, leftovers, makePrefix, removePrefix } from "../helpers/install-env.ts";
import { BINARY } from "../helpers/cli.ts";
import { runShell } from "../helpers/release.ts";

setDefaultTimeout(180_000);

let bucket: FakeBucket;
let prefix: string;
// 1 MB/s: the hostile tarball below takes ~9 s to download whole.
beforeAll(async () => {
  bucket = await startFakeBucket({ throttleBps: 1 << 20 });
}, 180_000);
afterAll(() => bucket?.close());
beforeEach(() => {
  prefix = makePrefix();
});
afterEach(() => removePrefix(prefix));

const args = (mirror: string, ...more: string[]) => [
  "install",
  "--mirror",
  mirror,
  "--prefix",
  prefix,
  "--no-configure",
  ...more,
];

describe("downloads", () => {
  test.each([["zstd"], ["loose"]])(
    "a first chunk shorter than the magic (%s) is waited on, not refused",
    async (format) => {
      const version = format === "loose" ? RELEASES.legacy : RELEASES.current;
      const r = await gvd(args(bucket.mirror("split-magic"), "--version", version, "--format", format), cleanEnv());
      expect(r.stderr).not.toContain("is not a");
      expect(r.code).toBe(0);
      expect(spawnSync(join(prefix, "bin/runsc"), ["--version"]).status).toBe(0);
    },
  );

  test("a file larger than a release's size class is refused from its Content-Length, before its body", async () => {
    const before = bucket.requests.length;
    const small = cleanEnv({ GVISOR_DOCTOR_MAX_DOWNLOAD_MB: "1" });
    const r = await gvd(args(bucket.mirror("throttle"), "--version", RELEASES.current), small);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/gvisor\.tar\.zstd is [\d.]+ MB, more than 1\.0 MB: a gVisor release file is far smaller/);
    expect(r.stderr).toContain("the download was stopped");
    // Refused at once: not retried as a network error.
    expect(bucket.requests.slice(before).filter((q) => q.path.endsWith("gvisor.tar.zstd"))).toHaveLength(1);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(false);
    expect(leftovers(prefix)).toEqual([]);
  });

  test("a local mirror's file past the bound is refused the same way", async () => {
    const small = cleanEnv({ GVISOR_DOCTOR_MAX_DOWNLOAD_MB: "1" });
    const r = await gvd(args(bucket.dir, "--version", RELEASES.legacy, "--format", "loose"), small);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/runsc is [\d.]+ MB, more than 1\.0 MB/);
  });

  test("a bad member at the start of a big tarball stops the download there", async () => {
    const t0 = Date.now();
    const r = await gvd(args(bucket.mirror("throttle"), "--version", RELEASES.absolute), cleanEnv());
    const ms = Date.now() - t0;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `gvisor.tar.zstd cannot be installed safely: member "/tmp/gvd-absolute-member" has an absolute`,
    );
    expect(r.stderr).toContain("the download was stopped there");
    expect(ms).toBeLessThan(5_000); // the whole file takes ~9 s at 1 MB/s
    expect(existsSync("/tmp/gvd-absolute-member")).toBe(false);
    expect(leftovers(prefix)).toEqual([]);
  });
});

describe.skipIf(process.getuid?.() !== 0)("the disk, not the archive", () => {
  test("a full disk while unpacking names the file system and the space needed", async () => {
    // A 4 MB tmpfs as the prefix, in a private mount namespace: runsc alone is larger.
    const r = await runShell(
      `mount -t tmpfs -o size=4m tmpfs "$P" && chmod 755 "$P" && exec "$BIN" "$@"`,
      args(bucket.mirror(), "--version", RELEASES.current),
      {
        env: cleanEnv({ P: prefix, BIN: BINARY }) as Record<string, string>,
        wrap: ["unshare", "-m", "--propagation", "private"],
      },
    );
    expect(r.code).toBe(1);
    const full = `no space left on the file system of ${prefix}/lib/gvisor while writing \\S+ \\(the disk is full\\)`;
    expect(r.stderr).toMatch(new RegExp(full));
    expect(r.stderr).toContain(`df -h ${prefix}/lib/gvisor`);
    expect(r.stderr).not.toContain("cannot be installed safely");
    expect(r.stderr).not.toContain("internal error");
  });

  test("the same for a loose binary", async () => {
    const r = await runShell(
      `mount -t tmpfs -o size=4m tmpfs "$P" && chmod 755 "$P" && exec "$BIN" "$@"`,
      args(bucket.mirror(), "--version", RELEASES.legacy, "--format", "loose"),
      {
        env: cleanEnv({ P: prefix, BIN: BINARY }) as Record<string, string>,
        wrap: ["unshare", "-m", "--propagation", "private"],
      },
    );
    expect(r.code).toBe(1);
    const full = `no space left on the file system of ${prefix}/lib/gvisor while writing (runsc|containerd-shim-runsc-v1) `;
    expect(r.stderr).toMatch(new RegExp(full));
    expect(r.stderr).not.toContain("internal error");
  });
});
