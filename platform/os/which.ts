// PATH lookup without a shell. Compiled Bun binaries and Deno both lack a portable
// `which`, and resolving to absolute paths avoids surprises in spawned children.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every match of `name` on PATH (in PATH order), then in `extraDirs`, without duplicates. */
export function whichAll(name: string, extraDirs: string[] = [], pathEnv = process.env.PATH ?? ""): string[] {
  const dirs = [...pathEnv.split(delimiter).filter(Boolean), ...extraDirs];
  const seen = new Set<string>();
  const found: string[] = [];
  for (const d of dirs) {
    const p = join(d, name);
    if (seen.has(p)) continue;
    seen.add(p);
    if (isExecutableFile(p)) found.push(p);
  }
  return found;
}

export function which(name: string, pathEnv = process.env.PATH ?? ""): string | null {
  if (name.includes("/")) return isExecutableFile(name) ? name : null;
  return whichAll(name, [], pathEnv)[0] ?? null;
}

/** Directories where system tools live even when PATH (e.g. under sudo or cron) omits them. */
export const SYSTEM_BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** A tool on PATH, else in the system directories (sudo and cron trim PATH). */
export function findTool(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  return which(name, [env.PATH ?? "", ...SYSTEM_BIN_DIRS].join(delimiter));
}
