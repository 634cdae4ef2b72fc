// What dockerd says about a daemon.json it cannot load. dockerd decodes the file with
// Go's json.NewDecoder(r).Decode(&map[string]interface{}): the first error of Go's JSON
// scanner, byte by byte, is what `dockerd` prints after "unable to configure the Docker
// daemon with file F:". Measured with dockerd 20.10 on this machine: "EOF" for an empty
// or whitespace-only file, "invalid character 'ï' looking for beginning of value" for a
// UTF-8 BOM, "invalid character '}' looking for beginning of object key string" for a
// trailing comma, "unexpected EOF" for a truncated file. Text after the first value is
// never read, so dockerd accepts `{} trailing junk`.

import { encodeBytes } from "../edit/text.ts";

export interface GoJsonError {
  /** Byte offset of the offending byte in the UTF-8 file. */
  byteOffset: number;
  /** Character offset in the decoded text (for line/column). */
  offset: number;
  message: string;
}

function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const named: Record<number, string> = {
    7: "\\a",
    8: "\\b",
    9: "\\t",
    10: "\\n",
    11: "\\v",
    12: "\\f",
    13: "\\r",
    0x5c: "\\\\",
  };
  if (named[c]) return `'${named[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, "0")}'`;
  // Go turns the byte into the rune U+00XX; C1 controls, NBSP and soft hyphen are not printable.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, "0")}'`;
  return `'${String.fromCharCode(c)}'`;
}

class Stop {
  constructor(
    readonly pos: number,
    readonly message: string,
  ) {}
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** Scan one JSON value the way encoding/json's scanner does; returns the end offset. */
function scanValue(
  b: Uint8Array,
  start: number,
): { end: number; kind: "object" | "array" | "string" | "number" | "literal" } {
  let i = start;
  const eof = () => new Stop(b.length, "unexpected EOF");
  const bad = (pos: number, ctx: string) => new Stop(pos, `invalid character ${quoteChar(b[pos])} ${ctx}`);
  const skip = () => {
    while (i < b.length && isSpace(b[i])) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= b.length) throw eof();
      const c = b[i];
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        i++;
        if (i >= b.length) throw eof();
        const e = b[i];
        if (e === 0x75) {
          for (let k = 1; k <= 4; k++) {
            if (i + k >= b.length) throw eof();
            if (!isHex(b[i + k])) throw bad(i + k, "in \\u hexadecimal character escape");
          }
          i += 5;
          continue;
        }
        if (!`"\\/bfnrt`.includes(String.fromCharCode(e))) throw bad(i, "in string escape code");
        i++;
        continue;
      }
      if (c < 0x20) throw bad(i, "in string literal");
      i++;
    }
  };
  const num = () => {
    if (b[i] === 0x2d) {
      i++;
      if (i >= b.length) throw eof();
      if (!isDigit(b[i])) throw bad(i, "in numeric literal");
    }
    if (b[i] === 0x30) i++;
    else while (i < b.length && isDigit(b[i])) i++;
    if (i < b.length && b[i] === 0x2e) {
      i++;
      if (i >= b.length) throw eof();
      if (!isDigit(b[i])) throw bad(i, "after decimal point in numeric literal");
      while (i < b.length && isDigit(b[i])) i++;
    }
    if (i < b.length && (b[i] === 0x65 || b[i] === 0x45)) {
      i++;
      if (i < b.length && (b[i] === 0x2b || b[i] === 0x2d)) i++;
      if (i >= b.length) throw eof();
      if (!isDigit(b[i])) throw bad(i, "in exponent of numeric literal");
      while (i < b.length && isDigit(b[i])) i++;
    }
  };
  const literal = (word: string) => {
    for (let k = 1; k < word.length; k++) {
      if (i + k >= b.length) throw eof();
      if (b[i + k] !== word.charCodeAt(k)) throw bad(i + k, `in literal ${word} (expecting '${word[k]}')`);
    }
    i += word.length;
  };
  let depth = 0;
  // encoding/json's scanner refuses nesting deeper than maxNestingDepth (10000).
  const push = () => {
    if (++depth > 10_000) throw bad(i, "exceeded max depth");
    i++;
  };
  const value = (): "object" | "array" | "string" | "number" | "literal" => {
    skip();
    if (i >= b.length) throw eof();
    const c = b[i];
    if (c === 0x7b) {
      push();
      skip();
      if (i >= b.length) throw eof();
      if (b[i] === 0x7d) {
        i++;
        depth--;
        return "object";
      }
      for (;;) {
        skip();
        if (i >= b.length) throw eof();
        if (b[i] !== 0x22) throw bad(i, "looking for beginning of object key string");
        str();
        skip();
        if (i >= b.length) throw eof();
        if (b[i] !== 0x3a) throw bad(i, "after object key");
        i++;
        value();
        skip();
        if (i >= b.length) throw eof();
        if (b[i] === 0x2c) {
          i++;
          continue;
        }
        if (b[i] === 0x7d) {
          i++;
          depth--;
          return "object";
        }
        throw bad(i, "after object key:value pair");
      }
    }
    if (c === 0x5b) {
      push();
      skip();
      if (i >= b.length) throw eof();
      if (b[i] === 0x5d) {
        i++;
        depth--;
        return "array";
      }
      for (;;) {
        value();
        skip();
        if (i >= b.length) throw eof();
        if (b[i] === 0x2c) {
          i++;
          continue;
        }
        if (b[i] === 0x5d) {
          i++;
          depth--;
          return "array";
        }
        throw bad(i, "after array element");
      }
    }
    if (c === 0x22) {
      str();
      return "string";
    }
    if (c === 0x2d || isDigit(c)) {
      num();
      return "number";
    }
    if (c === 0x74) return (literal("true"), "literal");
    if (c === 0x66) return (literal("false"), "literal");
    if (c === 0x6e) return (literal("null"), "literal");
    throw bad(i, "looking for beginning of value");
  };
  const kind = value();
  return { end: i, kind };
}

const KIND_NAME = { array: "array", string: "string", number: "number", literal: "bool" } as const;

/**
 * The error dockerd prints for this daemon.json, or null when dockerd's decoder accepts
 * it. Also reports a top-level value that is not an object, as Go's map decode does.
 */
export function dockerdJsonError(text: string): GoJsonError | null {
  const b = encodeBytes(text); // the file's bytes, as dockerd reads them
  let i = 0;
  while (i < b.length && isSpace(b[i])) i++;
  const at = (byteOffset: number, message: string): GoJsonError => ({
    byteOffset,
    offset: new TextDecoder().decode(b.subarray(0, byteOffset)).length,
    message,
  });
  if (i >= b.length) return at(b.length, "EOF");
  try {
    const { kind } = scanValue(b, i);
    if (kind !== "object") {
      const word = kind === "literal" && b[i] === 0x6e ? null : KIND_NAME[kind];
      // `null` decodes into a map without error (the map stays nil).
      if (word) return at(i, `json: cannot unmarshal ${word} into Go value of type map[string]interface {}`);
    }
    return null;
  } catch (e) {
    if (e instanceof Stop) return at(e.pos, e.message);
    throw e;
  }
}
