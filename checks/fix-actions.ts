// What an automatic fix does, as data: `--fix` applies the action by calling the service
// (configureEngines, the installer) and the report prints the command a person would type.
// Both come from the action, rendered here and nowhere else, so `--fix` does exactly what it
// prints (test/unit/fix-actions.test.ts parses every rendered command with the CLI's parser).
import { ENGINE_NAMES } from "../platform/engines/types.ts";
import { shellQuote } from "../platform/os/shell.ts";
import type { Fix, FixAction } from "./types.ts";

/** The order `--fix` applies fixes in: binaries, permissions, each engine's registration, the cluster. */
const PHASES = ["install", "chmod", ...ENGINE_NAMES.map((e) => `configure:${e}`), "kubectl-apply"];

/** A fix's phase (lower first); actions outside the table (e.g. configure all) come last. */
export function fixPhase(a: FixAction | undefined): number {
  const key = a?.kind === "configure" ? `configure:${a.engines[0]}` : a?.kind;
  const i = key ? PHASES.indexOf(key) : -1;
  return i < 0 ? PHASES.length : i;
}

/** The gvisor-doctor arguments of an action (null: the action is no gvisor-doctor command). */
export function actionArgv(a: FixAction): string[] | null {
  const root = a.kind === "configure" || a.kind === "install" ? (a.hostRoot ? ["--host-root", a.hostRoot] : []) : [];
  switch (a.kind) {
    case "configure":
      return [
        "configure",
        ...a.engines,
        ...(a.runtimeArgs ?? []).map((x) => `--runtime-arg=${x}`),
        ...(a.migrate ? ["--migrate"] : []),
        ...(a.restart ? ["--restart"] : []),
        ...(a.runsc ? ["--runsc", a.runsc] : []),
        ...root,
      ];
    case "install":
      return [
        "install",
        ...(a.force ? ["--force"] : []),
        ...(a.prefix ? ["--prefix", a.prefix] : []),
        ...(a.version ? ["--version", a.version] : []),
        ...root,
      ];
    default:
      return null;
  }
}

/**
 * The command a person types for an action. `sudo` for what needs root; a node's fixes
 * (--host-root, run from a pod as root) and a normal user's own engines go without it.
 */
export function actionCommand(a: FixAction, sudo: boolean): string {
  const s = sudo ? "sudo " : "";
  if (a.kind === "chmod") return `${s}gvisor-doctor --fix --only runsc.permissions`;
  if (a.kind === "kubectl-apply") return `kubectl apply -f - <<'EOF'\n${a.manifest}EOF`;
  return `${s}gvisor-doctor ${actionArgv(a)!.map(shellQuote).join(" ")}`;
}

/** A fix with this action: `command` and `argv` (the --json contract) are renderings of it. */
export function actionFix(
  id: string,
  summary: string,
  action: FixAction,
  extra: { confirm?: string; automatic?: boolean; sudo?: boolean } = {},
): Fix {
  const { sudo, ...rest } = extra;
  const argv = actionArgv(action);
  const command = actionCommand(action, sudo ?? !("hostRoot" in action && action.hostRoot));
  return { id, summary, command, automatic: true, ...(argv ? { argv } : {}), ...rest, action };
}

/** The manual fix for a config file the engine refuses or misreads: edit it by hand. */
export function editConfigFix(id: string, file: string, summary = `Fix ${file}`): Fix {
  return { id, summary, command: `$EDITOR ${file}`, automatic: false };
}

/** The same fix with another action (command and argv rendered again). */
export function withAction(fix: Fix, action: FixAction, sudo?: boolean): Fix {
  const { id, summary, automatic, confirm } = fix;
  return actionFix(id, summary, action, { automatic, ...(confirm ? { confirm } : {}), sudo });
}
