// Run one gvisor-doctor invocation (argv without the program name) with a given IO:
// pick the command, parse its flags, run it, and map errors to the documented exit
// codes. The CLI entry uses it, and so does `--fix`, which applies fixes by running
// the very gvisor-doctor commands it prints.
import type { Command, IO } from "./args.ts";
import { COMMANDS } from "./commands/index.ts";
import { echoInput } from "../platform/os/echo-input.ts";
import { EXIT, UsageError } from "../platform/os/errors.ts";
import { reportError, runCommand } from "./run-command.ts";
import { VERSION, versionText } from "./version.ts";

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `gvisor-doctor ${VERSION} — install gVisor (runsc), register it with your container engines, and prove it works.

Usage: gvisor-doctor [command] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

Without a command, runs 'check' ('gvisor-doctor --fix' is 'check --fix').
'gvisor-doctor <command> --help' shows a command's options.

Global options:
  --json          Machine-readable output on stdout (logs on stderr)
  -v, --verbose   Details, timings and every command run
  --no-color      No colors (NO_COLOR=1 works too; FORCE_COLOR=1 forces colors)
  --version       Print the version
  -h, --help      This help

Exit codes: 0 ok · 1 a check or action failed · 2 usage or internal error · 3 restart pending`;
}

/** Find the command: first non-flag argument, default `check`. */
export function resolveCommand(argv: string[]): { cmd: Command; args: string[] } {
  const first = argv[0];
  if (first !== undefined && !first.startsWith("-")) {
    const cmd = COMMANDS.find((c) => c.name === first);
    if (!cmd) {
      const near = COMMANDS.find((c) => c.name.startsWith(first.slice(0, 3)));
      throw new UsageError(
        `unknown command '${echoInput(first)}'`,
        near ? `did you mean '${near.name}'? see: gvisor-doctor --help` : "see: gvisor-doctor --help",
      );
    }
    return cmd.subcommands ? resolveSubcommand(cmd, argv.slice(1)) : { cmd, args: argv.slice(1) };
  }
  return { cmd: COMMANDS.find((c) => c.name === "check")!, args: argv };
}

/** `k8s manifests ...`: the group's first argument picks the subcommand (named "k8s manifests"). */
function resolveSubcommand(group: Command, args: string[]): { cmd: Command; args: string[] } {
  const first = args[0];
  const names = group.subcommands!.map((c) => c.name.split(" ").at(-1)).join(", ");
  if (first === undefined || first.startsWith("-")) {
    // `k8s --help` (or nothing): the group's own help.
    if (first === "--help" || first === "-h") return { cmd: group, args };
    throw new UsageError(`'${group.name}' needs a subcommand: ${names}`, `see: gvisor-doctor ${group.name} --help`);
  }
  const cmd = group.subcommands!.find((c) => c.name === `${group.name} ${first}`);
  if (!cmd)
    throw new UsageError(
      `unknown subcommand '${group.name} ${echoInput(first)}'`,
      `${group.name} has: ${names}; see: gvisor-doctor ${group.name} --help`,
    );
  return { cmd, args: args.slice(1) };
}

export async function runArgv(argv: string[], io: IO): Promise<number> {
  try {
    if (argv[0] === "--version" || argv[0] === "-V") {
      io.stdout(versionText(io.json));
      return EXIT.OK;
    }
    if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
      io.stdout(mainHelp());
      return EXIT.OK;
    }
    if (argv[0] === "help") {
      const group = argv[1] ? COMMANDS.find((c) => c.name === argv[1]) : undefined;
      const target =
        group?.subcommands && argv[2]
          ? (group.subcommands.find((c) => c.name === `${group.name} ${argv[2]}`) ?? group)
          : group;
      io.stdout(target ? target.help : mainHelp());
      return EXIT.OK;
    }
    const { cmd, args } = resolveCommand(argv);
    return await runCommand(cmd, args, io);
  } catch (e) {
    return reportError(e, io);
  }
}
