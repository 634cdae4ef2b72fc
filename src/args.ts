// Argument parsing on node:util parseArgs (Bun, Deno and Node all ship it), with
// usage errors that name the problem in one line and say where help is.
import { parseArgs } from "node:util";
import { COMMON_OPTIONS } from "./args-fast.ts";
import type { Command, OptionSpec, Parsed } from "./command.ts";
import { boundMessage, echoInput } from "../platform/os/echo-input.ts";
import { UsageError } from "../platform/os/errors.ts";
import { MAX_SECONDS, parseDecimal } from "../platform/os/numbers.ts";

export type { Command, IO, OptionSpec, Parsed } from "./command.ts";

export function parseCommandArgs(cmd: Command, argv: string[]): Parsed {
  const dd = argv.indexOf("--");
  const head = dd >= 0 ? argv.slice(0, dd) : argv;
  const rest = dd >= 0 ? argv.slice(dd + 1) : null;
  if (rest && !cmd.acceptsRest)
    throw new UsageError(`'${cmd.name}' takes no arguments after --`, `see: gvisor-doctor ${cmd.name} --help`);
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
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION")
      throw new UsageError(
        `unknown option ${opt ?? ""} for '${cmd.name}'`.trim(),
        `see: gvisor-doctor ${cmd.name} --help`,
      );
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
      throw new UsageError(
        `${opt ?? "an option"} ${/argument missing/.test(err.message) ? "needs a value" : "takes no value"}`,
        `see: gvisor-doctor ${cmd.name} --help`,
      );
    throw new UsageError(boundMessage(err.message), `see: gvisor-doctor ${cmd.name} --help`);
  }
  const max = cmd.maxPositionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(
      `unexpected argument '${echoInput(parsed.positionals[max])}' for '${cmd.name}'`,
      `see: gvisor-doctor ${cmd.name} --help`,
    );
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
  return (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A `--flag SECONDS` option (fractions allowed, at most MAX_SECONDS), or the default when absent. */
export function secondsOption(flag: string, v: string | boolean | string[] | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const what = "a number of seconds";
  return parseDecimal(flag, String(v), { min: 0.001, max: MAX_SECONDS, what }, `e.g. ${flag} ${fallback}`);
}
