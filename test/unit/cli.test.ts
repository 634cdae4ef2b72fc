import { describe, expect, test } from "bun:test";
import { parseCommandArgs, listOption } from "../../src/args.ts";
import { resolveCommand, runArgv } from "../../src/dispatch.ts";
import { COMMANDS } from "../../src/commands/index.ts";
import { boundMessage, ECHO_MAX, echoInput, MESSAGE_LINE_MAX } from "../../platform/os/echo-input.ts";
import { checkCommand } from "../../src/commands/check.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { colorLevel } from "../../src/ui/color.ts";
import { spinnerAllowed } from "../../src/ui/spinner.ts";
import { recordingIO } from "../helpers/io.ts";

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

describe("empty option values", () => {
  // Every command and subcommand, with every string flag it takes.
  const all = COMMANDS.flatMap((c) => (c.subcommands ? [c, ...c.subcommands] : [c]));
  const stringFlags = all.flatMap((c) =>
    Object.entries(c.options)
      .filter(([, o]) => o.type === "string")
      .map(([f, o]) => ({ c, f, o })),
  );
  test("--prefix '', --prefix= and --mirror '' are usage errors that name the flag", () => {
    const install = all.find((c) => c.name === "install")!;
    for (const argv of [["--prefix", ""], ["--prefix="], ["--mirror", ""], ["--mirror="]]) {
      const flag = argv[0].replace(/=$/, "");
      expect(() => parseCommandArgs(install, argv)).toThrow(`${flag} needs a value, got an empty one`);
    }
    // openSource() trims: "  " fell back to the public bucket just like "".
    expect(() => parseCommandArgs(install, ["--mirror", "  "])).toThrow("--mirror needs a value, got only white space");
  });
  test("every string flag of every command refuses an empty value, unless it opts out", () => {
    expect(stringFlags.length).toBeGreaterThan(30);
    for (const { c, f, o } of stringFlags) {
      if (o.allowEmpty) continue;
      const repeated = o.multiple ? [[`--${f}=x`, `--${f}=`]] : [];
      for (const argv of [[`--${f}`, ""], [`--${f}=`], [`--${f}`, " \t"], ...repeated]) {
        let err: unknown;
        try {
          parseCommandArgs(c, argv);
        } catch (e) {
          err = e;
        }
        expect({ cmd: c.name, argv, usage: err instanceof UsageError }).toEqual({ cmd: c.name, argv, usage: true });
      }
    }
  });
  test("the opt-outs are exactly the flags where empty means something: --runtime-arg= clears the args", () => {
    const optedOut = stringFlags.filter(({ o }) => o.allowEmpty).map(({ c, f }) => `${c.name} --${f}`);
    expect(optedOut.sort()).toEqual(["configure --runtime-arg", "install --runtime-arg"]);
    const configure = all.find((c) => c.name === "configure")!;
    expect(parseCommandArgs(configure, ["--runtime-arg="]).values["runtime-arg"]).toEqual([""]);
  });
  test("through the CLI: exit 2 and nothing printed on stdout", async () => {
    const io = recordingIO();
    const { out, err } = io;
    expect(await runArgv(["k8s", "manifests", "--mirror", ""], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join("\n")).toContain("--mirror needs a value");
  });
});

describe("input echoed in errors is bounded (issue 14: 100 KB flag values printed twice)", () => {
  const big = `${"x".repeat(100_000)}\u001b[31mred`;
  const cli = async (argv: string[]) => {
    const io = recordingIO();
    return { code: await runArgv(argv, io), err: io.err.join("\n") };
  };
  test.each([
    ["an unknown command", [big]],
    ["an unknown option", [`--${big}`]],
    ["an unexpected argument", ["check", big]],
    ["exec --via", ["exec", "--via", big, "--", "true"]],
    ["exec --mount", ["exec", "--mount", big, "--", "true"]],
    ["exec --timeout", ["exec", "--timeout", big, "--", "true"]],
    ["install --version", ["install", "--version", big]],
    ["install --format", ["install", "--format", big]],
    ["k8s manifests --version", ["k8s", "manifests", "--version", big]],
    ["check --only", ["check", "--only", big]],
    ["configure an unknown engine", ["configure", big]],
  ])("%s: a usage error of a few hundred bytes, without the terminal escape", async (_, argv) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err.length).toBeLessThan(1500);
    expect(r.err).toMatch(/… \(1000[01]\d characters\)/);
    expect(r.err).not.toContain("\u001b");
  });
  test("echoInput: short input as is, control characters escaped, long input cut with its length", () => {
    expect(echoInput("/usr/local")).toBe("/usr/local");
    expect(echoInput("a\nb\tc\u001b[2J\u009b")).toBe("a\\nb\\tc\\x1b[2J\\x9b");
    expect(echoInput("y".repeat(500))).toBe(`${"y".repeat(ECHO_MAX)}… (500 characters)`);
    expect(echoInput(`${"y".repeat(ECHO_MAX - 1)}😀`)).toBe(`${"y".repeat(ECHO_MAX - 1)}… (121 characters)`);
  });
  test("boundMessage, the backstop for every printed error: lines cut, newlines and tabs kept", () => {
    expect(boundMessage("one\n\ttwo")).toBe("one\n\ttwo");
    const long = `a\n${"z".repeat(5000)}\u001b`;
    expect(boundMessage(long)).toBe(`a\n${"z".repeat(MESSAGE_LINE_MAX)}… (5001 characters)`);
  });
});

describe("color and spinner policy", () => {
  const tty = { isTTY: true };
  test("NO_COLOR turns color off even on a TTY (chalk ignores it)", () =>
    expect(colorLevel(tty, { NO_COLOR: "1" }, false)).toBe(0));
  test("an empty NO_COLOR does not count", () => expect(colorLevel(tty, { NO_COLOR: "" }, false)).toBeGreaterThan(0));
  test("FORCE_COLOR forces color into a pipe", () =>
    expect(colorLevel({ isTTY: false }, { FORCE_COLOR: "1" }, false)).toBe(1));
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
