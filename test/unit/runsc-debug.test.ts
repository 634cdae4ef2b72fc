// The debug-log decoder: real logs of runsc 20221219 and 20240729 (test/fixtures/runsc-logs, see
// its README), and the same faults injected live into `runsc do` through the runsc.smoke check.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diagnose } from "../../checks/rules.ts";
import { runscSmoke } from "../../checks/runsc.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { decodeLogDir, isGenericStartError } from "../../platform/runsc/debug-log.ts";
import { fakeFacts, runWithRunsc } from "../helpers/facts.ts";
import { treePath } from "../hosts/trees.ts";

const CHROOT = "boot: error setting up chroot: error mounting tmpfs in choot: failed to safely mount: ";
const FIXTURES = join(import.meta.dir, "../fixtures/runsc-logs");
const facts = fakeFacts({ runsc: [] });
const rc = { facts, engine: "runsc" as const, runtime: "runsc" };
/** Debian sid's runsc, as the facts describe it. */
const sidRunsc = {
  path: "/usr/bin/runsc",
  realPath: "/usr/bin/runsc",
  onPath: true,
  goVersion: "go1.26.2",
  versionText: "runsc version",
  version: { raw: "release-20240729.0", date: "20240729", point: 0, commits: 0, isRelease: true, distro: true },
};

describe("decoding real runsc debug logs", () => {
  test("both fixtures failed with nothing but the generic start error", () => {
    for (const d of readdirSync(FIXTURES).filter((f) => !f.endsWith(".md"))) {
      const stderr = Bun.file(join(FIXTURES, d, "stderr.txt"));
      expect(stderr.size).toBeGreaterThan(0);
    }
    const eof =
      "creating container: cannot create sandbox: cannot read client sync file: " + "waiting for sandbox to start: EOF";
    expect(isGenericStartError(eof)).toBe(true);
    expect(isGenericStartError("")).toBe(true);
    expect(isGenericStartError("flag provided but not defined: -foo")).toBe(false);
  });

  test("runsc 20221219, TMPDIR a symlink: the boot log names both paths → tmp-symlink", () => {
    const d = decodeLogDir(join(FIXTURES, "20221219-tmp-symlink"));
    expect(d.files.length).toBe(3);
    expect(d.lines[0]).toBe(`${CHROOT}expected to open /tmp/gvd-link, but found /tmp/gvd-real`);
    expect(d.lines.length).toBeLessThanOrEqual(10);
    // The generic echo of create/do comes last, and is not what rules are matched on.
    expect(d.lines.at(-1)).toContain("do: creating container: cannot create sandbox: cannot read client sync file");
    expect(d.causes.every((c) => !c.includes("sync file"))).toBe(true);
    const diag = diagnose("runsc.smoke", d.causes.join("\n"), rc);
    expect(diag?.rule).toBe("tmp-symlink");
    expect(diag?.cause).toContain("/tmp/gvd-link, which is a symlink to /tmp/gvd-real");
  });

  test("runsc 20240729 under ulimit -v: the boot log's panic → syscall-thread", () => {
    const d = decodeLogDir(join(FIXTURES, "20240729-address-space-limit"));
    expect(d.lines[0]).toBe("boot: panic: failed to create a syscall thread");
    expect(d.lines.length).toBeLessThanOrEqual(10);
    expect(diagnose("runsc.smoke", d.causes.join("\n"), rc)?.rule).toBe("syscall-thread");
    // On WSL the same line is the WSL rule.
    expect(diagnose("runsc.smoke", d.causes.join("\n"), { ...rc, facts: { ...facts, wsl: true } })?.rule).toBe("wsl");
  });

  test("runsc 20240729 built with go1.26 (Debian sid): the Sentry's goroutine-id panic → runsc-goroutine-panic", () => {
    const d = decodeLogDir(join(FIXTURES, "20240729-go126-goroutine-panic"));
    expect(d.lines[0]).toBe(
      "boot: panic: running on goroutine 21217947318848 (task goroutine for kernel.Task " + "0x134c2fec0008 is 0)",
    );
    const sid = { ...facts, runsc: [sidRunsc] } as HostFacts;
    const diag = diagnose("podman.hello", d.causes.join("\n"), { ...rc, engine: "podman", facts: sid });
    expect(diag?.rule).toBe("runsc-goroutine-panic");
    expect(diag?.cause).toContain("/usr/bin/runsc (release-20240729.0, built with go1.26.2)");
    expect(diag?.fix?.argv?.[0]).toBe("install");
  });
});

/** Run runsc.smoke for `runsc` (path or wrapper) with `env`, as the matrix would. */
const smoke = (runscPath: string, env: NodeJS.ProcessEnv) => runWithRunsc(runscSmoke, runscPath, facts, env);

const HOST_RUNSC = "/usr/bin/runsc";
const TRIXIE_RUNSC = join(treePath("trixie"), "usr/bin/runsc");
const root = process.getuid?.() === 0;

describe.skipIf(!root)("runsc.smoke decodes a real fault from the sandbox's own logs", () => {
  test.skipIf(!existsSync(HOST_RUNSC))(
    "runsc 20221219, TMPDIR a symlink the host facts do not know of",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "gvd-smoke-"));
      chmodSync(dir, 0o755); // the sandbox user (nobody) must reach it: else that is the failure
      try {
        mkdirSync(join(dir, "real"));
        symlinkSync(join(dir, "real"), join(dir, "link"));
        const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("gvd-runsc-debug-")));
        const o = await smoke(HOST_RUNSC, { ...process.env, TMPDIR: join(dir, "link") });
        expect(o.status).toBe("fail");
        expect(o.diagnosis?.rule).toBe("tmp-symlink");
        expect(o.message).toContain(`expected to open ${join(dir, "link")}, but found ${join(dir, "real")}`);
        // The fix names the path runsc's log gave, not the doctor's own /tmp.
        expect(o.diagnosis?.fix?.command).toBe(`export TMPDIR=${join(dir, "real")}`);
        expect(o.details).toContain(`  ${CHROOT}expected to open ${join(dir, "link")}, but found ${join(dir, "real")}`);
        // The private log dir is gone.
        const after = readdirSync(tmpdir()).filter((f) => f.startsWith("gvd-runsc-debug-") && !before.has(f));
        expect(after).toEqual([]);
        expect(readdirSync(join(dir, "real")).filter((f) => f.startsWith("gvd-runsc-debug-"))).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );

  test.skipIf(!existsSync(HOST_RUNSC))(
    "runsc 20221219, TMPDIR inside a 0700 dir: nobody cannot open it",
    async () => {
      const parent = mkdtempSync(join(tmpdir(), "gvd-smoke-")); // mode 0700
      const dir = join(parent, "tmp");
      mkdirSync(dir, { mode: 0o1777 });
      try {
        const o = await smoke(HOST_RUNSC, { ...process.env, TMPDIR: dir });
        expect(o.status).toBe("fail");
        expect(o.diagnosis?.rule).toBe("tmp-unreachable");
        expect(o.diagnosis?.cause).toContain(`chroot in ${dir}, but it runs as nobody`);
        const line = `  ${CHROOT}Open(${dir}, _, _): permission denied`;
        expect(o.details).toContain(line);
        expect(o.diagnosis?.log?.[0]).toBe(line.trim());
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    },
    90_000,
  );

  test.skipIf(!existsSync(TRIXIE_RUNSC))(
    "runsc 20240729 (trixie), ulimit -v 2000000 in a wrapper",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "gvd-smoke-"));
      try {
        const wrapper = join(dir, "runsc");
        writeFileSync(wrapper, `#!/bin/sh\nulimit -v 2000000\nexec ${TRIXIE_RUNSC} "$@"\n`);
        chmodSync(wrapper, 0o755);
        const o = await smoke(wrapper, process.env);
        expect(o.status).toBe("fail");
        expect(o.diagnosis?.rule).toBe("syscall-thread");
        expect(o.details).toContain("  boot: panic: failed to create a syscall thread");
        const rerun = "--debug --debug-log=<private temp dir>/ --network=none do dmesg";
        expect(o.details?.some((l) => l.includes(rerun))).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});

describe.skipIf(!root || !existsSync(HOST_RUNSC))("unknown errors keep the whole output, not an exit code", () => {
  test("runsc rejecting a flag: the first line (the cause) is kept, not only the last three", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-smoke-"));
    try {
      const wrapper = join(dir, "runsc");
      writeFileSync(wrapper, `#!/bin/sh\nexec ${HOST_RUNSC} --no-such-flag "$@"\n`);
      chmodSync(wrapper, 0o755);
      const o = await smoke(wrapper, process.env);
      expect(o.status).toBe("fail");
      expect(o.diagnosis?.rule).toBeUndefined();
      expect(o.diagnosis?.cause).not.toContain("no-such-flag"); // the last lines are runsc's usage text
      expect(o.diagnosis?.output?.[0]).toBe("flag provided but not defined: -no-such-flag");
      expect(o.diagnosis?.output?.length).toBeGreaterThan(30);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a probe that fails silently says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-smoke-"));
    try {
      const wrapper = join(dir, "runsc");
      // --version and flags work (the real runsc); the sandbox run exits 3 without a word.
      writeFileSync(wrapper, `#!/bin/sh\ncase "$1" in --version|flags) exec ${HOST_RUNSC} "$@";; esac\nexit 3\n`);
      chmodSync(wrapper, 0o755);
      const o = await smoke(wrapper, process.env);
      expect(o.status).toBe("fail");
      expect(o.message).toContain("exit 3, no output on stderr or stdout");
      expect(o.details).toContain("runsc wrote no debug log");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
