// Print "N passed, N failed[, N skipped]" from bun:test's JUnit report.
// A non-zero test exit with no recorded failure (a file that failed to load, a crash)
// counts as one failure, so a broken run can never look green.
import { existsSync, readFileSync } from "node:fs";

const [file, statusArg] = process.argv.slice(2);
const status = Number(statusArg ?? 0);
let tests = 0,
  failures = 0,
  skipped = 0,
  errors = 0;
if (existsSync(file)) {
  const xml = readFileSync(file, "utf8");
  const root = xml.match(/<testsuites\b[^>]*>/)?.[0] ?? "";
  const attr = (name) => Number(root.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
  tests = attr("tests");
  failures = attr("failures");
  skipped = attr("skipped");
  errors = attr("errors");
}
let failed = failures + errors;
if (status !== 0 && failed === 0) failed = 1;
const passed = Math.max(0, tests - failures - errors - skipped);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(status !== 0 || failed > 0 ? 1 : 0);
