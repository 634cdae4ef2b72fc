import { describe, expect, test } from "bun:test";
import { CATALOG } from "../../checks/catalog.ts";
import { runChecks, selectChecks, unknownPatterns } from "../../checks/runner.ts";
import { summarize } from "../../checks/summary.ts";
import { fail, pass, type Check, type CheckOptions } from "../../checks/types.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";

const facts = { user: { uid: 1000, root: false } } as unknown as HostFacts;
const opts: CheckOptions = { quick: false, offline: false, verbose: false, env: {} };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("check runner", () => {
  test("runs independent checks concurrently and prints them in catalog order", async () => {
    const order: string[] = [];
    const mk = (id: string, ms: number): Check => ({
      id,
      title: id,
      async run() {
        await delay(ms);
        order.push(id);
        return pass(id);
      },
    });
    const started = performance.now();
    const f = await runChecks([mk("a.slow", 150), mk("b.fast", 10), mk("c.mid", 80)], facts, opts);
    expect(f.map((x) => x.id)).toEqual(["a.slow", "b.fast", "c.mid"]);
    expect(order).toEqual(["b.fast", "c.mid", "a.slow"]);
    expect(performance.now() - started).toBeLessThan(140 + 150); // not 240 ms sequential + slack; structural, not a benchmark
  });

  test("a check that throws becomes a fail finding, and the run goes on", async () => {
    const f = await runChecks(
      [
        {
          id: "x.boom",
          title: "boom",
          run() {
            throw new Error("kaboom");
          },
        },
        { id: "x.fine", title: "fine", run: () => pass("ok") },
      ],
      facts,
      opts,
    );
    expect(f[0].status).toBe("fail");
    expect(f[0].message).toContain("kaboom");
    expect(f[0].diagnosis?.fix?.id).toBe("report-bug");
    expect(f[1].status).toBe("pass");
  });

  test("a check that hangs past its timeout fails with a diagnosis", async () => {
    const f = await runChecks(
      [{ id: "x.hang", title: "hang", timeoutMs: 50, run: () => new Promise(() => {}) }],
      facts,
      opts,
    );
    expect(f[0].status).toBe("fail");
    expect(f[0].message).toContain("did not finish");
    expect(f[0].diagnosis?.fix?.command).toContain("--only x.hang");
  });

  test("a check whose prerequisite failed is skipped with the reason, never failed", async () => {
    const f = await runChecks(
      [
        { id: "d.daemon", title: "", run: () => fail("down", null) },
        { id: "d.runtime", title: "", needs: ["d.daemon"], run: () => pass("never") },
        { id: "d.hello", title: "", needs: ["d.runtime"], run: () => pass("never") },
      ],
      facts,
      opts,
    );
    expect(f.map((x) => x.status)).toEqual(["fail", "skip", "skip"]);
    expect(f[1].message).toBe("needs d.daemon (failed)");
    expect(f[2].message).toBe("needs d.runtime (skipped)");
  });

  test("requirements: root, --quick and --offline skip with a reason", async () => {
    const f = await runChecks(
      [
        { id: "r.root", title: "", requires: { root: true }, run: () => pass("x") },
        { id: "r.ctr", title: "", requires: { containers: true }, run: () => pass("x") },
        { id: "r.net", title: "", requires: { network: true }, run: () => pass("x") },
      ],
      facts,
      { ...opts, quick: true, offline: true },
    );
    expect(f.map((x) => x.message)).toEqual([
      "needs root: run it with sudo",
      "skipped by --quick (starts a container)",
      "skipped by --offline (needs the network)",
    ]);
  });

  test("a dependent reads its prerequisite's data", async () => {
    const f = await runChecks(
      [
        { id: "p.a", title: "", run: () => pass("a", [], { n: 41 }) },
        {
          id: "p.b",
          title: "",
          needs: ["p.a"],
          run: ({ finding }) => pass(String((finding("p.a").data as any).n + 1)),
        },
      ],
      facts,
      opts,
    );
    expect(f[1].message).toBe("42");
  });

  test("--only selects by id or prefix and pulls in what the selection needs", () => {
    const ids = selectChecks(CATALOG, { only: ["docker.hello"] }).map((c) => c.id);
    expect(ids).toContain("docker.hello");
    expect(ids).toContain("docker.runtime");
    expect(ids).toContain("docker.daemon");
    expect(ids).not.toContain("host.kernel");
    expect(selectChecks(CATALOG, { only: ["host"] }).every((c) => c.id.startsWith("host."))).toBe(true);
  });

  test("--skip marks checks skipped and their dependents too", async () => {
    const f = await runChecks(
      [
        { id: "s.a", title: "", run: () => pass("a") },
        { id: "s.b", title: "", needs: ["s.a"], run: () => pass("b") },
      ],
      facts,
      opts,
      { skip: ["s.a"] },
    );
    expect(f.map((x) => `${x.status}:${x.message}`)).toEqual(["skip:skipped by --skip", "skip:needs s.a (skipped)"]);
  });

  test("unknown ids in --only/--skip are reported", () => {
    expect(unknownPatterns(CATALOG, ["docker", "nope.x", "host.kernel"])).toEqual(["nope.x"]);
  });

  test("catalog ids are unique, every need exists, and needs have no cycle", () => {
    const ids = CATALOG.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const byId = new Map(CATALOG.map((c) => [c.id, c]));
    const visit = (id: string, path: string[]) => {
      expect(path.includes(id) ? [...path, id].join(" → ") : "no cycle").toBe("no cycle");
      expect(byId.has(id)).toBe(true);
      for (const n of byId.get(id)!.needs ?? []) visit(n, [...path, id]);
    };
    for (const c of CATALOG) visit(c.id, []);
  });

  test("a check may need one listed after it", async () => {
    const f = await runChecks(
      [
        {
          id: "o.late-reader",
          title: "",
          needs: ["o.source"],
          run: ({ finding }) => pass(`saw ${finding("o.source").message}`),
        },
        { id: "o.source", title: "", run: () => pass("source") },
      ],
      facts,
      opts,
    );
    expect(f.map((x) => x.message)).toEqual(["saw source", "source"]);
  });

  test("summarize counts statuses", () => {
    expect(summarize([{ status: "pass" }, { status: "fail" }, { status: "pass" }] as any)).toEqual({
      pass: 2,
      warn: 0,
      fail: 1,
      skip: 0,
    });
  });
});
