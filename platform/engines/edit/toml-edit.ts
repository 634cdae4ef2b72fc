// A surgical TOML editor: it finds tables and key/value lines in the text and changes
// only the lines it must. Comments, blank lines, quoting, indentation, CRLF and the
// final newline of everything else stay byte for byte. Semantics are checked with a
// real TOML parser by the callers: see toml-check.ts `verifyTomlEdit`.
import { detectEol, type Eol } from "./text.ts";

export type TomlValue = string | number | boolean | string[];

export interface TomlTable {
  path: string[];
  /** [[array of tables]] */
  array: boolean;
  line: number;
  /** Offsets of the header line (start of indentation, end before the line break). */
  start: number;
  end: number;
  indent: string;
}

export interface TomlKeyValue {
  /** Path of the [table] it sits in ([] for the root). */
  table: string[];
  inArray: boolean;
  key: string[];
  line: number;
  /** Last line of the statement (multi-line arrays and strings span several). */
  lastLine: number;
  start: number;
  valueStart: number;
  valueEnd: number;
  end: number;
  indent: string;
  valueKind: "inline-table" | "array" | "string" | "other";
}

const BARE = /^[A-Za-z0-9_-]+$/;

export const samePath = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
export const startsWith = (a: string[], prefix: string[]) =>
  prefix.length <= a.length && prefix.every((x, i) => x === a[i]);
export const showPath = (p: string[]) => p.map((s) => (BARE.test(s) ? s : JSON.stringify(s))).join(".");

class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  ch(): string {
    return this.s[this.i];
  }
  ws() {
    while (this.ch() === " " || this.ch() === "\t") this.i++;
  }
  wsNlComments() {
    for (;;) {
      this.ws();
      if (this.ch() === "#") this.toEol();
      if (this.ch() === "\r" && this.s[this.i + 1] === "\n") this.i += 2;
      else if (this.ch() === "\n") this.i++;
      else return;
    }
  }
  toEol() {
    const j = this.s.indexOf("\n", this.i);
    this.i = j < 0 ? this.s.length : j > 0 && this.s[j - 1] === "\r" ? j - 1 : j;
  }
  fail(what: string): never {
    throw new Error(`TOML scan: ${what} at offset ${this.i}`);
  }
  basicString(): string {
    let out = "";
    this.i++;
    while (this.i < this.s.length && this.ch() !== '"') {
      if (this.ch() === "\\") {
        const e = this.s[this.i + 1];
        const map: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };
        if (e === "u" || e === "U") {
          const len = e === "u" ? 4 : 8;
          out += String.fromCodePoint(Number.parseInt(this.s.slice(this.i + 2, this.i + 2 + len), 16));
          this.i += 2 + len;
          continue;
        }
        out += map[e] ?? e;
        this.i += 2;
        continue;
      }
      out += this.ch();
      this.i++;
    }
    this.i++;
    return out;
  }
  key(): string[] {
    const segs: string[] = [];
    for (;;) {
      this.ws();
      if (this.ch() === '"') segs.push(this.basicString());
      else if (this.ch() === "'") {
        const j = this.s.indexOf("'", this.i + 1);
        segs.push(this.s.slice(this.i + 1, j));
        this.i = j + 1;
      } else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.s.slice(this.i, this.i + 256));
        if (!m) this.fail("key expected");
        segs.push(m[0]);
        this.i += m[0].length;
      }
      this.ws();
      if (this.ch() !== ".") return segs;
      this.i++;
    }
  }
  /** From an opening bracket to its `close`: `item` for each element, commas and comments between them skipped. */
  items(close: "]" | "}", what: string, item: () => void): void {
    this.i++;
    for (;;) {
      this.wsNlComments();
      if (this.i >= this.s.length) this.fail(`unterminated ${what}`);
      if (this.ch() === close) {
        this.i++;
        return;
      }
      if (this.ch() === ",") {
        this.i++;
        continue;
      }
      item();
    }
  }
  value(): TomlKeyValue["valueKind"] {
    const s = this.s;
    if (s.startsWith('"""', this.i)) {
      let j = this.i + 3;
      for (;;) {
        if (j >= s.length) this.fail("unterminated string");
        if (s[j] === "\\") j += 2;
        else if (s.startsWith('"""', j)) break;
        else j++;
      }
      while (s[j + 3] === '"') j++;
      this.i = j + 3;
      return "string";
    }
    if (s.startsWith("'''", this.i)) {
      let j = s.indexOf("'''", this.i + 3);
      if (j < 0) this.fail("unterminated string");
      while (s[j + 3] === "'") j++;
      this.i = j + 3;
      return "string";
    }
    if (this.ch() === '"') {
      this.basicString();
      return "string";
    }
    if (this.ch() === "'") {
      this.i = s.indexOf("'", this.i + 1) + 1;
      return "string";
    }
    if (this.ch() === "[") return (this.items("]", "array", () => this.value()), "array");
    if (this.ch() === "{") {
      this.items("}", "inline table", () => {
        this.key();
        this.ws();
        if (this.ch() !== "=") this.fail("= expected");
        this.i++;
        this.ws();
        this.value();
      });
      return "inline-table";
    }
    // Scalars: numbers, booleans, dates (a local date-time may contain one space).
    const m = /^(\d{4}-\d{2}-\d{2}[ ]\d{2}:\d{2}[^\s,\]}#]*|[^\s,\]}#]+)/.exec(s.slice(this.i, this.i + 512));
    if (!m) this.fail("value expected");
    this.i += m[0].length;
    return "other";
  }
}

/** A TOML document being edited. Every edit re-scans, so positions are always fresh. */
export class TomlDoc {
  text: string;
  tables: TomlTable[] = [];
  kvs: TomlKeyValue[] = [];
  private lineStarts: number[] = [];

  constructor(
    text: string,
    readonly style: { quote: '"' | "'"; step: number; blankBetweenTables: boolean } = {
      quote: '"',
      step: 2,
      blankBetweenTables: true,
    },
  ) {
    this.text = text;
    this.scan();
    const detected = this.detectStyle();
    this.style = { ...style, ...detected };
  }

  get eol(): Eol {
    return detectEol(this.text);
  }

  private scan(): void {
    const s = this.text;
    this.lineStarts = [0];
    for (let k = 0; k < s.length; k++) if (s[k] === "\n" && k + 1 < s.length) this.lineStarts.push(k + 1);
    this.tables = [];
    this.kvs = [];
    const sc = new Scanner(s);
    let table: string[] = [];
    let inArray = false;
    while (sc.i < s.length) {
      const start = sc.i;
      sc.ws();
      const indent = s.slice(start, sc.i);
      if (sc.i >= s.length) break;
      if (sc.ch() === "\n" || (sc.ch() === "\r" && s[sc.i + 1] === "\n") || sc.ch() === "#") {
        sc.toEol();
        sc.i = s.indexOf("\n", sc.i) + 1 || s.length;
        continue;
      }
      if (sc.ch() === "[") {
        const array = s[sc.i + 1] === "[";
        sc.i += array ? 2 : 1;
        const path = sc.key();
        sc.i += array ? 2 : 1;
        sc.ws();
        if (sc.ch() === "#") sc.toEol();
        sc.toEol();
        this.tables.push({ path, array, line: this.lineOf(start), start, end: sc.i, indent });
        table = path;
        inArray = array;
      } else {
        const key = sc.key();
        sc.ws();
        if (sc.ch() !== "=") sc.fail("= expected");
        sc.i++;
        sc.ws();
        const valueStart = sc.i;
        const valueKind = sc.value();
        const valueEnd = sc.i;
        sc.ws();
        if (sc.ch() === "#") sc.toEol();
        sc.toEol();
        this.kvs.push({
          table,
          inArray,
          key,
          line: this.lineOf(start),
          lastLine: this.lineOf(sc.i),
          start,
          valueStart,
          valueEnd,
          end: sc.i,
          indent,
          valueKind,
        });
      }
      const nl = s.indexOf("\n", sc.i);
      sc.i = nl < 0 ? s.length : nl + 1;
    }
  }

  private detectStyle(): Partial<TomlDoc["style"]> {
    const out: Partial<TomlDoc["style"]> = {};
    const headerQuote = this.tables.map((t) => this.text.slice(t.start, t.end).match(/["']/)?.[0]).find(Boolean);
    const valueQuote = this.kvs.map((k) => this.text[k.valueStart]).find((c) => c === '"' || c === "'");
    const q = headerQuote ?? valueQuote;
    if (q === '"' || q === "'") out.quote = q;
    for (const t of this.tables) {
      const kv = this.kvs.find((k) => samePath(k.table, t.path) && k.start > t.start);
      if (kv) {
        out.step = Math.max(0, kv.indent.length - t.indent.length);
        break;
      }
    }
    if (this.tables.length > 1)
      out.blankBetweenTables = this.tables.slice(1).some((t) => this.lineText(t.line - 2).trim() === "");
    return out;
  }

  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private lineText(line0: number): string {
    if (line0 < 0 || line0 >= this.lineStarts.length) return "\0";
    const a = this.lineStarts[line0];
    const b = line0 + 1 < this.lineStarts.length ? this.lineStarts[line0 + 1] : this.text.length;
    return this.text.slice(a, b).replace(/\r?\n$/, "");
  }

  /** The explicit [table] with this path (not an array of tables). */
  table(path: string[]): TomlTable | undefined {
    return this.tables.find((t) => !t.array && samePath(t.path, path));
  }

  /** Key/values written directly in [path] (not in sub-tables, not via dotted keys of a parent). */
  entries(path: string[]): TomlKeyValue[] {
    return this.kvs.filter((k) => !k.inArray && samePath(k.table, path));
  }

  entry(path: string[], key: string): TomlKeyValue | undefined {
    return this.entries(path).find((k) => k.key.length === 1 && k.key[0] === key);
  }

  /**
   * Places where `path` (a table we want to edit as [path]) is defined some other way:
   * an inline table or other value on an ancestor, dotted keys reaching into it from a
   * parent table, or an [[array of tables]] on the way. Each is a reason to refuse.
   */
  conflicts(path: string[]): { line: number; message: string }[] {
    const out: { line: number; message: string }[] = [];
    for (const k of this.kvs) {
      const full = [...k.table, ...k.key];
      if (k.inArray) continue;
      if (full.length <= path.length && startsWith(path, full)) {
        out.push({
          line: k.line,
          message: `\`${showPath(k.key)} = …\` in [${showPath(k.table)}] defines ${showPath(full)} as ${k.valueKind === "inline-table" ? "an inline table" : "a value"}, so [${showPath(path)}] cannot be added as a table`,
        });
      } else if (startsWith(full, path) && k.table.length < path.length) {
        out.push({
          line: k.line,
          message: `the dotted key \`${showPath(k.key)}\` in [${showPath(k.table)}] defines part of ${showPath(path)}`,
        });
      }
    }
    for (const t of this.tables) {
      if (t.array && (startsWith(path, t.path) || startsWith(t.path, path)))
        out.push({
          line: t.line,
          message: `[[${showPath(t.path)}]] is an array of tables on the path to ${showPath(path)}`,
        });
    }
    return out;
  }

  renderKey(seg: string): string {
    if (BARE.test(seg)) return seg;
    return this.renderString(seg);
  }

  renderString(s: string): string {
    if (this.style.quote === "'" && !/['\n\r]/.test(s)) return `'${s}'`;
    return JSON.stringify(s);
  }

  renderValue(v: TomlValue): string {
    if (Array.isArray(v)) return `[${v.map((x) => this.renderString(x)).join(", ")}]`;
    if (typeof v === "string") return this.renderString(v);
    return String(v);
  }

  private splice(a: number, b: number, insert: string): void {
    this.text = this.text.slice(0, a) + insert + this.text.slice(b);
    this.scan();
  }

  /** Offset just after line `line` (1-based) including its line break, or the end of text. */
  private afterLine(line: number): number {
    return line < this.lineStarts.length ? this.lineStarts[line] : this.text.length;
  }

  /** Insert whole lines after line `line` (0 = at the top), keeping the final-newline state. */
  private insertLines(line: number, lines: string[]): void {
    const eol = this.eol;
    if (line === 0) {
      this.splice(0, 0, lines.map((l) => l + eol).join(""));
      return;
    }
    const at = this.afterLine(line);
    if (at === this.text.length && !this.text.endsWith("\n")) this.splice(at, at, eol + lines.join(eol));
    else this.splice(at, at, lines.map((l) => l + eol).join(""));
  }

  /** Remove lines first..last (1-based, inclusive), keeping the final-newline state. */
  private removeLines(first: number, last: number): void {
    const a = this.lineStarts[first - 1];
    const isLast = last >= this.lineStarts.length;
    if (!isLast || this.text.endsWith("\n")) {
      this.splice(a, this.afterLine(last), "");
      return;
    }
    // The removed block ends the file without a newline: drop the break before it instead.
    const prevEnd =
      first > 1 ? this.lineStarts[first - 1] - (this.text[this.lineStarts[first - 1] - 2] === "\r" ? 2 : 1) : 0;
    this.splice(prevEnd, this.text.length, "");
  }

  /** Set `key` in the existing [table] `path`: replace just the value, or add a line after the table's last entry. */
  set(path: string[], key: string, value: TomlValue): void {
    const rendered = this.renderValue(value);
    const kv = this.entry(path, key);
    if (kv) {
      if (this.text.slice(kv.valueStart, kv.valueEnd) !== rendered) this.splice(kv.valueStart, kv.valueEnd, rendered);
      return;
    }
    const own = this.entries(path);
    const t = this.table(path);
    const indent = own.length
      ? own[own.length - 1].indent
      : path.length === 0
        ? ""
        : (t?.indent ?? "") + " ".repeat(this.style.step);
    const line = `${indent}${this.renderKey(key)} = ${rendered}`;
    if (own.length) return this.insertLines(own[own.length - 1].lastLine, [line]);
    if (t) return this.insertLines(t.line, [line]);
    if (path.length === 0) {
      // Root key: before the first table (after any leading comments), or at the end.
      const first = this.tables[0];
      if (!first) return this.insertLines(this.lineStarts.length - (this.text === "" ? 1 : 0), [line]);
      let at = first.line - 1;
      while (at > 0 && /^\s*(#.*)?$/.test(this.lineText(at - 1)) && this.lineText(at - 1).trim() !== "") at--;
      return this.insertLines(at, [line]);
    }
    throw new Error(`no [${showPath(path)}] table to set ${key} in`);
  }

  /** Remove `key` from [path] (the whole statement, all its lines). */
  unset(path: string[], key: string): boolean {
    const kv = this.entry(path, key);
    if (!kv) return false;
    this.removeLines(kv.line, kv.lastLine);
    return true;
  }

  /** Last line of a table's own statements (header or last key/value before the next header). */
  private lastLineOf(t: TomlTable): number {
    const own = this.kvs.filter(
      (k) => k.start > t.start && (this.tables.find((x) => x.start > t.start)?.start ?? Infinity) > k.start,
    );
    return own.length ? own[own.length - 1].lastLine : t.line;
  }

  /**
   * Add [path] with `entries`, next to its closest relatives: after the block of the
   * table sharing the longest path prefix (and its sub-tables), indented like `like`
   * (an analogous table, e.g. the runc runtime for runsc) or like its parent's keys.
   */
  /** The table's own lines: header, comments and entries (not its sub-tables). */
  tableLines(path: string[]): string[] {
    const t = this.table(path);
    if (!t) return [];
    const out: string[] = [];
    for (let l = t.line; l <= this.lastLineOf(t); l++) out.push(this.lineText(l - 1));
    return out;
  }

  /** Add [path] with `entries`; `comment` becomes a `# …` line at the top of its body. */
  addTable(path: string[], entries: [string, TomlValue][], like?: string[], comment?: string): void {
    if (this.table(path)) throw new Error(`[${showPath(path)}] exists`);
    let best: TomlTable | undefined;
    let bestLen = 0;
    for (const t of this.tables) {
      let n = 0;
      while (n < t.path.length && n < path.length && t.path[n] === path[n]) n++;
      if (n > 0 && n >= bestLen) {
        best = t;
        bestLen = n;
      }
    }
    let headerIndent = "";
    let keyIndent = " ".repeat(this.style.step);
    const analog = like && this.table(like);
    if (analog) {
      headerIndent = analog.indent;
      keyIndent = this.entries(like!)[0]?.indent ?? headerIndent + " ".repeat(this.style.step);
    } else {
      const ancestor = this.tables
        .filter((t) => !t.array && startsWith(path, t.path) && t.path.length < path.length)
        .sort((a, b) => b.path.length - a.path.length)[0];
      if (ancestor) {
        const ak = this.entries(ancestor.path)[0];
        headerIndent = ak ? ak.indent : ancestor.indent + " ".repeat(this.style.step);
      }
      keyIndent = headerIndent + " ".repeat(this.style.step);
    }
    const header = `${headerIndent}[${path.map((s) => this.renderKey(s)).join(".")}]`;
    const body = [
      ...(comment ? [`${keyIndent}# ${comment}`] : []),
      ...entries.map(([k, v]) => `${keyIndent}${this.renderKey(k)} = ${this.renderValue(v)}`),
    ];
    // A table whose sub-tables exist already goes right before the first of them (and its comments).
    const child = this.tables.find((t) => startsWith(t.path, path) && t.path.length > path.length);
    if (child) {
      let at = child.line - 1;
      while (at > 0 && /^\s*#/.test(this.lineText(at - 1))) at--;
      const blank = this.style.blankBetweenTables ? [""] : [];
      return this.insertLines(at, [header, ...body, ...blank]);
    }
    let after: number;
    if (best) {
      // After `best` and the tables right after it that stay inside the shared subtree.
      const idx = this.tables.indexOf(best);
      let last = best;
      for (let k = idx + 1; k < this.tables.length && startsWith(this.tables[k].path, best.path.slice(0, bestLen)); k++)
        last = this.tables[k];
      after = this.lastLineOf(last);
    } else {
      const lastStmt = Math.max(0, ...this.kvs.map((k) => k.lastLine), ...this.tables.map((t) => this.lastLineOf(t)));
      after = lastStmt === 0 ? this.contentLines() : lastStmt;
    }
    const blank = this.style.blankBetweenTables && after > 0 ? [""] : [];
    this.insertLines(after, [...blank, header, ...body]);
  }

  /** Number of lines that hold anything (comments count), for appending to comment-only files. */
  private contentLines(): number {
    let n = this.lineStarts.length;
    if (this.text === "") return 0;
    while (n > 0 && this.lineText(n - 1).trim() === "") n--;
    return n;
  }

  /** Remove one table's lines (header and own entries), with the blank line that separated it. */
  private removeOne(t: TomlTable): void {
    const last = this.lastLineOf(t);
    let first = t.line;
    const afterIsSeparator =
      last >= this.lineStarts.length ||
      this.lineText(last).trim() === "" ||
      this.tables.some((x) => x.line === last + 1);
    if (first > 1 && this.lineText(first - 2).trim() === "" && afterIsSeparator) first--;
    this.removeLines(first, last);
  }

  /** Remove [path] and every [path.sub] table, each with the blank line that separated it. */
  removeTable(path: string[]): boolean {
    let removed = false;
    for (;;) {
      const t = [...this.tables].reverse().find((x) => startsWith(x.path, path));
      if (!t) return removed;
      this.removeOne(t);
      removed = true;
    }
  }

  /** Remove the [path] header when the table holds nothing of its own (its sub-tables stay). */
  dropIfEmpty(path: string[]): boolean {
    const t = this.table(path);
    if (!t || this.entries(path).length > 0) return false;
    this.removeOne(t);
    return true;
  }
}
