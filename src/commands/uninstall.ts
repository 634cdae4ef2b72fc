// `gvisor-doctor uninstall`: remove what `install` put under a prefix, and nothing else.
import type { Command, IO } from "../args.ts";
import { ActionError, EXIT } from "../errors.ts";

export const UNINSTALL_HELP = `Usage: gvisor-doctor uninstall [options]

Remove the gVisor versions gvisor-doctor installed under a prefix, its links in
<prefix>/bin, its state, and the directories it created (when empty). Files it did
not create are left alone; a file moved aside by 'install --force' is put back.

Options:
  --prefix DIR      The prefix given to install (default /usr/local)
  --no-configure    Leave the engines' runsc runtime alone (by default it is unregistered
                    from every engine whose runtime points into this prefix, first)
  --dry-run         List what would be removed; change nothing
  --json            Print one JSON result document on stdout
  -v, --verbose     More detail

Exit codes: 0 removed (or nothing was installed) · 1 failed · 2 usage error`;

/**
 * Before the binaries go: unregister the runtime from every engine whose runsc runtime
 * points into this prefix (directly or through a gvisor-doctor wrapper), so no engine is
 * left with a runtime path that no longer exists. Engines whose runsc is another binary
 * (a distro package, a hand install) are left alone.
 */
export async function handOffToUnconfigure(prefix: string, io: IO, dryRun: boolean): Promise<import("./configure.ts").ConfigureReport | null> {
  const [{ gatherFacts }, { configureEngines, renderConfigureReport }] = await Promise.all([import("../../platform/facts.ts"), import("./configure.ts")]);
  const facts = await gatherFacts({ env: io.env });
  const { layoutFor } = await import("../../platform/release/layout.ts");
  const l = layoutFor(prefix);
  const ours = (p: string | null | undefined) => !!p && (p.startsWith(`${l.binDir}/`) || p.startsWith(`${l.root}/`));
  const { ENGINE_NAMES } = await import("../../platform/engines/types.ts");
  const engines = ENGINE_NAMES.filter((n) => ours(facts.engines?.[n].inspection?.runtimes.runsc?.path));
  if (!engines.length) return null;
  const report = await configureEngines({ engines: [...engines], explicit: true, remove: true, dryRun, facts }, io);
  if (!io.json) await renderConfigureReport(report, io);
  return report;
}

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Remove the gVisor that gvisor-doctor installed",
  help: UNINSTALL_HELP,
  options: { prefix: { type: "string" }, "dry-run": { type: "boolean" }, "no-configure": { type: "boolean" } },
  async run(p, io) {
    const [{ uninstall }, { expandPrefix, sudoCommand }] = await Promise.all([import("../../platform/release/manage.ts"), import("../../platform/release/invocation.ts")]);
    const prefix = expandPrefix((p.values.prefix as string | undefined) ?? "/usr/local", io.env);
    try {
      const configure = p.values["no-configure"] ? null : await handOffToUnconfigure(prefix, io, !!p.values["dry-run"]);
      const r = await uninstall({
        prefix, dryRun: !!p.values["dry-run"], env: io.env,
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
      if (io.json) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: true, action: r.action, prefix: r.layout.prefix, removed: r.removed, restored: r.restored, configure }, null, 2));
      return configure?.exitCode ?? EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: false, error: { message: e.message, hint: e.hint ?? null } }, null, 2));
      throw e;
    }
  },
};
