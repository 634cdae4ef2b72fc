// "Does this process run inside gVisor?" from independent tells (gvisor-facts §6).
// Its own module with only node: and tiny local imports: `preflight` runs at every
// container start and must not load the host-inspection modules (semver, TOML, tar).
// The kernel log is read in this process (/dev/kmsg, else syslog(2) through libc), as dmesg
// reads it: a dmesg process is started only where neither can be tried (Deno without /dev/kmsg).
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import os from "node:os";
import { openLibc } from "../os/libc.ts";

/** The first line of dmesg in every gVisor sandbox (pkg/sentry/kernel/syslog.go). */
export const GVISOR_SIGNATURE = "Starting gVisor";

/**
 * Written by the sandbox's own kernel when runsc runs with --gvisor-marker-file; holds "gvisor\n".
 * The one tell a workload under runc cannot fake: /proc is the host kernel's, unwritable, while
 * a dmesg binary or a uname answer can be shipped in the image.
 */
export const GVISOR_MARKER_FILE = "/proc/gvisor/kernel_is_gvisor";

export interface SelfSandboxFacts {
  /** True when at least one tell says we run inside gVisor. */
  inside: boolean;
  /** Which independent tells matched, e.g. ["/proc/sentry-meminfo", "dmesg", "uname"]; the marker file first. */
  tells: string[];
  /** What each tell saw (for the preflight report). */
  evidence: {
    /** GVISOR_MARKER_FILE reads "gvisor" (absent without --gvisor-marker-file and before 2024 releases). */
    kernelIsGvisor: boolean;
    sentryMeminfo: boolean;
    dmesgFirstLine: string | null;
    dmesgError: string | null;
    kernelRelease: string;
  };
}

/** Independent tells of "this process runs inside gVisor" (gvisor-facts §6). */
export async function detectSelfSandbox(
  opts: { dmesg: "always" | "to-confirm" } = { dmesg: "always" },
): Promise<SelfSandboxFacts> {
  const kernelIsGvisor = readMarker();
  const sentryMeminfo = existsSync("/proc/sentry-meminfo");
  const kernelRelease = os.release();
  const unameTell = /-gvisor$/.test(kernelRelease) || kernelRelease === "4.4.0";
  let dmesgFirstLine: string | null = null;
  let dmesgError: string | null = null;
  // `check` on a host only reads dmesg to confirm another tell (a process start saved);
  // preflight reads every tell.
  if (opts.dmesg === "to-confirm" && !kernelIsGvisor && !sentryMeminfo && !unameTell) {
    dmesgError = "not read: no other tell matched";
  } else {
    // A refusal by either reader is the answer dmesg would get too (it reads the log the same two ways).
    const log = readKmsg() ?? readSyslog() ?? (await runDmesg());
    if ("line" in log) dmesgFirstLine = log.line;
    else dmesgError = log.error;
  }
  const tells: string[] = [];
  if (kernelIsGvisor) tells.push(GVISOR_MARKER_FILE);
  if (sentryMeminfo) tells.push("/proc/sentry-meminfo");
  if (dmesgFirstLine?.includes(GVISOR_SIGNATURE)) tells.push("dmesg");
  if (unameTell) tells.push("uname");
  const evidence = { kernelIsGvisor, sentryMeminfo, dmesgFirstLine, dmesgError, kernelRelease };
  return { inside: tells.length > 0, tells, evidence };
}

function readMarker(): boolean {
  try {
    return readFileSync(GVISOR_MARKER_FILE, "utf8").trim() === "gvisor";
  } catch {
    return false;
  }
}

/** The kernel log's first line as dmesg prints it, or why it could not be read. */
export type KernelLog = { line: string } | { error: string };

/**
 * The first record of /dev/kmsg, where dmesg itself reads the log on a Linux host; null where
 * there is no /dev/kmsg to read (inside gVisor, in a container without the device, denied).
 */
export function readKmsg(path = "/dev/kmsg"): KernelLog | null {
  let fd: number;
  try {
    // Non-blocking: an empty log answers EAGAIN instead of waiting for the next message.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isCharacterDevice()) return null;
    // One read is one record; a record is at most 8 KB (the kernel refuses a smaller buffer).
    const buf = Buffer.alloc(16 * 1024);
    for (let tries = 0; ; tries++) {
      try {
        const n = readSync(fd, buf, 0, buf.length, null);
        return { line: kmsgLine(buf.toString("utf8", 0, n)) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") return { line: "" }; // an empty log: dmesg prints nothing
        // EPIPE: the record was overwritten while we opened the device; the next read is the oldest one.
        if (code !== "EPIPE" || tries >= 3) return null;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A /dev/kmsg record ("6,0,123,-;message\n KEY=value…") as dmesg prints it: "[    0.000123] message". */
export function kmsgLine(record: string): string {
  const line = record.split("\n")[0];
  const semi = line.indexOf(";");
  const usec = semi < 0 ? NaN : Number(line.slice(0, semi).split(",")[2]);
  if (!Number.isSafeInteger(usec)) return line; // not the kernel's format: as read
  // The kernel escapes non-printable bytes (a newline too) as \xNN; dmesg prints them back.
  const text = line.slice(semi + 1).replace(/\\x([0-9a-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const secs = String(Math.floor(usec / 1e6)).padStart(5);
  return `[${secs}.${String(usec % 1e6).padStart(6, "0")}] ${text.split("\n")[0]}`;
}

type Syslog = {
  klogctl(type: number, buf: Uint8Array | null, len: number): number;
  __errno_location(): unknown;
  strerror(errno: number): unknown;
};

/**
 * The kernel log through syslog(2), as dmesg reads it where there is no /dev/kmsg (gVisor has none,
 * its log is a few lines); null without bun:ffi or libc (Deno, a static image).
 */
export function readSyslog(): KernelLog | null {
  const libc = openLibc<Syslog>((t) => ({
    klogctl: { args: [t.i32, t.ptr, t.i32], returns: t.i32 },
    __errno_location: { args: [], returns: t.ptr },
    strerror: { args: [t.i32], returns: t.cstring },
  }));
  if (!libc) return null;
  const { klogctl, __errno_location, strerror } = libc.symbols;
  const size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, null, 0);
  const buf = new Uint8Array(size > 0 ? size : 1 << 16);
  const n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, buf.length);
  if (n < 0) return { error: `syslog(2): ${String(strerror(libc.ffi.read.i32(__errno_location(), 0)))}` };
  // Each line starts with its priority ("<6>"), which dmesg does not print.
  return {
    line: new TextDecoder()
      .decode(buf.subarray(0, n))
      .split("\n")[0]
      .replace(/^<\d{1,3}>/, ""),
  };
}

/** The dmesg program's first line: the fallback where this process cannot read the log itself. */
async function runDmesg(): Promise<KernelLog> {
  const [{ failureText, runSync }, { findTool }] = await Promise.all([
    import("../os/spawn.ts"),
    import("../os/which.ts"),
  ]);
  const bin = findTool("dmesg");
  if (!bin) return { error: "dmesg not found" };
  const r = runSync(bin, [], { timeoutMs: 3_000, maxBytes: 64 * 1024 });
  return r.code === 0 ? { line: r.stdout.split("\n")[0] ?? "" } : { error: failureText(r) };
}
