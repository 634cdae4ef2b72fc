// Build the library for Node (`npm run build:lib`): Node 20 cannot load .ts files,
// so src/lib.ts is bundled into dist/lib.js (ESM; dependencies stay imports from
// node_modules) with declarations in dist/types/ and dist/lib.d.ts pointing at them.
// Bun and Deno import src/lib.ts directly and need none of this.
//   bun scripts/build-lib.ts [--outdir DIR]
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = join(import.meta.dirname, "..");

/** What the declarations are made with, and what a consumer's tsc checks them with (test/e2e/exec-lib.test.ts). */
export const TSC_FLAGS = [
  "--strict",
  "--skipLibCheck",
  "--module",
  "esnext",
  "--moduleResolution",
  "bundler",
  "--target",
  "es2022",
  "--types",
  "node",
];

function step(what: string, file: string, args: string[]): void {
  const r = spawnSync(file, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`build:lib: ${what} failed (exit ${r.status})`);
}

/** Every .d.ts under `dir`, with `.ts` import specifiers turned into the `.js` Node resolves. */
function rewriteSpecifiers(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) rewriteSpecifiers(p);
    else if (name.endsWith(".d.ts"))
      writeFileSync(p, readFileSync(p, "utf8").replace(/(from\s+["'](?:\.{1,2}\/)[^"']*?)\.ts(["'])/g, "$1.js$2"));
  }
}

if (import.meta.main) {
  const outIdx = process.argv.indexOf("--outdir");
  const out = outIdx > 0 ? resolve(process.argv[outIdx + 1]) : join(root, "dist");
  mkdirSync(out, { recursive: true });
  const tmp = join(out, `.lib-build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    step("bundling", process.execPath, [
      "build",
      "src/lib.ts",
      "--target=node",
      "--format=esm",
      "--packages=external",
      "--outfile",
      join(tmp, "lib.js"),
    ]);
    step("declarations", process.execPath, [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "src/lib.ts",
      "--declaration",
      "--emitDeclarationOnly",
      "--allowImportingTsExtensions",
      ...TSC_FLAGS,
      "--outDir",
      join(tmp, "types"),
    ]);
    rewriteSpecifiers(join(tmp, "types"));
    writeFileSync(join(tmp, "lib.d.ts"), 'export * from "./types/src/lib.js";\n');
    // Replace the previous build only once this one is complete.
    for (const name of ["lib.js", "lib.d.ts", "types"]) {
      rmSync(join(out, name), { recursive: true, force: true });
      renameSync(join(tmp, name), join(out, name));
    }
    console.log(`built ${join(out, "lib.js")} and its types`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
