// `gvisor-doctor uninstall`: remove what `install` put under a prefix, and nothing else.
import type { Command, IO } from "../args.ts";
import { ActionError, EXIT } from "../errors.ts";
import { hostRootHelp, HOST_ROOT_OPTIONS, hostRootFlags, prefixFlag } from "../host-root-flags.ts";
import { SELF_ROOT } from "../../platform/host-root.ts";

export const UNINSTALL_HELP = `Usage: gvisor-doctor uninstall [options]

Remove the gVisor versions gvisor-doctor installed under a prefix, its links in
<prefix>/bin, its state, and the directories it created (when empty). Files it did
not create are left alone; a file moved aside by 'install --force' is put back.

Options:
  --prefix DIR      The prefix given to install (default /usr/local)
  --no-configure    Leave the engines' runsc runtime alone (by default it is unregistered
                    from every engine whose runtime points into this prefix, first; when
                    that puts a config back byte for byte, its backups are deleted too)
  --restart         Restart engines without live reload (containerd, CRI-O) so they drop
                    the runtime before its binary goes
${hostRootHelp(20)}
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
export async function handOffToUnconfigure(hostPrefix: string, io: IO, dryRun: boolean, more: Partial<import("./configure.ts").ConfigureRequest> = {}): Promise<import("./configure.ts").ConfigureReport | null> {
  const [{ engineFacts }, { dockerFacts }, { findProcesses, DOCKERD_VALUE_FLAGS }, { configureEngines, renderConfigureReport }, { layoutFor }, { ENGINE_NAMES, HOST_ROOT_ENGINES }] = await Promise.all([
    import("../../platform/engine-facts.ts"), import("../../platform/facts.ts"), import("../../platform/procs.ts"), import("./configure.ts"), import("../../platform/release/layout.ts"), import("../../platform/engines/types.ts"),
  ]);
  const root = more.hostRoot ?? SELF_ROOT;
  // Runtime paths in configs are the node's: compare with the prefix as the node names it.
  const l = layoutFor(hostPrefix);
  const ours = (p: string | null | undefined) => !!p && (p.startsWith(`${l.binDir}/`) || p.startsWith(`${l.root}/`));
  // Only each engine's own config is needed (not the whole host's facts).
  const candidates = root.foreign ? HOST_ROOT_ENGINES : ENGINE_NAMES;
  // Docker's adapter reads `docker info` from the facts; the others need none.
  const dockerd = root.foreign ? [] : findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS);
  const facts = root.foreign ? {} : { dockerd, docker: await dockerFacts(io.env, dockerd) };
  // An engine whose binary is gone may still have a config naming our runsc: it counts too.
  const inspect = (n: import("../../platform/engines/index.ts").EngineName) =>
    engineFacts(n, io.env, facts, root, { configWithoutEngine: true });
  const inspected = await Promise.all(candidates.map(inspect));
  const engines = candidates.filter((_, i) => ours(inspected[i].inspection?.runtimes.runsc?.path));
  if (!engines.length) return null;
  // The same partial facts: `docker info` runs once.
  const report = await configureEngines({ ...more, engines: [...engines], explicit: true, remove: true, dryRun, pruneBackups: true, facts: facts as import("../../platform/facts.ts").HostFacts }, io);
  if (!io.json) await renderConfigureReport(report, io);
  return report;
}

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Remove the gVisor that gvisor-doctor installed",
  help: UNINSTALL_HELP,
  options: { prefix: { type: "string" }, "dry-run": { type: "boolean" }, "no-configure": { type: "boolean" }, restart: { type: "boolean" }, ...HOST_ROOT_OPTIONS },
  async run(p, io) {
    const [{ uninstall }, { sudoCommand }] = await Promise.all([import("../../platform/release/manage.ts"), import("../../platform/release/invocation.ts")]);
    const { root, restartCommand } = hostRootFlags(p);
    const { host: hostPrefix, local: prefix } = prefixFlag(p, root, io.env);
    try {
      const configure = p.values["no-configure"] ? null : await handOffToUnconfigure(hostPrefix, io, !!p.values["dry-run"], { hostRoot: root, restartCommand, restart: !!p.values.restart });
      const r = await uninstall({
        prefix, dryRun: !!p.values["dry-run"], env: io.env,
        root: process.getuid?.() === 0, sudoCommand: sudoCommand(process.argv.slice(2), io.env),
        onWait: (pid) => io.stderr(`waiting for another gvisor-doctor (pid ${pid ?? "?"})…`),
      });
      if (!io.json) {
        if (r.action === "nothing-installed") io.stdout(`gvisor-doctor has nothing installed in ${root.show(hostPrefix)}; nothing to do`);
        else {
          io.stdout(r.action === "would-uninstall" ? "dry run: nothing was changed. uninstall would remove:" : `${io.c.green("uninstalled")} gVisor from ${root.show(hostPrefix)}:`);
          for (const f of r.removed) io.stdout(`  ${r.action === "would-uninstall" ? "" : "removed "}${root.host(f)}`);
          for (const f of r.restored) io.stdout(`  ${r.action === "would-uninstall" ? "restore " : "restored "}${root.host(f)}`);
        }
      }
      if (io.json) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: true, action: r.action, hostRoot: root.foreign ? root.dir : null, prefix: hostPrefix, removed: r.removed.map(root.host), restored: r.restored.map(root.host), configure }, null, 2));
      return configure?.exitCode ?? EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError) io.stdout(JSON.stringify({ schemaVersion: 1, command: "uninstall", ok: false, error: { message: e.message, hint: e.hint ?? null } }, null, 2));
      throw e;
    }
  },
};
