// exec's failure modes from issue 14, against real runsc and Podman (no Docker bed needed): a fork bomb
// is reported (not a silent exit 2, the usage-error code), and a SIGKILLed exec leaves no sandbox behind.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BINARY, gvd } from "../helpers/cli.ts";

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
    const r = gvd(["exec", "--json", "--via", "runsc", "--pids", "200", "--timeout", "90", "--", ...FORK_BOMB], {
      env,
    });
    expect(r.json).toMatchObject({ method: "runsc", exitCode: 137, signal: "SIGKILL", timedOut: false });
    expect(r.json.stderr).toContain("reached its pids limit");
  });
  test("a command that exits 2 itself is left alone", () => {
    const r = gvd(["exec", "--via", "runsc", "--", "sh", "-c", "echo own >&2; exit 2"], { env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: "own\n" });
  });
});

/** Processes whose command line names `text`. */
const processesNaming = (text: string) =>
  readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "latin1").replaceAll("\0", " ");
        return cmd.includes(text) ? [`${p} ${cmd}`] : [];
      } catch {
        return [];
      }
    });
const waitFor = async (ok: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await Bun.sleep(100);
  return ok();
};

describe.skipIf(!root || !has("runsc") || !has("setpriv"))("exec --via runsc, SIGKILLed", () => {
  test("the sandbox dies with exec, and the documented cleanup (runsc delete --force) then exits 0", async () => {
    const tmp = mkdtempSync("/tmp/gvd-test-exec-kill-");
    try {
      const exec = spawn(BINARY, ["exec", "--via", "runsc", "--", "sh", "-c", "echo up; sleep 300"], {
        env: { ...env, TMPDIR: tmp },
        stdio: ["ignore", "pipe", "pipe"],
      });
      await new Promise<void>((up) => exec.stdout.on("data", (b: Buffer) => b.toString().includes("up") && up()));
      const [bundle] = readdirSync(tmp).filter((n) => n.startsWith("gvd-exec-"));
      expect(processesNaming(bundle).length).toBeGreaterThanOrEqual(3); // runsc run, its sandbox and gofer
      exec.kill("SIGKILL");
      // Before: runsc run, the sandbox and the gofer (with `sleep 300` inside) kept running.
      expect(await waitFor(() => processesNaming(bundle).length === 0, 5000)).toBe(true);
      const del = spawnSync("runsc", ["--root", join(tmp, bundle, "state"), "delete", "--force", bundle], {
        encoding: "utf8",
        timeout: 60_000,
      });
      // Was exit 128, "destroying container: stopping container: context deadline exceeded".
      expect({ code: del.status, stderr: del.stderr }).toEqual({ code: 0, stderr: "" });
      const groups = spawnSync("find", ["/sys/fs/cgroup", "-maxdepth", "4", "-type", "d", "-name", bundle, "-delete"]);
      expect(groups.status).toBe(0); // the docs' cgroup cleanup: empty groups, so rmdir works
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
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
