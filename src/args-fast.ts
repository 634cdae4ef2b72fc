// The command line most starts have, parsed without node:util (its parseArgs costs ~2 ms of CPU
// to load; `preflight` is a container's entrypoint): every argument before `--` is one of the
// command's boolean flags, spelled out (`--json`, `-v`, `--require`). Anything else (a value,
// `--x=y`, grouped `-vh`, a positional, an unknown flag) is left to parseCommandArgs in args.ts,
// which parses it or words the usage error; where both parse, they agree (test/unit/args-fast.test.ts).
import type { Command, OptionSpec, Parsed } from "./command.ts";

/** Flags every command accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** `argv` parsed when it holds only boolean flags (and a `--` tail the command takes); null otherwise. */
export function parseBooleanFlags(cmd: Command, argv: string[]): Parsed | null {
  const dd = argv.indexOf("--");
  const rest = dd >= 0 ? argv.slice(dd + 1) : null;
  if (rest && !cmd.acceptsRest) return null;
  const spec: OptionSpec = { ...COMMON_OPTIONS, ...cmd.options };
  if (Object.values(spec).some((o) => o.default !== undefined)) return null; // parseArgs fills defaults in
  const values: Parsed["values"] = Object.create(null); // as parseArgs makes it: no inherited keys
  for (const a of dd >= 0 ? argv.slice(0, dd) : argv) {
    const short = /^-[^-]$/.test(a) ? Object.keys(spec).find((k) => spec[k].short === a[1]) : undefined;
    const name = /^--./.test(a) ? a.slice(2) : short;
    if (name === undefined || !Object.hasOwn(spec, name)) return null;
    if (spec[name].type !== "boolean" || spec[name].multiple) return null;
    values[name] = true;
  }
  return { values, positionals: [], rest };
}
