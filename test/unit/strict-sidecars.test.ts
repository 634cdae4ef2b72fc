// With a runsc that knows --sidecar-usage-policy, runsc.smoke runs STRICT, so an embedded-sidecar
// fallback cannot pass the probe while gvisor-bin/ lacks a sidecar. The runsc is the real one behind
// a wrapper that claims the flag (test/helpers/strict-runsc.ts: no release here has it).
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STRICT_NOTE, strictSidecars } from "../../checks/probe.ts";
import { runscSmoke } from "../../checks/runsc.ts";
import { inspectRunsc } from "../../platform/runsc/binaries.ts";
import { fakeFacts, runWithRunsc } from "../helpers/facts.ts";
import { strictAwareRunsc } from "../helpers/strict-runsc.ts";

const facts = fakeFacts({
  kernel: { release: "6.1.0", version: "6.1.0" },
  sysctl: { ptraceScope: null, maxUserNamespaces: 1000 },
});

const smoke = (path: string) => runWithRunsc(runscSmoke, path, facts);

const root = process.getuid?.() === 0;

describe.skipIf(!root || !existsSync("/usr/bin/runsc"))("runsc.smoke runs STRICT where the release knows it", () => {
  test("a release without the flag (20221219): not passed (the flag would be refused)", async () => {
    const bin = await inspectRunsc("/usr/bin/runsc", true);
    expect(strictSidecars(bin)).toEqual([]);
    const o = await smoke("/usr/bin/runsc");
    expect(o.status).toBe("pass");
    expect(o.details?.[0]).toBe("$ sudo /usr/bin/runsc --network=none do dmesg");
  }, 60_000);

  test("a release with the flag: the probe passes --sidecar-usage-policy=STRICT and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-strict-"));
    chmodSync(dir, 0o755);
    try {
      const fake = strictAwareRunsc(dir);
      const o = await smoke(fake.path);
      expect(o.status).toBe("pass");
      expect(o.details?.[0]).toBe(`$ sudo ${fake.path} --sidecar-usage-policy=STRICT --network=none do dmesg`);
      expect(o.details).toContain(`sidecars: ${STRICT_NOTE}`);
      expect(readFileSync(fake.log, "utf8")).toContain("--sidecar-usage-policy=STRICT --network=none do dmesg");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("STRICT with a sidecar missing: fails by rule sidecar-missing instead of passing on a fallback", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-strict-"));
    chmodSync(dir, 0o755);
    try {
      // What a strict runsc says without gvisor-bin/gvisor_sentry (the rule's sample); without STRICT, it runs.
      const said = `sidecar binary "gvisor_sentry" not found (expected at ${dir}/gvisor-bin/gvisor_sentry)`;
      const fake = strictAwareRunsc(dir, { onStrict: `echo '${said}' >&2; exit 128` });
      const o = await smoke(fake.path);
      expect(o.status).toBe("fail");
      expect(o.diagnosis?.rule).toBe("sidecar-missing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
