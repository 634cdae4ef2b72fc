// Every command the CLI knows, in the order `--help` lists them.
// A command that does not work yet is not listed here (no stubs).
import type { Command } from "../args.ts";
import { checkCommand } from "./check.ts";
import { preflightCommand } from "./preflight.ts";

export const COMMANDS: Command[] = [checkCommand, preflightCommand];
