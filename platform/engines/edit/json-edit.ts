// A JSON member editor on jsonc-parser's syntax tree: set or remove one member and leave
// every other byte alone (indentation, key order, spacing, line endings, final newline).
// New members are rendered in the file's own style; a one-line file stays on one line.
import { parseTree, type Node } from "jsonc-parser";
import { detectEol } from "./text.ts";

/** The member `key` of an object node (the last one, as Go's decoder does). */
export function prop(obj: Node | undefined, key: string): Node | undefined {
  return obj?.type === "object" ? obj.children?.filter((p) => p.children?.[0]?.value === key).at(-1) : undefined;
}

/** The plain value of a node. */
export function nodeValue(n: Node | undefined): unknown {
  if (!n) return undefined;
  if (n.type === "object")
    return Object.fromEntries((n.children ?? []).map((p) => [p.children![0].value, nodeValue(p.children![1])]));
  if (n.type === "array") return (n.children ?? []).map(nodeValue);
  return n.value;
}

/** How a file writes JSON: indent unit (null: all on one line), line ending, `:` and `,` spacing. */
export interface JsonStyle {
  indent: string | null;
  eol: string;
  sep: string;
  comma: string;
}

export function styleOf(body: string, root: Node | undefined): JsonStyle {
  const eol = detectEol(body);
  const kids = root?.children ?? [];
  const first = kids[0];
  const sep = first
    ? body.slice(first.children![0].offset + first.children![0].length, first.children![1].offset)
    : ": ";
  if (!first) return { indent: "  ", eol, sep, comma: ", " };
  const lineStart = body.lastIndexOf("\n", first.offset) + 1;
  const lead = body.slice(lineStart, first.offset);
  if (lineStart === 0 || /\S/.test(lead)) {
    // Compact: {"a": 1, "b": 2} on one line.
    const comma = kids[1] ? body.slice(first.offset + first.length, kids[1].offset) : ", ";
    return { indent: null, eol, sep, comma: comma.includes(",") ? comma : ", " };
  }
  return { indent: lead, eol, sep, comma: "," };
}

/** A value rendered in the file's own style, for a member at `depth` (root members: 1). */
function render(v: unknown, depth: number, st: JsonStyle): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  const entries: [string | null, unknown][] = Array.isArray(v) ? v.map((x) => [null, x]) : Object.entries(v as object);
  const [o, c] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
  if (!entries.length) return o + c;
  const item = ([k, x]: [string | null, unknown]) =>
    (k === null ? "" : JSON.stringify(k) + st.sep) + render(x, depth + 1, st);
  if (st.indent === null) return o + entries.map(item).join(st.comma) + c;
  const pad = st.eol + st.indent.repeat(depth + 1);
  return o + entries.map((e) => pad + item(e)).join(",") + st.eol + st.indent.repeat(depth) + c;
}

/** Remove a member without reformatting anything around it. */
export function removeProperty(text: string, obj: Node, p: Node): string {
  const kids = obj.children!;
  const i = kids.indexOf(p);
  if (kids.length === 1) return text.slice(0, obj.offset + 1) + text.slice(obj.offset + obj.length - 1);
  if (i < kids.length - 1) return text.slice(0, p.offset) + text.slice(kids[i + 1].offset);
  const prev = kids[i - 1];
  return text.slice(0, prev.offset + prev.length) + text.slice(p.offset + p.length);
}

const splice = (t: string, at: number, len: number, ins: string) => t.slice(0, at) + ins + t.slice(at + len);

/**
 * Set `path` to `value`: replace just the value when the member exists, else insert it
 * after the object's last member. Nothing around the change is reformatted.
 */
export function setMember(text: string, path: string[], value: unknown, st: JsonStyle): string {
  let obj = parseTree(text)!;
  for (const k of path.slice(0, -1)) obj = prop(obj, k)!.children![1];
  const depth = path.length;
  const existing = prop(obj, path[path.length - 1]);
  if (existing) {
    const v = existing.children![1];
    return splice(text, v.offset, v.length, render(value, depth, st));
  }
  const member = `${JSON.stringify(path[path.length - 1])}${st.sep}${render(value, depth, st)}`;
  const kids = obj.children ?? [];
  if (kids.length) {
    const last = kids[kids.length - 1];
    return splice(
      text,
      last.offset + last.length,
      0,
      st.indent === null ? `${st.comma}${member}` : `,${st.eol}${st.indent.repeat(depth)}${member}`,
    );
  }
  const inner =
    st.indent === null ? member : `${st.eol}${st.indent.repeat(depth)}${member}${st.eol}${st.indent.repeat(depth - 1)}`;
  return splice(text, obj.offset + 1, obj.length - 2, inner);
}
