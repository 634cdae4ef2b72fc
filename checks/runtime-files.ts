// The files an engine's runtime entry names (binary or wrapper, the runsc a wrapper runs,
// containerd's ConfigPath / runsc.toml) must exist, and programs must be executable:
// otherwise the engine fails only when a container starts ("fork/exec …: no such file").
import { statSync } from "node:fs";
import { parseWrapper } from "../platform/engines/edit/runtime-args.ts";
import { readIfAbsolute } from "../platform/engines/edit/apply.ts";
import type { EngineName } from "../platform/engines/types.ts";
import { hostRootAt, SELF_ROOT, type HostRoot } from "../platform/os/host-root.ts";
import { RUNTIME_NAME } from "./probe.ts";
import { diagnoseState, type RuleContext } from "./rules.ts";
import { fail, type CheckContext, type Outcome } from "./types.ts";

export interface RuntimeFile {
  path: string | null | undefined;
  /** A program the engine (or the wrapper) executes, not a config file it reads. */
  exec: boolean;
}

/** The first named file that is missing, not a regular file, or not executable; null when all are fine. */
export function brokenRuntimeFile(
  files: RuntimeFile[],
  root: HostRoot = SELF_ROOT,
): { path: string; problem: string } | null {
  const queue = [...files];
  for (let f = queue.shift(); f; f = queue.shift()) {
    // A bare name is looked up on the engine's PATH: the engine's own checks cover that.
    if (!f.path || !f.path.startsWith("/")) continue;
    const local = root.local(f.path);
    let problem: string | null = null;
    let size = 0;
    try {
      const st = statSync(local);
      size = st.size;
      if (!st.isFile()) problem = "is not a regular file";
      // The engine runs as root: any x bit will do (an unprivileged check must not judge by its own rights).
      else if (f.exec && !(st.mode & 0o111)) problem = "is not executable";
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") problem = "does not exist";
      else continue; // EACCES as a user: cannot tell, the engine (root) may well see it
    }
    if (problem) return { path: f.path, problem };
    // A gvisor-doctor wrapper (a few hundred bytes, never runsc itself) runs another program: it must exist too.
    const w = f.exec && size < 64 << 10 ? parseWrapper(readIfAbsolute(f.path, root)) : null;
    if (w) queue.push({ path: w.runsc, exec: true });
  }
  return null;
}

/** What the rules need to know about an engine's registration (its config file from the facts). */
export const engineRuleContext = (ctx: CheckContext, engine: EngineName): RuleContext => ({
  facts: ctx.facts,
  engine,
  runtime: RUNTIME_NAME,
  configPath: ctx.facts.engines?.[engine].detection?.configPath,
});

/** The runtime names a file that is missing or not executable: fail as the engine will, with the rule. */
export function brokenRuntime(
  ctx: CheckContext,
  engine: EngineName,
  label: string,
  files: RuntimeFile[],
): Outcome | null {
  const bad = brokenRuntimeFile(files, hostRootAt(ctx.facts.hostRoot ?? undefined));
  if (!bad) return null;
  const match = ["", bad.path] as unknown as RegExpMatchArray;
  const d = diagnoseState("runtime-path-missing", { ...engineRuleContext(ctx, engine), match });
  return fail(`${label}, but ${bad.path} ${bad.problem}`, d);
}
