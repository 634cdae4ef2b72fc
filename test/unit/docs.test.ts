import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { END, START, troubleshootingSection } from "../../scripts/troubleshooting.ts";

test("README's Troubleshooting section is exactly what the rules table generates (bun scripts/troubleshooting.ts --write)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  expect(a).toBeGreaterThan(0);
  expect(readme.slice(a, b + END.length)).toBe(troubleshootingSection());
});
