// The runsc shim's own config file (runsc.toml, read through the runtime's
// ConfigPath): binary_name, CRI-O's grouping, and [runsc_config] with the runsc flags.
// Shared by the containerd and CRI-O adapters; edited surgically like any user file.
import { join } from "node:path";
import { argsToRunscConfig, runscConfigToArgs } from "./runtime-args.ts";
import { createdByUs, CREATED_MARKER } from "./text.ts";
import { deleteIn, getPath, parseTomlStrict, setIn, verifyTomlEdit } from "./toml-check.ts";
import { TomlDoc } from "./toml-edit.ts";
import type { EngineName, FileChange } from "../types.ts";

export interface ShimConfigWant {
  binaryName: string;
  /** CRI-O needs grouping = true; containerd leaves it alone. */
  grouping?: boolean;
  /** Flags for [runsc_config]; null keeps what the file has. */
  args: string[] | null;
  /** Flags that must match the host (systemd-cgroup), added when the file does not set them. */
  carried: Record<string, string>;
}

/** runsc.toml for runtime "runsc", runsc-<name>.toml for others, in `dir`. */
export function shimConfigPath(dir: string, name: string): string {
  return join(dir, name === "runsc" ? "runsc.toml" : `runsc-${name}.toml`);
}

/**
 * Plan runsc.toml. Returns the change (null when nothing changes) and the runsc flags
 * the shim will pass. A file we created is ours: its [runsc_config] is replaced when
 * new args are given. Someone else's file only gets keys set, never removed.
 */
export function planShimConfig(
  engine: EngineName,
  name: string,
  path: string,
  before: string | null,
  want: ShimConfigWant,
): { change: FileChange | null; args: string[] } {
  const ours = before === null || createdByUs(before);
  const base =
    before ??
    `# ${CREATED_MARKER} configure ${engine} (runtime "${name}"): runsc shim options, read through the runtime's ConfigPath.\n# \`gvisor-doctor configure ${engine} --runtime-name ${name} --remove\` deletes it.\n`;
  const doc = new TomlDoc(base, { quote: '"', step: 2, blankBetweenTables: true });
  const parsed = parseTomlStrict(base, path);
  const current: Record<string, unknown> = { ...(getPath(parsed, ["runsc_config"]) ?? {}) };
  const wanted: Record<string, string> = {};
  if (want.args !== null) Object.assign(wanted, argsToRunscConfig(want.args));
  for (const [k, v] of Object.entries(want.carried)) if (!(k in current) && !(k in wanted)) wanted[k] = v;
  const mutations: ((d: Record<string, any>) => void)[] = [];

  if (getPath(parsed, ["binary_name"]) !== want.binaryName) {
    doc.set([], "binary_name", want.binaryName);
    mutations.push((d) => (d.binary_name = want.binaryName));
  }
  if (want.grouping && getPath(parsed, ["grouping"]) !== true) {
    doc.set([], "grouping", true);
    mutations.push((d) => (d.grouping = true));
  }
  const final: Record<string, unknown> = { ...current };
  if (ours && want.args !== null) {
    for (const k of Object.keys(current)) {
      if (k in wanted || k in want.carried) continue;
      doc.unset(["runsc_config"], k);
      delete final[k];
      mutations.push((d) => deleteIn(d, ["runsc_config", k]));
    }
  }
  const toSet = Object.entries(wanted).filter(([k, v]) => current[k] !== v);
  if (toSet.length) {
    if (!doc.table(["runsc_config"])) doc.addTable(["runsc_config"], toSet);
    else for (const [k, v] of toSet) doc.set(["runsc_config"], k, v);
    for (const [k, v] of toSet) {
      final[k] = v;
      mutations.push((d) => setIn(d, ["runsc_config", k], v));
    }
  }
  const args = runscConfigToArgs(final);
  if (before !== null && doc.text === before) return { change: null, args };
  verifyTomlEdit(base, doc.text, path, (d) => mutations.forEach((m) => m(d)));
  return {
    change: {
      path,
      before,
      after: doc.text,
      action: before === null ? "create" : "modify",
      reason: `runsc shim options for runtime "${name}"`,
    },
    args,
  };
}

/** Flags a runsc.toml passes to runsc (for messages and inspection). */
export function shimConfigArgs(text: string | null, path: string): string[] {
  if (!text) return [];
  return runscConfigToArgs(getPath(parseTomlStrict(text, path), ["runsc_config"]) ?? {});
}

/** The runsc a runsc.toml names (binary_name), null when it names none; throws what the TOML parser says. */
export function shimBinaryName(text: string | null, path: string): string | null {
  if (!text) return null;
  const bn = getPath(parseTomlStrict(text, path), ["binary_name"]);
  return typeof bn === "string" ? bn : null;
}

/** Delete a runsc.toml we created once no runtime refers to it any more. */
export function planShimConfigRemoval(
  name: string,
  path: string,
  before: string | null,
  stillReferenced: boolean,
): FileChange | null {
  if (before === null || !createdByUs(before) || stillReferenced) return null;
  return {
    path,
    before,
    after: null,
    action: "delete",
    backup: false,
    reason: `runsc shim options for runtime "${name}" (created by gvisor-doctor)`,
  };
}
