#!/usr/bin/env -S bun
// gvisor-doctor entry point: build the IO for this process and run the invocation.
// Commands live in src/commands/; dispatch and exit-code mapping in src/dispatch.ts.
import type { IO } from "./args.ts";
import { runArgv } from "./dispatch.ts";
import { colorLevel, makeChalk } from "./ui/color.ts";
import { spinnerAllowed } from "./ui/spinner.ts";

export function makeIO(argv: string[], env: NodeJS.ProcessEnv): IO {
  const noColor = argv.includes("--no-color");
  return {
    env,
    stdout: (s) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`),
    stderr: (s) => process.stderr.write(s.endsWith("\n") ? s : `${s}\n`),
    c: makeChalk(colorLevel(process.stdout, env, noColor)),
    ce: makeChalk(colorLevel(process.stderr, env, noColor)),
    json: argv.includes("--json"),
    verbose: argv.includes("-v") || argv.includes("--verbose"),
    spinner: spinnerAllowed(process.stderr, env),
    interactive: !!process.stdin.isTTY && !!process.stderr.isTTY,
  };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runArgv(argv, makeIO(argv, env));
}

// Run when executed (compiled binary, `bun src/cli.ts`, `deno run src/cli.ts`), not when imported by tests.
if (import.meta.main) {
  // exitCode (not exit()) lets stdout drain, e.g. a large --json document into a pipe.
  process.exitCode = await main(process.argv.slice(2));
}
