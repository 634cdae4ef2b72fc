// "Does this process run inside gVisor?" from independent tells (gvisor-facts §6).
// Its own module with only node: and tiny local imports: `preflight` runs at every
// container start and must not load the host-inspection modules (semver, TOML, tar).
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { failureText, runSync } from "./spawn.ts";
import { SYSTEM_BIN_DIRS, which } from "./which.ts";

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
    sentryMeminfo: boolean; dmesgFirstLine: string | null; dmesgError: string | null;
    kernelRelease: string;
  };
}

/** Independent tells of "this process runs inside gVisor" (gvisor-facts §6). */
export async function detectSelfSandbox(opts: { dmesg: "always" | "to-confirm" } = { dmesg: "always" }): Promise<SelfSandboxFacts> {
  const kernelIsGvisor = readMarker();
  const sentryMeminfo = existsSync("/proc/sentry-meminfo");
  const kernelRelease = os.release();
  const unameTell = /-gvisor$/.test(kernelRelease) || kernelRelease === "4.4.0";
  const dmesgBin = which("dmesg") ?? which("dmesg", SYSTEM_BIN_DIRS.join(":"));
  let dmesgFirstLine: string | null = null;
  let dmesgError: string | null = null;
  // `check` on a host only reads dmesg to confirm another tell (a process start saved);
  // preflight reads every tell.
  if (opts.dmesg === "to-confirm" && !kernelIsGvisor && !sentryMeminfo && !unameTell) {
    dmesgError = "not read: no other tell matched";
  } else if (dmesgBin) {
    const r = runSync(dmesgBin, [], { timeoutMs: 3_000, maxBytes: 64 * 1024 });
    if (r.code === 0) dmesgFirstLine = r.stdout.split("\n")[0] ?? "";
    else dmesgError = failureText(r);
  } else dmesgError = "dmesg not found";
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
