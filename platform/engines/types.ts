// One adapter interface for every container engine gvisor-doctor registers runsc with.
// The read side (detect, inspect) is pure data for the checks; the write side turns a
// request into a Plan (before/after text of every file, a unified diff), applies it
// (backup + atomic write under a lock), reloads or restarts the engine, and verifies.
import type { HostRoot } from "../os/host-root.ts";
import type { DaemonSnapshot } from "./snapshot.ts";

/** Every engine, in the order `configure all` and `--fix` handle them; ENGINES (index.ts) maps each to its adapter. */
export const ENGINE_NAMES = ["docker", "containerd", "podman", "crio"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** The engines --host-root configures: the ones kubelet runs pods through. */
export const HOST_ROOT_ENGINES: readonly EngineName[] = ["containerd", "crio"];

export interface EngineDetection {
  engine: EngineName;
  /** The engine's binary was found (PATH or the usual system directories). */
  installed: boolean;
  binary: string | null;
  /** A daemon process is running (always false for daemonless podman). */
  running: boolean;
  pid: number | null;
  /** The engine's own version string, e.g. "20.10.24", "1.6.20", "4.3.1". */
  version: string | null;
  /** The file (or drop-in directory) we read and would edit. */
  configPath: string;
  /** Why that path: "--config-file of dockerd pid 123", "--config", "default", ... */
  configSource: string;
  /** Config-management tool named in the config file's header, if any. */
  managedBy?: string | null;
  /** systemd unit that runs the daemon, when systemd manages it. */
  systemdUnit: string | null;
  /** Facts worth showing (e.g. the dockerd socket, rootless HOME). */
  notes: string[];
}

/** Where in which file, for messages that point at the exact spot. */
export interface SourceSpot {
  file: string;
  line?: number;
  column?: number;
}

/** A problem in a config file, shared with the doctor's checks. */
export interface ConfigFault extends SourceSpot {
  code: string;
  severity: "error" | "warning";
  message: string;
  fix?: string;
}

/** A runtime as an engine's config declares it. */
export interface DeclaredRuntime {
  name: string;
  /** The binary (docker path, podman's first path, containerd BinaryName or shim). */
  path: string | null;
  args: string[];
  /** containerd runtime_type / CRI-O runtime_type. */
  type?: string | null;
  source: SourceSpot;
  /** Engine-specific keys as written. */
  raw?: unknown;
}

/** The common read-side view of an engine's configuration. */
export interface EngineInspection {
  engine: EngineName;
  configPath: string;
  /** Every file read, in the order the engine reads them. */
  files: { path: string; exists: boolean; managedBy: string | null }[];
  runtimes: Record<string, DeclaredRuntime>;
  defaultRuntime: string | null;
  faults: ConfigFault[];
}

/** What the user asked for. */
export interface RuntimeRequest {
  name: string;
  /** Absolute path of runsc (unused with remove). */
  runscPath: string;
  /** runsc flags, e.g. ["--network=none"]; null keeps an existing entry's (none for a new one). */
  runtimeArgs: string[] | null;
  makeDefault: boolean;
  remove: boolean;
}

export interface EngineContext {
  env: NodeJS.ProcessEnv;
  /** The daemons as the caller already gathered them (the doctor's host facts); null: detect looks itself. */
  daemons: DaemonSnapshot | null;
  /** --config: the file (or drop-in directory) to edit instead of the detected one. */
  configPath?: string;
  /** Where wrapper executables go (runtime args for engines that cannot pass them). */
  wrapperDir: string;
  /** --force: edit files a configuration-management tool owns. */
  force: boolean;
  now(): Date;
  /** Progress lines (stderr). */
  log(message: string): void;
  /**
   * Skip `<engine> --version` for engines that are not running (the doctor's facts: the
   * version only matters for an engine in use, and each probe is a process start).
   */
  lightDetect?: boolean;
  /**
   * --host-root: the node's file system mounted elsewhere (a pod's /host). Paths in
   * detections, plans and configs stay host paths; only file access goes through it.
   */
  root?: HostRoot;
  /** --restart-command: how to restart an engine in host-root mode (argv, no shell). */
  restartCommand?: string[] | null;
  /**
   * --migrate: consent to rewrite a config the engine no longer reads as written with the
   * engine's own migration (containerd 2.x and a config.toml without a version line).
   */
  migrate?: boolean;
}

export type FileAction = "create" | "modify" | "delete";

export interface FileChange {
  /** The path as configured (may be a symlink; writes go through it). */
  path: string;
  /** Current content; null when the file does not exist. */
  before: string | null;
  /** New content; null deletes the file. */
  after: string | null;
  action: FileAction;
  /** Mode for a created file (wrappers are executable). */
  mode?: number;
  /** false: no backup before deleting (a file gvisor-doctor generated, e.g. a wrapper). */
  backup?: boolean;
  /** One line: why this file changes. */
  reason: string;
}

export interface Plan {
  engine: EngineName;
  request: RuntimeRequest;
  /** add | update | remove, or unchanged when there is nothing to write. */
  action: "add" | "update" | "remove" | "unchanged";
  /** The config file the engine reads (for the lock and messages). */
  configPath: string;
  changes: FileChange[];
  /** Applied only after the engine reloaded (docker: delete a daemon.json we created once dockerd dropped the runtime). */
  afterReload: FileChange[];
  notes: string[];
  /** Unified diff of changes + afterReload. */
  diff: string;
  /** The runtime as the engine will see it (for messages and verify). */
  effective: { path: string; args: string[]; type?: string } | null;
  /** What the adapter's verify step needs to know about this plan (adapter-specific). */
  engineData?: unknown;
  /**
   * Files the new config names that this plan does not write (a wrapper reused as it is): applied only
   * while each still holds this text, so an uninstall that removed one in between makes configure plan again.
   */
  relies?: { path: string; text: string }[];
}

export interface AppliedFile {
  path: string;
  action: FileAction;
  /** Backup of the previous content; null for created files. */
  backup: string | null;
}

export interface ApplyResult {
  files: AppliedFile[];
}

export type ReloadAction = "reloaded" | "restarted" | "not-running" | "not-needed" | "skipped" | "pending" | "failed";

export interface ReloadResult {
  action: ReloadAction;
  /** How: "SIGHUP to dockerd pid 123", "systemctl reload docker", ... */
  method: string | null;
  /** The exact command a person runs when the reload is pending. */
  command: string | null;
  message: string;
}

export interface VerifyResult {
  /** null: could not be verified (engine not running, --no-verify). */
  ok: boolean | null;
  message: string;
  details: string[];
}

export interface VerifyOptions {
  /** The engine was just reloaded: wait for it to pick the change up (docker polls docker info). */
  afterReload: boolean;
}

export interface ReloadOptions {
  /** false: --no-reload. */
  reload: boolean;
  /** --restart: engines without live reload (containerd, CRI-O) may be restarted. */
  restart: boolean;
}

export interface EngineAdapter<D extends EngineDetection = EngineDetection> extends EngineTraits {
  readonly name: EngineName;
  /** Installed? running? which config file, which version? Reads only. */
  detect(ctx: EngineContext): Promise<D>;
  /** The runtimes the engine's config files declare, and their faults. Reads only. */
  inspect(det: D, ctx: EngineContext): Promise<EngineInspection>;
  /** The change as before/after text of every file (throws EngineConfigError to refuse). Reads only. */
  plan(det: D, req: RuntimeRequest, ctx: EngineContext): Promise<Plan>;
  /** Backup + atomic write under a lock; throws StalePlanError when a file changed since plan(). */
  apply(plan: Plan, ctx: EngineContext): Promise<ApplyResult>;
  /** Make the running engine load the change (or say exactly what to run). */
  reload(det: D, plan: Plan, opts: ReloadOptions, ctx: EngineContext): Promise<ReloadResult>;
  /** Prove the engine sees the runtime as planned (or no longer sees it, for remove). */
  verify(det: D, plan: Plan, ctx: EngineContext, opts?: VerifyOptions): Promise<VerifyResult>;
  /** Engines whose daemon this one's daemon runs containers through (dockerd → containerd). */
  readonly dependsOn?: readonly EngineName[];
  /**
   * Whether the running daemon answers and reaches the engines it depends on (after one of
   * them restarted). null: no daemon of this engine runs here, nothing to wait for.
   */
  ready?(ctx: EngineContext): Promise<{ ok: boolean; message: string } | null>;
}

// Engine traits: what checks, fixes and reports outside the engine's folder need to know about it,
// so none of them asks `engine === "crio"`. Pure data (no I/O); docs/adding-an-engine.md lists them.
export interface EngineTraits {
  /** The engine as its users name it, in messages: "Docker", "containerd", "Podman", "CRI-O". */
  readonly title: string;
  /**
   * A registration takes effect without restarting the engine: dockerd reloads daemon.json on
   * SIGHUP, and daemonless Podman reads its config at every command. false: containerd and CRI-O
   * load runtimes only when they start, so their fixes carry --restart (and say they restart it).
   */
  readonly liveReload: boolean;
  /**
   * A runsc flag ("network=none") as this engine's fixes write it in `configure --runtime-arg`:
   * "--network=none" for most, the bare form `podman --runtime-flag` takes for Podman.
   */
  runtimeFlag(flag: string): string;
  /** --config may name a drop-in directory (containers.conf.d, crio.conf.d), not only a file. */
  readonly configDirs: boolean;
  /**
   * Where a container that did not start is explained: the daemon's systemd unit (journalctl -u),
   * or for a daemonless engine the command to rerun with its debug output.
   */
  readonly startFailureLog: { unit: string } | { rerun: string };
  /**
   * The invoking user (not root) runs this engine themselves, so registering runsc with it is theirs to do,
   * without sudo: Podman as a normal user reads only ~/.config/containers; a rootless dockerd ~/.config/docker.
   */
  ownedByUser(daemons: DaemonSnapshot): boolean;
  /**
   * A runtime the running engine has loaded, as the daemon itself reports it (dockerd's info lists the runtimes of
   * daemon.json and of --add-runtime flags); null when the engine does not say, or has none of that name.
   */
  loadedRuntime(name: string, daemons: DaemonSnapshot): { path: string | null; args: string[] } | null;
}

/**
 * A config we will not edit, with the exact spot and the way out. `configure`
 * reports it for that engine and leaves every file untouched.
 */
export class EngineConfigError extends Error {
  constructor(
    message: string,
    readonly spot: SourceSpot | null,
    readonly hint: string | null = null,
    /** Text to paste into the owner's source of truth (config-management refusals). */
    readonly snippet: string | null = null,
    readonly code: string = "refused",
    /** The engine is set up so the runtime cannot matter (e.g. containerd's CRI plugin is disabled): skip it unless it was asked for by name. */
    readonly notApplicable = false,
  ) {
    super(message);
  }
}
