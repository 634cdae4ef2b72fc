#!/usr/bin/env -S bun
// gvisor-doctor entry point: build the IO for this process and run the invocation.
// Commands live in src/commands/; dispatch and exit-code mapping in src/dispatch.ts.
// The entry imports nothing else statically: the release binary is built with code
// splitting, so `--version` runs at Bun's own start-up floor, and every other invocation
// loads the dispatcher, then only the modules its command needs (bench/startup.ts).
import type { IO } from "./args.ts";
import { versionText } from "./version.ts";

export async function makeIO(argv: string[], env: NodeJS.ProcessEnv): Promise<IO> {
  const [{ colorLevel, makeChalk }, { spinnerAllowed }, { isattys }] = await Promise.all([
    import("./ui/color.ts"),
    import("./ui/spinner.ts"),
    import("./ui/tty.ts"),
  ]);
  const noColor = argv.includes("--no-color");
  // TTY tests by fd: process.stdout/stderr are streams Bun builds on first use (~8 ms at start-up).
  const [inTTY, outTTY, errTTY] = await isattys([0, 1, 2]);
  const [c, ce] = await Promise.all([outTTY, errTTY].map((tty) => makeChalk(colorLevel({ isTTY: tty }, env, noColor))));
  return {
    env,
    // console.log/error write each line synchronously; the process.stdout stream costs ~8 ms to set up.
    stdout: (s) => console.log(s.endsWith("\n") ? s.slice(0, -1) : s),
    stderr: (s) => console.error(s.endsWith("\n") ? s.slice(0, -1) : s),
    c,
    ce,
    json: argv.includes("--json"),
    verbose: argv.includes("-v") || argv.includes("--verbose"),
    spinner: errTTY && spinnerAllowed(process.stderr, env),
    interactive: inTTY && errTTY,
  };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // The same answer runArgv gives, without loading it. console.log, not process.stdout:
  // Bun builds the process.stdout stream on first use, which costs more than the rest of --version.
  if (argv[0] === "--version" || argv[0] === "-V") {
    console.log(versionText(argv.includes("--json")));
    return 0;
  }
  if (argv[0] === "preflight") {
    // A container's entrypoint: its own module, not the dispatcher with every other command.
    const [{ runCommand }, { preflightCommand }, io] = await Promise.all([
      import("./run-command.ts"),
      import("./commands/preflight.ts"),
      makeIO(argv, env),
    ]);
    return runCommand(preflightCommand, argv.slice(1), io);
  }
  const [{ runArgv }, io] = await Promise.all([import("./dispatch.ts"), makeIO(argv, env)]);
  return runArgv(argv, io);
}

// Run when executed (compiled binary, `bun src/cli.ts`, `deno run src/cli.ts`), not when imported by tests.
if (import.meta.main) {
  // exitCode (not exit()) lets stdout drain, e.g. a large --json document into a pipe.
  process.exitCode = await main(process.argv.slice(2));
}
