// Pieces every adapter's planner shares: refusing files a configuration-management
// tool owns (with the snippet for their source of truth), the drop-in a registration creates and
// how it goes again, and assembling the Plan.
import { planDiff } from "./diff.ts";
import { namesPath } from "./runtime-args.ts";
import { createdByUs, CREATED_MARKER, managedByTool } from "./text.ts";
import { parseTomlStrict, verifyTomlEdit, type TomlMutation } from "./toml-check.ts";
import { EngineConfigError, type EngineName, type FileChange, type Plan, type RuntimeRequest } from "../types.ts";

/** The start of a drop-in gvisor-doctor creates to register runtime `name`: who wrote it, and how it goes again. */
export function dropInHeader(engine: EngineName, name: string): string {
  return (
    `# ${CREATED_MARKER} configure ${engine}: registers the "${name}" runtime (gVisor).\n` +
    `# \`gvisor-doctor configure ${engine} --runtime-name ${name} --remove\` deletes it.\n`
  );
}

/**
 * The change that unregisters runtime `name` from a TOML file, `after` being its text without it: a file we
 * created that now holds nothing but empty tables is deleted (nothing of the user's is lost), any other modified.
 */
export function unregisterChange(target: string, before: string | null, after: string, name: string): FileChange {
  const empty = (o: unknown): boolean =>
    !!o && typeof o === "object" && !Array.isArray(o) && Object.values(o).every(empty);
  const gone = createdByUs(before) && empty(parseTomlStrict(after, target));
  return {
    path: target,
    before,
    after: gone ? null : after,
    action: gone ? "delete" : "modify",
    ...(gone ? { backup: false } : {}),
    reason: `unregister runtime "${name}"`,
  };
}

/**
 * The change that registers runtime `name` in a TOML file: `after` (the edited `text`, which is the file as read or
 * the drop-in to create), checked to be `text` with exactly `mutations` applied. null: an existing file unchanged.
 */
export function registerChange(
  target: string,
  before: string | null,
  after: string,
  name: string,
  text: string,
  mutations: TomlMutation[],
): FileChange | null {
  if (after === text && before !== null) return null;
  verifyTomlEdit(text, after, target, (d) => mutations.forEach((m) => m(d)));
  const action = before === null ? "create" : "modify";
  return { path: target, before, after, action, reason: `register runtime "${name}"` };
}

/** Refuse to edit a file whose header says Ansible/Puppet/Chef/Salt owns it, unless --force. */
export function refuseIfManaged(file: string, text: string | null, force: boolean, snippet: string): void {
  const tool = managedByTool(text);
  if (!tool || force) return;
  throw new EngineConfigError(
    `${file} says it is managed by ${tool}: gvisor-doctor leaves it alone (a change here would be overwritten on ${tool}'s next run)`,
    { file },
    `add the snippet below to the ${tool} source that renders ${file}, or run again with --force to edit the file anyway`,
    snippet,
    "managed",
  );
}

/**
 * Write order for a crash at any point: a file another change's config names (a wrapper,
 * runsc.toml) is written before the config that will name it, and deleted only after the
 * config that named it no longer does. So an engine never points at a file that is not there.
 */
export function referencedFirst(changes: FileChange[]): FileChange[] {
  // Named outside comments: a wrapper's "# used by: <config>" line is not a reference.
  const named = (c: FileChange) =>
    changes.some((o) => o !== c && (namesPath(o.after, c.path) || namesPath(o.before, c.path)));
  const first = changes.filter((c) => c.after !== null && named(c));
  const last = changes.filter((c) => c.after === null && named(c));
  return [...first, ...changes.filter((c) => !first.includes(c) && !last.includes(c)), ...last];
}

/** What an engine's planner makes of a request: the changes, and what buildPlan and verify need to know of them. */
export interface PlannedEdit {
  changes: FileChange[];
  /** The runtime was registered before (add vs update). */
  existed: boolean;
  notes: string[];
  effective: Plan["effective"];
  relies?: Plan["relies"];
}

export function buildPlan(args: {
  engine: EngineName;
  request: RuntimeRequest;
  configPath: string;
  existed: boolean;
  changes: (FileChange | null)[];
  afterReload?: FileChange[];
  notes?: string[];
  effective: Plan["effective"];
  engineData?: unknown;
  relies?: Plan["relies"];
}): Plan {
  const changes = referencedFirst(args.changes.filter((c): c is FileChange => c !== null && c.before !== c.after));
  const afterReload = args.afterReload ?? [];
  const touched = changes.length + afterReload.length > 0;
  const action = !touched ? "unchanged" : args.request.remove ? "remove" : args.existed ? "update" : "add";
  return {
    engine: args.engine,
    request: args.request,
    action,
    configPath: args.configPath,
    changes,
    afterReload,
    notes: args.notes ?? [],
    diff: planDiff([...changes, ...afterReload]),
    effective: args.effective,
    engineData: args.engineData,
    ...(args.relies?.length ? { relies: args.relies } : {}),
  };
}
