// The IO a test hands to a command run in-process: no colour, no spinner, not interactive, and every line it
// prints kept (out: stdout, err: stderr) for the test to read.
import { Chalk } from "chalk";
import type { IO } from "../../src/args.ts";

export type RecordingIO = IO & { out: string[]; err: string[] };

export function recordingIO(env: NodeJS.ProcessEnv = {}, opts: { json?: boolean } = {}): RecordingIO {
  const out: string[] = [];
  const err: string[] = [];
  const c = new Chalk({ level: 0 });
  return {
    env,
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    c,
    ce: c,
    json: opts.json ?? false,
    verbose: false,
    spinner: false,
    interactive: false,
    out,
    err,
  };
}
