// Argument parsing on node:util parseArgs (Bun, Deno and Node all ship it), with
// usage errors that name the problem in one line and say where help is.
import { parseArgs, type ParseArgsOptionDescriptor } from "node:util";
import type { ChalkInstance } from "chalk";
import { boundMessage, echoInput } from "../platform/echo-input.ts";
import { UsageError } from "../platform/errors.ts";
import { MAX_SECONDS, parseDecimal } from "../platform/numbers.ts";

/**
 * The flags a command takes. A string flag's value must not be empty or blank (`--prefix ''` and `--prefix=` are
 * usage errors: an empty path or URL would silently mean "here" or "the default"); `allowEmpty` opts a flag out
 * where an empty value means something (`--runtime-arg=` clears the args).
 */
export type OptionSpec = Record<string, ParseArgsOptionDescriptor & { allowEmpty?: boolean }>;

/** Flags every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

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

export function parseCommandArgs(cmd: Command, argv: string[]): Parsed {
  const dd = argv.indexOf("--");
  const head = dd >= 0 ? argv.slice(0, dd) : argv;
  const rest = dd >= 0 ? argv.slice(dd + 1) : null;
  if (rest && !cmd.acceptsRest) throw new UsageError(`'${cmd.name}' takes no arguments after --`, `see: gvisor-doctor ${cmd.name} --help`);
  const spec: OptionSpec = { ...COMMON_OPTIONS, ...cmd.options };
  // parseArgs gets only its own keys.
  const options = Object.fromEntries(Object.entries(spec).map(([k, { allowEmpty: _, ...o }]) => [k, o]));
  let parsed;
  try {
    parsed = parseArgs({ args: head, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const found = err.message.match(/option '(-[^' ]+)/i)?.[1] ?? err.message.match(/'(-[^' ]+)/)?.[1];
    const opt = found === undefined ? undefined : echoInput(found);
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${opt ?? ""} for '${cmd.name}'`.trim(), `see: gvisor-doctor ${cmd.name} --help`);
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${opt ?? "an option"} ${/argument missing/.test(err.message) ? "needs a value" : "takes no value"}`, `see: gvisor-doctor ${cmd.name} --help`);
    throw new UsageError(boundMessage(err.message), `see: gvisor-doctor ${cmd.name} --help`);
  }
  const max = cmd.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument '${echoInput(parsed.positionals[max])}' for '${cmd.name}'`, `see: gvisor-doctor ${cmd.name} --help`);
  }
  for (const [name, v] of Object.entries(parsed.values)) {
    const blank = (Array.isArray(v) ? v : [v]).find((s) => typeof s === "string" && s.trim() === "");
    if (blank !== undefined && !spec[name]?.allowEmpty) {
      const got = blank === "" ? "an empty one" : "only white space";
      throw new UsageError(`--${name} needs a value, got ${got}`, `see: gvisor-doctor ${cmd.name} --help`);
    }
  }
  return { values: parsed.values as Parsed["values"], positionals: parsed.positionals, rest };
}

/** Split comma-separated list options (`--only a,b --only c`). */
export function listOption(v: string | boolean | string[] | undefined): string[] {
  if (v === undefined || typeof v === "boolean") return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
}

/** A `--flag SECONDS` option (fractions allowed, at most MAX_SECONDS), or the default when absent. */
export function secondsOption(flag: string, v: string | boolean | string[] | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const what = "a number of seconds";
  return parseDecimal(flag, String(v), { min: 0.001, max: MAX_SECONDS, what }, `e.g. ${flag} ${fallback}`);
}
