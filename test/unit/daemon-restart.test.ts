// Restarting a daemon by hand (no init): the same argv, environment and log files, in its directory —
// unless that directory is gone. Seen in CI: containerd started from a directory that its host's pivot_root
// left behind, so the restart failed with ENOENT and containerd stayed down.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  restartCommand,
  restartProcess,
  snapshotProcess,
  configChangedAfterStart,
  startedBeforeChange,
  usableCwd,
} from "../../platform/engines/daemon-control.ts";

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

test("the restart by hand a message offers: every word a shell word, appending to the daemon's log", () => {
  const snap = {
    pid: 42,
    exe: "/usr/bin/containerd",
    argv: ["containerd", "-c", "/etc/my containerd/config.toml", "--log-level=it's"],
    env: {},
    cwd: "/",
    stdout: "/var/log/ctd.log",
    stderr: "/var/log/ctd.log",
  };
  expect(restartCommand(snap)).toBe(
    "kill 42 && while kill -0 42 2>/dev/null; do sleep 0.1; done && setsid /usr/bin/containerd -c " +
      `'/etc/my containerd/config.toml' '--log-level=it'\\''s' >>/var/log/ctd.log 2>&1 &`,
  );
  expect(restartCommand({ ...snap, stdout: null })).toEndWith("'--log-level=it'\\''s' >/dev/null 2>&1 &");
});

test("a daemon started before its config last changed has not loaded it (the newest file counts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gvd-mtime-"));
  try {
    const [old, now] = [join(dir, "old.toml"), join(dir, "now.toml")];
    writeFileSync(old, "");
    utimesSync(old, new Date(0), new Date(0));
    writeFileSync(now, "");
    expect(startedBeforeChange(process.pid, [old])).toBe(false);
    expect(startedBeforeChange(process.pid, [old, now])).toBe(true);
    expect(startedBeforeChange(process.pid, [join(dir, "missing.toml")])).toBe(false);
    expect(startedBeforeChange(process.pid, ["now.toml"], (p) => join(dir, p))).toBe(true);
    // With slack: a change within it of the start is no change; past it, both times are given.
    expect(configChangedAfterStart(process.pid, [now], (p) => p, 3_600_000)).toBeNull();
    const late = configChangedAfterStart(process.pid, [old, now]);
    expect(late !== null && late.changedMs > late.startedMs).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
