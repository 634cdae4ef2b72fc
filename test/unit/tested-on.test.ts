import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { END, START, testedOnSection, upstream } from "../../scripts/tested-on.ts";

test("README's Tested on table is exactly what the committed matrix results generate (bun scripts/tested-on.ts --write)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  expect(a).toBeGreaterThan(0);
  expect(readme.slice(a, b + END.length)).toBe(testedOnSection());
});

test("Debian package versions are shown as upstream versions", () => {
  expect(upstream("28.5.2+dfsg4-1")).toBe("28.5.2");
  expect(upstream("0.0~20240729.0-2+b3")).toBe("20240729.0");
  expect(upstream("2.1.9~ds1-1")).toBe("2.1.9");
  expect(upstream("252.39-1~deb12u2")).toBe("252.39");
  expect(upstream(undefined)).toBe("–");
});
