// `gvisor-doctor uninstall`: remove what `install` put under a prefix, and nothing else.
import type { Command, IO } from "../args.ts";
import { ActionError, EXIT } from "../../platform/os/errors.ts";
import { hostRootHelp, HOST_ROOT_OPTIONS, hostRootFlags, prefixFlag } from "../host-root-flags.ts";
import { SELF_ROOT } from "../../platform/os/host-root.ts";
import type { WrapperVerdict } from "../../platform/engines/edit/runtime-args.ts";
import type { DaemonSnapshot } from "../../platform/engines/snapshot.ts";

export const UNINSTALL_HELP = `Usage: gvisor-doctor uninstall [options]

Remove the gVisor versions gvisor-doctor installed under a prefix, its links in
<prefix>/bin, its state, and the directories it created (when empty). Files it did
not create are left alone; a file moved aside by 'install --force' is put back.
Wrapper scripts configure wrote for this runsc (<prefix>/libexec/gvisor-doctor) go
too, unless an engine still names one: then it stays and the engine is named.

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
export async function handOffToUnconfigure(
  hostPrefix: string,
  io: IO,
  dryRun: boolean,
  more: Partial<import("./configure.ts").ConfigureRequest> = {},
): Promise<import("./configure.ts").ConfigureReport | null> {
  const [
    { engineFacts },
    { dockerFacts },
    { findProcesses, DOCKERD_VALUE_FLAGS },
    { configureEngines, renderConfigureReport },
    { layoutFor },
    { ENGINE_NAMES, HOST_ROOT_ENGINES },
  ] = await Promise.all([
    import("../../platform/facts/engine-facts.ts"),
    import("../../platform/facts/host-facts.ts"),
    import("../../platform/os/processes.ts"),
    import("./configure.ts"),
    import("../../platform/release/layout.ts"),
    import("../../platform/engines/types.ts"),
  ]);
  const root = more.hostRoot ?? SELF_ROOT;
  // Runtime paths in configs are the node's: compare with the prefix as the node names it.
  const l = layoutFor(hostPrefix);
  const ours = (p: string | null | undefined) => !!p && (p.startsWith(`${l.binDir}/`) || p.startsWith(`${l.root}/`));
  // Only each engine's own config is needed (not the whole host's facts).
  const candidates = root.foreign ? HOST_ROOT_ENGINES : ENGINE_NAMES;
  // Docker's adapter reads `docker info` from the facts; the others need none.
  const dockerd = root.foreign ? [] : findProcesses(["dockerd"], DOCKERD_VALUE_FLAGS);
  const facts: DaemonSnapshot = root.foreign ? {} : { dockerd, docker: await dockerFacts(io.env, dockerd) };
  // An engine whose binary is gone may still have a config naming our runsc: it counts too.
  const inspect = (n: import("../../platform/engines/index.ts").EngineName) =>
    engineFacts(n, io.env, facts, root, { configWithoutEngine: true });
  const inspected = await Promise.all(candidates.map(inspect));
  const engines = candidates.filter((_, i) => ours(inspected[i].inspection?.runtimes.runsc?.path));
  if (!engines.length) return null;
  // The same daemon snapshot: `docker info` runs once.
  const report = await configureEngines(
    { ...more, engines: [...engines], explicit: true, remove: true, dryRun, pruneBackups: true, facts },
    io,
  );
  if (!io.json) await renderConfigureReport(report, io);
  return report;
}

/**
 * Run `fn` (the uninstall and its take-back of wrappers) holding the lock configure's writes take
 * (after configure's own locks, so the hand-off to configure --remove runs before, outside it).
 * Busy is a plain failure before anything was removed.
 */
async function holdingWrappersLock<T>(io: IO, fn: () => Promise<T>): Promise<T> {
  const [lock, { lockWaitMs }] = await Promise.all([
    import("../../platform/os/flock.ts"),
    import("../../platform/release/hooks.ts"),
  ]);
  try {
    return await lock.withLock(lock.wrappersLockPath(), fn, Math.min(lockWaitMs(io.env), 30_000), (pid) =>
      io.stderr(`waiting for another gvisor-doctor (pid ${pid ?? "?"}) writing engine configs…`),
    );
  } catch (e) {
    if (!(e instanceof lock.LockBusyError)) throw e;
    throw new ActionError(
      `${e.message}: it is writing engine configs and wrappers; nothing was removed`,
      `wait for it to finish, then run uninstall again${e.holder ? ` (ps -p ${e.holder} -o pid,args shows it)` : ""}`,
    );
  }
}

/** Remove (or list, with --dry-run) what wrapperVerdicts allows; rmdir <prefix>/libexec/gvisor-doctor when empty. */
async function takeBackWrappers(
  hostPrefix: string,
  io: IO,
  dryRun: boolean,
  root: import("../../platform/os/host-root.ts").HostRoot,
): Promise<WrapperVerdict[]> {
  const [fs, { engineFacts }, { layoutFor }, types, { DEFAULT_WRAPPER_DIR, wrapperVerdicts }] = await Promise.all([
    import("node:fs"),
    import("../../platform/facts/engine-facts.ts"),
    import("../../platform/release/layout.ts"),
    import("../../platform/engines/types.ts"),
    import("../../platform/engines/edit/runtime-args.ts"),
  ]);
  const { ENGINE_NAMES, HOST_ROOT_ENGINES } = types;
  const l = layoutFor(hostPrefix);
  const own = `${l.prefix === "/" ? "" : l.prefix}/libexec/gvisor-doctor`;
  const envDir = io.env.GVISOR_DOCTOR_WRAPPER_DIR;
  const dirs = [own, DEFAULT_WRAPPER_DIR, ...(envDir ? [envDir] : [])];
  const readUpTo = (max: number) => (p: string) => {
    let st: import("node:fs").Stats;
    try {
      st = fs.statSync(root.local(p));
    } catch {
      return null; // gone: names nothing
    }
    if (!st.isFile() || st.size > max) throw new Error(`${p}: not a config-sized regular file`);
    return fs.readFileSync(root.local(p), "utf8");
  };
  const read = (p: string) => {
    try {
      return fs.lstatSync(root.local(p)).isFile() ? readUpTo(64 * 1024)(p) : null;
    } catch {
      return null;
    }
  };
  const list = (d: string) => {
    try {
      return fs.readdirSync(root.local(d));
    } catch {
      return [];
    }
  };
  const ours = (p: string) => p.startsWith(`${l.binDir}/`) || p.startsWith(`${l.root}/`);
  if (!dirs.some((d) => list(d).length)) return [];
  // Which engines' config files (as the engines read them) still name a wrapper.
  const names = root.foreign ? HOST_ROOT_ENGINES : ENGINE_NAMES;
  const inspected = await Promise.all(names.map((n) => engineFacts(n, io.env, {}, root)));
  const configs = inspected.flatMap((f, i) =>
    (f.inspection?.files ?? []).filter((x) => x.exists).map((x) => ({ engine: names[i], path: x.path })),
  );
  // The caller holds the wrappers lock: no configure makes a config name a wrapper while this decides.
  const verdicts = wrapperVerdicts(dirs, read, readUpTo(4 << 20), list, ours, configs);
  for (const v of verdicts) {
    if (v.action === "remove" && !dryRun) fs.rmSync(root.local(v.path), { force: true });
  }
  if (!dryRun && verdicts.some((v) => v.action === "remove")) {
    try {
      fs.rmdirSync(root.local(own)); // only when empty
    } catch {}
  }
  return verdicts;
}

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Remove the gVisor that gvisor-doctor installed",
  help: UNINSTALL_HELP,
  options: {
    prefix: { type: "string" },
    "dry-run": { type: "boolean" },
    "no-configure": { type: "boolean" },
    restart: { type: "boolean" },
    ...HOST_ROOT_OPTIONS,
  },
  async run(p, io) {
    const [{ uninstall }, { sudoCommand }] = await Promise.all([
      import("../../platform/release/manage.ts"),
      import("../../platform/release/invocation.ts"),
    ]);
    const { root, restartCommand } = hostRootFlags(p);
    const { host: hostPrefix, local: prefix } = prefixFlag(p, root, io.env);
    try {
      const configure = p.values["no-configure"]
        ? null
        : await handOffToUnconfigure(hostPrefix, io, !!p.values["dry-run"], {
            hostRoot: root,
            restartCommand,
            restart: !!p.values.restart,
          });
      const dry = !!p.values["dry-run"];
      const work = async () => {
        const r = await uninstall({
          prefix,
          dryRun: dry,
          env: io.env,
          root: process.getuid?.() === 0,
          sudoCommand: sudoCommand(process.argv.slice(2), io.env),
          onWait: (pid) => io.stderr(`waiting for another gvisor-doctor (pid ${pid ?? "?"})…`),
        });
        // Wrappers configure wrote for this runsc live outside <prefix>/bin: taken back too, unless a config names one.
        const none = r.action === "nothing-installed";
        return { r, wrappers: none ? [] : await takeBackWrappers(hostPrefix, io, dry, root) };
      };
      const { r, wrappers } = dry ? await work() : await holdingWrappersLock(io, work);
      const gone = wrappers.filter((w) => w.action === "remove").map((w) => w.path);
      const kept = wrappers.filter((w) => w.action === "keep");
      if (!io.json) {
        if (r.action === "nothing-installed")
          io.stdout(`gvisor-doctor has nothing installed in ${root.show(hostPrefix)}; nothing to do`);
        else {
          io.stdout(
            r.action === "would-uninstall"
              ? "dry run: nothing was changed. uninstall would remove:"
              : `${io.c.green("uninstalled")} gVisor from ${root.show(hostPrefix)}:`,
          );
          for (const f of [...r.removed.map(root.host), ...gone]) {
            io.stdout(`  ${r.action === "would-uninstall" ? "" : "removed "}${f}`);
          }
          for (const f of r.restored)
            io.stdout(`  ${r.action === "would-uninstall" ? "restore " : "restored "}${root.host(f)}`);
        }
      }
      for (const w of kept) {
        const users = `${w.usedBy.join(", ")} still ${w.usedBy.length > 1 ? "use" : "uses"} it`;
        io.stderr(
          `warning: ${w.path} runs ${hostPrefix}'s runsc, which is gone, and ${users}: ` +
            `left in place; unregister it: gvisor-doctor configure ${w.usedBy.join(" ")} --remove`,
        );
      }
      if (io.json) {
        io.stdout(
          JSON.stringify(
            {
              schemaVersion: 1,
              command: "uninstall",
              ok: true,
              action: r.action,
              hostRoot: root.foreign ? root.dir : null,
              prefix: hostPrefix,
              removed: [...r.removed.map(root.host), ...gone],
              restored: r.restored.map(root.host),
              wrappersInUse: kept.map((w) => ({ path: w.path, engines: w.usedBy })),
              configure,
            },
            null,
            2,
          ),
        );
      }
      return configure?.exitCode ?? EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError)
        io.stdout(
          JSON.stringify(
            { schemaVersion: 1, command: "uninstall", ok: false, error: { message: e.message, hint: e.hint ?? null } },
            null,
            2,
          ),
        );
      throw e;
    }
  },
};
