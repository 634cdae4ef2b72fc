// The read side shared by engines whose config is a main TOML file plus drop-ins read in order, a later file
// winning per runtime and for the default (Podman's containers.conf(.d), CRI-O's crio.conf(.d)): one file's
// runtimes as the engine writes them, and the files merged into the one EngineInspection every adapter returns;
// and where in such a layout gvisor-doctor writes.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { managedByTool } from "./text.ts";
import { parseTomlStrict } from "./toml-check.ts";
import type { ConfigFault, DeclaredRuntime, EngineInspection, EngineName } from "../types.ts";

/** One config file: what it declares, in the engine's own shape `R`. */
export interface LayerFile<R> {
  path: string;
  exists: boolean;
  runtimes: Record<string, R>;
  defaultRuntime: string | null;
  managedBy: string | null;
  /** Why the file is not valid TOML (its runtimes are then empty), null when it is. */
  parseError: string | null;
}

/** A file's text (null: missing) → what it declares, through the engine's reader of the parsed document. Pure. */
export function readLayer<R>(
  text: string | null,
  path: string,
  declared: (doc: Record<string, any>, text: string) => { runtimes: Record<string, R>; defaultRuntime: string | null },
): LayerFile<R> {
  const out: LayerFile<R> = {
    path,
    exists: text !== null,
    runtimes: {},
    defaultRuntime: null,
    managedBy: managedByTool(text),
    parseError: null,
  };
  if (text === null) return out;
  try {
    Object.assign(out, declared(parseTomlStrict(text, path), text));
  } catch (e) {
    out.parseError = (e as Error).message;
  }
  return out;
}

/** The `*.conf` files of a drop-in directory in the order the engine reads them (lexical); none when unreadable. */
export function confDropIns(dir: string, list: (dir: string) => string[] = readdirSync): string[] {
  try {
    return list(dir)
      .filter((n) => n.endsWith(".conf"))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Files in reading order → the inspection: later files win; a file that is not TOML is a `<engine>.config-invalid` fault. */
export function mergeLayers<R>(
  engine: EngineName,
  configPath: string,
  layers: LayerFile<R>[],
  declare: (name: string, runtime: R, file: LayerFile<R>) => DeclaredRuntime,
): EngineInspection {
  const runtimes: Record<string, DeclaredRuntime> = {};
  let defaultRuntime: string | null = null;
  const faults: ConfigFault[] = [];
  for (const f of layers) {
    if (f.parseError)
      faults.push({ code: `${engine}.config-invalid`, severity: "error", file: f.path, message: f.parseError });
    for (const [name, r] of Object.entries(f.runtimes)) runtimes[name] = declare(name, r, f);
    defaultRuntime = f.defaultRuntime ?? defaultRuntime;
  }
  const files = layers.map((f) => ({ path: f.path, exists: f.exists, managedBy: f.managedBy }));
  return { engine, configPath, files, runtimes, defaultRuntime, faults };
}

/** The drop-in gvisor-doctor writes into `dir` for runtime `name` ("99-": read after the files already there). */
export const gvisorDropIn = (dir: string, name: string): string =>
  join(dir, name === "runsc" ? "99-gvisor.conf" : `99-gvisor-${name}.conf`);

/** --config names a drop-in directory, not a file: a directory that exists, else one spelt like it (x.d, x/). */
export function namesDropInDir(path: string, local: (p: string) => string = (p) => p): boolean {
  try {
    return statSync(local(path)).isDirectory();
  } catch {
    return path.endsWith(".d") || path.endsWith("/");
  }
}
