import { describe, expect, test } from "bun:test";
import { parseCommandArgs, listOption } from "../../src/args.ts";
import { resolveCommand } from "../../src/dispatch.ts";
import { checkCommand } from "../../src/commands/check.ts";
import { UsageError } from "../../src/errors.ts";
import { colorLevel } from "../../src/ui/color.ts";
import { spinnerAllowed } from "../../src/ui/spinner.ts";

describe("argument parsing", () => {
  test("no command means check", () => {
    expect(resolveCommand(["--json"]).cmd.name).toBe("check");
  });
  test("unknown commands and flags are usage errors with a hint", () => {
    expect(() => resolveCommand(["frobnicate"])).toThrow(UsageError);
    try {
      parseCommandArgs(checkCommand, ["--frob"]);
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).message).toBe("unknown option --frob for 'check'");
      expect((e as UsageError).hint).toContain("gvisor-doctor check --help");
    }
  });
  test("a flag that needs a value says so", () => {
    expect(() => parseCommandArgs(checkCommand, ["--only"])).toThrow(/--only needs a value/);
  });
  test("--only accepts repeated and comma-separated ids", () => {
    const p = parseCommandArgs(checkCommand, ["--only", "docker,host.kernel", "--only", "runsc"]);
    expect(listOption(p.values.only)).toEqual(["docker", "host.kernel", "runsc"]);
  });
});

describe("color and spinner policy", () => {
  const tty = { isTTY: true };
  test("NO_COLOR turns color off even on a TTY (chalk ignores it)", () => expect(colorLevel(tty, { NO_COLOR: "1" }, false)).toBe(0));
  test("an empty NO_COLOR does not count", () => expect(colorLevel(tty, { NO_COLOR: "" }, false)).toBeGreaterThan(0));
  test("FORCE_COLOR forces color into a pipe", () => expect(colorLevel({ isTTY: false }, { FORCE_COLOR: "1" }, false)).toBe(1));
  test("--no-color beats FORCE_COLOR", () => expect(colorLevel(tty, { FORCE_COLOR: "3" }, true)).toBe(0));
  test("a pipe gets no color", () => expect(colorLevel({ isTTY: false }, {}, false)).toBe(0));
  test("no spinner on a 0-column TTY (ora would loop) or in CI", () => {
    expect(spinnerAllowed({ isTTY: true, columns: 0 } as any, {})).toBe(false);
    expect(spinnerAllowed({ isTTY: true, columns: 80 } as any, { CI: "false" })).toBe(false);
    expect(spinnerAllowed({ isTTY: true, columns: 80 } as any, {})).toBe(true);
  });
});

describe("no color without chalk", () => {
  test("PLAIN styles like chalk at level 0 (chained, several arguments, non-strings), and color loads chalk", async () => {
    const { Chalk } = await import("chalk");
    const { PLAIN, makeChalk } = await import("../../src/ui/color.ts");
    const ref = new Chalk({ level: 0 });
    for (const args of [["a"], ["a", "b"], [5], [], [""]] as unknown[][]) {
      expect(PLAIN.bold.red(...args)).toBe(ref.bold.red(...args));
      expect(PLAIN.dim(...args)).toBe(ref.dim(...args));
    }
    expect(await makeChalk(0)).toBe(PLAIN);
    expect((await makeChalk(1)).red("x")).toBe("\u001b[31mx\u001b[39m");
  });
});
