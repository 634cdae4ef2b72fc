// dist/gvisor-preflight.sh is portable POSIX sh, and the static preflight's C builds warning-free
// (its behaviour against the binary's: test/e2e/preflight.test.ts).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildStaticPreflight, PREFLIGHT_SH } from "../../scripts/build.ts";

const has = (cmd: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd]).status === 0;

describe("gvisor-preflight.sh", () => {
  test.skipIf(!has("shellcheck"))("passes shellcheck -s sh with no findings", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", PREFLIGHT_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
  test("parses under dash, busybox sh and bash --posix", () => {
    for (const sh of [["dash"], ["busybox", "sh"], ["bash", "--posix"]].filter(([c]) => has(c))) {
      const r = spawnSync(sh[0], [...sh.slice(1), "-n", PREFLIGHT_SH], { encoding: "utf8" });
      expect({ sh: sh.join(" "), status: r.status, stderr: r.stderr }).toEqual({
        sh: sh.join(" "),
        status: 0,
        stderr: "",
      });
    }
  });
  test("adds at most a few KB to an image (goal: ≤ 1 MB)", () => {
    expect(statSync(PREFLIGHT_SH).size).toBeLessThan(16 * 1024);
  });
});

describe.skipIf(!has("musl-gcc") && !has("gcc"))("static gvisor-preflight", () => {
  test("builds with -Wall -Wextra -Werror, static, ≤ 1 MB (musl: ~47 KB)", () => {
    const dir = mkdtempSync("/tmp/gvd-preflight-c-");
    try {
      const out = join(dir, "gvisor-preflight");
      const cc = buildStaticPreflight(out, "1.2.3");
      expect(statSync(out).size).toBeLessThan(cc === "musl-gcc" ? 100 * 1024 : 1024 * 1024);
      const file = spawnSync("file", [out], { encoding: "utf8" }).stdout;
      if (file) expect(file).toMatch(/statically linked/);
      const r = spawnSync(out, ["--json"], { encoding: "utf8" });
      expect(JSON.parse(r.stdout).tool).toEqual({ name: "gvisor-doctor", version: "1.2.3" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
