// The compiled binary under concurrency and hostile inputs: 20 configure runs at once making
// different edits, a busy configure lock (flock, in a root-only directory), and --config
// naming things that are not config files. Plain messages and exit codes 1 or 2, never
// "internal error".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gvd } from "../helpers/cli.ts";
import { gvdAsync } from "../helpers/install-env.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync("/tmp/gvd-test-hostile-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The binary without blocking the event loop: twenty of them run at once. */
const run = (args: string[]) => gvdAsync(args, { ...process.env, NO_COLOR: "1" });

describe("configure (the binary) under concurrency and hostile inputs", () => {
  test("20 runs at once, each adding its own runtime to one daemon.json: every run succeeds and every runtime is there", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "{}\n");
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        run([
          "configure",
          "docker",
          "--config",
          f,
          "--runsc",
          "/bin/sh",
          "--runtime-name",
          `rt${i}`,
          "--no-reload",
          "--no-verify",
          "--json",
        ]),
      ),
    );
    for (const r of runs) expect(r.stderr).not.toContain("internal error");
    expect(runs.map((r) => r.code)).toEqual(Array(20).fill(0));
    expect(Object.keys(JSON.parse(readFileSync(f, "utf8")).runtimes).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `rt${i}`).sort(),
    );
  }, 120_000);

  test("--config /dev/zero, a FIFO, /proc/self/mem, a directory: exit 2 with the reason, at once", () => {
    const fifo = join(dir, "fifo");
    spawnSync("mkfifo", [fifo]);
    for (const [path, msg] of [
      ["/dev/zero", "is a device"],
      [fifo, "is a FIFO"],
      ["/proc/self/mem", "cannot read /proc/self/mem"],
      [dir, "is a directory"],
    ]) {
      const r = gvd(["configure", "docker", "--config", path, "--runsc", "/bin/sh", "--no-reload"], {
        timeoutMs: 20_000,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).not.toContain("internal error");
    }
  });
});
