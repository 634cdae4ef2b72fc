// Restarting a daemon by hand (no init): the same argv, environment and log files, in its directory —
// unless that directory is gone. Seen in CI: containerd started from a directory that its host's pivot_root
// left behind, so the restart failed with ENOENT and containerd stayed down.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { restartProcess, snapshotProcess, usableCwd } from "../../platform/engines/daemon-control.ts";

const started: number[] = [];
afterAll(() =>
  started.forEach((p) => {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }),
);

test("a directory that exists is kept; a deleted, unreachable or missing one becomes /", () => {
  expect(usableCwd(tmpdir())).toBe(tmpdir());
  expect(usableCwd("/tmp/gone (deleted)")).toBe("/");
  expect(usableCwd("(unreachable)/tmp/ci")).toBe("/");
  expect(usableCwd("/nonexistent/gvd-cwd")).toBe("/");
});

test("a daemon whose working directory was deleted restarts (in /), with its argv", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gvd-cwd-"));
  const d = spawn("sleep", ["1000"], { cwd: dir, detached: true, stdio: "ignore" });
  started.push(d.pid!);
  d.unref();
  await new Promise((r) => setTimeout(r, 100));
  rmSync(dir, { recursive: true, force: true });
  const snap = snapshotProcess(d.pid!)!;
  expect(snap.cwd).toBe("/");
  const r = await restartProcess(snap, async () => true, 5_000);
  expect({ ok: r.ok, message: r.message }).toMatchObject({ ok: true, message: expect.stringContaining("restarted") });
  started.push(r.pid!);
  expect(readlinkSync(`/proc/${r.pid}/cwd`)).toBe("/");
});
