// What a command is and what it runs with: types only, so the full flag parser (args.ts) and the fast one
// for boolean flags (args-fast.ts) share them without importing each other.
import type { ParseArgsOptionDescriptor } from "node:util";
import type { ChalkInstance } from "chalk";

/**
 * The flags a command takes. A string flag's value must not be empty or blank (`--prefix ''` and `--prefix=` are
 * usage errors: an empty path or URL would silently mean "here" or "the default"); `allowEmpty` opts a flag out
 * where an empty value means something (`--runtime-arg=` clears the args).
 */
export type OptionSpec = Record<string, ParseArgsOptionDescriptor & { allowEmpty?: boolean }>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Arguments after a literal `--` (the command to run, for exec/preflight). */
  rest: string[] | null;
}

export interface IO {
  env: NodeJS.ProcessEnv;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** chalk for stdout / stderr, each with its own TTY decision. */
  c: ChalkInstance;
  ce: ChalkInstance;
  json: boolean;
  verbose: boolean;
  /** Whether a spinner may be shown on stderr. */
  spinner: boolean;
  /** Whether stdin is a terminal (prompts are allowed only then). */
  interactive: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** Full help text, printed by `<command> --help`. */
  help: string;
  options: OptionSpec;
  /** How many positionals the command takes (default 0). */
  maxPositionals?: number;
  /** Whether a `-- CMD ...` tail is allowed. */
  acceptsRest?: boolean;
  /** A command group (e.g. `k8s`): the first argument names one of these; `run` is not called. */
  subcommands?: Command[];
  run(p: Parsed, io: IO): Promise<number>;
}
