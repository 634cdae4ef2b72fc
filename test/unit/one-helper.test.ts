// One copy of each small helper (issue 17 item 5: there were three shellQuotes, three sleeps, two sameArgs,
// each a little different; later three sameFiles and ten "PATH, then the system directories" lookups), and what
// the shared sameArgs means.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { sameArgs } from "../../platform/engines/docker/daemon-json.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });

/** Where each helper is defined, and the only place it may be. */
const HOMES: Record<string, string> = {
  shellQuote: "platform/os/shell.ts",
  sleep: "platform/os/sleep.ts",
  sameArgs: "platform/engines/docker/daemon-json.ts",
  sameInode: "platform/os/host-root.ts",
  sameFile: "platform/os/fsutil.ts",
  findTool: "platform/os/which.ts",
  readText: "platform/os/fsutil.ts",
};

describe("one helper each", () => {
  test("shellQuote, sleep, sameArgs, sameInode, sameFile, findTool and readText are defined once, and nothing stands in for sleep or findTool", () => {
    const found: Record<string, string[]> = {};
    for (const f of ["src", "platform", "checks"].flatMap((d) => files(join(ROOT, d)))) {
      const text = readFileSync(f, "utf8");
      for (const name of Object.keys(HOMES)) {
        const def = new RegExp(`(?:function|const|let)\\s+${name}\\b|setTimeout as ${name}\\b`);
        if (def.test(text)) (found[name] ??= []).push(relative(ROOT, f));
      }
      // A stand-in: Bun's or node's own sleep, or a promise of a bare timer.
      const standIn = /\bBun\.sleep\(|node:timers\/promises|new Promise\(\(?(\w+)\)? => setTimeout\(\1, /;
      if (standIn.test(text)) (found.sleep ??= []).push(relative(ROOT, f));
      // findTool written out: PATH, then the system directories, in one which() or two for the same name.
      const lookup = /which\([^;]*\.\.\.SYSTEM_BIN_DIRS\]|which\(("\w+"|\w+)[^;]*\) \?\? which\(\1/;
      if (lookup.test(text) && !f.endsWith("platform/os/which.ts")) (found.findTool ??= []).push(relative(ROOT, f));
    }
    expect(found).toEqual(Object.fromEntries(Object.entries(HOMES).map(([k, v]) => [k, [v]])));
  });

  test("sameArgs: the same strings in order; absent is none; anything else in the file is not the same", () => {
    expect(sameArgs(["--a", "--b"], ["--a", "--b"])).toBe(true);
    expect(sameArgs(["--b", "--a"], ["--a", "--b"])).toBe(false);
    expect(sameArgs(["--a"], ["--a", "--b"])).toBe(false);
    expect(sameArgs(undefined, [])).toBe(true); // daemon.json without runtimeArgs, dockerd listing none
    expect(sameArgs([], undefined)).toBe(true);
    expect(sameArgs(undefined, ["--a"])).toBe(false);
    expect(sameArgs(null, [])).toBe(false); // `"runtimeArgs": null` is rewritten
    expect(sameArgs("--a", ["--a"])).toBe(false);
    expect(sameArgs([1], ["1"])).toBe(false);
  });
});
