// One formatter for the whole tree (Biome, biome.json: 120 columns): CI fails when a file drifts from it.
// `npm run format` rewrites the tree.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("biome format finds nothing to change", () => {
  const r = spawnSync(join(ROOT, "node_modules/.bin/biome"), ["format", "--max-diagnostics=5", "."], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expect({ code: r.status, drift: r.status === 0 ? "" : out.slice(0, 3000) }).toEqual({ code: 0, drift: "" });
});
