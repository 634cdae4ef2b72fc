import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { END, START, troubleshootingSection } from "../../scripts/troubleshooting.ts";

test("README's Troubleshooting section is exactly what the rules table generates (bun scripts/troubleshooting.ts --write)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  expect(a).toBeGreaterThan(0);
  expect(readme.slice(a, b + END.length)).toBe(troubleshootingSection());
});

/**
 * The paths and identifiers in a doc's `code spans` that no longer exist. Paths are from the root or file names
 * in one of the folders listed; identifiers (camelCase or UPPER) must be in the code (`withTests`: or the tests).
 */
function staleNames(doc: string, withTests = false): string[] {
  const root = join(import.meta.dirname, "..", "..");
  const text = readFileSync(join(root, doc), "utf8");
  const files = (dir: string): string[] =>
    readdirSync(join(root, dir), { recursive: true, encoding: "utf8" }).map((f) => `${dir}/${f}`);
  const tree = [
    "src",
    "platform",
    "checks",
    "test/unit",
    "test/e2e",
    "test/bed",
    "test/helpers",
    "test/fixtures/engines",
    "docs",
    "scripts",
  ].flatMap(files);
  const code = tree
    .filter((f) => f.endsWith(".ts") && (withTests || !f.startsWith("test/")))
    .map((f) => readFileSync(join(root, f), "utf8"))
    .join("\n");
  const missing: string[] = [];
  for (const [, tick] of text.matchAll(/`([^`\n]+)`/g)) {
    for (const word of tick.split(/[\s(),]+/).filter(Boolean)) {
      if (word.includes("<") || word.startsWith("--") || word === "…") continue; // placeholders, flags
      const path = word.replace(/\*$/, "").replace(/\/$/, "");
      if (/\.(ts|md|json)$|\//.test(path)) {
        // a path from the root, or a file name that lives in one of the folders named; `*` matches a part of a name
        const glob = new RegExp(`(^|/)${path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
        if (!existsSync(join(root, path)) && !tree.some((f) => glob.test(f))) missing.push(word);
      } else if (/^[A-Za-z_]\w*$/.test(word) && /[A-Z_]/.test(word) && !new RegExp(`\\b${word}\\b`).test(code)) {
        missing.push(word); // an identifier (camelCase or UPPER): must still be in the code
      }
    }
  }
  return missing;
}

test("ARCHITECTURE.md names only paths and code that exist (moves and renames must update it)", () => {
  expect(staleNames("ARCHITECTURE.md")).toEqual([]);
});

test("docs/adding-an-engine.md names only paths and code (or test helpers) that exist", () => {
  expect(staleNames("docs/adding-an-engine.md", true)).toEqual([]);
});
