// A probe that fails without a word (seen on a sid host: "the container did not start: exit 2")
// says so and where the words are, instead of a bare exit code.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { didNotStart, probeRunsc } from "../../checks/probe.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import type { RunResult } from "../../platform/os/spawn.ts";

const result = (over: Partial<RunResult>): RunResult =>
  ({
    cmd: ["docker"],
    code: 2,
    signal: null,
    stdout: "",
    stderr: "",
    durationMs: 5,
    timedOut: false,
    truncated: false,
    ...over,
  }) as RunResult;
const rc = (engine: "docker" | "podman", systemd: boolean) => ({
  facts: {
    systemd,
    sysctl: { ptraceScope: 1, maxUserNamespaces: 1000 },
    tmp: { symlink: false },
  } as unknown as HostFacts,
  engine,
  runtime: "runsc",
});

test("exit 2 with no output: the finding says there was none and names the daemon's log", () => {
  const o = didNotStart("docker.hello", result({}), "docker run --runtime=runsc img", rc("docker", true), []);
  expect(o.message).toBe("the container did not start: exit 2, no output on stderr or stdout");
  expect(o.details!.join("\n")).toContain("journalctl -u docker.service");
  const pod = didNotStart("podman.hello", result({}), "podman run --runtime runsc img", rc("podman", false), []);
  expect(pod.details!.join("\n")).toContain("podman --log-level=debug");
});

test("with words, the words are shown and nothing is added", () => {
  const o = didNotStart(
    "docker.hello",
    result({ stderr: "docker: Error response from daemon: boom" }),
    "docker run",
    rc("docker", true),
    [],
  );
  expect(o.message).toBe("the container did not start: docker: Error response from daemon: boom (exit 2)");
  expect(o.details).toEqual(["docker: Error response from daemon: boom"]);
});

test("an engine's symlink to a runsc the facts inspected is that runsc: not run again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "probe-runsc-"));
  // Not a program: inspecting it again would find it does not run (versionOk false).
  writeFileSync(join(dir, "runsc"), "not a program\n");
  symlinkSync(join(dir, "runsc"), join(dir, "link"));
  const bin = join(dir, "runsc");
  const known = { path: bin, realPath: bin, versionOk: true, versionText: "runsc version x" };
  const ctx = { facts: { runsc: [known] } } as unknown as Parameters<typeof probeRunsc>[0];
  const r = await probeRunsc(ctx, join(dir, "link"));
  expect(r).toMatchObject({ path: join(dir, "link"), versionOk: true, versionText: "runsc version x" });
  rmSync(dir, { recursive: true });
});
