// containerd's config.toml, write side: where the runtime goes (the main file, the file
// that owns the CRI plugin, or a drop-in of its imports), the runtime and options tables
// for the runsc shim or the runc-shim fallback, runsc.toml and the wrapper. Pure over a
// ConfigReader; every edit is checked with a TOML parser before it becomes a change.
import { dirname, join } from "node:path";
import { absolutize, dropInNameFor, expandGlob } from "../edit/glob.ts";
import { refuseIfManaged } from "../edit/plan.ts";
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

export interface ContainerdPlanResult {
  changes: FileChange[];
  existed: boolean;
  notes: string[];
  effective: { path: string; args: string[]; type: string } | null;
  relies?: { path: string; text: string }[];
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

export function planContainerd(input: ContainerdPlanInput): ContainerdPlanResult {
  const { configPath, reader, request: req } = input;
  const notes: string[] = [];
  const mm = majorMinor(input.containerdVersion);
  const mainBefore = reader.read(configPath);
  const configDir = dirname(configPath);
  const changes: FileChange[] = [];

  if (mainBefore === null && req.remove)
    return { changes, existed: false, notes, effective: null, expect: { version: 2, runtime: null } };
  const newVersion: ContainerdSchema = mm && mm.major >= 2 ? 3 : 2;
  const mainText =
    mainBefore ??
    `# ${CREATED_MARKER} configure containerd: a minimal config for containerd ${input.containerdVersion ?? "1.x"}.\n# \`gvisor-doctor configure containerd --remove\` deletes it once it holds nothing else.\nversion = ${newVersion}\n`;
  const mainDoc = parseTomlStrict(mainText, configPath);
  const { version } = schemaOf(mainDoc, configPath);
  const R = runtimesPath(version);
  const P = CRI_PLUGIN[version];
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

  // Files containerd merges, in order, and where runtime `name` is defined now.
  const imported: string[] = [];
  const importPatterns = (Array.isArray(mainDoc.imports) ? mainDoc.imports : [])
    .filter((p: unknown): p is string => typeof p === "string")
    .map((p: string) => absolutize(p, configDir));
  for (const pat of importPatterns)
    for (const f of expandGlob(pat, reader.list) ?? []) if (!imported.includes(f) && f !== configPath) imported.push(f);
  const parsedImports = new Map<string, Record<string, any>>();
  for (const f of imported) {
    const t = reader.read(f);
    if (t !== null) parsedImports.set(f, parseTomlStrict(t, f));
  }
  const definedIn = [configPath, ...imported].filter(
    (f) => getPath(f === configPath ? mainDoc : parsedImports.get(f), [...R, req.name]) !== undefined,
  );

  // Where a new runtime goes. Before containerd 2.1 imported files replace whole plugin
  // tables, so it goes into the last file that defines the CRI plugin; a drop-in in an
  // imported directory is used when no file defines it yet (or merging is deep).
  const docOf = (f: string) => (f === configPath ? mainDoc : parsedImports.get(f));
  const owners = [configPath, ...imported].filter((f) => getPath(docOf(f), P) !== undefined);
  const deepMerge = !!mm && (mm.major > 2 || (mm.major === 2 && mm.minor >= 1));
  let target = definedIn.at(-1) ?? configPath;
  let dropIn = false;
  if (!definedIn.length && !req.remove) {
    let dropInPath: string | null = null;
    for (const pat of importPatterns) {
      const name = dropInNameFor(pat, DROP_IN_NAMES(req.name));
      if (name) {
        dropInPath = join(dirname(pat), name);
        break;
      }
    }
    if (dropInPath && (deepMerge || owners.length === 0)) {
      target = dropInPath;
      dropIn = true;
    } else if (owners.length) {
      target = owners.at(-1)!;
      if (dropInPath)
        notes.push(
          `[${showPath(P)}] is defined in ${target}: containerd before 2.1 merges imported files per plugin (a drop-in would replace those settings), so the runtime goes into ${target}`,
        );
    }
  }
  const targetBefore = target === configPath ? mainBefore : reader.read(target);
  const targetText =
    target === configPath
      ? mainText
      : (targetBefore ??
        `# ${CREATED_MARKER} configure containerd (runtime "${req.name}"), imported by ${configPath}.\n# \`gvisor-doctor configure containerd --runtime-name ${req.name} --remove\` deletes it.\nversion = ${version}\n`);
  if (targetBefore !== null)
    refuseIfManaged(
      target,
      targetBefore,
      input.force,
      containerdSnippet(version, req, input.shim, configDir, input.wrapperDir),
    );
  else if (dropIn && mainBefore !== null && managedByTool(mainBefore))
    notes.push(
      `${configPath} is managed by ${managedByTool(mainBefore)}; the runtime goes into the drop-in ${target}, which it does not own`,
    );
  if (dropIn) notes.push(`${configPath} imports ${dirname(target)}: the runtime goes into the drop-in ${target}`);

  const doc = new TomlDoc(targetText, { quote: version === 3 ? "'" : '"', step: 2, blankBetweenTables: true });
  const tparsed = target === configPath ? mainDoc : parseTomlStrict(targetText, target);
  // The runtime under another config version's plugin path (a hand edit, a copied snippet): containerd
  // ignores it (1.x) or reads it only by luck of its migration (2.1 keeps a v3 table in a v2 file).
  // Registering moves it to this version's path (a wrapper it named keeps its runsc arguments).
  const strayPath = ([1, 2, 3] as ContainerdSchema[])
    .filter((v) => v !== version)
    .map((v) => [...runtimesPath(v), req.name])
    .find((p) => getPath(tparsed, p) !== undefined && !!doc.table(p));
  const stray = strayPath && !req.remove ? getPath(tparsed, strayPath) : undefined;
  const existing = (getPath(tparsed, [...R, req.name]) ?? stray) as Record<string, any> | undefined;
  // containerd drops its built-in runc runtime as soon as a config defines any runtime
  // (measured with 1.6: the runtimes map is replaced), and CRI refuses a default_runtime_name
  // it cannot find. So when no file defines runtimes yet, runc is written out too.
  const anyRuntimeTables = [configPath, ...imported].some((f) => Object.keys(getPath(docOf(f), R) ?? {}).length > 0);
  const existed = definedIn.length > 0;
  const exOpts: Record<string, any> = existing?.options && typeof existing.options === "object" ? existing.options : {};
  const mutations: ((d: Record<string, any>) => void)[] = [];
  const refuseConflicts = (path: string[]) => {
    const c = doc.conflicts(path)[0];
    if (c)
      throw new EngineConfigError(
        `${target}:${c.line}: ${c.message}`,
        { file: target, line: c.line },
        `write it as a [${showPath(path)}] table (gvisor-doctor edits tables, not dotted keys or inline tables), or add the runtime by hand`,
        containerdSnippet(version, req, input.shim, configDir, input.wrapperDir),
        "toml-shape",
      );
  };
  const oldBinary = typeof exOpts.BinaryName === "string" ? exOpts.BinaryName : null;
  const wrapperFor = (args: string[] | null) =>
    planWrapper({
      engine: "containerd",
      name: req.name,
      runsc: req.runscPath,
      args,
      wrapperDir: input.wrapperDir,
      oldBinary,
      read: reader.read,
      why: "the runc shim cannot pass runtime arguments to runsc",
      config: target,
    });

  if (req.remove) {
    if (!existing) return { changes, existed: false, notes, effective: null, expect: { version, runtime: null } };
    if (!doc.table([...R, req.name])) refuseConflicts([...R, req.name]);
    doc.removeTable([...R, req.name]);
    mutations.push((d) => deleteIn(d, [...R, req.name]));
    const dr = getPath(tparsed, [...P, "containerd", "default_runtime_name"]);
    if (dr === req.name) {
      doc.set([...P, "containerd"], "default_runtime_name", "runc");
      mutations.push((d) => setIn(d, [...P, "containerd", "default_runtime_name"], "runc"));
      notes.push(`default_runtime_name was "${req.name}": set back to "runc"`);
    }
    // Registering wrote containerd's built-in runc out (a config with any runtime loses it),
    // marked with RUNC_MARKER. When that table is all that is left in every file, it goes
    // too: containerd's built-in runc is the same runtime, and the file is back to what it was.
    const others = [configPath, ...imported].flatMap((f) =>
      Object.entries<any>(getPath(f === target ? tparsed : docOf(f), R) ?? {})
        .filter(([n]) => n !== req.name)
        .map(([n, t]) => ({ n, t, f })),
    );
    const plainRunc =
      others.length === 1 &&
      others[0].n === "runc" &&
      others[0].f === target &&
      Object.keys(others[0].t ?? {}).length === 1 &&
      others[0].t.runtime_type === RUNC_SHIM_TYPE &&
      doc.tableLines([...R, "runc"]).some((l) => l.trim() === `# ${RUNC_MARKER}`);
    const runcDefault = [
      dr,
      ...[configPath, ...imported].map((f) => getPath(docOf(f), [...P, "containerd", "default_runtime_name"])),
    ].every((x) => x === undefined || x === "runc" || x === req.name);
    if (plainRunc && runcDefault && doc.table([...R, "runc"])) {
      doc.removeTable([...R, "runc"]);
      mutations.push((d) => deleteIn(d, [...R, "runc"]));
      notes.push(
        `removed the [${showPath([...R, "runc"])}] table gvisor-doctor wrote out: with no runtime tables containerd uses the same built-in runc`,
      );
    }
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
    const cfgPath = typeof exOpts.ConfigPath === "string" ? exOpts.ConfigPath : null;
    if (cfgPath) {
      const stillUsed = Object.entries<any>(getPath(rest, R) ?? {}).some(([, t]) => t?.options?.ConfigPath === cfgPath);
      const c = planShimConfigRemoval(req.name, cfgPath, reader.read(cfgPath), stillUsed);
      if (c) changes.push(c);
    }
    changes.push(...wrapperFor([]).changes);
    return {
      changes,
      existed,
      notes,
      effective: null,
      expect: { version, runtime: null, ...(dr === req.name ? { defaultRuntimeName: "runc" } : {}) },
    };
  }

  if (strayPath) {
    doc.removeTable(strayPath);
    mutations.push((d) => deleteIn(d, strayPath));
    const to = showPath([...R, req.name]);
    const from = showPath(strayPath);
    notes.push(`moved runtime "${req.name}" from [${from}], a path version ${version} files do not use, to [${to}]`);
  }
  // SystemdCgroup must agree between runc and runsc (nvidia-docker#1788): carry it over.
  const merged = [mainDoc, ...parsedImports.values()];
  const defaultName =
    merged
      .map((d) => getPath(d, [...P, "containerd", "default_runtime_name"]))
      .filter((x) => typeof x === "string")
      .at(-1) ?? "runc";
  const systemdCgroup =
    merged
      .map(
        (d) =>
          getPath(d, [...R, "runc", "options", "SystemdCgroup"]) ??
          getPath(d, [...R, defaultName, "options", "SystemdCgroup"]),
      )
      .filter((x) => x !== undefined)
      .at(-1) === true;

  const useShim = !!input.shim;
  const runtimeType = useShim ? RUNSC_SHIM_TYPE : RUNC_SHIM_TYPE;
  const options: [string, TomlValue][] = [];
  const unsetOptions: string[] = [];
  let effectiveArgs: string[] = [];
  let effectivePath: string;
  let relies: { path: string; text: string }[] = [];
  if (useShim) {
    const cfgPath = typeof exOpts.ConfigPath === "string" ? exOpts.ConfigPath : shimConfigPath(configDir, req.name);
    const keepArgs = req.runtimeArgs ?? parseWrapper(readProgram(reader.read, oldBinary))?.args ?? null;
    const shimCfg = planShimConfig("containerd", req.name, cfgPath, reader.read(cfgPath), {
      binaryName: req.runscPath,
      args: keepArgs,
      carried: systemdCgroup ? { "systemd-cgroup": "true" } : {},
    });
    if (shimCfg.change) changes.push(shimCfg.change);
    changes.push(...wrapperFor([]).changes);
    effectiveArgs = shimCfg.args;
    effectivePath = input.shim!;
    options.push(["TypeUrl", "io.containerd.runsc.v1.options"], ["ConfigPath", cfgPath]);
    if (existing?.runtime_type === RUNC_SHIM_TYPE) unsetOptions.push("BinaryName", "SystemdCgroup");
  } else {
    // Switching from the runsc shim keeps the args its runsc.toml passed.
    const shimArgs =
      existing?.runtime_type === RUNSC_SHIM_TYPE && typeof exOpts.ConfigPath === "string"
        ? shimConfigArgs(reader.read(exOpts.ConfigPath), exOpts.ConfigPath)
        : null;
    const w = wrapperFor(req.runtimeArgs ?? shimArgs);
    changes.push(...w.changes);
    effectiveArgs = w.args;
    effectivePath = w.binary;
    relies = w.relies;
    notes.push(
      `${RUNSC_SHIM} is not on containerd's PATH: using the runc shim (${RUNC_SHIM_TYPE}) with BinaryName = ${w.args.length ? `a wrapper that runs runsc ${w.args.join(" ")}` : req.runscPath}; install the shim to use runsc.toml options`,
    );
    options.push(["BinaryName", effectivePath]);
    if (systemdCgroup && exOpts.SystemdCgroup === undefined) options.push(["SystemdCgroup", true]);
    if (existing?.runtime_type === RUNSC_SHIM_TYPE) unsetOptions.push("TypeUrl", "ConfigPath");
  }
  if (systemdCgroup)
    notes.push(
      `SystemdCgroup = true carried over from the runc runtime${useShim ? " (as systemd-cgroup in runsc.toml)" : ""}`,
    );

  if (!anyRuntimeTables && req.name !== "runc") {
    refuseConflicts([...R, "runc"]);
    doc.addTable([...R, "runc"], [["runtime_type", RUNC_SHIM_TYPE]], undefined, RUNC_MARKER);
    mutations.push((d) => setIn(d, [...R, "runc", "runtime_type"], RUNC_SHIM_TYPE));
    notes.push(
      `wrote containerd's built-in runc runtime out as [${showPath([...R, "runc"])}]: containerd forgets it once a config defines any runtime`,
    );
  }
  // The runtime table, then its options table.
  const rt = [...R, req.name];
  if (!doc.table(rt)) {
    refuseConflicts(rt);
    const like = Object.keys(getPath(tparsed, R) ?? {}).find((n) => n !== req.name && doc.table([...R, n]));
    doc.addTable(rt, [["runtime_type", runtimeType]], like ? [...R, like] : undefined);
  } else doc.set(rt, "runtime_type", runtimeType);
  mutations.push((d) => setIn(d, [...rt, "runtime_type"], runtimeType));
  const ot = [...rt, "options"];
  for (const k of unsetOptions) {
    if (doc.unset(ot, k)) mutations.push((d) => deleteIn(d, [...ot, k]));
  }
  if (!doc.table(ot)) {
    refuseConflicts(ot);
    const like = Object.keys(getPath(tparsed, R) ?? {}).find((n) => n !== req.name && doc.table([...R, n, "options"]));
    doc.addTable(ot, options, like ? [...R, like, "options"] : undefined);
  } else for (const [k, v] of options) doc.set(ot, k, v);
  for (const [k, v] of options) mutations.push((d) => setIn(d, [...ot, k], v));
  if (req.makeDefault) {
    const ct = [...P, "containerd"];
    if (doc.table(ct)) doc.set(ct, "default_runtime_name", req.name);
    else {
      refuseConflicts(ct);
      doc.addTable(ct, [["default_runtime_name", req.name]]);
    }
    mutations.push((d) => setIn(d, [...ct, "default_runtime_name"], req.name));
  }
  if (doc.text !== targetText || targetBefore === null) {
    verifyTomlEdit(targetText, doc.text, target, (d) => mutations.forEach((m) => m(d)));
    changes.unshift({
      path: target,
      before: targetBefore,
      after: doc.text,
      action: targetBefore === null ? "create" : "modify",
      reason: `register runtime "${req.name}"`,
    });
  }
  const runtime: Record<string, unknown> = { runtime_type: runtimeType, options: Object.fromEntries(options) };
  return {
    changes,
    existed,
    notes,
    relies,
    effective: { path: effectivePath, args: effectiveArgs, type: runtimeType },
    expect: { version, runtime, ...(req.makeDefault ? { defaultRuntimeName: req.name } : {}) },
  };
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
