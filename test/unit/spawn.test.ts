// runSync (preflight's dmesg) answers like run(): same fields, same cap, same trace.
import { describe, expect, test } from "bun:test";
import { onCommand, run, runSync } from "../../platform/os/spawn.ts";

describe("runSync", () => {
  test("gives the same result as run()", async () => {
    const args = ["-c", "echo out; echo err >&2; exit 3"];
    const [a, b] = [runSync("/bin/sh", args), await run("/bin/sh", args)];
    for (const r of [a, b])
      expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n", timedOut: false, truncated: false });
  });
  test("output over maxBytes is cut, the command still completes (a long dmesg)", () => {
    const r = runSync("/bin/sh", ["-c", "head -c 200000 /dev/zero | tr '\\0' x; echo; echo done >&2"], {
      maxBytes: 1000,
    });
    expect(r).toMatchObject({ code: 0, truncated: true, stderr: "done\n" });
    expect(r.stdout.length).toBe(1000);
  });
  test("a missing program and a timeout are reported, not thrown", () => {
    expect(runSync("/nonexistent/dmesg", []).spawnError).toBe("/nonexistent/dmesg: command not found");
    const t = runSync("/bin/sh", ["-c", "sleep 5"], { timeoutMs: 100 });
    expect(t).toMatchObject({ code: null, timedOut: true });
  });
  test("the -v trace sees it", () => {
    const seen: string[][] = [];
    const stop = onCommand((r) => seen.push(r.cmd));
    runSync("/bin/true", []);
    stop();
    expect(seen).toEqual([["/bin/true"]]);
  });
});
