// preflight's dmesg tell reads the kernel log in its own process, the two ways dmesg does
// (/dev/kmsg, else syslog(2)), and starts a dmesg process only where it can try neither.
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectSelfSandbox, kmsgLine, readKmsg, readSyslog } from "../../platform/facts/self-sandbox.ts";

const dmesgFirst = () => {
  const r = spawnSync("dmesg", [], { encoding: "utf8", maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout.split("\n")[0] : null;
};
const KMSG_OK = readKmsg() !== null && dmesgFirst() !== null;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "gvd-klog-"));
  dirs.push(d);
  return d;
};

describe("a /dev/kmsg record is shown as dmesg shows it", () => {
  test("timestamp in seconds.microseconds, padded like dmesg; the record's fields dropped", () => {
    expect(kmsgLine("6,0,0,-;Starting gVisor...\n")).toBe("[    0.000000] Starting gVisor...");
    expect(kmsgLine("6,5488,32714093612,-,caller=T1;docker0: port 1 entered disabled state\n SUBSYSTEM=net\n")).toBe(
      "[32714.093612] docker0: port 1 entered disabled state",
    );
    expect(kmsgLine("4,7,123456789012,c;late\n")).toBe("[123456.789012] late");
  });
  test("the kernel's \\xNN escapes are printed back; an escaped newline ends the first line", () => {
    expect(kmsgLine("6,1,5,-;tab\\x09here\\x0asecond line\n")).toBe("[    0.000005] tab\there");
  });
  test("text not in the kernel's format is kept as read (its first line)", () => {
    expect(kmsgLine("Starting gVisor...\nmore\n")).toBe("Starting gVisor...");
  });
});

describe("readKmsg", () => {
  test("no device, or a regular file where /dev/kmsg should be: not the kernel log (null)", () => {
    const d = tmp();
    expect(readKmsg(join(d, "missing"))).toBeNull();
    writeFileSync(join(d, "kmsg"), "6,0,0,-;Starting gVisor...\n");
    expect(readKmsg(join(d, "kmsg"))).toBeNull();
  });
  test.skipIf(!KMSG_OK)("on this host: the first line dmesg prints", () => {
    // The log moves on a busy host: compare when dmesg showed the same first line before and after.
    for (let i = 0; i < 5; i++) {
      const before = dmesgFirst();
      const got = readKmsg();
      if (before !== dmesgFirst()) continue;
      expect(got).toEqual({ line: before! });
      return;
    }
    throw new Error("the kernel log kept moving");
  });
});

test("readSyslog (bun:ffi): a line or the kernel's refusal, never null under Bun with glibc", () => {
  const r = readSyslog();
  expect(r).not.toBeNull();
  if (r && "error" in r) expect(r.error).toMatch(/^syslog\(2\): \S/);
  else expect(r!.line).not.toMatch(/^<\d+>/);
});

test.skipIf(!KMSG_OK)("the dmesg tell starts no dmesg process where the log can be read in-process", async () => {
  // A dmesg first on PATH that leaves a trace (before, preflight spawned whichever dmesg PATH found).
  const d = tmp();
  const trace = join(d, "ran");
  writeFileSync(join(d, "dmesg"), `#!/bin/sh\ntouch '${trace}'\necho '[    0.000000] Starting gVisor...'\n`);
  chmodSync(join(d, "dmesg"), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${d}:${path}`;
  try {
    const s = await detectSelfSandbox();
    expect(existsSync(trace)).toBe(false);
    expect(s.evidence.dmesgFirstLine).not.toContain("Starting gVisor");
    expect(s.tells).toEqual([]);
  } finally {
    process.env.PATH = path;
  }
});
