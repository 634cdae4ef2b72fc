// What each start of the binary loads. The release is built with --splitting, so a module
// reached only through import() is a chunk of its own, read when imported; what a command
// loads at start is the static-import closure of its path. bun's own metafile gives the graph.
import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILE_FLAGS } from "../../scripts/build.ts";

const ROOT = join(import.meta.dirname, "..", "..");
type Inputs = Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
let inputs: Inputs;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "gvd-meta-"));
  try {
    const r = spawnSync(
      process.execPath,
      [
        "build",
        "src/cli.ts",
        "--target=bun",
        "--format=esm",
        "--splitting",
        "--outdir",
        join(dir, "out"),
        `--metafile=${join(dir, "meta.json")}`,
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    inputs = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")).inputs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Every module loaded with `from` by static imports (import statements, require). */
function staticClosure(...from: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...from];
  for (let m = todo.pop(); m !== undefined; m = todo.pop()) {
    if (seen.has(m)) continue;
    if (!inputs[m]) throw new Error(`${m} is not in the build graph`);
    seen.add(m);
    // external: node builtins, and re-exports bun lists once more under their unresolved path
    for (const i of inputs[m].imports)
      if (!i.external && (i.kind === "import-statement" || i.kind === "require-call")) todo.push(i.path);
  }
  return seen;
}

const packages = (mods: Set<string>) =>
  [
    ...new Set(
      [...mods]
        .filter((m) => m.includes("node_modules/"))
        .map((m) => {
          const p = m.split("node_modules/").at(-1)!.split("/");
          return p[0].startsWith("@") ? `${p[0]}/${p[1]}` : p[0];
        }),
    ),
  ].sort();

// Modules that must stay behind the commands that use them.
const HEAVY_PACKAGES = ["semver", "tar", "smol-toml", "jsonc-parser", "diff", "yaml", "undici", "ora", "@noble/hashes"];
const HEAVY_MODULES = [
  "checks/catalog.ts",
  "platform/facts/host-facts.ts",
  "platform/facts/engine-facts.ts",
  "src/configure-engines.ts",
  "src/fix.ts",
  "platform/release/installer.ts",
  "src/k8s/manifests.ts",
  "src/k8s/cluster-check.ts",
  "src/k8s/agent.ts",
];

describe("start-up loads only what the command uses", () => {
  test("the release is built with code splitting (otherwise every start loads the whole bundle)", () => {
    expect(COMPILE_FLAGS).toContain("--splitting");
  });

  test("--version: the entry imports nothing but the version stamp", () => {
    expect([...staticClosure("src/cli.ts")].sort()).toEqual(["src/cli.ts", "src/version.ts"]);
  });

  test("preflight (a container's entrypoint): its command, the IO and the tells; no other command", () => {
    const mods = staticClosure(
      "src/cli.ts",
      "src/run-command.ts",
      "src/ui/color.ts",
      "src/ui/spinner.ts",
      "src/ui/tty.ts",
      "src/commands/preflight.ts",
    );
    expect(mods.has("platform/facts/self-sandbox.ts")).toBe(true);
    expect(packages(mods)).toEqual([]); // not even chalk: without a TTY there is no color to make
    expect([...mods].filter((m) => m.startsWith("src/commands/"))).toEqual(["src/commands/preflight.ts"]);
    expect(mods.has("src/dispatch.ts")).toBe(false);
    // ...nor what it loads only when it needs it: node:util's parseArgs (args.ts) for a command
    // line that is not boolean flags, node:child_process (replace-process.ts, spawn.ts) to exec or to
    // run dmesg where the kernel log cannot be read in-process.
    for (const m of ["src/args.ts", "platform/os/replace-process.ts", "platform/os/spawn.ts"]) {
      expect(mods.has(m)).toBe(false);
    }
    const builtins = [...mods].flatMap((m) =>
      inputs[m].imports
        .filter((i) => i.external && i.kind === "import-statement")
        .map((i) => i.path.replace(/^node:/, "")),
    );
    expect(builtins).toContain("fs"); // (the list is the real one)
    for (const b of ["util", "child_process", "tty"]) expect(builtins).not.toContain(b);
  });

  test("--help: the dispatcher and every command's flags and help, nothing heavy", () => {
    const mods = staticClosure("src/cli.ts", "src/dispatch.ts", "src/ui/color.ts", "src/ui/spinner.ts");
    expect(packages(mods)).toEqual([]); // not even chalk: without a TTY there is no color to make
    for (const m of HEAVY_MODULES) expect(mods.has(m)).toBe(false);
  });

  test("check loads the catalog only when it runs", () => {
    const mods = staticClosure("src/commands/check.ts");
    expect(mods.has("checks/catalog.ts")).toBe(false);
    // ...and the catalog's own modules are still in the binary, behind import().
    expect(staticClosure("src/commands/check-run.ts").has("checks/catalog.ts")).toBe(true);
  });

  test("no heavy package is reachable from the start without an import()", () => {
    const mods = staticClosure("src/cli.ts", "src/dispatch.ts", "src/ui/color.ts", "src/ui/spinner.ts");
    for (const p of HEAVY_PACKAGES) expect(packages(mods)).not.toContain(p);
  });
});
