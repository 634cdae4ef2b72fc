// parseBooleanFlags (no node:util) takes the command lines made of boolean flags only; whatever it
// parses, parseCommandArgs parses the same way, and everything else it leaves to parseCommandArgs.
import { describe, expect, test } from "bun:test";
import { COMMON_OPTIONS, parseBooleanFlags } from "../../src/args-fast.ts";
import { parseCommandArgs, type Command } from "../../src/args.ts";
import { COMMANDS } from "../../src/commands/index.ts";

const commands = COMMANDS.flatMap((c) => (c.subcommands ? c.subcommands : [c]));
const plain = (p: unknown) => JSON.parse(JSON.stringify(p));

function lines(cmd: Command): string[][] {
  const spec = { ...COMMON_OPTIONS, ...cmd.options };
  const flags = Object.entries(spec).flatMap(([k, o]) => [`--${k}`, ...(o.short ? [`-${o.short}`] : [])]);
  return [
    [],
    ...flags.map((f) => [f]),
    flags,
    [...flags, ...flags],
    ["--json", "--", "app", "--json", "-v"],
    ["--"],
    ["-v", "--"],
    ["--json=1"],
    ["--json="],
    ["-vh"],
    ["-"],
    ["extra"],
    ["--frob"],
    ["-x"],
    ["--constructor"],
    ["--__proto__"],
    ["--toString"],
    ["---json"],
    ["--json", "extra"],
    ...flags.map((f) => [f, "value"]),
  ];
}

describe.each(commands.map((c) => [c.name, c] as const))("%s", (_name, cmd) => {
  test("where parseBooleanFlags parses, parseCommandArgs parses the same", () => {
    for (const argv of lines(cmd)) {
      const fast = parseBooleanFlags(cmd, argv);
      if (fast === null) continue;
      expect({ argv, parsed: plain(fast) }).toEqual({ argv, parsed: plain(parseCommandArgs(cmd, argv)) });
      expect(Object.getPrototypeOf(fast.values)).toBeNull();
    }
  });
  test("a value, --x=y, grouped short flags, a positional or an unknown flag: left to parseCommandArgs", () => {
    for (const argv of [["--json=1"], ["-vh"], ["extra"], ["--frob"], ["--constructor"], ["--__proto__"], ["-"]]) {
      expect({ argv, fast: parseBooleanFlags(cmd, argv) }).toEqual({ argv, fast: null });
    }
  });
});

test("preflight's command lines take the fast path (node:util is not loaded for them)", () => {
  const preflight = commands.find((c) => c.name === "preflight")!;
  const simple = [[], ["--json"], ["-v"], ["--require"], ["--require", "--", "app", "--x"], ["--print-script"], ["-h"]];
  for (const argv of simple) {
    expect({ argv, fast: parseBooleanFlags(preflight, argv) !== null }).toEqual({ argv, fast: true });
  }
  expect(parseBooleanFlags(preflight, ["--require", "--", "app"])!.rest).toEqual(["app"]);
});
