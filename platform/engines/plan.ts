// Pieces every adapter's planner shares: refusing files a configuration-management
// tool owns (with the snippet for their source of truth), and assembling the Plan.
import { planDiff } from "./diff.ts";
import { managedByTool } from "./text.ts";
import { EngineConfigError, type EngineName, type FileChange, type Plan, type RuntimeRequest } from "./types.ts";

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
}): Plan {
  const changes = args.changes.filter((c): c is FileChange => c !== null && c.before !== c.after);
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
  };
}
