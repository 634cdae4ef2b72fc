// A fix is a typed action; the command the report prints is rendered from it. `--fix` calls the
// services with the action (no second trip through the CLI), so what it does equals what it prints
// only if the printed command, read back by the CLI's own parser, asks the services for the same
// thing. Proved here for every automatic fix the diagnosis rules produce, and the ones --fix plans.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll } from "bun:test";
import { actionArgv, actionCommand, withAction } from "../../checks/fix-actions.ts";
import { RULES, type Engine } from "../../checks/rules.ts";
import type { Finding, Fix } from "../../checks/types.ts";
import { parseCommandArgs } from "../../src/args.ts";
import { configureRequestFrom } from "../../src/commands/configure.ts";
import { installOptionsFrom } from "../../src/commands/install.ts";
import { resolveCommand } from "../../src/dispatch.ts";
import { configureRequestOf, installOptionsOf, planFixes } from "../../src/fix.ts";
import { splitCommandLine } from "../../src/host-root-flags.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { fakeFacts } from "../helpers/facts.ts";

const tmp = mkdtempSync("/tmp/gvd-test-fixactions-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// A node's / for --host-root (it needs an etc/), named with a space and a quote to exercise quoting.
const node = join(tmp, "node's root");
mkdirSync(join(node, "etc"), { recursive: true });
// A runsc gvisor-doctor installed under a prefix of its own (reinstalls go back there, pinned).
const prefix = join(tmp, "my prefix");
const ours = join(prefix, "lib/gvisor/20260817.0/runsc");
mkdirSync(dirname(ours), { recursive: true });
writeFileSync(ours, "#!/bin/sh\n", { mode: 0o755 });

const runsc = (realPath: string, features?: unknown) => ({
  path: realPath,
  realPath,
  onPath: true,
  version: { raw: "release-20260817.0" },
  versionText: "runsc version release-20260817.0",
  features,
});
const base = fakeFacts({
  cpu: { xsave: true },
  user: { uid: 0, root: true },
  sysctl: { ptraceScope: 1 },
  seccomp: { available: true },
  mmapMinAddr: null,
  memlock: [],
  runsc: [],
  docker: { info: null },
  engines: null,
  hostRoot: null,
});
/** Facts that steer the rules to each kind of fix: plain, our own prefix, a runsc lacking the flags a fix needs. */
const FACTS: Record<string, HostFacts> = {
  plain: base,
  "own prefix": { ...base, runsc: [runsc(ours)] } as unknown as HostFacts,
  "old runsc": { ...base, runsc: [runsc("/usr/bin/runsc", { flags: ["debug"] })] } as unknown as HostFacts,
  "yama 3": { ...base, sysctl: { ptraceScope: 3 } } as unknown as HostFacts,
};
const ENGINES: Engine[] = ["docker", "containerd", "podman", "crio", "runsc"];

/** Every fix the rules give, over every engine and the facts above (with each rule's sample as the match). */
function ruleFixes(): { name: string; fix: Fix }[] {
  const out: { name: string; fix: Fix }[] = [];
  for (const rule of RULES) {
    for (const engine of ENGINES) {
      for (const [f, facts] of Object.entries(FACTS)) {
        const match = rule.sample && rule.pattern ? rule.sample.match(rule.pattern) : null;
        const fix = rule.fix({ facts, engine, runtime: "runsc", configPath: "/etc/x.conf", match });
        out.push({ name: `${rule.id} ${engine} (${f})`, fix });
      }
    }
  }
  return out;
}

const failing = (id: string, fix: Fix, rule = "r"): Finding => ({
  id,
  title: id,
  status: "fail",
  message: "m",
  details: [],
  diagnosis: { cause: "c", fix, rule },
  durationMs: 0,
});

/** What --fix plans from them: merged runtime args, the runtime's current path and args kept. */
function plannedFixes(): { name: string; fix: Fix }[] {
  const all = ruleFixes().filter((x) => x.fix.automatic && x.fix.action);
  const byRule = (id: string, engine: string) => all.find((x) => x.name.startsWith(`${id} ${engine} (plain)`))!.fix;
  const existing = join(tmp, "current runsc");
  writeFileSync(existing, "#!/bin/sh\n", { mode: 0o755 });
  const facts = {
    ...base,
    engines: { podman: { inspection: { runtimes: { runsc: { path: existing, args: ["--debug", "--x=a b"] } } } } },
  } as unknown as HostFacts;
  const findings = [
    failing("podman.hello", byRule("netns-root", "podman")),
    failing("podman.network", byRule("cgroup-busy", "podman")),
    failing("containerd.hello", byRule("cgroup-busy", "containerd")),
    failing("docker.hello", byRule("exec-format", "docker"), "exec-format"),
  ];
  return planFixes(findings, facts).map((p) => ({ name: `planned ${p.fix.id}`, fix: p.fix }));
}

/** The same fixes as `check --host-root DIR` prints them (run on the node, as root there). */
const onNode = (xs: { name: string; fix: Fix }[]) =>
  xs.flatMap(({ name, fix }) =>
    fix.action?.kind === "configure" || fix.action?.kind === "install"
      ? [{ name: `${name} on a node`, fix: withAction(fix, { ...fix.action, hostRoot: node }) }]
      : [],
  );

/** A HostRoot (an object with functions) compared by the directory it stands for. */
const normalize = <T extends { hostRoot?: unknown }>(r: T) => ({
  ...r,
  hostRoot: r.hostRoot && typeof r.hostRoot === "object" ? (r.hostRoot as { dir: string }).dir : r.hostRoot,
});

describe("fixes are typed actions; the printed command is rendered from them", () => {
  const fixes = [...ruleFixes(), ...plannedFixes()];
  const all = [...fixes, ...onNode(fixes)].filter((x) => x.fix.action && actionArgv(x.fix.action));

  test("the rules give configure and install fixes (with runtime args, a prefix, a pinned version, a node)", () => {
    const flags = all.flatMap((x) => x.fix.argv!.filter((a) => a.startsWith("-")).map((a) => a.split("=")[0]));
    const kinds = new Set(flags);
    for (const k of ["--runtime-arg", "--restart", "--force", "--prefix", "--version", "--runsc", "--host-root"]) {
      expect(kinds).toContain(k);
    }
    expect(new Set(all.map((x) => x.fix.action!.kind))).toEqual(new Set(["configure", "install"]));
  });

  test("command and argv are renderings of the action, and a shell splits the command back into argv", () => {
    for (const { name, fix } of all) {
      expect({ name, argv: fix.argv }).toEqual({ name, argv: actionArgv(fix.action!)! });
      const sudo = fix.command!.startsWith("sudo ");
      expect({ name, command: fix.command }).toEqual({ name, command: actionCommand(fix.action!, sudo) });
      const words = splitCommandLine(fix.command!.replace(/^sudo /, ""));
      expect({ name, words }).toEqual({ name, words: ["gvisor-doctor", ...fix.argv!] });
    }
  });

  test("the CLI's parser reads the printed command as a request equal to the one --fix makes from the action", () => {
    for (const { name, fix } of all) {
      const a = fix.action!;
      const { cmd, args } = resolveCommand(fix.argv!);
      const parsed = parseCommandArgs(cmd, args);
      if (a.kind === "configure") {
        const req = normalize(configureRequestOf(a, false));
        expect({ name, req: normalize(configureRequestFrom(parsed)) }).toEqual({ name, req });
      } else if (a.kind === "install") {
        expect({ name, opts: installOptionsFrom(parsed) }).toEqual({ name, opts: installOptionsOf(a, false) });
      } else throw new Error(`${name}: ${a.kind} renders no gvisor-doctor command`);
    }
  });

  test("a fix's --json form is unchanged: id, summary, command, automatic, argv, confirm (no action)", async () => {
    const { checkJson } = await import("../../src/report/json.ts");
    const fix = fixes.find((x) => x.fix.confirm && x.fix.argv)!.fix;
    const shown = checkJson(failing("containerd.hello", fix)).diagnosis!.fix!;
    expect(Object.keys(shown)).toEqual(["id", "summary", "command", "automatic", "argv", "confirm"]);
  });
});

describe("--fix calls the services, never the CLI dispatcher", () => {
  /** Static and dynamic imports of our own modules, as a graph of repository paths. */
  const root = resolve(import.meta.dir, "../..");
  const edges = (file: string): string[] => {
    const src = readFileSync(join(root, file), "utf8");
    const specs = [...src.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+\.ts)"/g)].map((m) => m[1]);
    return specs.map((s) => relative(root, resolve(dirname(join(root, file)), s)));
  };
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const todo = [from];
    while (todo.length) {
      const f = todo.pop()!;
      for (const n of edges(f)) if (!seen.has(n)) seen.add(n), todo.push(n);
    }
    return seen;
  };

  test("src/fix.ts and the k8s agent reach no dispatcher: the cycle check ⇄ fix ⇄ dispatch is gone", () => {
    expect(reach("src/fix.ts").has("src/dispatch.ts")).toBe(false);
    expect(reach("src/k8s/agent.ts").has("src/dispatch.ts")).toBe(false);
    for (const f of ["src/commands/check.ts", "src/commands/check-run.ts", "src/fix.ts"]) {
      expect({ f, cyclic: reach(f).has(f) }).toEqual({ f, cyclic: false });
    }
  });
});
