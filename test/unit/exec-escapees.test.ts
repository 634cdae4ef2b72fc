// exec --via none: what the command leaves behind ends with it, and nothing it left can keep exec waiting
// (issue 14: `--timeout 2` returned after 615 s while a `setsid` descendant held stdout). Real processes.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { EXEC_ID_ENV, findRunProcesses, killRun } from "../../platform/exec/escapees.ts";
import { runIsolated } from "../../platform/exec/isolated.ts";

// Each test's stray process has its own unmistakable command line, found (and, if a test fails, killed) by pid.
const tag = `${process.pid}${Date.now() % 1000}`;
const sleeper = (n: number) => `${600 + n}.${tag}`;
const running = (n: number) => {
  const r = spawnSync("pgrep", ["-f", `^sleep ${sleeper(n).replace(".", "\\.")}$`], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).map(Number);
};
afterAll(() => {
  for (let n = 0; n < 8; n++) for (const pid of running(n)) process.kill(pid, "SIGKILL");
});
const none = (command: string[], timeoutMs?: number) =>
  runIsolated({ command, via: "none", timeoutMs, onWarning: () => {}, maxOutputBytes: 1024 });

describe("exec --via none: escapees", () => {
  test("--timeout returns 124 promptly although a setsid child holds stdout, and that child is killed", async () => {
    const t0 = performance.now();
    const r = await none(["sh", "-c", `setsid sleep ${sleeper(0)} & echo started; sleep ${sleeper(1)}`], 1000);
    const took = performance.now() - t0;
    expect({ exitCode: r.exitCode, timedOut: r.timedOut, stdout: r.stdout }).toEqual({
      exitCode: 124,
      timedOut: true,
      stdout: "started\n",
    });
    expect(took).toBeLessThan(4000); // the old code waited for the sleep: 10 minutes
    expect(running(0)).toEqual([]);
    expect(running(1)).toEqual([]);
  });

  test("a normal exit ends its background processes too (as a sandbox's would), setsid or not", async () => {
    const t0 = performance.now();
    const r = await none(["sh", "-c", `setsid sleep ${sleeper(2)} & sleep ${sleeper(3)} & echo bye`]);
    expect({ exitCode: r.exitCode, stdout: r.stdout }).toEqual({ exitCode: 0, stdout: "bye\n" });
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(running(2)).toEqual([]);
    expect(running(3)).toEqual([]);
  });

  test("one that cleared its environment is not found, but exec stops waiting for its pipes", async () => {
    const t0 = performance.now();
    const r = await none(["sh", "-c", `env -i setsid sleep ${sleeper(4)} & echo started; sleep ${sleeper(5)}`], 1000);
    expect({ exitCode: r.exitCode, stdout: r.stdout }).toEqual({ exitCode: 124, stdout: "started\n" });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(running(5)).toEqual([]);
    for (const pid of running(4)) process.kill(pid, "SIGKILL");
  });

  test("output written up to the exit is all read, even when the pipes are released", async () => {
    const command = ["sh", "-c", `setsid sleep ${sleeper(6)} & head -c 300000 /dev/zero | tr '\\0' x`];
    const r = await runIsolated({ command, via: "none", onWarning: () => {} });
    expect(r.stdout.length).toBe(300000);
    expect(running(6)).toEqual([]);
  });

  test("--via none, asked for explicitly, still warns on stderr that nothing sandboxes the command", async () => {
    const warnings: string[] = [];
    const r = await runIsolated({ command: ["true"], via: "none", pids: 64, onWarning: (m) => warnings.push(m) });
    expect(r).toMatchObject({ method: "none", sandboxed: false, exitCode: 0 });
    expect(warnings).toEqual([
      "--via none: running 'true' as a plain subprocess without gVisor isolation, the read-only root, " +
        "no-new-privileges and dropped capabilities, the pids limit (64), network none.",
    ]);
  });

  test("the sweep finds a run's processes by group, session and marker, and killRun ends them all", () => {
    const id = `test-${tag}`;
    const child = Bun.spawn(["setsid", "sleep", sleeper(7)], { env: { ...process.env, [EXEC_ID_ENV]: id } });
    const deadline = Date.now() + 3000;
    while (!running(7).length && Date.now() < deadline) Bun.sleepSync(20);
    expect(findRunProcesses(undefined, id)).toEqual(running(7));
    expect(findRunProcesses(undefined, `${id}x`)).toEqual([]); // another run's id is not this one
    killRun(undefined, id);
    expect(running(7)).toEqual([]);
    child.kill();
  });
});
