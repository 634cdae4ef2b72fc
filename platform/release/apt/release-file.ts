// Debian control files (deb822): the Release file of a suite and the Packages index.
// Only the text a signature covered is ever parsed (see signature.ts).

export class AptIndexError extends Error {}

export type Paragraph = Map<string, string>;

/** Paragraphs separated by blank lines; continuation lines (leading space) join their field with "\n". */
export function parseParagraphs(text: string): Paragraph[] {
  const out: Paragraph[] = [];
  let cur: Paragraph | null = null;
  let last: string | null = null;
  for (const line of text.replace(/\r\n/g, "\n").split("\n")) {
    if (line.trim() === "") {
      if (cur) out.push(cur);
      cur = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (!cur || !last)
        throw new AptIndexError(`continuation line without a field: ${JSON.stringify(line.slice(0, 60))}`);
      cur.set(last, `${cur.get(last)}\n${line.trim()}`);
      continue;
    }
    const m = line.match(/^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.*)$/);
    if (!m) throw new AptIndexError(`not a control field: ${JSON.stringify(line.slice(0, 60))}`);
    cur ??= new Map();
    last = m[1].toLowerCase();
    if (cur.has(last)) throw new AptIndexError(`field ${m[1]} appears twice in one paragraph`);
    cur.set(last, m[2].trim());
  }
  if (cur) out.push(cur);
  return out;
}

export interface IndexEntry {
  sha256?: string;
  sha512?: string;
  size: number;
}

export interface ReleaseFile {
  suite: string | null;
  codename: string | null;
  /** When the archive signed it (RFC 2822 in the file), as an ISO string. */
  date: string | null;
  validUntil: string | null;
  architectures: string[];
  components: string[];
  /** Index files by path relative to dists/<suite>/. */
  files: Map<string, IndexEntry>;
}

export function parseDebDate(s: string | undefined): string | null {
  if (!s) return null;
  const t = Date.parse(s.replace(/\bUTC\b/, "GMT"));
  if (Number.isNaN(t)) throw new AptIndexError(`unreadable date ${JSON.stringify(s)}`);
  return new Date(t).toISOString();
}

export function parseRelease(text: string): ReleaseFile {
  const [p] = parseParagraphs(text);
  if (!p) throw new AptIndexError("the Release file is empty");
  const files = new Map<string, IndexEntry>();
  for (const [field, algo] of [
    ["sha256", "sha256"],
    ["sha512", "sha512"],
  ] as const) {
    const block = p.get(field);
    if (!block) continue;
    for (const line of block.split("\n").filter((l) => l.trim())) {
      const m = line.trim().match(/^([0-9a-fA-F]+)\s+(\d+)\s+(\S+)$/);
      if (!m)
        throw new AptIndexError(`bad ${field.toUpperCase()} line in Release: ${JSON.stringify(line.slice(0, 80))}`);
      const want = algo === "sha256" ? 64 : 128;
      if (m[1].length !== want) throw new AptIndexError(`bad ${field.toUpperCase()} hash for ${m[3]} in Release`);
      const e = files.get(m[3]) ?? { size: Number(m[2]) };
      if (e.size !== Number(m[2])) throw new AptIndexError(`Release gives ${m[3]} two different sizes`);
      e[algo] = m[1].toLowerCase();
      files.set(m[3], e);
    }
  }
  if (!files.size) throw new AptIndexError("the Release file lists no SHA256 or SHA512 hashes");
  const words = (k: string) => (p.get(k) ?? "").split(/\s+/).filter(Boolean);
  return {
    suite: p.get("suite") ?? null,
    codename: p.get("codename") ?? null,
    date: parseDebDate(p.get("date")),
    validUntil: parseDebDate(p.get("valid-until")),
    architectures: words("architectures"),
    components: words("components"),
    files,
  };
}

export interface PackageEntry {
  package: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string | null;
  sha512: string | null;
}

/** Every `runsc` stanza for `arch` in a Packages index (newest first by the caller). */
export function findPackages(text: string, name: string, arch: string): PackageEntry[] {
  const out: PackageEntry[] = [];
  for (const p of parseParagraphs(text)) {
    if (p.get("package") !== name) continue;
    const a = p.get("architecture") ?? "";
    if (a !== arch && a !== "all") continue;
    const filename = p.get("filename");
    const size = Number(p.get("size"));
    if (!filename || !Number.isSafeInteger(size))
      throw new AptIndexError(`the ${name} entry in Packages has no Filename or Size`);
    const sha256 = p.get("sha256")?.toLowerCase() ?? null;
    const sha512 = p.get("sha512")?.toLowerCase() ?? null;
    if (
      (sha256 && !/^[0-9a-f]{64}$/.test(sha256)) ||
      (sha512 && !/^[0-9a-f]{128}$/.test(sha512)) ||
      (!sha256 && !sha512)
    ) {
      throw new AptIndexError(`the ${name} ${p.get("version") ?? ""} entry in Packages has no usable SHA256/SHA512`);
    }
    out.push({ package: name, version: p.get("version") ?? "", architecture: a, filename, size, sha256, sha512 });
  }
  return out;
}
