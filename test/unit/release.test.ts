// The release a tag produces (scripts/build.ts): file names install.sh can find, .gz copies,
// SHA512SUMS over everything, and one spelling of the project's release URL everywhere.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { RELEASE_TARGETS, assembleRelease } from "../../scripts/build.ts";
import { DEFAULT_BASE, GVD_REPO, INSTALL_SH } from "../helpers/release.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const tmp = mkdtempSync("/tmp/gvd-release-unit-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("release targets", () => {
  test("install.sh knows exactly the targets the build makes (linux-x64, -baseline, arm64; glibc and musl)", () => {
    const sh = readFileSync(INSTALL_SH, "utf8");
    const known = sh.match(/^\s*(linux-x64 \| [^)]+)\) ;;$/m)![1].split(" | ");
    expect([...known].sort()).toEqual([...RELEASE_TARGETS].sort());
    expect(RELEASE_TARGETS).toHaveLength(6);
  });
});

describe("assembleRelease", () => {
  test("adds a .xz and a .gz of each binary, install.sh, gvisor-preflight.sh and VERSION, and SHA512SUMS covering all of them", async () => {
    const dir = join(tmp, "rel");
    spawnSync("mkdir", ["-p", dir]);
    const bins = ["gvisor-doctor-linux-x64", "gvisor-doctor-linux-arm64-musl"];
    for (const b of bins) writeFileSync(join(dir, b), `#!/bin/sh\necho ${b}\n`.repeat(1000), { mode: 0o755 });
    writeFileSync(join(dir, "gvisor-preflight-linux-x64"), "static preflight");
    const files = await assembleRelease(dir, bins, "1.2.3", { xzLevel: 0, extra: ["gvisor-preflight-linux-x64"] });
    expect(files).toEqual([
      "VERSION",
      "gvisor-doctor-linux-arm64-musl",
      "gvisor-doctor-linux-arm64-musl.gz",
      "gvisor-doctor-linux-arm64-musl.xz",
      "gvisor-doctor-linux-x64",
      "gvisor-doctor-linux-x64.gz",
      "gvisor-doctor-linux-x64.xz",
      "gvisor-preflight-linux-x64",
      "gvisor-preflight.sh",
      "install.sh",
    ]);
    expect(readdirSync(dir).sort()).toEqual([...files, "SHA512SUMS"].sort()); // no temporary files left
    for (const b of bins)
      expect(gunzipSync(readFileSync(join(dir, `${b}.gz`))).equals(readFileSync(join(dir, b)))).toBe(true);
    for (const b of bins)
      expect(spawnSync("xz", ["-dc", join(dir, `${b}.xz`)]).stdout.equals(readFileSync(join(dir, b)))).toBe(true);
    // The preflight script carries the release's version (its JSON reports it).
    expect(readFileSync(join(dir, "gvisor-preflight.sh"), "utf8")).toContain('\nGVD_VERSION="1.2.3"\n');
    expect(readFileSync(join(dir, "install.sh"), "utf8")).toBe(readFileSync(INSTALL_SH, "utf8"));
    expect(readFileSync(join(dir, "VERSION"), "utf8")).toBe("1.2.3\n");
    const sums = readFileSync(join(dir, "SHA512SUMS"), "utf8");
    expect(
      sums
        .trimEnd()
        .split("\n")
        .map((l) => l.split("  ")[1]),
    ).toEqual(files);
    const check = spawnSync("sha512sum", ["-c", "--strict", "SHA512SUMS"], { cwd: dir, encoding: "utf8" });
    expect(check.stdout.trim().split("\n")).toEqual(files.map((f) => `${f}: OK`));
    expect(check.status).toBe(0);
  });
});

describe("one release location everywhere", () => {
  const docs = [
    "docs/distribution.md",
    "RELEASING.md",
    "examples/Dockerfile.preflight",
    "examples/Dockerfile.node-image",
    "examples/github-actions.yml",
    ".github/workflows/release.yml",
  ];
  test.each(docs)("%s names the repository as install.sh does", (f) => {
    const text = readFileSync(join(ROOT, f), "utf8");
    const repos = [...text.matchAll(/github\.com\/([\w.-]+\/[\w.-]+)/g)]
      .map((m) => m[1])
      .filter((r) => !r.startsWith("actions/") && !r.startsWith("google/gvisor"));
    for (const r of repos) expect(r).toBe(GVD_REPO);
  });
  test("docs/distribution.md leads with the one-liner", () => {
    const text = readFileSync(join(ROOT, "docs/distribution.md"), "utf8");
    expect(text).toContain(`curl -fsSL ${DEFAULT_BASE}/install.sh | sh`);
    expect(existsSync(join(ROOT, "dist/install.sh"))).toBe(true);
  });
});
