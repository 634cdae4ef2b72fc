// A runsc built with a Go its release does not know (Debian sid: runsc 20240729 with go1.26.2) reads
// the goroutine id at the wrong offset and crashes sandboxes at random (test/fixtures/runsc-logs).
// The doctor reads the toolchain from the binary, fails runsc.version, and --fix replaces it.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { didNotStart } from "../../checks/probe.ts";
import { diagnose } from "../../checks/rules.ts";
import { runscVersion } from "../../checks/runsc.ts";
import type { CheckContext, Finding } from "../../checks/types.ts";
import { goBuildVersion } from "../../platform/os/elf.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { inspectRunsc, readsWrongGoroutineId, type RunscBinary } from "../../platform/runsc/binaries.ts";
import { planFixes } from "../../src/fix.ts";
import { treePath } from "../hosts/trees.ts";

const HOST_RUNSC = "/usr/bin/runsc";
const tree = (suite: "trixie" | "sid") => join(treePath(suite), "usr/bin/runsc");
const version = (date: string) => ({
  raw: `release-${date}.0`,
  date,
  point: 0,
  commits: 0,
  isRelease: true,
  distro: true,
});

describe("the Go toolchain of a binary, from its build info", () => {
  test.skipIf(!existsSync(HOST_RUNSC))("Debian bookworm's runsc: go1.19", () => {
    expect(goBuildVersion(HOST_RUNSC)).toMatch(/^go1\.19\.\d+$/);
  });
  test.skipIf(!existsSync(tree("trixie")))("trixie's runsc 20240729: go1.24.4", () => {
    expect(goBuildVersion(tree("trixie"))).toBe("go1.24.4");
  });
  test.skipIf(!existsSync(tree("sid")))("sid's runsc 20240729: go1.26.2", () => {
    expect(goBuildVersion(tree("sid"))).toBe("go1.26.2");
  });
  test("not a Go binary, not an ELF file, a truncated ELF, a missing file: unknown (null)", () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-gover-"));
    try {
      writeFileSync(join(dir, "page"), "<!DOCTYPE html><html>Sign in</html>\n");
      writeFileSync(join(dir, "cut"), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]), Buffer.alloc(40)]));
      for (const f of ["page", "cut", "absent"]) expect(goBuildVersion(join(dir, f))).toBeNull();
      expect(goBuildVersion("/bin/sh")).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("which builds read a wrong goroutine id", () => {
  const cases: [string, string | null, boolean][] = [
    ["20240729", "go1.26.2", true], // Debian sid: seen crashing
    ["20240729", "go1.25.0", true], // Go 1.25 moved runtime.g's goid
    ["20240729", "go1.24.4", false], // Debian trixie: the offset it knows
    ["20221219", "go1.19.8", false], // Debian bookworm
    ["20260817", "go1.26.2", false], // a release that knows Go 1.25's layout
    ["20240729", null, false], // unknown toolchain: no claim
  ];
  for (const [date, go, wrong] of cases) {
    test(`release ${date} built with ${go ?? "an unknown Go"}: ${wrong ? "wrong" : "fine"}`, () => {
      expect(readsWrongGoroutineId({ goVersion: go, version: version(date) })).toBe(wrong);
    });
  }
});

describe("runsc.version and --fix", () => {
  const ctxFor = (r: RunscBinary, facts: Partial<HostFacts> = {}): CheckContext =>
    ({
      facts: { runsc: [r], ...facts } as HostFacts,
      options: { offline: true, env: {} },
      finding: (id: string) => ({ id, status: "pass", data: r }) as unknown as Finding,
    }) as unknown as CheckContext;

  test.skipIf(!existsSync(tree("sid")) || process.getuid?.() !== 0)(
    "sid's real runsc: runsc.version warns with runsc-go-toolchain, and the fix installs gVisor's build",
    async () => {
      const r = await inspectRunsc(tree("sid"), false);
      const f = await runscVersion.run(ctxFor(r));
      expect({ status: f.status, rule: f.diagnosis?.rule, fix: f.diagnosis?.fix?.argv?.[0] }).toEqual({
        status: "warn",
        rule: "runsc-go-toolchain",
        fix: "install",
      });
      expect(f.message).toContain("built with go1.26.2");
      expect(f.diagnosis?.cause).toContain("Go 1.25 moved it");
    },
  );

  test.skipIf(!existsSync(tree("trixie")) || process.getuid?.() !== 0)(
    "trixie's real runsc (same release, go1.24) is not accused",
    async () => {
      const r = await inspectRunsc(tree("trixie"), false);
      const f = await runscVersion.run(ctxFor(r));
      expect(f.diagnosis?.rule).not.toBe("runsc-go-toolchain");
      expect(f.details).toContain("built with go1.24.4");
    },
  );

  test("a probe that hit the panic: --fix installs, then points every engine registered with runsc at the new one", () => {
    const broken = {
      path: "/usr/bin/runsc",
      realPath: "/usr/bin/runsc",
      goVersion: "go1.26.2",
      version: version("20240729"),
    };
    const runtime = { runsc: { path: "/usr/bin/runsc", args: [] } };
    const facts = {
      runsc: [broken],
      docker: { info: { runtimes: { runsc: { path: "/usr/bin/runsc" } } } },
      sysctl: {},
      engines: { containerd: { inspection: { runtimes: runtime } }, podman: { inspection: { runtimes: {} } } },
    } as unknown as HostFacts;
    const panic = "panic: running on goroutine 21217947318848 (task goroutine for kernel.Task 0x134c2fec0008 is 0)";
    const diagnosis = diagnose("podman.hello", panic, { facts, engine: "podman", runtime: "runsc" });
    expect(diagnosis?.rule).toBe("runsc-goroutine-panic");
    const hello: Finding = {
      id: "podman.hello",
      title: "",
      status: "fail",
      message: "",
      details: [],
      diagnosis,
      durationMs: 0,
    };
    expect(planFixes([hello], facts).map((p) => [p.fix.id, p.fix.argv])).toEqual([
      ["runsc.install", ["install"]],
      ["docker.register-runtime", ["configure", "docker"]],
      ["containerd.register-runtime", ["configure", "containerd", "--restart"]],
      ["podman.register-runtime", ["configure", "podman"]],
    ]);
  });

  test("a hello that died with exit 2 and nothing on stderr, from a runsc known to panic: that panic, even after output", () => {
    const runscOf = (goVersion: string) =>
      ({ path: "/usr/bin/runsc", realPath: "/usr/bin/runsc", goVersion, version: version("20240729") }) as never;
    const rcOf = (goVersion: string) => ({
      facts: { runsc: [runscOf(goVersion)], sysctl: {} } as unknown as HostFacts,
      engine: "docker" as const,
      runtime: "runsc",
    });
    const run = (over: object) => ({ code: 2, stdout: "", stderr: "", timedOut: false, spawnError: null, ...over });
    const rule = (r: object, go = "go1.26.2") =>
      didNotStart("docker.hello", run(r) as never, "docker run …", rcOf(go), []).diagnosis?.rule ?? null;
    // The crash strikes between the probe's processes: dmesg's lines may already be out.
    expect(rule({ stdout: "[    0.000000] Starting gVisor...\n" })).toBe("runsc-goroutine-panic");
    expect(rule({})).toBe("runsc-goroutine-panic");
    // Words on stderr are read instead; another exit code, or a runsc built with a Go its release knew, is not it.
    expect(rule({ stderr: "docker: Error response from daemon: unknown runtime" })).not.toBe("runsc-goroutine-panic");
    expect(rule({ code: 1, stdout: "x\n" })).not.toBe("runsc-goroutine-panic");
    expect(rule({ stdout: "x\n" }, "go1.24.4")).not.toBe("runsc-goroutine-panic");
  });
});
