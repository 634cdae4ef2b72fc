// containerd's config.toml, write side: where the runtime goes (the main file, the file
// that owns the CRI plugin, or a drop-in of its imports), the runtime and options tables
// for the runsc shim or the runc-shim fallback, runsc.toml and the wrapper. Pure over a
// ConfigReader; every edit is checked with a TOML parser before it becomes a change.
import { dirname, join } from "node:path";
import { absolutize, dropInNameFor, expandGlob } from "../edit/glob.ts";
import { refuseIfManaged, registerChange, type PlannedEdit } from "../edit/plan.ts";
import { argsToRunscConfig, parseWrapper, planWrapper, readProgram, wrapperPath } from "../edit/runtime-args.ts";
import { planShimConfig, planShimConfigRemoval, shimConfigArgs, shimConfigPath } from "../edit/shim-config.ts";
import { createdByUs, CREATED_MARKER, managedByTool } from "../edit/text.ts";
import { deleteIn, getPath, parseTomlStrict, pruneEmptyTables, setIn, verifyTomlEdit } from "../edit/toml-check.ts";
import { showPath, TomlDoc, type TomlValue } from "../edit/toml-edit.ts";
import { EngineConfigError, type FileChange, type RuntimeRequest } from "../types.ts";
import {
  criDisabled,
  CRI_PLUGIN,
  majorMinor,
  RUNC_SHIM_TYPE,
  RUNSC_SHIM,
  RUNSC_SHIM_TYPE,
  runtimesPath,
  schemaFaults,
  schemaOf,
  type ConfigReader,
  type ContainerdSchema,
} from "./config.ts";

export interface ContainerdPlanInput {
  configPath: string;
  reader: ConfigReader;
  containerdVersion: string | null;
  /** containerd-shim-runsc-v1 on containerd's PATH, or null (then the runc shim runs runsc). */
  shim: string | null;
  wrapperDir: string;
  request: RuntimeRequest;
  force: boolean;
}

export interface ContainerdPlanResult extends PlannedEdit {
  effective: { path: string; args: string[]; type: string } | null;
  /** What `containerd config dump` must show, for the validation step. */
  expect: { version: ContainerdSchema; runtime: Record<string, unknown> | null; defaultRuntimeName?: string };
}

const DROP_IN_NAMES = (name: string) =>
  name === "runsc"
    ? ["99-gvisor.toml", "gvisor.toml", "99-gvisor.conf"]
    : [`99-gvisor-${name}.toml`, `gvisor-${name}.toml`];

/** The TOML a person adds to (or, for --remove, deletes from) their source of truth. */
export function containerdSnippet(
  version: ContainerdSchema,
  req: RuntimeRequest,
  shim: string | null,
  configDir: string,
  wrapperDir: string,
): string {
  const R = runtimesPath(version);
  const d = new TomlDoc("", { quote: version === 3 ? "'" : '"', step: 2, blankBetweenTables: true });
  if (req.remove) return `delete [${showPath([...R, req.name])}] and [${showPath([...R, req.name, "options"])}]`;
  const args = req.runtimeArgs ?? [];
  if (shim) {
    const cfg = shimConfigPath(configDir, req.name);
    d.addTable([...R, req.name], [["runtime_type", RUNSC_SHIM_TYPE]]);
    d.addTable(
      [...R, req.name, "options"],
      [
        ["TypeUrl", "io.containerd.runsc.v1.options"],
        ["ConfigPath", cfg],
      ],
    );
    return `${d.text}\n# ${cfg}:\n# binary_name = ${JSON.stringify(req.runscPath)}${
      args.length
        ? `\n# [runsc_config]\n${Object.entries(argsToRunscConfig(args))
            .map(([k, v]) => `#   ${k} = ${JSON.stringify(v)}`)
            .join("\n")}`
        : ""
    }\n`;
  }
  const binary = args.length ? wrapperPath(wrapperDir, "containerd", req.name) : req.runscPath;
  d.addTable([...R, req.name], [["runtime_type", RUNC_SHIM_TYPE]]);
  d.addTable([...R, req.name, "options"], [["BinaryName", binary]]);
  return args.length
    ? `${d.text}\n# ${binary} is an executable script:\n#   #!/bin/sh\n#   exec ${[req.runscPath, ...args].join(" ")} "$@"\n`
    : d.text;
}

type Doc = Record<string, any>;

/** The main config file as read (or the minimal one configure creates), parsed, and its schema. */
interface MainFile {
  input: ContainerdPlanInput;
  req: RuntimeRequest;
  configPath: string;
  configDir: string;
  mm: { major: number; minor: number } | null;
  mainBefore: string | null;
  mainText: string;
  mainDoc: Doc;
  version: ContainerdSchema;
  /** Where this schema keeps the runtimes, and the CRI plugin's table. */
  R: string[];
  P: string[];
  notes: string[];
  changes: FileChange[];
}

/** containerd's config as containerd merges it: the main file, then the files it imports. */
interface ConfigFiles extends MainFile {
  importPatterns: string[];
  /** In the order containerd merges them; parsed where they exist. */
  imported: string[];
  parsedImports: Map<string, Doc>;
  /** The files that define the runtime now. */
  definedIn: string[];
}

/** The file the runtime goes into, as an editable document, and what it holds of the runtime now. */
interface TargetRun extends ConfigFiles {
  target: string;
  targetBefore: string | null;
  targetText: string;
  doc: TomlDoc;
  /** The target parsed before any edit. */
  tparsed: Doc;
  /** Each text edit again on the parsed document: verifyTomlEdit checks that both agree. */
  mutations: ((d: Doc) => void)[];
  /** The runtime under another schema's plugin path (a hand edit, a copied snippet). */
  strayPath: string[] | undefined;
  existing: Doc | undefined;
  exOpts: Doc;
  oldBinary: string | null;
}

/** The runtime entry to write and what it runs (the runsc shim's, or the runc shim's). */
interface RuntimeEntry {
  type: string;
  options: [string, TomlValue][];
  unsetOptions: string[];
  path: string;
  args: string[];
  relies: { path: string; text: string }[];
}

/** readMain → checkMain → readImports → chooseTargetFile → openTarget → removalCleanup | register. */
export function planContainerd(input: ContainerdPlanInput): ContainerdPlanResult {
  const mainBefore = input.reader.read(input.configPath);
  if (mainBefore === null && input.request.remove)
    return { changes: [], existed: false, notes: [], effective: null, expect: { version: 2, runtime: null } };
  const main = readMain(input, mainBefore);
  checkMain(main);
  const files = readImports(main);
  const { target, dropIn } = chooseTargetFile(files);
  const t = openTarget(files, target, dropIn);
  return input.request.remove ? removalCleanup(t) : register(t);
}

function readMain(input: ContainerdPlanInput, mainBefore: string | null): MainFile {
  const { configPath } = input;
  const mm = majorMinor(input.containerdVersion);
  const newVersion: ContainerdSchema = mm && mm.major >= 2 ? 3 : 2;
  const mainText =
    mainBefore ??
    `# ${CREATED_MARKER} configure containerd: a minimal config for containerd ${input.containerdVersion ?? "1.x"}.\n# \`gvisor-doctor configure containerd --remove\` deletes it once it holds nothing else.\nversion = ${newVersion}\n`;
  const mainDoc = parseTomlStrict(mainText, configPath);
  const { version } = schemaOf(mainDoc, configPath);
  return {
    input,
    req: input.request,
    configPath,
    configDir: dirname(configPath),
    mm,
    mainBefore,
    mainText,
    mainDoc,
    version,
    R: runtimesPath(version),
    P: CRI_PLUGIN[version],
    notes: [],
    changes: [],
  };
}

/** Refuse a config whose runtimes containerd would not use; note the schema faults left alone. */
function checkMain({ input, req, configPath, mainText, mainDoc, version, notes }: MainFile): void {
  if (criDisabled(mainDoc) && !req.remove && !input.force) {
    throw new EngineConfigError(
      `${configPath}: disabled_plugins turns off containerd's CRI plugin, so a runtime table there has no effect (Docker's containerd ships like this; Docker uses its own runtimes)`,
      { file: configPath },
      "enable the CRI plugin (remove it from disabled_plugins) if Kubernetes or crictl use this containerd, or pass --force to write the runtime anyway",
      null,
      "cri-disabled",
      true,
    );
  }
  const faults = schemaFaults(mainText, configPath, version, input.containerdVersion);
  const fatal = faults.find((f) => f.code === "containerd.v3-on-1x" || f.code === "containerd.v1-on-2x");
  if (fatal && !req.remove)
    throw new EngineConfigError(
      `${configPath}: ${fatal.message}`,
      { file: configPath, line: fatal.line },
      fatal.fix ?? null,
      null,
      fatal.code,
    );
  for (const f of faults)
    if (f !== fatal) notes.push(`${configPath}:${f.line}: ${f.message} (left as it is; ${f.fix})`);
}

/** Files containerd merges, in order, and where runtime `name` is defined now. */
function readImports(main: MainFile): ConfigFiles {
  const { configPath, configDir, mainDoc, R, req } = main;
  const { reader } = main.input;
  const imported: string[] = [];
  const importPatterns = (Array.isArray(mainDoc.imports) ? mainDoc.imports : [])
    .filter((p: unknown): p is string => typeof p === "string")
    .map((p: string) => absolutize(p, configDir));
  for (const pat of importPatterns)
    for (const f of expandGlob(pat, reader.list) ?? []) if (!imported.includes(f) && f !== configPath) imported.push(f);
  const parsedImports = new Map<string, Doc>();
  for (const f of imported) {
    const t = reader.read(f);
    if (t !== null) parsedImports.set(f, parseTomlStrict(t, f));
  }
  const files: ConfigFiles = { ...main, importPatterns, imported, parsedImports, definedIn: [] };
  files.definedIn = allFiles(files).filter((f) => getPath(docOf(files, f), [...R, req.name]) !== undefined);
  return files;
}

function allFiles(f: ConfigFiles): string[] {
  return [f.configPath, ...f.imported];
}

function docOf(f: ConfigFiles, file: string): Doc | undefined {
  return file === f.configPath ? f.mainDoc : f.parsedImports.get(file);
}

/** The TOML to add by hand, for this request and these files. */
function snippetOf({ version, req, input, configDir }: MainFile): string {
  return containerdSnippet(version, req, input.shim, configDir, input.wrapperDir);
}

/**
 * Where the runtime goes: the last file that defines it; a new one, before containerd 2.1 (imported
 * files replace whole plugin tables), into the last file that defines the CRI plugin, and into a
 * drop-in of an imported directory when no file defines it yet (or merging is deep).
 */
function chooseTargetFile(files: ConfigFiles): { target: string; dropIn: boolean } {
  const { configPath, definedIn, req, mm, P } = files;
  const owners = allFiles(files).filter((f) => getPath(docOf(files, f), P) !== undefined);
  const deepMerge = !!mm && (mm.major > 2 || (mm.major === 2 && mm.minor >= 1));
  if (definedIn.length || req.remove) return { target: definedIn.at(-1) ?? configPath, dropIn: false };
  let dropInPath: string | null = null;
  for (const pat of files.importPatterns) {
    const name = dropInNameFor(pat, DROP_IN_NAMES(req.name));
    if (name) {
      dropInPath = join(dirname(pat), name);
      break;
    }
  }
  if (dropInPath && (deepMerge || owners.length === 0)) return { target: dropInPath, dropIn: true };
  if (!owners.length) return { target: configPath, dropIn: false };
  const target = owners.at(-1)!;
  if (dropInPath)
    files.notes.push(
      `[${showPath(P)}] is defined in ${target}: containerd before 2.1 merges imported files per plugin (a drop-in would replace those settings), so the runtime goes into ${target}`,
    );
  return { target, dropIn: false };
}

/** Read the target (refused when a tool manages it) and open it for editing. */
function openTarget(files: ConfigFiles, target: string, dropIn: boolean): TargetRun {
  const { configPath, mainBefore, mainDoc, req, version, notes } = files;
  const targetBefore = target === configPath ? mainBefore : files.input.reader.read(target);
  const targetText =
    target === configPath
      ? files.mainText
      : (targetBefore ??
        `# ${CREATED_MARKER} configure containerd (runtime "${req.name}"), imported by ${configPath}.\n# \`gvisor-doctor configure containerd --runtime-name ${req.name} --remove\` deletes it.\nversion = ${version}\n`);
  if (targetBefore !== null) refuseIfManaged(target, targetBefore, files.input.force, snippetOf(files));
  else if (dropIn && mainBefore !== null && managedByTool(mainBefore))
    notes.push(
      `${configPath} is managed by ${managedByTool(mainBefore)}; the runtime goes into the drop-in ${target}, which it does not own`,
    );
  if (dropIn) notes.push(`${configPath} imports ${dirname(target)}: the runtime goes into the drop-in ${target}`);

  const doc = new TomlDoc(targetText, { quote: version === 3 ? "'" : '"', step: 2, blankBetweenTables: true });
  const tparsed = target === configPath ? mainDoc : parseTomlStrict(targetText, target);
  const { strayPath, existing } = runtimeIn(tparsed, doc, version, req);
  const exOpts: Doc = existing?.options && typeof existing.options === "object" ? existing.options : {};
  const oldBinary = typeof exOpts.BinaryName === "string" ? exOpts.BinaryName : null;
  const opened = { target, targetBefore, targetText, doc, tparsed, mutations: [], strayPath, existing, exOpts };
  return { ...files, ...opened, oldBinary };
}

/**
 * The runtime's table in the target, also under another config version's plugin path (a hand edit,
 * a copied snippet): containerd ignores that (1.x) or reads it only by luck of its migration (2.1
 * keeps a v3 table in a v2 file). Registering moves it to this version's path (a wrapper it named
 * keeps its runsc arguments).
 */
function runtimeIn(tparsed: Doc, doc: TomlDoc, version: ContainerdSchema, req: RuntimeRequest) {
  const strayPath = ([1, 2, 3] as ContainerdSchema[])
    .filter((v) => v !== version)
    .map((v) => [...runtimesPath(v), req.name])
    .find((p) => getPath(tparsed, p) !== undefined && !!doc.table(p));
  const stray = strayPath && !req.remove ? getPath(tparsed, strayPath) : undefined;
  const existing = (getPath(tparsed, [...runtimesPath(version), req.name]) ?? stray) as Doc | undefined;
  return { strayPath, existing };
}

/** A table in the way that gvisor-doctor does not edit (dotted keys, an inline table): refuse. */
function refuseConflicts(t: TargetRun, path: string[]): void {
  const c = t.doc.conflicts(path)[0];
  if (c)
    throw new EngineConfigError(
      `${t.target}:${c.line}: ${c.message}`,
      { file: t.target, line: c.line },
      `write it as a [${showPath(path)}] table (gvisor-doctor edits tables, not dotted keys or inline tables), or add the runtime by hand`,
      snippetOf(t),
      "toml-shape",
    );
}

function wrapperFor(t: TargetRun, args: string[] | null) {
  return planWrapper({
    engine: "containerd",
    name: t.req.name,
    runsc: t.req.runscPath,
    args,
    wrapperDir: t.input.wrapperDir,
    oldBinary: t.oldBinary,
    read: t.input.reader.read,
    why: "the runc shim cannot pass runtime arguments to runsc",
    config: t.target,
  });
}

/** --remove: the runtime's tables, a default that named it, and what registering wrote for it. */
function removalCleanup(t: TargetRun): ContainerdPlanResult {
  const { req, R, P, doc, tparsed, target, targetBefore, targetText, mutations, changes, notes, version } = t;
  if (!t.existing) return { changes, existed: false, notes, effective: null, expect: { version, runtime: null } };
  if (!doc.table([...R, req.name])) refuseConflicts(t, [...R, req.name]);
  doc.removeTable([...R, req.name]);
  mutations.push((d) => deleteIn(d, [...R, req.name]));
  const dr = getPath(tparsed, [...P, "containerd", "default_runtime_name"]);
  if (dr === req.name) {
    doc.set([...P, "containerd"], "default_runtime_name", "runc");
    mutations.push((d) => setIn(d, [...P, "containerd", "default_runtime_name"], "runc"));
    notes.push(`default_runtime_name was "${req.name}": set back to "runc"`);
  }
  removeRuncWeWrote(t, dr);
  let after: string | null = doc.text;
  verifyTomlEdit(targetText, after, target, (d) => mutations.forEach((m) => m(d)));
  // A file we created that now holds nothing but `version` (and the runc table we wrote) goes away.
  const rest = parseTomlStrict(after, target);
  if (createdByUs(targetBefore) && onlyWhatWeWrite(rest, R)) after = null;
  changes.push({
    path: target,
    before: targetBefore,
    after,
    action: after === null ? "delete" : "modify",
    ...(after === null ? { backup: false } : {}),
    reason: `unregister runtime "${req.name}"`,
  });
  const shimCfg = shimConfigRemoval(t, rest);
  if (shimCfg) changes.push(shimCfg);
  changes.push(...wrapperFor(t, []).changes);
  return {
    changes,
    existed: t.definedIn.length > 0,
    notes,
    effective: null,
    expect: { version, runtime: null, ...(dr === req.name ? { defaultRuntimeName: "runc" } : {}) },
  };
}

/** The runsc.toml the runtime named goes with it, unless another runtime still names it. */
function shimConfigRemoval(t: TargetRun, rest: Doc): FileChange | null {
  const cfgPath = typeof t.exOpts.ConfigPath === "string" ? t.exOpts.ConfigPath : null;
  if (!cfgPath) return null;
  const stillUsed = Object.entries<any>(getPath(rest, t.R) ?? {}).some(([, x]) => x?.options?.ConfigPath === cfgPath);
  return planShimConfigRemoval(t.req.name, cfgPath, t.input.reader.read(cfgPath), stillUsed);
}

/**
 * Registering wrote containerd's built-in runc out (a config with any runtime loses it), marked
 * with RUNC_MARKER. When that table is all that is left in every file, it goes too: containerd's
 * built-in runc is the same runtime, and the file is back to what it was.
 */
function removeRuncWeWrote(t: TargetRun, dr: unknown): void {
  const { req, R, P, doc } = t;
  const others = allFiles(t).flatMap((f) =>
    Object.entries<any>(getPath(f === t.target ? t.tparsed : docOf(t, f), R) ?? {})
      .filter(([n]) => n !== req.name)
      .map(([n, x]) => ({ n, x, f })),
  );
  const plainRunc =
    others.length === 1 &&
    others[0].n === "runc" &&
    others[0].f === t.target &&
    Object.keys(others[0].x ?? {}).length === 1 &&
    others[0].x.runtime_type === RUNC_SHIM_TYPE &&
    doc.tableLines([...R, "runc"]).some((l) => l.trim() === `# ${RUNC_MARKER}`);
  const runcDefault = [
    dr,
    ...allFiles(t).map((f) => getPath(docOf(t, f), [...P, "containerd", "default_runtime_name"])),
  ].every((x) => x === undefined || x === "runc" || x === req.name);
  if (plainRunc && runcDefault && doc.table([...R, "runc"])) {
    doc.removeTable([...R, "runc"]);
    t.mutations.push((d) => deleteIn(d, [...R, "runc"]));
    t.notes.push(
      `removed the [${showPath([...R, "runc"])}] table gvisor-doctor wrote out: with no runtime tables containerd uses the same built-in runc`,
    );
  }
}

/** Register: move a stray table home, plan the shim's config (or the wrapper), then write the tables. */
function register(t: TargetRun): ContainerdPlanResult {
  const { req, target, targetBefore, targetText, doc, version } = t;
  moveStray(t);
  const entry = shimConfigChange(t, carriedSystemdCgroup(t));
  runtimeTables(t, entry);
  const registered = registerChange(target, targetBefore, doc.text, req.name, targetText, t.mutations);
  if (registered) t.changes.unshift(registered);
  const runtime: Record<string, unknown> = { runtime_type: entry.type, options: Object.fromEntries(entry.options) };
  return {
    changes: t.changes,
    existed: t.definedIn.length > 0,
    notes: t.notes,
    relies: entry.relies,
    effective: { path: entry.path, args: entry.args, type: entry.type },
    expect: { version, runtime, ...(req.makeDefault ? { defaultRuntimeName: req.name } : {}) },
  };
}

function moveStray(t: TargetRun): void {
  const { strayPath, req, R } = t;
  if (!strayPath) return;
  t.doc.removeTable(strayPath);
  t.mutations.push((d) => deleteIn(d, strayPath));
  const to = showPath([...R, req.name]);
  const from = showPath(strayPath);
  t.notes.push(`moved runtime "${req.name}" from [${from}], a path version ${t.version} files do not use, to [${to}]`);
}

/** SystemdCgroup must agree between runc and runsc (nvidia-docker#1788): carry it over. */
function carriedSystemdCgroup(t: TargetRun): boolean {
  const { R, P } = t;
  const merged = [t.mainDoc, ...t.parsedImports.values()];
  const defaultName =
    merged
      .map((d) => getPath(d, [...P, "containerd", "default_runtime_name"]))
      .filter((x) => typeof x === "string")
      .at(-1) ?? "runc";
  return (
    merged
      .map(
        (d) =>
          getPath(d, [...R, "runc", "options", "SystemdCgroup"]) ??
          getPath(d, [...R, defaultName, "options", "SystemdCgroup"]),
      )
      .filter((x) => x !== undefined)
      .at(-1) === true
  );
}

/** What the runtime runs: the runsc shim with its runsc.toml, or the runc shim with runsc (or a wrapper). */
function shimConfigChange(t: TargetRun, systemdCgroup: boolean): RuntimeEntry {
  const useShim = !!t.input.shim;
  const entry = useShim ? viaRunscShim(t, systemdCgroup) : viaRuncShim(t, systemdCgroup);
  if (systemdCgroup)
    t.notes.push(
      `SystemdCgroup = true carried over from the runc runtime${useShim ? " (as systemd-cgroup in runsc.toml)" : ""}`,
    );
  return entry;
}

function viaRunscShim(t: TargetRun, systemdCgroup: boolean): RuntimeEntry {
  const { req, exOpts, input } = t;
  const cfgPath = typeof exOpts.ConfigPath === "string" ? exOpts.ConfigPath : shimConfigPath(t.configDir, req.name);
  const keepArgs = req.runtimeArgs ?? parseWrapper(readProgram(input.reader.read, t.oldBinary))?.args ?? null;
  const shimCfg = planShimConfig("containerd", req.name, cfgPath, input.reader.read(cfgPath), {
    binaryName: req.runscPath,
    args: keepArgs,
    carried: systemdCgroup ? { "systemd-cgroup": "true" } : {},
  });
  if (shimCfg.change) t.changes.push(shimCfg.change);
  t.changes.push(...wrapperFor(t, []).changes);
  return {
    type: RUNSC_SHIM_TYPE,
    options: [
      ["TypeUrl", "io.containerd.runsc.v1.options"],
      ["ConfigPath", cfgPath],
    ],
    unsetOptions: t.existing?.runtime_type === RUNC_SHIM_TYPE ? ["BinaryName", "SystemdCgroup"] : [],
    path: input.shim!,
    args: shimCfg.args,
    relies: [],
  };
}

function viaRuncShim(t: TargetRun, systemdCgroup: boolean): RuntimeEntry {
  const { req, exOpts } = t;
  // Switching from the runsc shim keeps the args its runsc.toml passed.
  const shimArgs =
    t.existing?.runtime_type === RUNSC_SHIM_TYPE && typeof exOpts.ConfigPath === "string"
      ? shimConfigArgs(t.input.reader.read(exOpts.ConfigPath), exOpts.ConfigPath)
      : null;
  const w = wrapperFor(t, req.runtimeArgs ?? shimArgs);
  t.changes.push(...w.changes);
  t.notes.push(
    `${RUNSC_SHIM} is not on containerd's PATH: using the runc shim (${RUNC_SHIM_TYPE}) with BinaryName = ${w.args.length ? `a wrapper that runs runsc ${w.args.join(" ")}` : req.runscPath}; install the shim to use runsc.toml options`,
  );
  const options: [string, TomlValue][] = [["BinaryName", w.binary]];
  if (systemdCgroup && exOpts.SystemdCgroup === undefined) options.push(["SystemdCgroup", true]);
  return {
    type: RUNC_SHIM_TYPE,
    options,
    unsetOptions: t.existing?.runtime_type === RUNSC_SHIM_TYPE ? ["TypeUrl", "ConfigPath"] : [],
    path: w.binary,
    args: w.args,
    relies: w.relies,
  };
}

/** runc written out when no file defines runtimes yet, the runtime and options tables, the default. */
function runtimeTables(t: TargetRun, entry: RuntimeEntry): void {
  const { req, R, P, doc, tparsed, mutations } = t;
  writeRuncOut(t);
  // The runtime table, then its options table.
  const rt = [...R, req.name];
  if (!doc.table(rt)) {
    refuseConflicts(t, rt);
    const like = Object.keys(getPath(tparsed, R) ?? {}).find((n) => n !== req.name && doc.table([...R, n]));
    doc.addTable(rt, [["runtime_type", entry.type]], like ? [...R, like] : undefined);
  } else doc.set(rt, "runtime_type", entry.type);
  mutations.push((d) => setIn(d, [...rt, "runtime_type"], entry.type));
  const ot = [...rt, "options"];
  for (const k of entry.unsetOptions) {
    if (doc.unset(ot, k)) mutations.push((d) => deleteIn(d, [...ot, k]));
  }
  if (!doc.table(ot)) {
    refuseConflicts(t, ot);
    const like = Object.keys(getPath(tparsed, R) ?? {}).find((n) => n !== req.name && doc.table([...R, n, "options"]));
    doc.addTable(ot, entry.options, like ? [...R, like, "options"] : undefined);
  } else for (const [k, v] of entry.options) doc.set(ot, k, v);
  for (const [k, v] of entry.options) mutations.push((d) => setIn(d, [...ot, k], v));
  if (req.makeDefault) {
    const ct = [...P, "containerd"];
    if (doc.table(ct)) doc.set(ct, "default_runtime_name", req.name);
    else {
      refuseConflicts(t, ct);
      doc.addTable(ct, [["default_runtime_name", req.name]]);
    }
    mutations.push((d) => setIn(d, [...ct, "default_runtime_name"], req.name));
  }
}

/**
 * containerd drops its built-in runc runtime as soon as a config defines any runtime (measured
 * with 1.6: the runtimes map is replaced), and CRI refuses a default_runtime_name it cannot find.
 * So when no file defines runtimes yet, runc is written out too.
 */
function writeRuncOut(t: TargetRun): void {
  const { req, R, doc } = t;
  const anyRuntimeTables = allFiles(t).some((f) => Object.keys(getPath(docOf(t, f), R) ?? {}).length > 0);
  if (anyRuntimeTables || req.name === "runc") return;
  refuseConflicts(t, [...R, "runc"]);
  doc.addTable([...R, "runc"], [["runtime_type", RUNC_SHIM_TYPE]], undefined, RUNC_MARKER);
  t.mutations.push((d) => setIn(d, [...R, "runc", "runtime_type"], RUNC_SHIM_TYPE));
  t.notes.push(
    `wrote containerd's built-in runc runtime out as [${showPath([...R, "runc"])}]: containerd forgets it once a config defines any runtime`,
  );
}

/** The comment in the runc table gvisor-doctor writes out: says why, and lets --remove take it back. */
export const RUNC_MARKER =
  "written by gvisor-doctor: containerd drops its built-in runc once a config defines any runtime";

/** Nothing left but `version` and the plain runc table gvisor-doctor writes out. */
function onlyWhatWeWrite(doc: Record<string, any>, R: string[]): boolean {
  const c = structuredClone(doc);
  delete c.version;
  const runc = getPath(c, [...R, "runc"]);
  if (runc && Object.keys(runc).length === 1 && runc.runtime_type === RUNC_SHIM_TYPE) deleteIn(c, [...R, "runc"]);
  return Object.keys(pruneEmptyTables(c)).length === 0;
}
