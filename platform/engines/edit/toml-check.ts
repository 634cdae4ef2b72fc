// TOML semantics for the surgical editor's callers: a strict parse that names file, line
// and column, key-path access, and the proof that an edit changed exactly what it meant
// to (the parsed result equals the original with the intended change applied).
import { parse as parseToml } from "smol-toml";
import { showPath } from "./toml-edit.ts";
import { EngineConfigError } from "../types.ts";

/** Parse TOML or throw an EngineConfigError that names the file, line and column. */
export function parseTomlStrict(text: string, file: string): Record<string, any> {
  try {
    return parseToml(text) as Record<string, any>;
  } catch (e) {
    const err = e as Error & { line?: number; column?: number };
    const first = err.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    throw new EngineConfigError(
      `${file} is not valid TOML: ${first}`,
      { file, line: err.line, column: err.column },
      "fix the file by hand (the engine cannot load it either), then run configure again",
      null,
      "invalid-toml",
    );
  }
}

/** Value at a key path of a parsed document (undefined when any step is missing). */
export function getPath(doc: unknown, path: string[]): any {
  let cur: any = doc;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function norm(v: unknown): unknown {
  if (v instanceof Date) return `date:${v.toISOString()}`;
  if (v && typeof v === "object" && !Array.isArray(v) && typeof (v as any).toISOString === "function")
    return `date:${String(v)}`;
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, norm(x)]),
    );
  return v;
}

/** First key path where two parsed documents differ, or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: string[] = []): string[] | null {
  const na = norm(a);
  const nb = norm(b);
  if (JSON.stringify(na) === JSON.stringify(nb)) return null;
  if (na && nb && typeof na === "object" && typeof nb === "object" && !Array.isArray(na) && !Array.isArray(nb)) {
    for (const k of new Set([...Object.keys(na), ...Object.keys(nb)])) {
      const d = firstDifference((a as any)[k], (b as any)[k], [...path, k]);
      if (d) return d;
    }
  }
  return path;
}

export type TomlMutation = (doc: Record<string, any>) => void;

/** A copy without tables that hold nothing (recursively). */
export function pruneEmptyTables<T>(doc: T): T {
  const walk = (o: any): any => {
    if (!o || typeof o !== "object" || Array.isArray(o) || o instanceof Date) return o;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const w = walk(v);
      if (w && typeof w === "object" && !Array.isArray(w) && !(w instanceof Date) && Object.keys(w).length === 0)
        continue;
      out[k] = w;
    }
    return out;
  };
  return walk(doc);
}

/** Set a value at a path in a parsed document, creating tables. */
export function setIn(doc: Record<string, any>, path: string[], value: unknown): void {
  let cur = doc;
  for (const p of path.slice(0, -1)) cur = cur[p] ??= {};
  cur[path[path.length - 1]] = value;
}

export function deleteIn(doc: Record<string, any>, path: string[]): void {
  const parent = getPath(doc, path.slice(0, -1));
  if (parent && typeof parent === "object") delete parent[path[path.length - 1]];
}

/**
 * The proof that a surgical edit did what it meant and nothing else: the edited text
 * parses, and equals the original document with exactly `mutate` applied.
 */
export function verifyTomlEdit(before: string, after: string, file: string, mutate: TomlMutation): void {
  const expected = clone(parseTomlStrict(before, file));
  mutate(expected);
  let got: Record<string, any>;
  try {
    got = parseToml(after) as Record<string, any>;
  } catch (e) {
    const err = e as Error & { line?: number };
    throw new EngineConfigError(
      `editing ${file} would produce invalid TOML (${err.message.split("\n")[0]}); nothing was written`,
      { file, line: err.line },
      "please report this with the file attached; edit the file by hand meanwhile",
      null,
      "edit-check",
    );
  }
  // Removing the last [a.b.c] also removes the implicit [a] and [a.b]: empty tables count as absent.
  const diff = firstDifference(pruneEmptyTables(expected), pruneEmptyTables(got));
  if (diff) {
    throw new EngineConfigError(
      `editing ${file} would change ${showPath(diff) || "the document"} unexpectedly; nothing was written`,
      { file },
      "please report this with the file attached; edit the file by hand meanwhile",
      null,
      "edit-check",
    );
  }
}
