// containerd's config.toml, read side: the schema (version 1/2/3 and the CRI plugin table
// each uses), the runtime tables declared in the file and the files it imports, and the
// faults containerd stays silent about (a section for another schema, a disabled CRI
// plugin). Pure over a ConfigReader; the doctor's containerd checks use it.
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import semver from "semver";
import { readOrNull } from "../edit/apply.ts";
import { SELF_ROOT, type HostRoot } from "../../os/host-root.ts";
import { absolutize, expandGlob } from "../edit/glob.ts";
import { managedByTool } from "../edit/text.ts";
import { getPath, parseTomlStrict } from "../edit/toml-check.ts";
import { showPath, startsWith, TomlDoc } from "../edit/toml-edit.ts";
import { EngineConfigError, type ConfigFault } from "../types.ts";

export type ContainerdSchema = 1 | 2 | 3;
export const DEFAULT_CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const DEFAULT_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock";
export const RUNSC_SHIM = "containerd-shim-runsc-v1";
export const RUNSC_SHIM_TYPE = "io.containerd.runsc.v1";
export const RUNC_SHIM_TYPE = "io.containerd.runc.v2";

/** The CRI plugin's table for each config version. */
export const CRI_PLUGIN: Record<ContainerdSchema, string[]> = {
  1: ["plugins", "cri"],
  2: ["plugins", "io.containerd.grpc.v1.cri"],
  3: ["plugins", "io.containerd.cri.v1.runtime"],
};
/** Keys of plugins."io.containerd.grpc.v1.cri" that containerd 2.x still reads (the rest moved to cri.v1.*). */
const GRPC_CRI_V3_KEYS = new Set([
  "disable_tcp_service",
  "stream_server_address",
  "stream_server_port",
  "stream_idle_timeout",
  "enable_tls_streaming",
  "x509_key_pair_streaming",
]);

export const runtimesPath = (v: ContainerdSchema) => [...CRI_PLUGIN[v], "containerd", "runtimes"];

export interface ContainerdRuntime {
  name: string;
  runtimeType: string | null;
  options: Record<string, unknown>;
  file: string;
  line: number | null;
}

export interface ContainerdInspection {
  file: string;
  exists: boolean;
  /** The schema: the `version` key, or 1 when there is none. */
  version: ContainerdSchema;
  versionDeclared: boolean;
  /** The CRI plugin table runtimes must live under for this version. */
  pluginPath: string[];
  runtimesPath: string[];
  /** Runtime tables under runtimesPath, from this file and the files it imports (later wins). */
  runtimes: Record<string, ContainerdRuntime>;
  defaultRuntimeName: string | null;
  /** `imports` as written, and the files each pattern names now. */
  imports: { pattern: string; files: string[] | null }[];
  /** disabled_plugins turns the CRI plugin off: runtime tables then have no effect (Docker CE's default). */
  criDisabled: boolean;
  parseError: { line: number | null; column: number | null; message: string } | null;
  managedBy: string | null;
  faults: ConfigFault[];
}

export function schemaOf(doc: Record<string, any>, file: string): { version: ContainerdSchema; declared: boolean } {
  const v = doc.version;
  if (v === undefined) return { version: 1, declared: false };
  if (v === 1 || v === 2 || v === 3) return { version: v, declared: true };
  throw new EngineConfigError(
    `${file}: version = ${JSON.stringify(v)} is not a containerd config version (1, 2 or 3)`,
    { file },
    "set version = 2 for containerd 1.x or version = 3 for containerd 2.x",
    null,
    "bad-version",
  );
}

export function majorMinor(version: string | null): { major: number; minor: number } | null {
  const v = version ? semver.coerce(version) : null;
  return v ? { major: v.major, minor: v.minor } : null;
}

/** Schema faults: sections containerd silently ignores for this file's version, or a version this containerd cannot read. */
export function schemaFaults(
  text: string,
  file: string,
  version: ContainerdSchema,
  containerdVersion: string | null,
): ConfigFault[] {
  const doc = new TomlDoc(text);
  const faults: ConfigFault[] = [];
  const firstLine = (prefix: string[], keep: (path: string[]) => boolean = () => true) => {
    const hit = (p: string[]) => startsWith(p, prefix) && keep(p);
    const lines = [
      ...doc.tables.filter((t) => hit(t.path)).map((t) => t.line),
      ...doc.kvs.filter((k) => hit([...k.table, ...k.key])).map((k) => k.line),
    ];
    return lines.length ? Math.min(...lines) : null;
  };
  // containerd 2.x still reads plugins."io.containerd.grpc.v1.cri" for its streaming server
  // (`containerd config default` and `config migrate` of 2.1 write it): only other keys there are ignored.
  const n = CRI_PLUGIN[2].length;
  const ignoredInV3 = (p: string[]) => p.length > n && !GRPC_CRI_V3_KEYS.has(p[n]);
  // Measured with containerd 1.6: plugins.cri in a version 2 file and plugins."io.containerd.grpc.v1.cri"
  // in a file without a version are both ignored, as version 2 sections are in version 3 files.
  for (const other of ([1, 2, 3] as ContainerdSchema[]).filter((v) => v !== version)) {
    const line = firstLine(CRI_PLUGIN[other], other === 2 && version === 3 ? ignoredInV3 : undefined);
    if (line === null) continue;
    const code = `containerd.v${other}-section-in-v${version}`;
    faults.push({
      code,
      severity: "error",
      file,
      line,
      message: `[${showPath(CRI_PLUGIN[other])}…] is a version ${other} section in a version ${version} file: containerd ignores it silently`,
      fix: `move its runtimes under [${showPath(runtimesPath(version))}.<name>] (gvisor-doctor configure containerd writes the right section)`,
    });
  }
  const mm = majorMinor(containerdVersion);
  if (mm && version === 3 && mm.major < 2)
    faults.push({
      code: "containerd.v3-on-1x",
      severity: "error",
      file,
      line: 1,
      message: `version = 3 is for containerd 2.x; containerd ${containerdVersion} ignores its plugins.'io.containerd.cri.v1.runtime' section`,
      fix: 'use version = 2 with plugins."io.containerd.grpc.v1.cri", or upgrade containerd',
    });
  if (mm && version === 1 && mm.major >= 2) {
    // Measured with containerd 2.1.9: it loads the file and logs "Ignoring unknown key in TOML
    // for plugin … containerd runtimes"; `containerd config migrate` of it drops them too.
    // First: it is the cause, and its fix (the migration) also settles the section faults.
    faults.unshift({
      code: "containerd.v1-on-2x",
      severity: "error",
      file,
      line: 1,
      message:
        `a file without a version line is read as version 1 by containerd ${containerdVersion}, ` +
        "which silently drops its CRI runtimes",
      fix:
        "let gvisor-doctor migrate it to version 3 with containerd config migrate: " +
        "gvisor-doctor configure containerd --migrate (add --dry-run to see the diff first)",
    });
  }
  return faults;
}

function runtimesIn(
  doc: Record<string, any>,
  version: ContainerdSchema,
  file: string,
  text: string,
): Record<string, ContainerdRuntime> {
  const out: Record<string, ContainerdRuntime> = {};
  const R = runtimesPath(version);
  const tables = getPath(doc, R);
  if (!tables || typeof tables !== "object") return out;
  const tdoc = new TomlDoc(text);
  for (const [name, t] of Object.entries<any>(tables)) {
    if (!t || typeof t !== "object") continue;
    const line =
      tdoc.table([...R, name])?.line ??
      tdoc.kvs.find((k) => startsWith([...k.table, ...k.key], [...R, name]))?.line ??
      null;
    out[name] = {
      name,
      runtimeType: typeof t.runtime_type === "string" ? t.runtime_type : null,
      options: t.options && typeof t.options === "object" ? { ...t.options } : {},
      file,
      line,
    };
  }
  return out;
}

/** Read a config.toml's text (null: missing) into facts. Pure: imports are listed, not read. */
export function inspectContainerdText(
  text: string | null,
  file: string,
  containerdVersion: string | null = null,
): ContainerdInspection {
  const base: ContainerdInspection = {
    file,
    exists: text !== null,
    version: 2,
    versionDeclared: false,
    pluginPath: CRI_PLUGIN[2],
    runtimesPath: runtimesPath(2),
    runtimes: {},
    defaultRuntimeName: null,
    imports: [],
    criDisabled: false,
    parseError: null,
    managedBy: managedByTool(text),
    faults: [],
  };
  if (text === null) {
    const mm = majorMinor(containerdVersion);
    const v: ContainerdSchema = mm && mm.major >= 2 ? 3 : 2;
    return { ...base, version: v, pluginPath: CRI_PLUGIN[v], runtimesPath: runtimesPath(v) };
  }
  let doc: Record<string, any>;
  let schema: { version: ContainerdSchema; declared: boolean };
  try {
    doc = parseTomlStrict(text, file);
    schema = schemaOf(doc, file);
  } catch (e) {
    const err = e as EngineConfigError;
    base.parseError = { line: err.spot?.line ?? null, column: err.spot?.column ?? null, message: err.message };
    base.faults.push({
      code: "containerd.config-invalid",
      severity: "error",
      file,
      line: err.spot?.line,
      column: err.spot?.column,
      message: err.message,
      fix: "containerd refuses to start with it: fix the file by hand",
    });
    return base;
  }
  base.version = schema.version;
  base.versionDeclared = schema.declared;
  base.pluginPath = CRI_PLUGIN[schema.version];
  base.runtimesPath = runtimesPath(schema.version);
  base.runtimes = runtimesIn(doc, schema.version, file, text);
  const dr = getPath(doc, [...base.pluginPath, "containerd", "default_runtime_name"]);
  base.defaultRuntimeName = typeof dr === "string" ? dr : null;
  const imports: unknown[] = Array.isArray(doc.imports) ? doc.imports : [];
  base.imports = imports.filter((p): p is string => typeof p === "string").map((pattern) => ({ pattern, files: null }));
  base.faults.push(...schemaFaults(text, file, schema.version, containerdVersion));
  base.criDisabled = criDisabled(doc);
  if (base.criDisabled)
    base.faults.push({
      code: "containerd.cri-disabled",
      severity: "warning",
      file,
      message: `disabled_plugins turns off the CRI plugin: runtime tables in ${file} have no effect (Kubernetes and crictl cannot use them)`,
      fix: "remove the CRI plugin from disabled_plugins if this containerd serves Kubernetes",
    });
  return base;
}

const CRI_IDS = ["cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"];
/** Is the CRI plugin in disabled_plugins (by short or full id)? */
export function criDisabled(doc: Record<string, any>): boolean {
  return Array.isArray(doc.disabled_plugins) && doc.disabled_plugins.some((p: unknown) => CRI_IDS.includes(String(p)));
}

export interface ConfigReader {
  read(path: string): string | null;
  list(dir: string): string[] | null;
}

/** A reader of host paths through `root` (this machine's own files by default). */
export function readerFor(root: HostRoot = SELF_ROOT): ConfigReader {
  return {
    read: (path) => readOrNull(root.local(path)),
    list(dir) {
      try {
        return readdirSync(root.local(dir));
      } catch {
        return null;
      }
    },
  };
}

export const fsReader: ConfigReader = readerFor(SELF_ROOT);

/** The config file and everything it imports, in containerd's merge order (later wins). */
export function inspectConfig(
  path: string,
  containerdVersion: string | null = null,
  reader: ConfigReader = fsReader,
): ContainerdInspection {
  const ins = inspectContainerdText(reader.read(path), path, containerdVersion);
  for (const imp of ins.imports) {
    imp.files = expandGlob(absolutize(imp.pattern, dirname(path)), reader.list);
    for (const f of imp.files ?? []) {
      const text = reader.read(f);
      if (text === null) {
        ins.faults.push({
          code: "containerd.import-missing",
          severity: "error",
          file: path,
          message: `imports names ${f}, which does not exist: containerd fails to start`,
          fix: `create ${f} or remove it from imports`,
        });
        continue;
      }
      const sub = inspectContainerdText(text, f, containerdVersion);
      ins.faults.push(...sub.faults.filter((x) => x.code !== "containerd.v1-on-2x"));
      if (sub.parseError) continue;
      Object.assign(ins.runtimes, runtimesIn(parseTomlStrict(text, f), ins.version, f, text));
    }
  }
  return ins;
}
