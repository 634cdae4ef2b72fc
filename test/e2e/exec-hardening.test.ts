// exec's failure modes from issue 14, against real runsc and Podman (no Docker bed needed): a fork bomb
// is reported (not a silent exit 2, the usage-error code), and a SIGKILLed exec leaves no sandbox behind.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { gvd } from "../helpers/cli.ts";

setDefaultTimeout(180_000);
const has = (c: string) => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0;
const root = process.getuid?.() === 0;
const env = { ...process.env, NO_COLOR: "1" };
// Starts processes until something stops it; prints a count now and then.
const FORK_BOMB = ["sh", "-c", "i=0; while :; do sleep 1000 & i=$((i+1)); [ $((i%20)) = 0 ] && echo $i; done"];

describe.skipIf(!root || !has("runsc"))("exec --via runsc", () => {
  test("a fork bomb ends at the pids limit with exit 137 and a message saying so", () => {
    const r = gvd(["exec", "--via", "runsc", "--pids", "200", "--timeout", "90", "--", ...FORK_BOMB], { env });
    expect(r.code).toBe(137); // was 2, with nothing on stderr
    expect(r.stderr).toContain("gvisor-doctor: the sandbox reached its pids limit (--pids 200");
    expect(r.stderr).toContain("raise --pids");
  });
  test("--json: exitCode 137, signal SIGKILL, the message in stderr", () => {
    const r = gvd(["exec", "--json", "--via", "runsc", "--pids", "200", "--timeout", "90", "--", ...FORK_BOMB], { env });
    expect(r.json).toMatchObject({ method: "runsc", exitCode: 137, signal: "SIGKILL", timedOut: false });
    expect(r.json.stderr).toContain("reached its pids limit");
  });
  test("a command that exits 2 itself is left alone", () => {
    const r = gvd(["exec", "--via", "runsc", "--", "sh", "-c", "echo own >&2; exit 2"], { env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: "own\n" });
  });
});

describe.skipIf(!root || !has("podman") || !has("runsc"))("exec --via podman", () => {
  test("a fork bomb's silent exit 2 comes with a message naming the pids limit", () => {
    const r = gvd(["exec", "--via", "podman", "--pids", "200", "--timeout", "90", "--", ...FORK_BOMB], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("gvisor-doctor: the sandbox ended with exit 2 and nothing on stderr");
    expect(r.stderr).toContain("pids limit");
  });
});
