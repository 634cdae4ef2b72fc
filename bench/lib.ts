// Benchmark helpers: run commands interleaved (A B A B …) so machine noise hits every
// case alike, report medians and same-run ratios. Benchmarks print; they never assert.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

export interface Case {
  name: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the bench's own). */
  cwd?: string;
  /** Prepare before each run (not timed). */
  before?: () => void;
  /** Exit codes that are fine (default [0]); e.g. a check run that reports a failing check. */
  okCodes?: number[];
}

export function timeOnce(c: Case): number {
  c.before?.();
  const t0 = performance.now();
  const r = spawnSync(c.argv[0], c.argv.slice(1), {
    env: c.env ?? process.env,
    cwd: c.cwd,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ms = performance.now() - t0;
  if (!(c.okCodes ?? [0]).includes(r.status ?? -1))
    throw new Error(`${c.argv.join(" ")} exited ${r.status}: ${r.stderr?.toString().slice(-500)}`);
  return ms;
}

/**
 * CPU time (user + system, ms) of one run, from the child's wait4 rusage: it counts the processes
 * the child waited for (e.g. a dmesg it ran), and a loaded machine barely moves it, unlike wall time.
 */
export function cpuOnce(c: Case): number {
  c.before?.();
  const r = Bun.spawnSync(c.argv, {
    env: c.env ?? process.env,
    cwd: c.cwd,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  if (!(c.okCodes ?? [0]).includes(r.exitCode ?? -1)) {
    throw new Error(`${c.argv.join(" ")} exited ${r.exitCode}: ${r.stderr?.toString().slice(-500)}`);
  }
  return Number(r.resourceUsage.cpuTime.total) / 1000;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Run every case `runs` times, interleaved, after one untimed warm-up each; `measure` is wall time by default. */
export function interleaved(
  cases: Case[],
  runs: number,
  measure: (c: Case) => number = timeOnce,
): Map<string, number[]> {
  const times = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (const c of cases) measure(c);
  for (let i = 0; i < runs; i++) for (const c of cases) times.get(c.name)!.push(measure(c));
  return times;
}

export function machine(): string {
  return `${os.cpus()[0]?.model ?? "cpu"} ×${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`;
}

export function report(title: string, times: Map<string, number[]>): Record<string, number> {
  console.log(`\n${title}  (${new Date().toISOString().slice(0, 10)}, ${machine()})`);
  const med: Record<string, number> = {};
  for (const [name, xs] of times) {
    med[name] = median(xs);
    console.log(
      `  ${name.padEnd(48)} median ${med[name].toFixed(1).padStart(8)} ms   (n=${xs.length}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`,
    );
  }
  return med;
}

export function ratio(label: string, a: number, b: number, goal?: number): void {
  const r = a / b;
  const verdict =
    goal === undefined
      ? ""
      : r <= goal
        ? `  ✓ goal ≤ ${goal}×`
        : `  ✗ goal ≤ ${goal}× (misses by ${((r / goal - 1) * 100).toFixed(0)}%)`;
  console.log(`  ${label.padEnd(48)} ${r.toFixed(2)}×${verdict}`);
}

/** Peak RSS in MB (GNU time's max RSS, the largest of `runs` runs) of a command; null without /usr/bin/time. */
export function peakRssMb(c: Case, runs = 3): number | null {
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    c.before?.();
    const r = spawnSync("/usr/bin/time", ["-f", "GVD_MAXRSS %M", ...c.argv], {
      env: c.env ?? process.env,
      cwd: c.cwd,
      encoding: "utf8",
      stdio: ["ignore", "ignore", "pipe"],
    });
    const kb = r.stderr?.match(/GVD_MAXRSS (\d+)/)?.[1];
    if (!kb) return null;
    if (!(c.okCodes ?? [0]).includes(r.status ?? -1))
      throw new Error(`${c.argv.join(" ")} exited ${r.status}: ${r.stderr.slice(-500)}`);
    peak = Math.max(peak, Number(kb) / 1024);
  }
  return peak;
}

/** Run a command (argv, no shell) that must succeed; `stdout` captures its output into that file. */
export function sh(cmd: string, args: string[], opts: { cwd?: string; stdout?: string } = {}): void {
  // A captured stdout can be the whole .tar.bz2 (140 MB): spawnSync kills a child that overflows maxBuffer.
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    stdio: ["ignore", opts.stdout ? "pipe" : "inherit", "inherit"],
    maxBuffer: opts.stdout ? 1 << 30 : 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
  if (opts.stdout) writeFileSync(opts.stdout, r.stdout);
}

/**
 * The realistic release tree in `tree`: runsc, the shim and four sidecars made of real ELF binaries
 * of this machine (runsc first, so `runsc --version` runs), ~450 MB.
 */
export function writeReleaseTree(tree: string): void {
  const cat = (dest: string, parts: string[]) =>
    writeFileSync(join(tree, dest), Buffer.concat(parts.map((p) => readFileSync(p))), { mode: 0o755 });
  mkdirSync(join(tree, "gvisor-bin"), { recursive: true });
  const [runsc, dockerd, containerd, shimv2, shimv1, ctr, podman, runc, busybox] = [
    "/usr/bin/runsc",
    "/usr/sbin/dockerd",
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/containerd-shim-runc-v1",
    "/usr/bin/ctr",
    "/usr/bin/podman",
    "/usr/sbin/runc",
    "/bin/busybox",
  ];
  cat("runsc", [runsc, dockerd, containerd]);
  cat("containerd-shim-runsc-v1", [shimv2, ctr]);
  cat("gvisor-bin/gvisor_sentry", [dockerd, containerd, runsc]);
  cat("gvisor-bin/checkpointgofer", [podman, ctr, runc]);
  cat("gvisor-bin/runsc-metric-server", [containerd]);
  cat("gvisor-bin/gvisor-sentry-prewarmer", [shimv1, busybox]);
}
