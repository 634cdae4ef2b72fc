// Run one resolved command: parse its flags, show its help or run it, and map errors to the
// documented exit codes. Apart from the dispatcher (which knows every command) so that
// `preflight`, a container's entrypoint, starts without loading the other commands.
import { parseBooleanFlags } from "./args-fast.ts";
import type { Command, IO } from "./args.ts";
import { boundMessage } from "../platform/os/echo-input.ts";
import { ActionError, EXIT, UsageError } from "../platform/os/errors.ts";

export async function runCommand(cmd: Command, args: string[], io: IO): Promise<number> {
  try {
    // node:util's parseArgs is loaded only for a command line that needs it (preflight's rarely does).
    const parsed = parseBooleanFlags(cmd, args) ?? (await import("./args.ts")).parseCommandArgs(cmd, args);
    if (parsed.values.help) {
      io.stdout(cmd.help);
      return EXIT.OK;
    }
    return await cmd.run(parsed, io);
  } catch (e) {
    return reportError(e, io);
  }
}

/** Print an error the way every command does and return its exit code. */
export function reportError(e: unknown, io: IO): number {
  // Messages echo input (flag values, paths, tar member names): bounded and without control characters.
  if (e instanceof UsageError) {
    io.stderr(boundMessage(`gvisor-doctor: ${e.message}${e.hint ? `\n${e.hint}` : ""}`));
    return EXIT.USAGE;
  }
  if (e instanceof ActionError) {
    io.stderr(`${io.ce.red("error:")} ${boundMessage(`${e.message}${e.hint ? `\n${e.hint}` : ""}`)}`);
    return e.code;
  }
  const err = e as Error;
  io.stderr(`${io.ce.red("internal error:")} ${boundMessage(err?.message ?? String(e))}`);
  if (io.verbose && err?.stack) io.stderr(err.stack);
  else io.stderr("run again with -v for a stack trace, and please report it");
  return EXIT.USAGE;
}
