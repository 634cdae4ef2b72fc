// Host faults runsc cannot live with: /proc/sys/vm/mmap_min_addr unreadable, seccomp unavailable,
// ptrace blocked, a finite memlock limit on a memlock-bug kernel, a kernel older than 5.6. Each is a
// host fact (platform/facts/host-facts.ts), a host check, and a rule for what runsc prints or logs. Faults are
// injected for real where this machine allows it (a private mount namespace, dropped capabilities,
// a seccomp filter, prlimit); kernel-bound ones (version, memlock bug, Yama) use facts fixtures.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostKernel, hostMemlock, hostMmapMinAddr, hostSeccomp } from "../../checks/host.ts";
import { diagnose } from "../../checks/rules.ts";
import { runscSmoke } from "../../checks/runsc.ts";
import type { Check, Outcome } from "../../checks/types.ts";
import { memlockOf, seccompFacts, type HostFacts } from "../../platform/facts/host-facts.ts";
import type { RunscBinary } from "../../platform/runsc/binaries.ts";
import { decodeLogDir } from "../../platform/runsc/debug-log.ts";
import { denySyscallTool } from "../helpers/deny-syscall.ts";
import { checkContext, fakeFacts, runWithRunsc } from "../helpers/facts.ts";
import { treePath } from "../hosts/trees.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/runsc-logs");
const base = fakeFacts({
  kernel: { release: "6.1.0-13-amd64", version: "6.1.0" },
  sysctl: { ptraceScope: null, maxUserNamespaces: 1000 },
  mmapMinAddr: { value: 65536, error: null },
  seccomp: { available: true, mode: 0, filters: 0 },
  memlock: [],
  runsc: [],
});
const facts = (over: Partial<HostFacts> = {}) => ({ ...base, ...over }) as HostFacts;
const rc = (f = facts()) => ({ facts: f, engine: "runsc" as const, runtime: "runsc" });
/** A runsc whose file and parent directories are all world-executable (what runsc.permissions passes). */
const executable = {
  path: "/usr/bin/runsc",
  realPath: "/usr/bin/runsc",
  permissions: [
    { path: "/usr/bin/runsc", mode: "0755", worldOk: true },
    { path: "/usr/bin", mode: "0755", worldOk: true },
  ],
} as unknown as RunscBinary;

const runCheck = async (c: Check, f: HostFacts) => (await c.run(checkContext(f))) as Outcome;

const HOST_RUNSC = "/usr/bin/runsc";
const TRIXIE_RUNSC = join(treePath("trixie"), "usr/bin/runsc");
const RUNSCS = [
  ["20221219", HOST_RUNSC],
  ["20240729", TRIXIE_RUNSC],
] as const;
const root = process.getuid?.() === 0;
/** setpriv arguments that take root's way around file modes (a mode-000 file is then unreadable). */
const DROP_DAC = "--inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search";

describe("real runsc output, decoded (test/fixtures/runsc-logs)", () => {
  for (const [release] of RUNSCS) {
    test(`runsc ${release}, mmap_min_addr unreadable: it panics before anything, stderr names it`, () => {
      const stderr = Bun.file(join(FIXTURES, `${release}-mmap-min-addr-unreadable/stderr.txt`));
      return stderr.text().then((text) => {
        const d = diagnose("runsc.binary", text, rc())!;
        expect(d.rule).toBe("mmap-min-addr-unreadable");
        expect(d.cause).toContain("(open /proc/sys/vm/mmap_min_addr: permission denied)");
        expect(d.cause).toContain("even --version");
      });
    });

    test(`runsc ${release}, seccomp(2) → ENOSYS: the gofer's log line → seccomp-unavailable`, () => {
      const d = decodeLogDir(join(FIXTURES, `${release}-seccomp-enosys`));
      const gofer =
        release === "20221219"
          ? "gofer: installing seccomp filters: function not implemented"
          : "gofer: panic: cannot determine default seccomp action: function not implemented";
      expect(d.lines).toContain(gofer);
      expect(d.lines.length).toBeLessThanOrEqual(10);
      // The kernel has seccomp (the facts say so): a filter around the engine refuses it.
      const filtered = diagnose("runsc.smoke", d.causes.join("\n"), rc())!;
      expect(filtered.rule).toBe("seccomp-unavailable");
      expect(filtered.cause).toContain("the engine runs under a filter that denies seccomp(2)");
      // No Seccomp line in /proc/self/status: the kernel itself lacks it.
      const none = facts({ seccomp: { available: false, mode: null, filters: null } });
      const kernel = diagnose("runsc.smoke", d.causes.join("\n"), rc(none))!;
      expect(kernel.cause).toContain("CONFIG_SECCOMP is off");
      expect(kernel.fix?.summary).toContain("CONFIG_SECCOMP=y");
    });

    test(`runsc ${release}, ptrace(2) → EPERM: ptrace-blocked unless runsc's permissions explain it`, () => {
      const d = decodeLogDir(join(FIXTURES, `${release}-ptrace-eperm`));
      const boot =
        release === "20221219"
          ? "boot: panic: unable to attach: operation not permitted"
          : "boot: panic: unable to initialize systrap source: unable to attach: operation not permitted";
      expect(d.lines[0]).toBe(boot);
      const text = d.causes.join("\n");
      // Yama 3 (not settable on this kernel: it has no Yama; the fault itself was a seccomp filter).
      const yama = diagnose("runsc.smoke", text, rc(facts({ sysctl: { ptraceScope: 3, maxUserNamespaces: 1000 } })))!;
      expect(yama.rule).toBe("ptrace-blocked");
      expect(yama.cause).toContain("ptrace_scope is 3");
      // No Yama, runsc world-executable: not permissions, so ptrace itself is denied.
      const filtered = diagnose("runsc.smoke", text, rc(facts({ runsc: [executable] })))!;
      expect(filtered.rule).toBe("ptrace-blocked");
      expect(filtered.cause).toContain("a seccomp profile");
      expect(filtered.fix?.automatic).toBe(false);
      // Nothing rules permissions out: the FAQ's reading (chmod a+rx), automatic.
      expect(diagnose("runsc.smoke", text, rc())?.rule).toBe("sandbox-permissions");
    });
  }
});

describe("host checks read the facts (fixtures: this kernel is 6.x, has seccomp and no Yama)", () => {
  test("kernel < 5.6 warns, < 4.14.77 fails, both by rule kernel-too-old", async () => {
    const k = (release: string, version: string) => facts({ kernel: { release, version } });
    const old = await runCheck(hostKernel, k("5.4.0-150-generic", "5.4.0"));
    expect(old.status).toBe("warn");
    expect(old.diagnosis?.rule).toBe("kernel-too-old");
    expect(old.diagnosis?.fix?.command).toBe("sudo gvisor-doctor install --version 20260817.0");
    const ancient = await runCheck(hostKernel, k("4.9.0-8-amd64", "4.9.0"));
    expect(ancient.status).toBe("fail");
    expect(ancient.diagnosis?.cause).toContain("no gVisor release runs on it");
    expect((await runCheck(hostKernel, base)).status).toBe("pass");
  });

  test("openat2 ENOSYS in runsc's logs is kernel-too-old only on a kernel < 5.6", () => {
    // Words assumed, not seen: no runsc here needs openat2 (releases after 20260817) and no kernel < 5.6.
    const text = "gofer: openat2 /: function not implemented";
    const k54 = facts({ kernel: { release: "5.4.0", version: "5.4.0" } });
    expect(diagnose("docker.hello", text, rc(k54))?.rule).toBe("kernel-too-old");
    expect(diagnose("docker.hello", text, rc())?.rule).not.toBe("kernel-too-old");
  });

  test("memlock: a memlock-bug kernel with a finite limit on containerd fails, unlimited passes", async () => {
    const bug = { kernel: { release: "5.4.2", version: "5.4.2" } };
    const memlock = [
      { who: "self", pid: null, soft: null },
      { who: "containerd", pid: 812, soft: 65536 },
    ];
    const limited = facts({ ...bug, memlock });
    const o = await runCheck(hostMemlock, limited);
    expect(o.status).toBe("fail");
    expect(o.message).toContain("containerd 65536 bytes");
    expect(o.diagnosis?.rule).toBe("memlock-kernel");
    expect(o.diagnosis?.cause).toContain("here: containerd 65536 bytes");
    expect(o.diagnosis?.fix?.command).toBe("sudo systemctl edit containerd  # [Service] LimitMEMLOCK=infinity");
    const lifted = await runCheck(hostMemlock, facts({ ...bug, memlock: [{ who: "dockerd", pid: 9, soft: null }] }));
    expect(lifted.status).toBe("pass");
    expect(lifted.message).toContain("worked around");
    const limitedDocker = facts({ ...bug, memlock: [{ who: "dockerd", pid: 9, soft: 8388608 }] });
    expect((await runCheck(hostMemlock, limitedDocker)).diagnosis?.fix?.command).toContain("systemctl edit docker ");
    expect((await runCheck(hostMemlock, limited)).status).toBe("fail");
    expect((await runCheck(hostMemlock, facts({ memlock: limited.memlock }))).status).toBe("pass"); // 6.1: no bug
  });

  test("seccomp: no Seccomp line fails by rule; unreadable mmap_min_addr fails by rule", async () => {
    const none = await runCheck(hostSeccomp, facts({ seccomp: { available: false, mode: null, filters: null } }));
    expect(none.status).toBe("fail");
    expect(none.diagnosis?.rule).toBe("seccomp-unavailable");
    expect((await runCheck(hostSeccomp, base)).status).toBe("pass");
    const denied = facts({ mmapMinAddr: { value: null, error: "EACCES: permission denied" } });
    const m = await runCheck(hostMmapMinAddr, denied);
    expect(m.status).toBe("fail");
    expect(m.message).toBe("cannot read /proc/sys/vm/mmap_min_addr: EACCES: permission denied");
    expect(m.diagnosis?.rule).toBe("mmap-min-addr-unreadable");
  });
});

describe.skipIf(!root)("the facts, gathered on a real faulty host", () => {
  const FACTS = join(import.meta.dir, "../../platform/facts/host-facts.ts");
  /** Run `gatherFacts()` in a process started by `prefix`, return the facts. */
  function factsUnder(prefix: string[]): HostFacts {
    const script =
      `import { gatherFacts } from ${JSON.stringify(FACTS)};\n` + "console.log(JSON.stringify(await gatherFacts()));";
    const r = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, "-e", script], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`facts failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as HostFacts;
  }

  test("mmap_min_addr: a mode-000 file bound over it, DAC capabilities dropped → error EACCES", () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-mmap-"));
    try {
      const f = factsUnder(["sh", "-c", `${unreadableMmapMinAddr(dir)} "$0" "$@"' "$0" "$@"`]);
      expect(f.mmapMinAddr).toEqual({ value: null, error: "EACCES: permission denied" });
      // The host itself is untouched (private mount namespace).
      expect(factsUnder(["env"]).mmapMinAddr.error).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(!denySyscallTool())("seccomp: a process under a filter has mode 2; the real status is parsed", () => {
    const f = factsUnder([denySyscallTool()!, "38", "seccomp"]);
    expect(f.seccomp).toEqual({ available: true, mode: 2, filters: 1 });
    // A kernel without CONFIG_SECCOMP prints no Seccomp line at all.
    expect(seccompFacts("Name:\tsh\nState:\tR (running)\n")).toEqual({ available: false, mode: null, filters: null });
  });

  test("memlock: prlimit's limit is what /proc/<pid>/limits says; unlimited is null", () => {
    const limits = spawnSync("prlimit", ["--memlock=65536:65536", "cat", "/proc/self/limits"], { encoding: "utf8" });
    expect(memlockOf(limits.stdout)).toBe(65536);
    // Raising the hard limit needs CAP_SYS_RESOURCE, which this machine's root lacks: the same line, unlimited.
    const unlimited = limits.stdout.replace(/^(Max locked memory\s+)65536(\s+)65536/m, "$1unlimited$2unlimited");
    expect(memlockOf(unlimited)).toBeNull();
    const f = factsUnder(["prlimit", "--memlock=65536:65536"]);
    expect(f.memlock.find((m) => m.who === "self")?.soft).toBe(65536);
  });
});

/**
 * Shell words that start a private mount namespace where a mode-000 file lies over
 * /proc/sys/vm/mmap_min_addr and root's DAC override is dropped; the caller appends the command
 * (inside the single-quoted sh -c script) and closes the quote.
 */
function unreadableMmapMinAddr(dir: string): string {
  const file = join(dir, "mmap_min_addr");
  writeFileSync(file, "65536\n", { mode: 0o000 });
  return (
    `unshare -m --propagation private sh -c 'mount --bind ${file} /proc/sys/vm/mmap_min_addr && ` +
    `exec setpriv ${DROP_DAC}`
  );
}

const noRunsc = !root || !existsSync(HOST_RUNSC);
describe.skipIf(noRunsc)("the doctor itself on a host where mmap_min_addr is unreadable", () => {
  test("check --json: the fact, host.mmap-min-addr and runsc.binary (the real runsc panics) by rule", () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-mmap-"));
    try {
      const cli = join(import.meta.dir, "../../src/cli.ts");
      const only = "host.mmap-min-addr,runsc.binary";
      const cmd = `${unreadableMmapMinAddr(dir)} ${process.execPath} ${cli} check --json --only ${only}'`;
      const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
      const report = JSON.parse(r.stdout);
      expect(report.host.mmapMinAddr).toEqual({ value: null, error: "EACCES: permission denied" });
      const by = (id: string) => report.checks.find((c: { id: string }) => c.id === id);
      expect(by("host.mmap-min-addr").status).toBe("fail");
      expect(by("host.mmap-min-addr").diagnosis.rule).toBe("mmap-min-addr-unreadable");
      expect(by("runsc.binary").status).toBe("fail");
      expect(by("runsc.binary").message).toContain("panic: couldn't open /proc/sys/vm/mmap_min_addr");
      expect(by("runsc.binary").diagnosis.rule).toBe("mmap-min-addr-unreadable");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** A wrapper that runs the real runsc behind `prefix` (shell words). */
function wrapper(dir: string, runsc: string, prefix: string): string {
  const w = join(dir, "runsc");
  writeFileSync(w, `#!/bin/sh\nexec ${prefix} ${runsc} "$@"\n`);
  chmodSync(w, 0o755);
  return w;
}

const checkWith = (check: Check, runscPath: string) => runWithRunsc(check, runscPath, base);

describe.skipIf(!root)("runsc on a real faulty host: the checks diagnose it by rule", () => {
  for (const [release, runsc] of RUNSCS) {
    test.skipIf(!existsSync(runsc))(
      `runsc ${release}, mmap_min_addr unreadable: runsc.smoke`,
      async () => {
        const dir = mkdtempSync(join(tmpdir(), "gvd-mmap-"));
        chmodSync(dir, 0o755);
        try {
          const o = await checkWith(runscSmoke, wrapper(dir, runsc, `${unreadableMmapMinAddr(dir)} "$0" "$@"'`));
          expect(o.status).toBe("fail");
          expect(o.message).toContain("couldn't open /proc/sys/vm/mmap_min_addr");
          expect(o.diagnosis?.rule).toBe("mmap-min-addr-unreadable");
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      30_000,
    );

    const faults = [
      // The boot log's first line is a ptrace panic in both cases: the message names the matched line.
      { name: "seccomp(2) → ENOSYS", deny: "38 seccomp", rule: "seccomp-unavailable", said: /log: .*seccomp/ },
      { name: "ptrace(2) → EPERM", deny: "1 ptrace", rule: "ptrace-blocked", said: /log: .*unable to attach/ },
    ];
    for (const f of faults) {
      test.skipIf(!existsSync(runsc) || !denySyscallTool())(
        `runsc ${release}, ${f.name}: runsc.smoke`,
        async () => {
          const dir = mkdtempSync(join(tmpdir(), "gvd-deny-"));
          chmodSync(dir, 0o755);
          try {
            const o = await checkWith(runscSmoke, wrapper(dir, runsc, `${denySyscallTool()} ${f.deny}`));
            expect(o.status).toBe("fail");
            expect(o.message).toContain("waiting for sandbox to start: EOF");
            expect(o.message).toMatch(f.said);
            expect(o.diagnosis?.rule).toBe(f.rule);
            expect(o.diagnosis?.log?.length).toBeGreaterThan(0);
            expect(o.diagnosis?.log?.length).toBeLessThanOrEqual(10);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
        90_000,
      );
    }
  }
});
