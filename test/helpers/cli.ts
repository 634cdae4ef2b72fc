// Drive the compiled binary (dist/gvisor-doctor) the way users do.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
/** GVD_BINARY lets a developer test another build (e.g. a cross-built or musl binary). */
export const BINARY = process.env.GVD_BINARY || join(ROOT, "dist", "gvisor-doctor");

if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` first (npm test does)`);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout when it is JSON. */
  json?: any;
}

export function gvd(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number; binary?: string } = {},
): CliResult {
  const r = spawnSync(opts.binary ?? BINARY, args, {
    env: opts.env ?? { ...process.env, NO_COLOR: "1" },
    cwd: opts.cwd,
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 180_000,
    maxBuffer: 64 << 20,
  });
  const res: CliResult = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (r.error) res.stderr += `\n[spawn error] ${r.error.message}`;
  if (args.includes("--json")) {
    try {
      res.json = JSON.parse(res.stdout);
    } catch {
      // Leave json undefined (tests fail on it), and say why in the log.
      console.warn(
        `[gvd] ${args.join(" ")}: stdout is not JSON (exit ${res.code})\n--- stdout ---\n${res.stdout.slice(0, 2000)}\n--- stderr ---\n${res.stderr.slice(-2000)}`,
      );
    }
  }
  return res;
}

/** The finding for `id` in a --json report (throws with the report when absent). */
export function finding(report: any, id: string): any {
  const f = report?.checks?.find((c: any) => c.id === id);
  if (!f) throw new Error(`no finding ${id} in report: ${JSON.stringify(report)?.slice(0, 2000)}`);
  return f;
}
