// The whole tree type-checks (tsconfig: strict, no unused locals or parameters): CI fails on a type error
// or an unused import the way it fails on a test.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("tsc -p . reports nothing", () => {
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "."], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });
  expect({ code: r.status, out: `${r.stdout}${r.stderr}`.trim().split("\n").slice(0, 20) }).toEqual({
    code: 0,
    out: [""],
  });
}, 180_000);
