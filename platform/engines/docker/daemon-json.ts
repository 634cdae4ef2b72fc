// daemon.json: the read side (what dockerd would say about the file, its runtimes,
// duplicates, ownership, flag conflicts) and the plan (the runtime's members set or
// removed with json-edit.ts, checked semantically). Pure over file text, except
// inspectConfig, which reads the file.
import { parseTree, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";
import { readOrNull } from "../edit/apply.ts";
import { dockerdJsonError } from "./go-json.ts";
import { nodeValue, prop, removeProperty, setMember, styleOf } from "../edit/json-edit.ts";
import { refuseIfManaged } from "../edit/plan.ts";
import { lineCol, managedByTool } from "../edit/text.ts";
import { EngineConfigError, type ConfigFault, type RuntimeRequest } from "../types.ts";

export interface DockerRuntimeEntry {
  path: string | null;
  runtimeArgs: string[];
  line: number;
  /** Every key of the entry as written (other keys are the user's and are kept). */
  raw: Record<string, unknown>;
}

export interface DaemonJsonInspection {
  file: string;
  exists: boolean;
  /** Zero bytes. */
  empty: boolean;
  /** Only whitespace (after an optional BOM). */
  whitespaceOnly: boolean;
  bom: boolean;
  /** dockerd can load it (its decoder accepts the first JSON value). */
  valid: boolean;
  /** message: ours; dockerdError: Go's words; whatDockerdWouldSay: dockerd's whole line (null: dockerd accepts it). */
  parseError: {
    line: number;
    column: number;
    message: string;
    dockerdError: string | null;
    whatDockerdWouldSay: string | null;
  } | null;
  /** Empty, whitespace-only and BOM files: `configure` repairs them (with a backup). */
  repairable: boolean;
  runtimes: Record<string, DockerRuntimeEntry> | null;
  /** `runtimes` (or one runtime) is not an object: the key path, its line, and why. */
  runtimesError: { keyPath: string; line: number; message: string } | null;
  defaultRuntime: string | null;
  /** Keys that appear twice (dockerd silently takes the last one). */
  duplicates: { keyPath: string; lines: number[] }[];
  managedBy: string | null;
  faults: ConfigFault[];
}

const BOM = "\uFEFF";
/** The text dockerd's decoder would read, less a leading byte order mark (configure repairs that). */
const withoutBom = (text: string) => (text.startsWith(BOM) ? text.slice(1) : text);
const dockerdSays = (file: string, msg: string) => `unable to configure the Docker daemon with file ${file}: ${msg}`;

function duplicatesOf(obj: Node | undefined, text: string, prefix: string): { keyPath: string; lines: number[] }[] {
  const seen = new Map<string, number[]>();
  for (const p of obj?.children ?? []) {
    // Go's decoder matches struct fields case-insensitively: "Runtimes" is runtimes too.
    const k = String(p.children?.[0]?.value).toLowerCase();
    seen.set(k, [...(seen.get(k) ?? []), lineCol(text, p.offset).line]);
  }
  return [...seen].filter(([, l]) => l.length > 1).map(([k, lines]) => ({ keyPath: prefix + k, lines }));
}

/** Read a daemon.json's text (null: the file does not exist) into facts. Pure. */
export function inspectDaemonJson(text: string | null, file: string): DaemonJsonInspection {
  const base: DaemonJsonInspection = {
    file,
    exists: text !== null,
    empty: text === "",
    whitespaceOnly: false,
    bom: false,
    valid: text === null,
    parseError: null,
    repairable: false,
    runtimes: text === null ? {} : null,
    runtimesError: null,
    defaultRuntime: null,
    duplicates: [],
    managedBy: managedByTool(text),
    faults: [],
  };
  if (text === null) return base;
  base.bom = text.startsWith(BOM);
  const body = withoutBom(text);
  base.whitespaceOnly = text !== "" && body.trim() === "";
  const goErr = dockerdJsonError(text);
  if (goErr) {
    const at = lineCol(text, goErr.offset);
    base.parseError = {
      ...at,
      message: describeJsonError(text, goErr.message),
      dockerdError: goErr.message,
      whatDockerdWouldSay: dockerdSays(file, goErr.message),
    };
    base.repairable = body.trim() === "" || (base.bom && dockerdJsonError(body) === null);
    base.faults.push({
      code: base.repairable ? "docker.config-repairable" : "docker.config-invalid",
      severity: "error",
      file,
      ...at,
      message: `dockerd cannot load ${file}: ${goErr.message}`,
      fix: base.repairable
        ? "gvisor-doctor configure docker repairs it (with a backup)"
        : "fix the JSON by hand at the position shown",
    });
    if (!base.repairable) return base;
  }
  const errors: ParseError[] = [];
  const root = parseTree(body, errors, { disallowComments: true, allowTrailingComma: false });
  if (body.trim() === "") {
    base.runtimes = {};
    return base;
  }
  base.valid = !goErr;
  if (errors.length && !goErr) {
    // dockerd stops reading after the first value; trailing text is ignored by it but not by us.
    const at = lineCol(body, errors[0].offset);
    base.parseError = {
      line: at.line,
      column: at.column,
      message: `${printParseErrorCode(errors[0].error)} after the JSON object (dockerd ignores text after the first value)`,
      dockerdError: null,
      whatDockerdWouldSay: null,
    };
    base.faults.push({
      code: "docker.config-trailing",
      severity: "warning",
      file,
      ...at,
      message: base.parseError.message,
      fix: "delete the text after the closing }",
    });
  }
  if (!root || root.type !== "object") return base;
  base.duplicates = [...duplicatesOf(root, body, "")];
  const rt = prop(root, "runtimes");
  const dr = prop(root, "default-runtime");
  base.defaultRuntime = typeof dr?.children?.[1]?.value === "string" ? dr.children[1].value : null;
  if (!rt) base.runtimes = {};
  else if (rt.children![1].type !== "object") {
    const line = lineCol(body, rt.offset).line;
    const kind = rt.children![1].type;
    base.runtimesError = {
      keyPath: "runtimes",
      line,
      message: `"runtimes" is ${kind === "array" ? "an array" : `a ${kind}`}, not an object of runtimes`,
    };
  } else {
    base.duplicates.push(...duplicatesOf(rt.children![1], body, "runtimes."));
    base.runtimes = {};
    for (const p of rt.children![1].children ?? []) {
      const name = String(p.children![0].value);
      const v = p.children![1];
      const line = lineCol(body, p.offset).line;
      if (v.type !== "object") {
        base.runtimesError ??= {
          keyPath: `runtimes.${name}`,
          line,
          message: `"runtimes.${name}" is a ${v.type}, not an object with "path"`,
        };
        continue;
      }
      const raw = nodeValue(v) as Record<string, unknown>;
      base.runtimes[name] = {
        path: typeof raw.path === "string" ? raw.path : null,
        runtimeArgs: Array.isArray(raw.runtimeArgs) ? raw.runtimeArgs.map(String) : [],
        line,
        raw,
      };
    }
  }
  if (base.runtimesError) {
    base.faults.push({
      code: "docker.runtimes-not-object",
      severity: "error",
      file,
      line: base.runtimesError.line,
      message: `${base.runtimesError.message}; dockerd says "json: cannot unmarshal … into Go struct field Config.runtimes"`,
      fix: `make "${base.runtimesError.keyPath}" an object like {"runsc": {"path": "/usr/local/bin/runsc"}}`,
    });
  }
  for (const d of base.duplicates)
    base.faults.push({
      code: "docker.duplicate-key",
      severity: "warning",
      file,
      line: d.lines[0],
      message: `"${d.keyPath}" appears ${d.lines.length} times (lines ${d.lines.join(", ")}); dockerd uses the last one`,
      fix: "keep one",
    });
  return base;
}

function describeJsonError(text: string, goMsg: string): string {
  if (text === "") return "the file is empty";
  if (text.startsWith(BOM)) return "the file starts with a UTF-8 byte order mark";
  if (text.trim() === "") return "the file holds only whitespace";
  if (/looking for beginning of object key string/.test(goMsg) && /^invalid character '\}'/.test(goMsg))
    return "trailing comma before }";
  if (/invalid character '\/'/.test(goMsg)) return "comments are not JSON";
  if (goMsg === "unexpected EOF") return "the file ends in the middle of a value";
  return goMsg;
}

/**
 * Same runtime args, in order. Absent (undefined) is no args, as dockerd reads it; `a` may be anything a
 * daemon.json holds, and a value that is not an array of these strings is never the same.
 */
export function sameArgs(a: unknown, b: readonly string[] | undefined): boolean {
  // not `??`: a `"runtimeArgs": null` in the file is not the same as none, it is rewritten
  const [x, y] = [a === undefined ? [] : a, b ?? []];
  return Array.isArray(x) && x.length === y.length && x.every((v, i) => v === y[i]);
}

export interface DaemonJsonPlanInput {
  file: string;
  before: string | null;
  request: RuntimeRequest;
  force: boolean;
  /** argv of the dockerd that reads this file (flags that conflict with daemon.json keys). */
  daemonArgv?: string[] | null;
}

/**
 * What happens to daemon.json once dockerd has dropped the runtime (see planDaemonJson); only a
 * removal leaves work for then.
 */
export type AfterReload =
  /** Nothing more. */
  | { kind: "nothing" }
  /** The file holds nothing but gvisor-doctor's entries: delete it. */
  | { kind: "delete" }
  /** Rewrite it as `text`: the empty "runtimes" the reload needed, removed. */
  | { kind: "rewrite"; text: string };

const NOTHING_AFTER: AfterReload = { kind: "nothing" };
const DELETE_AFTER: AfterReload = { kind: "delete" };

export interface DaemonJsonPlan {
  /** The file's text now (null: there is no file and none is created). */
  after: string | null;
  afterReload: AfterReload;
  existed: boolean;
  notes: string[];
  effective: { path: string; args: string[] } | null;
}

/** The JSON text of runtime entry `name` for a person to paste somewhere else. */
export function dockerSnippet(req: RuntimeRequest): string {
  const entry: Record<string, unknown> = { path: req.runscPath };
  if (req.runtimeArgs?.length) entry.runtimeArgs = req.runtimeArgs;
  const doc: Record<string, unknown> = { runtimes: { [req.name]: entry } };
  if (req.makeDefault) doc["default-runtime"] = req.name;
  return JSON.stringify(doc, null, 2);
}

function isOurCreatedShape(text: string): boolean {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  const keys = Object.keys(doc);
  const rt = doc.runtimes;
  const onlyOurs = keys.every(
    (k) =>
      (k === "runtimes" && rt && typeof rt === "object" && Object.keys(rt).length === 0) ||
      (k === "default-runtime" && doc[k] === "runc"),
  );
  return onlyOurs && text === `${JSON.stringify(doc, null, 2)}\n`;
}

/** One daemon.json plan: the request, the file as dockerd reads it, and the notes so far. */
interface DaemonJsonRun {
  file: string;
  before: string | null;
  req: RuntimeRequest;
  ins: DaemonJsonInspection;
  /** The runtime's entry as the file has it now. */
  existing: DockerRuntimeEntry | null;
  /** The text edited: the file without a BOM ("" when there is none). */
  body: string;
  notes: string[];
}

/**
 * Plan the daemon.json change. Semantically the same as `runsc install --config_file F
 * --runtime NAME -- ARGS` (runtimes.NAME = {path, runtimeArgs}; runtimeArgs omitted
 * when empty), except that an existing entry's other keys and, without new args, its
 * runtimeArgs are kept; and the user's formatting stays.
 *
 * Removal leaves `"runtimes": {}` when the last runtime goes: dockerd's SIGHUP reload
 * keeps its runtimes when the key is absent, so only an empty object unregisters it.
 * A file that then holds nothing but what gvisor-doctor writes is deleted, after the
 * reload (afterReload), so dockerd drops the runtime first; in any other file the empty
 * "runtimes" goes after the reload too (to a starting dockerd, absent and empty are the
 * same), so the user's file is back byte for byte.
 */
export function planDaemonJson(input: DaemonJsonPlanInput): DaemonJsonPlan {
  const { file, before, request: req } = input;
  const ins = inspectDaemonJson(before, file);
  if (before !== null) refuseIfManaged(file, before, input.force, handEdit(req));
  refuseUnreadable(file, ins, req);
  refuseFlagConflicts(input);
  const existing = ins.runtimes?.[req.name] ?? null;
  const body = before === null ? "" : withoutBom(before);
  const run: DaemonJsonRun = { file, before, req, ins, existing, body, notes: [] };
  if (ins.repairable) {
    const e = ins.parseError!;
    if (req.remove) {
      run.notes.push(`dockerd cannot load ${file} (${e.message}: "${e.dockerdError}"); --remove leaves it as it is`);
      return { after: before, afterReload: NOTHING_AFTER, existed: false, notes: run.notes, effective: null };
    }
    run.notes.push(`repaired ${file}: ${e.message} (dockerd refuses it: "${e.dockerdError}")`);
  }
  return req.remove ? planRemoval(run) : planRegistration(run);
}

/** What a person would change by hand in a file a tool manages. */
function handEdit(req: RuntimeRequest): string {
  return req.remove
    ? `delete "${req.name}" from "runtimes" (and set "default-runtime" back to "runc" if it is "${req.name}")`
    : dockerSnippet(req);
}

/** A file dockerd cannot load (except the repairable ones), a "runtimes" that is no object, a key given twice. */
function refuseUnreadable(file: string, ins: DaemonJsonInspection, req: RuntimeRequest): void {
  const pe = ins.parseError;
  if (pe && !ins.repairable && pe.whatDockerdWouldSay) {
    throw new EngineConfigError(
      `${file}:${pe.line}:${pe.column}: ${pe.message}; dockerd says "${pe.whatDockerdWouldSay}"`,
      { file, line: pe.line, column: pe.column },
      "fix the JSON by hand (dockerd cannot start with this file either); gvisor-doctor repairs only empty, whitespace-only and BOM-prefixed files",
      null,
      "invalid-json",
    );
  }
  if (pe && !pe.whatDockerdWouldSay) {
    throw new EngineConfigError(
      `${file}:${pe.line}:${pe.column}: ${pe.message}`,
      { file, line: pe.line, column: pe.column },
      "delete the text after the closing } and run configure again",
      null,
      "invalid-json",
    );
  }
  if (ins.runtimesError) {
    throw new EngineConfigError(
      `${file}:${ins.runtimesError.line}: ${ins.runtimesError.message}`,
      { file, line: ins.runtimesError.line },
      `make "${ins.runtimesError.keyPath}" an object, e.g. ${JSON.stringify({ [req.name]: { path: req.runscPath } })}`,
      null,
      "runtimes-not-object",
    );
  }
  refuseDuplicateKeys(file, ins, req);
}

/** Keys the edit touches, twice (case-insensitively): dockerd takes the last, an edit of the other would not count. */
function refuseDuplicateKeys(file: string, ins: DaemonJsonInspection, req: RuntimeRequest): void {
  const dup = ins.duplicates.find(
    (d) =>
      d.keyPath === "runtimes" || d.keyPath === "default-runtime" || d.keyPath === `runtimes.${req.name.toLowerCase()}`,
  );
  if (dup)
    throw new EngineConfigError(
      `${file}:${dup.lines[0]}: "${dup.keyPath}" appears ${dup.lines.length} times (lines ${dup.lines.join(", ")}; keys match case-insensitively); dockerd uses the last one`,
      { file, line: dup.lines[0] },
      "merge them into one, then run configure again",
      null,
      "duplicate-key",
    );
}

/** dockerd refuses a daemon.json that sets what its command line already sets. */
function refuseFlagConflicts({ file, request: req, daemonArgv }: DaemonJsonPlanInput): void {
  const flags = daemonArgv ?? [];
  const flagged = (f: string) => flags.some((a) => a === f || a.startsWith(`${f}=`));
  if (!req.remove && flagged("--add-runtime")) {
    throw new EngineConfigError(
      `dockerd is started with --add-runtime, and dockerd refuses a daemon.json that also sets "runtimes" ("the following directives are specified both as a flag and in the configuration file: runtimes")`,
      { file },
      `add --add-runtime=${req.name}=${req.runscPath} to dockerd's command line instead (runtime args need daemon.json), or move its --add-runtime flags into ${file}`,
      null,
      "flag-conflict",
    );
  }
  if (req.makeDefault && flagged("--default-runtime")) {
    throw new EngineConfigError(
      `dockerd is started with --default-runtime, which conflicts with "default-runtime" in ${file}`,
      { file },
      `change dockerd's --default-runtime flag to ${req.name} instead`,
      null,
      "flag-conflict",
    );
  }
}

/** --remove: the runtime's entry goes (and a default that named it); the rest waits for the reload. */
function planRemoval({ file, before, req, ins, existing, body, notes }: DaemonJsonRun): DaemonJsonPlan {
  if (!existing) {
    // An earlier --remove left our `{"runtimes": {}}` for a reload that did not happen then.
    if (before !== null && isOurCreatedShape(before))
      return {
        after: before,
        afterReload: DELETE_AFTER,
        existed: false,
        notes: [`${file} holds nothing but gvisor-doctor's entries: deleted`],
        effective: null,
      };
    return { after: before, afterReload: NOTHING_AFTER, existed: false, notes, effective: null };
  }
  const rt = prop(parseTree(body)!, "runtimes")!.children![1];
  let after = removeProperty(body, rt, prop(rt, req.name)!);
  if (ins.defaultRuntime === req.name) {
    after = setMember(after, ["default-runtime"], "runc", styleOf(after, parseTree(after)));
    notes.push(`"default-runtime" was "${req.name}": set back to "runc"`);
  }
  checkSemantics(file, before!, after, (d) => {
    delete d.runtimes[req.name];
    if (d["default-runtime"] === req.name) d["default-runtime"] = "runc";
  });
  return { after, afterReload: afterRemoval(file, after, notes), existed: true, notes, effective: null };
}

/** Once dockerd dropped the runtime: a file only gvisor-doctor's goes, an empty "runtimes" goes. */
function afterRemoval(file: string, after: string, notes: string[]): AfterReload {
  if (isOurCreatedShape(after)) {
    notes.push(`${file} holds nothing but gvisor-doctor's entries: it is deleted once dockerd has dropped the runtime`);
    return DELETE_AFTER;
  }
  const tree = parseTree(after)!;
  const left = prop(tree, "runtimes")!;
  if (left.children![1].children?.length) return NOTHING_AFTER;
  notes.push(
    `"runtimes" is left empty: removed once dockerd has dropped the runtime` +
      " (a reload keeps runtimes when the key is absent)",
  );
  return { kind: "rewrite", text: removeProperty(after, tree, left) };
}

/** Register: a new file, or the entry set in the user's file (their formatting and other keys kept). */
function planRegistration(r: DaemonJsonRun): DaemonJsonPlan {
  const { file, before, req, existing, notes } = r;
  const entry: Record<string, unknown> = { path: req.runscPath };
  const args = req.runtimeArgs ?? existing?.runtimeArgs ?? [];
  if (args.length) entry.runtimeArgs = args;
  const effective = { path: req.runscPath, args };
  if (r.body.trim() === "") {
    const doc: Record<string, unknown> = { runtimes: { [req.name]: entry } };
    if (req.makeDefault) doc["default-runtime"] = req.name;
    const after = `${JSON.stringify(doc, null, 2)}\n`;
    return { after, afterReload: NOTHING_AFTER, existed: false, notes, effective };
  }
  const existed = !!existing;
  const after = setEntry(r, entry);
  if (after === r.body && !before!.startsWith(BOM))
    return { after: before, afterReload: NOTHING_AFTER, existed, notes, effective };
  checkSemantics(file, before!, after, (d) => {
    d.runtimes ??= {};
    d.runtimes[req.name] = { ...(d.runtimes[req.name] ?? {}), path: req.runscPath };
    if (req.runtimeArgs !== null) {
      if (req.runtimeArgs.length) d.runtimes[req.name].runtimeArgs = req.runtimeArgs;
      else delete d.runtimes[req.name].runtimeArgs;
    } else if (!existing && args.length) d.runtimes[req.name].runtimeArgs = args;
    if (req.makeDefault) d["default-runtime"] = req.name;
  });
  return { after, afterReload: NOTHING_AFTER, existed, notes, effective };
}

/** The text with the runtime's entry (and the default) set, touching only what differs. */
function setEntry({ body, req, ins, existing }: DaemonJsonRun, entry: Record<string, unknown>): string {
  const st = styleOf(body, parseTree(body));
  if (!ins.runtimes || !prop(parseTree(body), "runtimes"))
    body = setMember(body, ["runtimes"], { [req.name]: entry }, st);
  else if (!existing) body = setMember(body, ["runtimes", req.name], entry, st);
  else {
    if (existing.path !== req.runscPath) body = setMember(body, ["runtimes", req.name, "path"], req.runscPath, st);
    if (req.runtimeArgs !== null && !sameArgs(existing.raw.runtimeArgs, req.runtimeArgs)) {
      if (req.runtimeArgs.length) body = setMember(body, ["runtimes", req.name, "runtimeArgs"], req.runtimeArgs, st);
      else if ("runtimeArgs" in existing.raw) {
        const root = parseTree(body)!;
        const obj = prop(prop(root, "runtimes")!.children![1], req.name)!.children![1];
        body = removeProperty(body, obj, prop(obj, "runtimeArgs")!);
      }
    }
  }
  if (req.makeDefault && ins.defaultRuntime !== req.name) body = setMember(body, ["default-runtime"], req.name, st);
  return body;
}

/** The edited text parses and equals the original with exactly `mutate` applied. */
function checkSemantics(file: string, before: string, after: string, mutate: (d: Record<string, any>) => void): void {
  const expected = JSON.parse(withoutBom(before));
  mutate(expected);
  let got: unknown;
  try {
    got = JSON.parse(after);
  } catch (e) {
    throw new EngineConfigError(
      `editing ${file} would produce invalid JSON (${(e as Error).message}); nothing was written`,
      { file },
      "please report this with the file attached",
      null,
      "edit-check",
    );
  }
  const canon = (v: unknown): string =>
    JSON.stringify(v, (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
        : x,
    );
  if (canon(expected) !== canon(got))
    throw new EngineConfigError(
      `editing ${file} would change more than the runtime; nothing was written`,
      { file },
      "please report this with the file attached",
      null,
      "edit-check",
    );
}

/**
 * daemon.json keys that dockerd's command line also sets: dockerd refuses to start (and
 * to reload) with "the following directives are specified both as a flag and in the
 * configuration file". `--add-runtime` conflicts with "runtimes".
 */
export function flagConflicts(
  file: string,
  ins: DaemonJsonInspection,
  argv: string[],
  text: string | null = null,
): ConfigFault[] {
  const raw =
    text ??
    (() => {
      try {
        return readOrNull(file);
      } catch {
        return null;
      }
    })();
  if (!raw || !ins.valid) return [];
  let keys: string[];
  try {
    keys = Object.keys(JSON.parse(withoutBom(raw)));
  } catch {
    return [];
  }
  const flagFor = (k: string) => (k === "runtimes" ? "--add-runtime" : `--${k}`);
  return keys
    .filter((k) => argv.slice(1).some((a) => a === flagFor(k) || a.startsWith(`${flagFor(k)}=`)))
    .map((k) => ({
      code: "docker.flag-conflict",
      severity: "error" as const,
      file,
      message: `"${k}" is set both in ${file} and on dockerd's command line (${flagFor(k)}): dockerd refuses to start or reload ("the following directives are specified both as a flag and in the configuration file")`,
      fix: `remove one of them`,
    }));
}

/** The daemon.json at `path`, read and inspected (for checks). */
export function inspectConfig(path: string): DaemonJsonInspection {
  let text: string | null;
  try {
    text = readOrNull(path);
  } catch (e) {
    const ins = inspectDaemonJson(null, path);
    ins.faults.push({
      code: "docker.config-unreadable",
      severity: "error",
      file: path,
      message: `cannot read ${path}: ${(e as Error).message}`,
    });
    return ins;
  }
  return inspectDaemonJson(text, path);
}
