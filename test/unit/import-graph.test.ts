// The import graph of src/, platform/ and checks/ (scripts/import-graph.ts): no cycle, and the layers
// point one way (issue 17). Every import counts, type-only and lazy import("…") included.
import { describe, expect, test } from "bun:test";
import { cycles, importGraph, importsOf, layerViolations, loopThrough, type Edge } from "../../scripts/import-graph.ts";

const edges = importGraph();
const show = (loop: Edge[]) => loop.map((e) => `${e.from} -${e.kind}-> ${e.to}`).join(", ");

describe("import graph", () => {
  test("the parser sees every kind of import, and nothing in comments or strings", () => {
    const src = [
      `import { a } from "./a.ts";`,
      `import type { B } from "./b.ts";`,
      `import { type C } from "./c.ts";`,
      `import d, { type D } from "./d.ts";`,
      `export { e } from "./e.ts";`,
      `export type { F } from "./f.ts";`,
      `import "./g.ts";`,
      `const h = await import("./h.ts");`,
      `let i: import("./i.ts").I;`,
      `import { j } from "node:fs";`,
      `// import { k } from "./k.ts";`,
      `const l = 'import("./l.ts")';`,
    ].join("\n");
    expect(importsOf(src)).toEqual([
      { spec: "./a.ts", kind: "static" },
      { spec: "./b.ts", kind: "type" },
      { spec: "./c.ts", kind: "type" },
      { spec: "./d.ts", kind: "static" },
      { spec: "./e.ts", kind: "static" },
      { spec: "./f.ts", kind: "type" },
      { spec: "./g.ts", kind: "static" },
      { spec: "./h.ts", kind: "dynamic" },
      { spec: "./i.ts", kind: "type" },
    ]);
  });

  test("cycles are found as strongly connected components, with a loop that shows how each closes", () => {
    const e = (from: string, to: string): Edge => ({ from, to, kind: "static" });
    const g = [e("a", "b"), e("b", "c"), e("c", "a"), e("c", "d"), e("d", "e"), e("e", "d"), e("f", "f"), e("g", "a")];
    expect(cycles(g)).toEqual([["a", "b", "c"], ["d", "e"], ["f"]]);
    expect(loopThrough(g, ["a", "b", "c"]).map((x) => x.from)).toEqual(["a", "b", "c"]);
  });

  test("the graph is the real tree (a sanity floor, so an empty graph cannot pass)", () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: "src/cli.ts", to: "src/version.ts", kind: "static" });
  });

  test("no import cycle at all", () => {
    const found = cycles(edges).map((scc) => ({ files: scc, loop: show(loopThrough(edges, scc)) }));
    expect(found).toEqual([]);
  });

  test("layers point down: platform imports neither src nor checks, checks not src, engines not facts, os nothing above", () => {
    const made: Edge[] = [
      { from: "platform/a.ts", to: "checks/b.ts", kind: "type" },
      { from: "checks/b.ts", to: "src/c.ts", kind: "dynamic" },
      { from: "src/c.ts", to: "platform/a.ts", kind: "static" },
      // The facts build on the engine layer (the daemon snapshot is declared below them), never the reverse.
      { from: "platform/engines/d/adapter.ts", to: "platform/facts/e.ts", kind: "type" },
      { from: "platform/facts/e.ts", to: "platform/engines/snapshot.ts", kind: "type" },
      // The primitives import only each other.
      { from: "platform/os/f.ts", to: "platform/engines/daemon-control.ts", kind: "static" },
      { from: "platform/os/f.ts", to: "platform/os/g.ts", kind: "static" },
    ];
    expect(layerViolations(made).map((e) => e.to)).toEqual([
      "checks/b.ts",
      "src/c.ts",
      "platform/facts/e.ts",
      "platform/engines/daemon-control.ts",
    ]);
    expect(layerViolations(edges).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});
