// A hello container that fails without a word (exit 2, nothing on stderr or stdout) is started
// once more; the report keeps the first attempt. Anything that says why it failed is not retried.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failedSilently, runInProbeImage } from "../../platform/probe/images.ts";
import { silentRetryNote } from "../../checks/probe.ts";

const dir = mkdtempSync("/tmp/gvd-test-probe-retry-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in engine CLI: its first `run` behaves as `first`, every later one prints gVisor's line. */
function fakeCli(name: string, first: string): string {
  const cli = join(dir, name);
  const count = join(dir, `${name}.runs`);
  writeFileSync(
    cli,
    `#!/bin/sh
n=$(cat '${count}' 2>/dev/null || echo 0); echo $((n + 1)) > '${count}'
if [ "$n" = 0 ]; then ${first}; fi
echo '[    0.000000] Starting gVisor...'
`,
  );
  chmodSync(cli, 0o755);
  return cli;
}

test("a start that exits 2 with no output is retried once, and the first attempt is reported", async () => {
  const cli = fakeCli("silent", "exit 2");
  const r = await runInProbeImage(cli, ["--rm"], ["true"]);
  expect(r.result.code).toBe(0);
  expect(r.result.stdout).toContain("Starting gVisor");
  expect(r.silentFirst?.code).toBe(2);
  expect(silentRetryNote(r.silentFirst!)).toMatch(
    /^first attempt: exit 2, no output on stderr or stdout after \d+ ms; retried once$/,
  );
});

test("a start that says why it failed is not retried", async () => {
  const cli = fakeCli("loud", "echo 'OCI runtime create failed: boom' >&2; exit 126");
  const r = await runInProbeImage(cli, ["--rm"], ["true"]);
  expect(r.result.code).toBe(126);
  expect(r.result.stderr).toContain("boom");
  expect(r.silentFirst).toBeUndefined();
});

test("failedSilently: only a plain non-zero exit with no output at all", () => {
  const base = { cmd: ["x"], code: 2, signal: null, stdout: "", stderr: "", durationMs: 1 } as never;
  expect(failedSilently(base)).toBe(true);
  expect(failedSilently({ ...(base as object), code: 0 } as never)).toBe(false);
  expect(failedSilently({ ...(base as object), stderr: "why" } as never)).toBe(false);
  expect(failedSilently({ ...(base as object), timedOut: true } as never)).toBe(false);
});
