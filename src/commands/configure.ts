// `gvisor-doctor configure`: register runsc with Docker, containerd, Podman and CRI-O
// (or --remove it). Thin: the work is in src/configure-engines.ts, imported lazily so
// `--version` and `check --quick` never load the config editors.
import type { Command, IO, Parsed } from "../args.ts";
import type { ConfigureReport, ConfigureRequest } from "../configure-engines.ts";
import { echoInput } from "../../platform/os/echo-input.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { hostRootHelp, HOST_ROOT_OPTIONS, hostRootFlags } from "../host-root-flags.ts";
import { DEFAULT_WRAPPER_DIR, INSTALLED_RUNSC } from "../../platform/engines/edit/runtime-args.ts";
import { ENGINE_NAMES, type EngineName } from "../../platform/engines/types.ts";

export type { ConfigureReport, ConfigureRequest, EngineReport, EngineStatus } from "../configure-engines.ts";

/** Register (or remove) runsc with the engines: install, uninstall and --fix call this. */
export async function configureEngines(req: ConfigureRequest, io: IO): Promise<ConfigureReport> {
  return (await import("../configure-engines.ts")).configureEngines(req, io);
}

/** Print a report the way `configure` does (stdout). */
export async function renderConfigureReport(r: ConfigureReport, io: IO): Promise<void> {
  (await import("../configure-engines.ts")).renderConfigureReport(r, io);
}

/** What `configure`'s flags ask configureEngines for (usage errors thrown). --fix builds the same from its action. */
export function configureRequestFrom(p: Parsed): ConfigureRequest {
  const names = p.positionals.flatMap((s) => s.split(",")).filter(Boolean);
  for (const n of names)
    if (n !== "all" && !(ENGINE_NAMES as readonly string[]).includes(n))
      throw new UsageError(`unknown engine '${echoInput(n)}'`, `engines: ${ENGINE_NAMES.join(", ")}, all`);
  const engines = names.includes("all") || !names.length ? undefined : (names as EngineName[]);
  const v = p.values;
  const { root, restartCommand } = hostRootFlags(p);
  if (v.remove && v.default) throw new UsageError("--default and --remove contradict each other");
  // Each --runtime-arg is one flag (no comma splitting: values may contain commas); --runtime-arg= clears them.
  const runtimeArgs =
    v["runtime-arg"] === undefined ? undefined : (v["runtime-arg"] as string[]).filter((a) => a !== "");
  return {
    engines,
    explicit: !!engines,
    configPath: v.config as string | undefined,
    runscPath: v.runsc as string | undefined,
    runtimeName: v["runtime-name"] as string | undefined,
    runtimeArgs,
    makeDefault: !!v.default,
    remove: !!v.remove,
    dryRun: !!v["dry-run"],
    reload: !v["no-reload"],
    restart: !!v.restart,
    verify: !v["no-verify"],
    force: !!v.force,
    migrate: !!v.migrate,
    marker: !!v.marker,
    wrapperDir: v["wrapper-dir"] as string | undefined,
    hostRoot: root,
    restartCommand,
  };
}

export const CONFIGURE_HELP = `Usage: gvisor-doctor configure [docker|containerd|podman|crio|all]... [options]

Register runsc as a runtime with the container engines, editing their config files
surgically (only the runtime's lines change), with a timestamped backup, an atomic
write and a lock; then reload the engine and prove it sees the runtime.
Without an engine: every engine installed here.

Options:
  --config PATH         Edit this file (or drop-in directory) instead of the detected one
                        (one engine only)
  --runsc PATH          The runsc to register (default: ${INSTALLED_RUNSC} if present,
                        else the first runsc on PATH)
  --runtime-name NAME   Runtime name (default: runsc)
  --runtime-arg ARG     A runsc flag for the runtime, repeatable: --runtime-arg=--network=none
                        or --runtime-arg network=none. Without it an existing entry keeps its
                        args; --runtime-arg= (empty) clears them
  --default             Also make it the engine's default runtime
  --marker              Add --gvisor-marker-file to the runtime's args (with any --runtime-arg;
                        replaces its other args): sandboxes get /proc/gvisor/kernel_is_gvisor,
                        the preflight tell an image cannot fake. Refused where runsc lacks the flag
  --remove              Unregister the runtime instead (files gvisor-doctor created are deleted)
  --dry-run             Print the unified diff of every file and change nothing
  --no-reload           Write the files but do not reload or restart any engine
  --restart             Restart engines that have no live reload (containerd without systemd,
                        CRI-O); containerd is never sent SIGHUP (it exits on it)
  --no-verify           Skip the checks after reloading (docker info, a podman container)
  --migrate             containerd 2.x with a config.toml that has no version line (it drops
                        its runtimes silently): rewrite it as version 3 with containerd
                        config migrate first (--dry-run shows the diff; refused without it)
  --force               Edit files a configuration-management tool (Ansible, Puppet, Chef,
                        Salt) says it owns; accept a --runsc that does not exist yet
  --wrapper-dir DIR     Where wrapper scripts go when an engine cannot pass runtime args
                        (default: $GVISOR_DOCTOR_WRAPPER_DIR, else ${DEFAULT_WRAPPER_DIR};
                        a normal user's: ~/.local/libexec/gvisor-doctor)
${hostRootHelp(24)}
  --json                One JSON report on stdout (schemaVersion 1)
  -v, --verbose         Show every note, each diff and what ran

What changes:
  docker      runtimes.<name> = {"path", "runtimeArgs"} in the daemon.json dockerd reads
              (its --config-file, else /etc/docker/daemon.json); reload: systemctl reload
              docker or SIGHUP; checked with docker info
  containerd  [plugins.<CRI plugin>.containerd.runtimes.<name>] for the file's config
              version (1, 2 or 3) in its config.toml (or a drop-in of its imports), plus
              runsc.toml for the runsc shim; without containerd-shim-runsc-v1 the runc shim
              runs runsc. Checked with containerd config dump; restart to load
  podman      [engine.runtimes] <name> in /etc/containers/containers.conf.d/99-gvisor.conf
              (runtime args through a wrapper script); checked by running a container
  crio        [crio.runtime.runtimes.<name>] in /etc/crio/crio.conf.d/99-gvisor.conf

Exit codes: 0 done (or nothing to do) · 1 an engine refused or failed · 2 usage error
            3 files written but an engine still needs a restart (the command is printed)

Examples:
  sudo gvisor-doctor configure --runtime-arg=--network=none
  sudo gvisor-doctor configure docker --dry-run
  sudo gvisor-doctor configure containerd --restart
  sudo gvisor-doctor configure --remove
  gvisor-doctor configure containerd --host-root /host --restart   # from a privileged pod`;

export const configureCommand: Command = {
  name: "configure",
  summary: "Register runsc with Docker, containerd, Podman and CRI-O (or --remove it)",
  help: CONFIGURE_HELP,
  maxPositionals: 4,
  options: {
    config: { type: "string" },
    runsc: { type: "string" },
    "runtime-name": { type: "string" },
    "runtime-arg": { type: "string", multiple: true, allowEmpty: true }, // --runtime-arg= clears the args
    default: { type: "boolean" },
    marker: { type: "boolean" },
    remove: { type: "boolean" },
    "dry-run": { type: "boolean" },
    "no-reload": { type: "boolean" },
    restart: { type: "boolean" },
    "no-verify": { type: "boolean" },
    force: { type: "boolean" },
    migrate: { type: "boolean" },
    "wrapper-dir": { type: "string" },
    ...HOST_ROOT_OPTIONS,
  },
  async run(p, io) {
    const report = await configureEngines(configureRequestFrom(p), io);
    if (io.json) io.stdout(JSON.stringify(report, null, 2));
    else await renderConfigureReport(report, io);
    return report.exitCode;
  },
};
