// --version → bucket directory, --format, and how installed versions are named.
import { describe, expect, test } from "bun:test";
import {
  artifactsFor,
  objectPath,
  parseFormat,
  parseVersionSpec,
  versionDirName,
} from "../../platform/release/channels.ts";
import { UsageError } from "../../platform/os/errors.ts";

describe("--version names a directory of the bucket", () => {
  test.each([
    [undefined, "release/latest", "latest", true],
    ["latest", "release/latest", "latest", true],
    ["20260817", "release/20260817", "20260817", false],
    ["20260817.0", "release/20260817.0", "20260817.0", false],
    ["20260209.1", "release/20260209.1", "20260209.1", false],
    ["release-20260817.0", "release/20260817.0", "20260817.0", false],
    ["nightly", "nightly/latest", "nightly", true],
    ["nightly/2026-08-21", "nightly/2026-08-21", "nightly/2026-08-21", false],
  ])("%p → %s", (input, dir, requested, moving) => {
    expect(parseVersionSpec(input as string | undefined)).toEqual({ dir, requested, moving });
  });

  test.each([
    "v1.2.3",
    "2026-08-17",
    "20261301",
    "20260230.0",
    "nightly/2026-02-30",
    "nightly/20260821",
    "release/latest/x86_64",
    "../../etc",
  ])("%p is refused with the accepted forms", (bad) => {
    expect(() => parseVersionSpec(bad)).toThrow(UsageError);
    try {
      parseVersionSpec(bad);
    } catch (e) {
      expect(`${(e as Error).message} ${(e as UsageError).hint}`).toMatch(/YYYYMMDD/);
    }
  });

  test("objects live under <dir>/<arch>/<file>", () => {
    expect(objectPath(parseVersionSpec("20260817.0"), "aarch64", "runsc.sha512")).toBe(
      "release/20260817.0/aarch64/runsc.sha512",
    );
  });
});

describe("--format and the files of each layout", () => {
  test("zstd, bz2 and loose (and their common spellings)", () => {
    expect(parseFormat(undefined)).toBeNull();
    expect(parseFormat("zstd")).toBe("zstd");
    expect(parseFormat("zst")).toBe("zstd");
    expect(parseFormat("bzip2")).toBe("bz2");
    expect(parseFormat("loose")).toBe("loose");
    expect(() => parseFormat("gz")).toThrow("--format gz is not one of zstd, bz2, loose");
  });
  test("tarballs are one file; loose is runsc plus an optional shim", () => {
    expect(artifactsFor("zstd").map((a) => a.name)).toEqual(["gvisor.tar.zstd"]);
    expect(artifactsFor("bz2").map((a) => a.name)).toEqual(["gvisor.tar.bz2"]);
    expect(artifactsFor("loose")).toEqual([
      { name: "runsc", installAs: "runsc" },
      { name: "containerd-shim-runsc-v1", installAs: "containerd-shim-runsc-v1", optional: true },
    ]);
  });
});

describe("installed version directories", () => {
  const sha = "ab".repeat(64);
  test("a pinned version is named as asked, whatever runsc reports", () => {
    expect(versionDirName(parseVersionSpec("20260817.0"), "0.0~20221219.0", sha)).toBe("20260817.0");
    expect(versionDirName(parseVersionSpec("nightly/2026-09-10"), null, sha)).toBe("nightly-2026-09-10");
  });
  test("a moving channel is named after the release runsc reports", () => {
    expect(versionDirName(parseVersionSpec("latest"), "release-20260817.0", sha)).toBe("20260817.0");
    expect(versionDirName(parseVersionSpec("nightly"), "release-20260817.0-57-g0123456789ab", sha)).toBe(
      "20260817.0-57-g0123456789ab",
    );
  });
  test("…or after the channel and the hash when runsc reports no release", () => {
    expect(versionDirName(parseVersionSpec("latest"), "VERSION_MISSING", sha)).toBe(`latest-${sha.slice(0, 12)}`);
    expect(versionDirName(parseVersionSpec("latest"), null, sha)).toBe(`latest-${sha.slice(0, 12)}`);
  });
  test("nothing a server says can put a slash or .. in the name", () => {
    const n = versionDirName(parseVersionSpec("latest"), "release-20260817.0/../../x", sha);
    expect(n).not.toContain("/");
  });
});
