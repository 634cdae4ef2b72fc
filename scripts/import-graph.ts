// The import graph of the product code (src/, platform/, checks/) and its cycles (issue 17):
//   bun scripts/import-graph.ts            → print every cycle (strongly connected component)
//   bun scripts/import-graph.ts --edges    → also print each edge with its kind
// Every import counts: a type-only import ties the files together for the reader and for tsc, and a lazy
// import("…") only hides a cycle from the loader. It also prints imports that point up a layer (LAYERS).
// test/unit/import-graph.test.ts guards both.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export const ROOT = join(import.meta.dirname, "..");
export const PRODUCT_DIRS = ["src", "platform", "checks"];

/** static: import/export … from; type: import type / export type; dynamic: import("…") call or type. */
export type EdgeKind = "static" | "type" | "dynamic";
export interface Edge {
  from: string;
  to: string;
  kind: EdgeKind;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/**
 * The relative module specifiers a file imports, and how: read from the syntax tree, so comments and strings
 * do not count.
 */
export function importsOf(text: string, fileName = "x.ts"): { spec: string; kind: EdgeKind }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: { spec: string; kind: EdgeKind }[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      // `import { type A, type B }` with nothing else is erased like `import type`
      const allTypes =
        !!c &&
        !c.name &&
        !!c.namedBindings &&
        ts.isNamedImports(c.namedBindings) &&
        c.namedBindings.elements.length > 0 &&
        c.namedBindings.elements.every((e) => e.isTypeOnly);
      out.push({ spec: n.moduleSpecifier.text, kind: c?.isTypeOnly || allTypes ? "type" : "static" });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push({ spec: n.moduleSpecifier.text, kind: n.isTypeOnly ? "type" : "static" });
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments.length &&
      ts.isStringLiteralLike(n.arguments[0])
    ) {
      out.push({ spec: n.arguments[0].text, kind: "dynamic" });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, kind: "type" });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out.filter((i) => i.spec.startsWith("."));
}

/** Edges between the product files, paths relative to the repository root. */
export function importGraph(root = ROOT, dirs = PRODUCT_DIRS): Edge[] {
  const files = dirs.flatMap((d) => tsFiles(join(root, d)));
  const known = new Set(files.map((f) => relative(root, f)));
  const edges: Edge[] = [];
  for (const f of files) {
    const from = relative(root, f);
    for (const { spec, kind } of importsOf(readFileSync(f, "utf8"), f)) {
      const to = relative(root, resolve(dirname(f), spec));
      if (known.has(to)) edges.push({ from, to, kind });
    }
  }
  return edges;
}

/**
 * Which layer may not import which: platform/ is below checks/, which is below src/; inside platform/, the
 * primitives (os/) are below everything, and the engines are below the facts that read them (ARCHITECTURE.md).
 */
// Every folder of platform/ but os/ itself, read from the tree: a new folder needs no line here.
const ABOVE_OS = readdirSync(join(ROOT, "platform"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "os")
  .map((d) => `platform/${d.name}/`);
export const LAYERS: Record<string, string[]> = {
  "platform/": ["src/", "checks/"],
  "platform/os/": ABOVE_OS,
  "platform/engines/": ["platform/facts/"],
  "checks/": ["src/"],
};

/** The imports that reach up a layer. */
export function layerViolations(edges: Edge[]): Edge[] {
  return edges.filter((e) =>
    Object.entries(LAYERS).some(([layer, above]) => e.from.startsWith(layer) && above.some((a) => e.to.startsWith(a))),
  );
}

/** Strongly connected components with more than one file (or a file importing itself), Tarjan's algorithm. */
export function cycles(edges: Edge[]): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!adj.has(e.from)) adj.set(e.from, new Set());
    if (!adj.has(e.to)) adj.set(e.to, new Set());
    adj.get(e.from)!.add(e.to);
  }
  const index = new Map<string, number>(),
    low = new Map<string, number>();
  const stack: string[] = [],
    onStack = new Set<string>(),
    out: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      scc.push(w);
      if (w === v) break;
    }
    if (scc.length > 1 || adj.get(v)!.has(v)) out.push(scc.sort());
  };
  for (const v of [...adj.keys()].sort()) if (!index.has(v)) connect(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** One shortest loop through `start` inside its component, to show how the cycle closes. */
export function loopThrough(edges: Edge[], scc: string[], start = scc[0]): Edge[] {
  const inside = new Set(scc);
  const prev = new Map<string, Edge>();
  const todo = [start];
  for (let i = 0; i < todo.length; i++) {
    for (const e of edges) {
      if (e.from !== todo[i] || !inside.has(e.to)) continue;
      if (e.to === start) {
        const path = [e];
        for (let at = e.from; at !== start; at = prev.get(at)!.from) path.unshift(prev.get(at)!);
        return path;
      }
      if (!prev.has(e.to)) {
        prev.set(e.to, e);
        todo.push(e.to);
      }
    }
  }
  return [];
}

if (import.meta.main) {
  const edges = importGraph();
  if (process.argv.includes("--edges")) for (const e of edges) console.log(`${e.from} -> ${e.to} (${e.kind})`);
  const found = cycles(edges);
  for (const scc of found) {
    console.log(`cycle of ${scc.length} files:`);
    for (const f of scc) console.log(`  ${f}`);
    console.log(
      `  e.g. ${loopThrough(edges, scc)
        .map((e) => `${e.from} -${e.kind}-> ${e.to}`)
        .join(", ")}`,
    );
  }
  const up = layerViolations(edges);
  for (const e of up) console.log(`up a layer: ${e.from} -${e.kind}-> ${e.to}`);
  console.log(`${found.length ? `${found.length} cycle(s)` : "no cycles"}, ${up.length} import(s) up a layer`);
  process.exitCode = found.length || up.length ? 1 : 0;
}
