// A runtime entry that names a missing wrapper (or a wrapper whose runsc is gone) fails its
// engine's check with the runtime-path-missing rule, and --fix both reinstalls a broken runsc
// and points the engines that used it at the reinstalled one, reporting "applied" only when
// the re-check no longer fails the same way.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brokenRuntimeFile } from "../../checks/runtime-files.ts";
import { crioRuntime } from "../../checks/crio.ts";
import { podmanRuntime } from "../../checks/podman.ts";
import { containerdRuntime } from "../../checks/containerd.ts";
import { dockerRuntimePath } from "../../checks/docker.ts";
import { diagnose, installFix } from "../../checks/rules.ts";
import type { CheckContext, Finding, Outcome } from "../../checks/types.ts";
import { renderWrapper } from "../../platform/engines/edit/runtime-args.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { planFixes, unverified, type FixRecord } from "../../src/fix.ts";

const dir = mkdtempSync("/tmp/gvd-test-rtfiles-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const runsc = join(dir, "runsc");
writeFileSync(runsc, "#!/bin/sh\n", { mode: 0o755 });
const wrapper = join(dir, "containerd-runsc");
writeFileSync(wrapper, renderWrapper("containerd", "runsc", join(dir, "gone-runsc"), ["--network=none"], "test"), {
  mode: 0o755,
});
const notExec = join(dir, "not-exec");
writeFileSync(notExec, "x");
chmodSync(notExec, 0o644);

const facts = {
  runsc: [],
  docker: {},
  sysctl: { ptraceScope: 1 },
  tmp: { symlink: false },
  hostRoot: null,
} as unknown as HostFacts;
const ctxWith = (engines: unknown, f: Partial<HostFacts> = {}): CheckContext => ({
  facts: { ...facts, ...f, engines } as HostFacts,
  options: { quick: false, offline: false, verbose: false, env: {} },
  finding: () => {
    throw new Error("no");
  },
  signal: new AbortController().signal,
});
const finding = (id: string, status: Finding["status"], diagnosis: Finding["diagnosis"], message = ""): Finding => ({
  id,
  title: id,
  status,
  message,
  details: [],
  diagnosis,
  durationMs: 0,
});

describe("the files a runtime names", () => {
  test("fine: an executable binary and a readable config file", () => {
    expect(
      brokenRuntimeFile([
        { path: runsc, exec: true },
        { path: notExec, exec: false },
        { path: "runsc", exec: true },
      ]),
    ).toBeNull();
  });
  test("a missing file, a file that is not executable, and the runsc a wrapper runs are each named", () => {
    expect(brokenRuntimeFile([{ path: join(dir, "nope"), exec: true }])).toEqual({
      path: join(dir, "nope"),
      problem: "does not exist",
    });
    expect(brokenRuntimeFile([{ path: notExec, exec: true }])).toEqual({ path: notExec, problem: "is not executable" });
    expect(brokenRuntimeFile([{ path: dir, exec: true }])).toEqual({ path: dir, problem: "is not a regular file" });
    expect(brokenRuntimeFile([{ path: wrapper, exec: true }])).toEqual({
      path: join(dir, "gone-runsc"),
      problem: "does not exist",
    });
  });

  test("containerd.runtime fails (runtime-path-missing) when BinaryName names a wrapper that no longer exists", () => {
    const gone = "/usr/local/libexec/gvisor-doctor-test-gone/containerd-runsc";
    const runtime = { runtime_type: "io.containerd.runc.v2", options: { BinaryName: gone } };
    const doc = {
      version: 2,
      plugins: { "io.containerd.grpc.v1.cri": { containerd: { runtimes: { runsc: runtime } } } },
    };
    const engines = {
      containerd: {
        detection: { configPath: "/etc/containerd/config.toml", running: false },
        inspection: { runtimes: { runsc: { path: gone, args: [], source: { file: "x" } } }, files: [] },
      },
      containerdDump: { doc },
    };
    const f = containerdRuntime.run(ctxWith(engines)) as any;
    expect(f.status).toBe("fail");
    expect(f.message).toContain(`${gone} does not exist`);
    expect(f.diagnosis).toMatchObject({
      rule: "runtime-path-missing",
      fix: { id: "containerd.register-runtime", argv: ["configure", "containerd", "--restart"] },
    });
  });

  test("podman.runtime and crio.runtime fail the same way for a missing wrapper", async () => {
    const gone = join(dir, "podman-runsc");
    const podman = {
      detection: { installed: true, configPath: "/etc/containers/containers.conf" },
      inspection: {
        faults: [],
        files: [],
        runtimes: { runsc: { path: gone, args: [], source: { file: "c.conf" }, raw: [gone] } },
      },
    };
    const p = (await podmanRuntime.run(ctxWith({ podman }))) as any; // async: it asks podman info (no binary here)
    expect(p).toMatchObject({
      status: "fail",
      diagnosis: { rule: "runtime-path-missing", fix: { id: "podman.register-runtime" } },
    });
    expect(p.message).toContain(`${gone} does not exist`);
    const crio = {
      detection: { installed: true, configPath: "/etc/crio/crio.conf" },
      inspection: {
        faults: [],
        files: [],
        runtimes: { runsc: { path: gone, args: [], source: { file: "c.conf" }, raw: { runtime_path: gone } } },
      },
    };
    expect(crioRuntime.run(ctxWith({ crio }))).toMatchObject({
      status: "fail",
      diagnosis: { rule: "runtime-path-missing", fix: { id: "crio.register-runtime" } },
    });
  });

  test("containerd's error for a deleted wrapper is diagnosed (it had no diagnosis)", () => {
    const d = diagnose(
      "containerd.hello",
      "ctr: failed to create shim task: OCI runtime create failed: unable to start container process: exec: fork/exec /usr/local/libexec/gvisor-doctor/containerd-runsc: no such file or directory: unknown",
      { facts, engine: "containerd", runtime: "runsc" },
    );
    expect(d).toMatchObject({ rule: "runtime-path-missing" });
    expect(d!.cause).toContain("/usr/local/libexec/gvisor-doctor/containerd-runsc");
  });
});

test("docker.runtime-path takes a runsc's ELF header from the facts, which read it (not read again)", () => {
  // `runsc` here is a script: read again, it would be "not an ELF executable".
  const known = { path: runsc, realPath: runsc, onPath: true, versionText: "runsc version release-20260817.0" };
  const elf = { arch: "x86_64", bits: 64, dynamic: false };
  const docker = { info: { runtimes: { runsc: { path: runsc, runtimeArgs: [] } } } };
  const ctx = ctxWith(null, { runsc: [{ ...known, elf }], docker } as unknown as Partial<HostFacts>);
  const o = dockerRuntimePath.run(ctx) as Outcome;
  expect([o.status, o.message]).toEqual(["pass", `${runsc} (release-20260817.0)`]);
});

describe("--fix for a runtime that points at a broken runsc (an HTML page)", () => {
  const broken = (id: string) =>
    finding(
      id,
      "fail",
      { cause: "HTML", rule: "exec-format", fix: installFix({ facts }, "Reinstall runsc", { force: true }) },
      "not an ELF executable",
    );

  test("plans the reinstall, then points every engine whose runtime was broken at the reinstalled runsc", () => {
    const plan = planFixes([broken("docker.runtime-path"), broken("containerd.hello")], facts);
    expect(plan.map((p) => [p.fix.id, p.fix.argv, p.checks])).toEqual([
      ["runsc.install", ["install", "--force"], ["docker.runtime-path", "containerd.hello"]],
      ["docker.register-runtime", ["configure", "docker"], ["docker.runtime-path"]],
      ["containerd.register-runtime", ["configure", "containerd", "--restart"], ["containerd.hello"]],
    ]);
  });

  test("a fix whose check still fails with the same rule is reported failed, not applied", () => {
    const plan = planFixes([broken("docker.runtime-path")], facts);
    const rec = (p: (typeof plan)[number]): FixRecord => ({
      id: p.fix.id,
      checks: p.checks,
      summary: "",
      command: p.fix.command,
      status: "applied",
      message: "done",
      round: 1,
    });
    const records = plan.map(rec);
    expect(unverified(records, plan, [broken("docker.runtime-path")]).map((r) => r.id)).toEqual([
      "runsc.install",
      "docker.register-runtime",
    ]);
    expect(records[0]).toMatchObject({
      status: "failed",
      message: "applied, but docker.runtime-path still fails: not an ELF executable",
    });
    const fresh = plan.map(rec);
    expect(unverified(fresh, plan, [finding("docker.runtime-path", "pass", null)])).toEqual([]);
    expect(fresh.every((r) => r.status === "applied")).toBe(true);
  });
});
