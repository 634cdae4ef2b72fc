// The files an engine's runtime entry names (binary or wrapper, the runsc a wrapper runs,
// containerd's ConfigPath / runsc.toml) must exist, and programs must be executable:
// otherwise the engine fails only when a container starts ("fork/exec …: no such file").
import { accessSync, constants, statSync } from "node:fs";
import { parseWrapper } from "../platform/engines/runtime-args.ts";
import { readIfAbsolute } from "../platform/engines/apply.ts";
import { SELF_ROOT, type HostRoot } from "../platform/host-root.ts";

export interface RuntimeFile {
  path: string | null | undefined;
  /** A program the engine (or the wrapper) executes, not a config file it reads. */
  exec: boolean;
}

/** The first named file that is missing, not a regular file, or not executable; null when all are fine. */
export function brokenRuntimeFile(files: RuntimeFile[], root: HostRoot = SELF_ROOT): { path: string; problem: string } | null {
  const queue = [...files];
  for (let f = queue.shift(); f; f = queue.shift()) {
    // A bare name is looked up on the engine's PATH: the engine's own checks cover that.
    if (!f.path || !f.path.startsWith("/")) continue;
    const local = root.local(f.path);
    let problem: string | null = null;
    try {
      if (!statSync(local).isFile()) problem = "is not a regular file";
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problem = code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read (${code})`;
    }
    if (!problem && f.exec) {
      try {
        accessSync(local, constants.X_OK);
      } catch {
        problem = "is not executable";
      }
    }
    if (problem) return { path: f.path, problem };
    // A gvisor-doctor wrapper runs another program: that one must exist too.
    const w = f.exec ? parseWrapper(readIfAbsolute(f.path, root)) : null;
    if (w) queue.push({ path: w.runsc, exec: true });
  }
  return null;
}
