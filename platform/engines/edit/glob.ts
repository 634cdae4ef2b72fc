// Go's filepath.Glob for the patterns config files use in `imports` and drop-in
// directories: wildcards in the last path element only (`/etc/containerd/conf.d/*.toml`).
import { readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";

export const hasGlob = (s: string) => /[*?[]/.test(s);

/** filepath.Match semantics for one path element: * and ? never match "/", [...] classes, \ escapes. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const j = pattern.indexOf("]", i + 2);
      if (j < 0) re += "\\[";
      else {
        const body = pattern.slice(i + 1, j).replace(/^\^/, "!");
        re += `[${body.startsWith("!") ? "^" + body.slice(1) : body}]`;
        i = j;
      }
    } else if (c === "\\" && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** A pattern relative to `baseDir` (containerd resolves imports against the config's directory). */
export function absolutize(pattern: string, baseDir: string): string {
  return isAbsolute(pattern) ? pattern : join(baseDir, pattern);
}

/** Files a pattern names, sorted like Go's Glob; null when the directory part has wildcards. */
export function expandGlob(
  pattern: string,
  list: (dir: string) => string[] | null = (d) => {
    try {
      return readdirSync(d);
    } catch {
      return null;
    }
  },
): string[] | null {
  if (!hasGlob(pattern)) return [pattern];
  const dir = dirname(pattern);
  if (hasGlob(dir)) return null;
  const re = globToRegExp(basename(pattern));
  return (list(dir) ?? [])
    .filter((n) => re.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** The first of `names` a pattern's last element matches (a drop-in file name that will be imported). */
export function dropInNameFor(pattern: string, names: string[]): string | null {
  if (!hasGlob(pattern) || hasGlob(dirname(pattern))) return null;
  const re = globToRegExp(basename(pattern));
  return names.find((n) => re.test(n)) ?? null;
}
