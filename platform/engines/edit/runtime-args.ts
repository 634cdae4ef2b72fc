// runsc flags as a runtime's arguments, in the three shapes engines need them:
// Docker's runtimeArgs (["--network=none"]), the shim's runsc.toml [runsc_config]
// table ({network = "none"}), and a wrapper script for engines that cannot pass
// arguments at all (Podman 4.3, containerd's runc shim, CRI-O's oci mode).
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { shellQuote } from "../../os/shell.ts";
import { CREATED_MARKER } from "./text.ts";
import { EngineConfigError, type EngineName, type FileChange } from "../types.ts";

const FLAG = /^--([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/s;

/**
 * `--network=none`, `network=none` (Podman's --runtime-flag spelling) and `--debug` all
 * become `--name[=value]`. Returns an error message for anything else.
 */
export function normalizeRuntimeArgs(args: string[]): { args: string[]; error: string | null } {
  const out: string[] = [];
  for (const a of args) {
    // A newline would split the wrapper's exec line (the next run could not read it back).
    if (/[\x00-\x1f\x7f]/.test(a)) {
      const shown = JSON.stringify(a.length > 80 ? `${a.slice(0, 80)}…` : a);
      const why = "contains a newline or another control character: runsc flags are one line";
      return { args: [], error: `runtime argument ${shown} ${why}` };
    }
    const withDashes = a.startsWith("-") ? a.replace(/^-(?!-)/, "--") : `--${a}`;
    if (!FLAG.test(withDashes))
      return {
        args: [],
        error: `runtime argument '${a}' is not a runsc flag: use --name or --name=value (e.g. --runtime-arg=--network=none)`,
      };
    out.push(withDashes);
  }
  return { args: out, error: null };
}

/** ["--network=none", "--debug"] → {network: "none", debug: "true"} (the shim passes each as --key=value). */
export function argsToRunscConfig(args: string[]): Record<string, string> {
  const cfg: Record<string, string> = {};
  for (const a of args) {
    const m = FLAG.exec(a);
    if (m) cfg[m[1]] = m[2] ?? "true";
  }
  return cfg;
}

export function runscConfigToArgs(cfg: Record<string, unknown>): string[] {
  return Object.entries(cfg).map(([k, v]) => (v === "true" || v === true ? `--${k}` : `--${k}=${String(v)}`));
}

/** Where the wrapper for `engine`/`name` lives, e.g. /usr/local/libexec/gvisor-doctor/podman-runsc. */
export function wrapperPath(wrapperDir: string, engine: EngineName, name: string): string {
  return join(wrapperDir, `${engine}-${name}`);
}

export const DEFAULT_WRAPPER_DIR = "/usr/local/libexec/gvisor-doctor";

/**
 * The wrapper directory when none is given: root's is DEFAULT_WRAPPER_DIR; a normal user's (the wrapper of
 * their rootless Podman, which they may not write under /usr/local) is ~/.local/libexec/gvisor-doctor.
 */
export function defaultWrapperDir(env: NodeJS.ProcessEnv, uid: number, home: string = homedir()): string {
  if (env.GVISOR_DOCTOR_WRAPPER_DIR) return env.GVISOR_DOCTOR_WRAPPER_DIR;
  return uid === 0 ? DEFAULT_WRAPPER_DIR : join(env.HOME || home, ".local", "libexec", "gvisor-doctor");
}

/** The runsc symlink `gvisor-doctor install` maintains; registered by default so upgrades need no reconfiguration. */
export const INSTALLED_RUNSC = "/usr/local/bin/runsc";

/** A /bin/sh script that runs runsc with fixed flags before whatever the engine passes. */
export function renderWrapper(
  engine: EngineName,
  name: string,
  runsc: string,
  args: string[],
  why: string,
  config?: string,
): string {
  return [
    "#!/bin/sh",
    `# ${CREATED_MARKER} configure ${engine} (runtime "${name}"): ${why}`,
    `# \`gvisor-doctor configure ${engine} --runtime-name ${name} --remove\` deletes it.`,
    ...(config ? [`${OWNER_PREFIX}${config}`] : []),
    `exec ${[runsc, ...args].map(shellQuote).join(" ")} "$@"`,
    "",
  ].join("\n");
}

const OWNER_PREFIX = "# used by: ";

/** The config a wrapper was written for (null: written before wrappers said so). */
export function wrapperOwner(text: string | null): string | null {
  const line = text?.split("\n", 6).find((l) => l.startsWith(OWNER_PREFIX));
  return line ? line.slice(OWNER_PREFIX.length) : null;
}

/** `text` names `path` outside comment lines (a wrapper's "# used by:" line or a commented-out entry runs nothing). */
export function namesPath(text: string | null, path: string): boolean {
  return !!text?.split("\n").some((l) => !l.trimStart().startsWith("#") && l.includes(path));
}

/**
 * The one rule for "is this wrapper still used" (configure's --remove and reuse, uninstall's take-back):
 * the configs, among the one the wrapper says it was written for and `known` (e.g. every engine's config),
 * that still name `path`. [] for a file gvisor-doctor did not write. A config that cannot be read counts
 * as a user: a wrapper is deleted only when no config we know of may still run it.
 */
export function wrapperUsers(
  path: string,
  text: string | null,
  read: (p: string) => string | null,
  known: string[] = [],
): string[] {
  if (!parseWrapper(text)) return [];
  const owner = wrapperOwner(text);
  return [...new Set([...(owner ? [owner] : []), ...known])].filter((config) => {
    try {
      return namesPath(read(config), path);
    } catch {
      return true;
    }
  });
}

/** The engine a wrapper was written for (its header), e.g. "podman". */
export function wrapperEngine(text: string | null): string | null {
  return /^# .* configure ([a-z-]+) \(runtime /m.exec(text ?? "")?.[1] ?? null;
}

export interface WrapperVerdict {
  path: string;
  /** "removed" (or would be, with --dry-run), or still named by these engines' configs and left. */
  action: "remove" | "keep";
  usedBy: string[];
}

/**
 * What to do with the wrappers configure wrote for this prefix's runsc (in <prefix>/libexec/gvisor-doctor,
 * the default wrapper directory, GVISOR_DOCTOR_WRAPPER_DIR), by configure's own rule (wrapperUsers): one no
 * config we know of names any more (the engines' configs, and the config the wrapper says it was written
 * for) is removed; one still named is kept and its engines are listed. Wrappers of another runsc, and files
 * gvisor-doctor did not write, are not considered.
 */
export function wrapperVerdicts(
  dirs: string[],
  read: (p: string) => string | null,
  readConfig: (p: string) => string | null,
  list: (dir: string) => string[],
  ours: (runsc: string) => boolean,
  configs: { engine: string; path: string }[],
): WrapperVerdict[] {
  const out: WrapperVerdict[] = [];
  for (const dir of [...new Set(dirs)]) {
    for (const name of list(dir)) {
      const path = `${dir.replace(/\/+$/, "")}/${name}`;
      const text = read(path);
      const w = parseWrapper(text);
      if (!w || !ours(w.runsc)) continue;
      const users = wrapperUsers(
        path,
        text,
        readConfig,
        configs.map((c) => c.path),
      );
      // A config no engine reads by default (configure --config) is named by the engine the wrapper is for.
      const engineOf = (config: string) =>
        configs.find((c) => c.path === config)?.engine ?? wrapperEngine(text) ?? config;
      const usedBy = [...new Set(users.map(engineOf))];
      out.push({ path, action: usedBy.length ? "keep" : "remove", usedBy });
    }
  }
  return out;
}

function unquote(word: string): string {
  if (word.startsWith("'")) return word.slice(1, -1).replace(/'\\''/g, "'");
  return word;
}

/** The runsc and flags of a wrapper we wrote (null for anything else). */
export function parseWrapper(text: string | null): { runsc: string; args: string[] } | null {
  if (!text || !text.includes(CREATED_MARKER)) return null;
  const line = text.split("\n").find((l) => l.startsWith("exec "));
  if (!line) return null;
  const words = line.slice(5).match(/'(?:[^']|'\\'')*'|\S+/g) ?? [];
  if (words.at(-1) !== '"$@"') return null;
  const [runsc, ...args] = words.slice(0, -1).map(unquote);
  return runsc ? { runsc, args } : null;
}

export interface WrapperPlan {
  /** What the engine should run: the wrapper when there are args, else runsc itself. */
  binary: string;
  args: string[];
  changes: FileChange[];
  /** The wrapper the engine will run, reused unchanged (not in changes): it must still be there at apply. */
  relies: { path: string; text: string }[];
}

/**
 * The binary an engine that cannot pass runtime args should run. `oldBinary` is what the
 * config names now: a wrapper we wrote there is rewritten, kept (args null keeps its
 * args) or deleted when no longer needed. A file at the wrapper path that we did not
 * write is never touched.
 */
/**
 * The text of a file a config runs, when it may be one of our wrappers: null when missing
 * or when it is no config-sized text file (runsc itself is far larger than a wrapper).
 */
export function readProgram(read: (p: string) => string | null, path: string | null): string | null {
  if (!path) return null;
  try {
    return read(path);
  } catch (e) {
    if (e instanceof EngineConfigError) return null;
    throw e;
  }
}

/** A file is at `path`, though too large or odd to read as text. */
function existsProgram(read: (p: string) => string | null, path: string): boolean {
  try {
    return read(path) !== null;
  } catch (e) {
    return e instanceof EngineConfigError;
  }
}

export function planWrapper(o: {
  engine: EngineName;
  name: string;
  runsc: string;
  args: string[] | null;
  wrapperDir: string;
  oldBinary: string | null;
  read: (p: string) => string | null;
  why: string;
  /** The config that will name the wrapper (recorded in it). */
  config: string;
}): WrapperPlan {
  // A wrapper another config still runs is neither rewritten nor deleted for this one: it says which
  // config it was written for; one from before that is another config's unless this config names it.
  const usedElsewhere = (path: string, text: string | null) => {
    if (parseWrapper(text) && wrapperOwner(text) === null) return o.oldBinary !== path;
    return wrapperUsers(path, text, o.read).some((config) => config !== o.config);
  };
  let ours = wrapperPath(o.wrapperDir, o.engine, o.name);
  if (usedElsewhere(ours, readProgram(o.read, ours))) {
    ours = `${ours}-${createHash("sha256").update(o.config).digest("hex").slice(0, 8)}`;
  }
  const oldText = readProgram(o.read, o.oldBinary);
  const old = parseWrapper(oldText);
  const args = o.args ?? old?.args ?? [];
  const changes: WrapperPlan["changes"] = [];
  const keepOld = old && usedElsewhere(o.oldBinary!, oldText);
  if (old && o.oldBinary !== ours && !keepOld) {
    changes.push({
      path: o.oldBinary!,
      before: oldText,
      after: null,
      action: "delete",
      mode: 0o755,
      backup: false,
      reason: "wrapper created by gvisor-doctor, no longer used",
    });
  }
  if (!args.length) {
    if (old && o.oldBinary === ours && !keepOld) {
      const reason = "wrapper no longer needed (no runtime args)";
      changes.push({ path: ours, before: oldText, after: null, action: "delete", mode: 0o755, backup: false, reason });
    }
    return { binary: o.runsc, args, changes, relies: [] };
  }
  const before = readProgram(o.read, ours);
  if ((before === null && existsProgram(o.read, ours)) || (before !== null && !parseWrapper(before))) {
    throw new EngineConfigError(
      `${ours} exists and was not written by gvisor-doctor`,
      { file: ours },
      "move it away, or pass --wrapper-dir DIR",
      null,
      "wrapper-exists",
    );
  }
  const after = renderWrapper(o.engine, o.name, o.runsc, args, o.why, o.config);
  if (before !== after)
    changes.push({
      path: ours,
      before,
      after,
      action: before === null ? "create" : "modify",
      mode: 0o755,
      reason: `wrapper that runs runsc ${args.join(" ")}`,
    });
  return { binary: ours, args, changes, relies: before === after ? [{ path: ours, text: after }] : [] };
}
