// `gvisor-doctor uninstall`: remove what `install` put under a prefix, and nothing else.
import type { Command, IO } from "../args.ts";
import { ActionError, EXIT } from "../errors.ts";

export const UNINSTALL_HELP = `Usage: gvisor-doctor uninstall [options]

Remove the gVisor versions gvisor-doctor installed under a prefix, its links in
<prefix>/bin, its state, and the directories it created (when empty). Files it did
not create are left alone; a file moved aside by 'install --force' is put back.

Options:
  --prefix DIR      The prefix given to install (default /usr/local)
  --no-configure    Do not hand over to engine configuration (removing the runtime)
  --dry-run         List what would be removed; change nothing
  --json            Print one JSON result document on stdout
  -v, --verbose     More detail

Exit codes: 0 removed (or nothing was installed) · 1 failed · 2 usage error`;

/**
 * Engine configuration after an uninstall. The engines issue provides `gvisor-doctor
 * configure --remove`; until it is wired in here, say what to run. Returns the command.
 */
export function handOffToUnconfigure(io: IO): string {
  const cmd = "gvisor-doctor configure --remove";
  if (!io.json) io.stdout(`next: remove the runsc runtime from your container engines:\n  ${cmd}`);
  return cmd;
}

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Remove the gVisor that gvisor-doctor installed",
  help: UNINSTALL_HELP,
  options: { prefix: { type: "string" }, "dry-run": { type: "boolean" }, "no-configure": { type: "boolean" } },
  async run(p, io) {
    const [{ uninstall }, { expandPrefix, sudoCommand }] = await Promise.all([import("../../platform/release/manage.ts"), import("../../platform/release/invocation.ts")]);
    try {
      const r = await uninstall({
        prefix: expandPrefix((p.values.prefix as string | undefined) ?? "/usr/local", io.env), dryRun: !!p.values["dry-run"], env: io.env,
        root: process.getuid?.() === 0, sudoCommand: sudoCommand(process.argv.slice(2), io.env),
        onWait: (pid) => io.stderr(`waiting for another gvisor-doctor (pid ${pid ?? "?"})…`),
      });
      if (!io.json) {
        if (r.action === "nothing-installed") io.stdout(`gvisor-doctor has nothing installed in ${r.layout.prefix}; nothing to do`);
        else {
          io.stdout(r.action === "would-uninstall" ? "dry run: nothing was changed. uninstall would remove:" : `${io.c.green("uninstalled")} gVisor from ${r.layout.prefix}:`);
          for (const f of r.removed) io.stdout(`  ${r.action === "would-uninstall" ? "" : "removed "}${f}`);
          for (const f of r.restored) io.stdout(`  ${r.action === "would-uninstall" ? "restore " : "restored "}${f}`);
        }
      }
      const next = r.action === "uninstalled" && !p.values["no-configure"] ? handOffToUnconfigure(io) : null;
      if (io.json) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: true, action: r.action, prefix: r.layout.prefix, removed: r.removed, restored: r.restored, next }, null, 2));
      return EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: false, error: { message: e.message, hint: e.hint ?? null } }, null, 2));
      throw e;
    }
  },
};
