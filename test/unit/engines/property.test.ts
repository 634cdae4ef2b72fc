// Property tests: random valid configs in random (hand-written-looking) formats.
// For each: the result parses; everything but the runtime is unchanged (and every
// original line is still there, in order); a second run changes nothing; --remove
// restores the original (byte for byte where no extra table had to be written).
// Docker results are also compared with what the real `runsc install` writes.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { runtimesPath } from "../../../platform/engines/containerd/adapter.ts";
import { RUNC_MARKER } from "../../../platform/engines/containerd/plan.ts";
import { pruneEmptyTables } from "../../../platform/engines/edit/toml-check.ts";
import { MemFs, planFor, request, SHIM, type Engine } from "../../helpers/engines.ts";

/** Deterministic PRNG (mulberry32): a failing seed reproduces. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)],
    bool: (p = 0.5) => next() < p,
  };
}
type Rng = ReturnType<typeof rng>;

const CASES = 150;

/** Is `sub` a subsequence of `all` (every original line kept, in order)? */
function isSubsequence(sub: string[], all: string[]): boolean {
  let i = 0;
  for (const l of all) if (i < sub.length && l === sub[i]) i++;
  return i === sub.length;
}
const lines = (t: string) => t.split(/\r?\n/);
/** JSON lines compare without a trailing comma (inserting after the last member adds one). */
const jsonLines = (t: string) => lines(t).map((l) => l.replace(/,$/, ""));

// ---------------------------------------------------------------------------------
// daemon.json

function randomDaemonDoc(r: Rng): Record<string, unknown> {
  const pool: [string, () => unknown][] = [
    ["debug", () => r.bool()],
    ["log-level", () => r.pick(["warn", "info", "debug"])],
    ["storage-driver", () => "overlay2"],
    ["registry-mirrors", () => Array.from({ length: r.int(3) }, (_, i) => `https://mirror${i}.example`)],
    ["default-ulimits", () => ({ nofile: { Name: "nofile", Hard: 65536, Soft: 1024 + r.int(9) } })],
    ["live-restore", () => true],
    ["max-concurrent-downloads", () => 1 + r.int(9)],
    ["exec-opts", () => ["native.cgroupdriver=systemd"]],
    ["features", () => ({ buildkit: r.bool() })],
    ["log-opts", () => ({ "max-size": "10m", "max-file": "3" })],
  ];
  const doc: Record<string, unknown> = {};
  for (const [k, f] of pool) if (r.bool(0.4)) doc[k] = f();
  if (r.bool(0.4)) {
    const rts: Record<string, unknown> = {};
    if (r.bool()) rts.kata = { path: "/usr/bin/kata-runtime" };
    if (r.bool())
      rts.runsc = {
        path: r.pick(["/usr/bin/runsc", "/opt/runsc"]),
        ...(r.bool() ? { runtimeArgs: [r.pick(["--platform=kvm", "--debug"])] } : {}),
      };
    if (r.bool(0.2)) rts["runsc-debug"] = { path: "/usr/bin/runsc", runtimeArgs: ["--debug"] };
    doc.runtimes = rts;
  }
  if (r.bool(0.2)) doc["default-runtime"] = "runc";
  // Shuffle key order: it must survive.
  return Object.fromEntries(Object.entries(doc).sort(() => r.next() - 0.5));
}

/** Serialize like a person: chosen indent and line ending, some small objects kept on one line. */
function writeJson(
  r: Rng,
  doc: unknown,
  style: { indent: string | null; eol: string; final: boolean; space: string },
): string {
  const one = (v: unknown): string => JSON.stringify(v).replace(/":/g, `":${style.space}`).replace(/,"/g, `, "`);
  const w = (v: unknown, depth: number): string => {
    if (style.indent === null) return one(v);
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    const entries = Array.isArray(v) ? v.map((x) => [null, x] as const) : Object.entries(v as object);
    if (entries.length === 0) return Array.isArray(v) ? "[]" : "{}";
    if (depth > 0 && r.bool(0.3)) return one(v);
    const pad = style.indent.repeat(depth + 1);
    const inner = entries.map(
      ([k, x]) => `${pad}${k === null ? "" : `${JSON.stringify(k)}:${style.space}`}${w(x, depth + 1)}`,
    );
    const [o, c] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    return `${o}${style.eol}${inner.join(`,${style.eol}`)}${style.eol}${style.indent.repeat(depth)}${c}`;
  };
  return w(doc, 0) + (style.final ? style.eol : "");
}

function randomDaemonJson(seed: number): { text: string; doc: Record<string, unknown> } {
  const r = rng(seed);
  const doc = randomDaemonDoc(r);
  const style = {
    indent: r.pick(["  ", "    ", "\t", null] as const),
    eol: r.pick(["\n", "\r\n"]),
    final: r.bool(0.8),
    space: r.pick([" ", ""]),
  };
  return { text: writeJson(r, doc, style), doc };
}

describe("daemon.json properties (random valid files)", () => {
  test(`${CASES} random files: parses, only runtimes.runsc changes, style kept, idempotent, --remove restores`, () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const { text, doc } = randomDaemonJson(seed);
      const ctx = `seed ${seed}:\n${text}`;
      const fs = new MemFs({ "/d.json": text });
      const add = planFor("docker", { fs, target: "/d.json" }, request());
      const after = add.changes.length ? add.changes[0].after! : text;
      const got = JSON.parse(after);
      // Only the runtime changed, key order kept.
      const expected = structuredClone(doc) as any;
      expected.runtimes = {
        ...(expected.runtimes ?? {}),
        runsc: { ...(expected.runtimes?.runsc ?? {}), path: "/usr/local/bin/runsc", runtimeArgs: ["--network=none"] },
      };
      expect(got, ctx).toEqual(expected);
      expect(
        Object.keys(got).filter((k) => k !== "runtimes"),
        ctx,
      ).toEqual(Object.keys(doc).filter((k) => k !== "runtimes"));
      // Style: line endings, final newline, every original line but the edited ones still there.
      if (text.includes("\n")) expect(after.includes("\r\n"), ctx).toBe(text.includes("\r\n"));
      expect(/\n$/.test(after), ctx).toBe(/\n$/.test(text));
      if (text.trim().includes("\n")) {
        const untouched = jsonLines(text).filter(
          (l) =>
            !/runsc|"runtimes"|^\s*[}\]]$/.test(l) &&
            !(doc.runtimes && /"path"|runtimeArgs|--platform|--debug/.test(l)),
        );
        expect(isSubsequence(untouched, jsonLines(after)), ctx).toBe(true);
      } else if (!doc.runtimes) {
        // One-line files stay on one line, the original text untouched up to its closing brace.
        expect(after.startsWith(text.trimEnd().slice(0, -1)), ctx).toBe(true);
        expect(after.trim().includes("\n"), ctx).toBe(false);
      }
      // Idempotent.
      fs.apply(add.changes);
      expect(planFor("docker", { fs, target: "/d.json" }, request()).changes, ctx).toEqual([]);
      // --remove: back to the original semantics ("runtimes": {} stays so a SIGHUP reload drops runsc).
      const rm = planFor("docker", { fs, target: "/d.json" }, request({ remove: true }));
      fs.apply(rm.changes);
      const restored = JSON.parse(fs.read("/d.json")!);
      const want = structuredClone(doc) as any;
      delete want.runtimes?.runsc;
      if (!want.runtimes) want.runtimes = {};
      expect(restored, ctx).toEqual(want);
    }
  });
});

describe.skipIf(!existsSync("/usr/bin/runsc"))("daemon.json: semantically what the real `runsc install` writes", () => {
  test("40 random files: same document as Debian's runsc install --runtime runsc -- --network=none", () => {
    const dir = mkdtempSync("/tmp/gvd-test-runsc-install-");
    try {
      for (let seed = 1000; seed < 1040; seed++) {
        const { text, doc } = randomDaemonJson(seed);
        // runsc install replaces an existing entry wholesale; we keep its other keys (documented). Compare on entries without extra keys.
        const rt = (doc.runtimes as any)?.runsc;
        if (rt && Object.keys(rt).some((k) => k !== "path" && k !== "runtimeArgs")) continue;
        const f = join(dir, `d${seed}.json`);
        writeFileSync(f, text);
        const r = spawnSync(
          "/usr/bin/runsc",
          ["install", "--config_file", f, "--runtime", "runsc", "--", "--network=none"],
          { encoding: "utf8" },
        );
        expect(r.status, r.stderr).toBe(0);
        const theirs = JSON.parse(readFileSync(f, "utf8"));
        const fs = new MemFs({ "/d.json": text });
        const ours = planFor("docker", { fs, target: "/d.json" }, request({ runscPath: "/usr/bin/runsc" }));
        expect(JSON.parse(ours.changes[0]?.after ?? text), `seed ${seed}`).toEqual(theirs);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("documented differences: runsc install drops an existing entry's other keys and rewrites the whole file", () => {
    const dir = mkdtempSync("/tmp/gvd-test-runsc-install-");
    try {
      const text =
        '{\n  "runtimes": {"runsc": {"path": "/old", "runtimeArgs": ["--debug"], "options": {"x": 1}}},\n  "b": 1,\n  "a": 2\n}\n';
      const f = join(dir, "d.json");
      writeFileSync(f, text);
      spawnSync("/usr/bin/runsc", ["install", "--config_file", f, "--", "--network=none"]);
      const theirs = readFileSync(f, "utf8");
      expect(JSON.parse(theirs).runtimes.runsc).toEqual({ path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] });
      expect(theirs.endsWith("\n")).toBe(false); // and keys re-sorted, 4-space indent
      expect(Object.keys(JSON.parse(theirs))).toEqual(["a", "b", "runtimes"]);
      const ours = planFor(
        "docker",
        { fs: new MemFs({ "/d.json": text }), target: "/d.json" },
        request({ runscPath: "/usr/bin/runsc" }),
      ).changes[0].after!;
      expect(JSON.parse(ours).runtimes.runsc).toEqual({
        path: "/usr/bin/runsc",
        runtimeArgs: ["--network=none"],
        options: { x: 1 },
      });
      expect(Object.keys(JSON.parse(ours))).toEqual(["runtimes", "b", "a"]);
      expect(ours.endsWith("}\n")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------
// TOML (containerd, podman, crio)

interface TomlStyle {
  eol: string;
  final: boolean;
  nested: boolean;
  blank: boolean;
  quote: '"' | "'";
  comments: boolean;
}

function q(s: string, st: TomlStyle): string {
  return st.quote === "'" ? `'${s}'` : JSON.stringify(s);
}
function key(seg: string, st: TomlStyle): string {
  return /^[A-Za-z0-9_-]+$/.test(seg) ? seg : q(seg, st);
}

/** Render tables (path → lines of key = value) like a person would. */
function writeToml(r: Rng, top: string[], tables: [string[], string[]][], st: TomlStyle): string {
  const out: string[] = [];
  if (st.comments) out.push("# generated for a property test");
  out.push(...top);
  for (const [path, kvs] of tables) {
    const ind = st.nested ? "  ".repeat(Math.max(0, path.length - 2)) : "";
    if (st.blank && out.length) out.push("");
    if (st.comments && r.bool(0.3)) out.push(`${ind}# ${path.at(-1)} settings`);
    out.push(`${ind}[${path.map((s) => key(s, st)).join(".")}]${st.comments && r.bool(0.2) ? "  # section" : ""}`);
    for (const kv of kvs) out.push(`${ind}${st.nested ? "  " : ""}${kv}${st.comments && r.bool(0.2) ? " # note" : ""}`);
  }
  return out.join(st.eol) + (st.final ? st.eol : "");
}

function randomStyle(r: Rng): TomlStyle {
  return {
    eol: r.pick(["\n", "\r\n"]),
    final: r.bool(0.85),
    nested: r.bool(),
    blank: r.bool(),
    quote: r.pick(['"', "'"] as const),
    comments: r.bool(),
  };
}

function randomContainerd(seed: number): { text: string; version: 1 | 2 | 3; hasRuntimes: boolean } {
  const r = rng(seed);
  const st = randomStyle(r);
  const version = r.pick([1, 2, 2, 3] as const);
  const P = runtimesPath(version).slice(0, 2);
  const top: string[] = [];
  if (version !== 1) top.push(`version = ${version}`);
  if (r.bool(0.3)) top.push(`root = ${q("/var/lib/containerd", st)}`);
  if (r.bool(0.3))
    top.push(
      r.bool()
        ? `disabled_plugins = [${st.eol}  ${q("io.containerd.internal.v1.tracing", st)},${st.eol}]`
        : "disabled_plugins = []",
    );
  const pool: [string[], string[]][] = [
    [["grpc"], [`address = ${q("/run/containerd/containerd.sock", st)}`, "uid = 0"]],
    [["debug"], [`level = ${q(r.pick(["info", "debug"]), st)}`]],
    [["metrics"], [`address = ${q("127.0.0.1:1338", st)}`]],
    [P, [`sandbox_image = ${q("registry.k8s.io/pause:3.9", st)}`]],
    [
      [...P, "containerd"],
      [`snapshotter = ${q("overlayfs", st)}`, `default_runtime_name = ${q("runc", st)}`],
    ],
    [[...P, "cni"], [`bin_dir = ${q("/opt/cni/bin", st)}`]],
    [[...P, "registry", "mirrors", "docker.io"], [`endpoint = [${q("https://mirror.example", st)}]`]],
    [[...P, "x"], [`inline = { a = 1, b = ${q("two", st)} }`]],
    [["plugins", "io.containerd.internal.v1.opt"], [`path = ${q("/var/lib/containerd/opt", st)}`]],
  ];
  const tables = pool.filter(() => r.bool(0.5));
  let hasRuntimes = false;
  if (r.bool(0.6)) {
    hasRuntimes = true;
    tables.push([[...runtimesPath(version), "runc"], [`runtime_type = ${q("io.containerd.runc.v2", st)}`]]);
    if (r.bool()) tables.push([[...runtimesPath(version), "runc", "options"], [`SystemdCgroup = ${r.bool()}`]]);
  }
  tables.sort(() => r.next() - 0.5);
  return { text: writeToml(r, top, tables, st), version, hasRuntimes };
}

function checkTomlRoundTrip(
  engine: Engine,
  seed: number,
  text: string,
  env: { target: string; containerdVersion?: string; shim?: string | null },
  runtimeTable: (doc: any) => void,
  wroteExtraTable: boolean,
) {
  const ctx = `seed ${seed}:\n${text}`;
  parseToml(text); // the generator makes valid TOML
  const fs = new MemFs({ [env.target]: text });
  const add = planFor(engine, { fs, ...env }, request());
  const main = add.changes.find((c) => c.path === env.target);
  expect(main, ctx).toBeDefined();
  const after = main!.after!;
  // Parses; equal to the original once the runtime (and the runc table we may add) is taken out.
  const got = parseToml(after) as any;
  runtimeTable(got);
  expect(pruneEmptyTables(got), ctx).toEqual(pruneEmptyTables(parseToml(text)));
  // Every original line is still there, in order; line endings and final newline kept.
  expect(
    isSubsequence(
      lines(text).filter((l) => l !== ""),
      lines(after),
    ),
    ctx,
  ).toBe(true);
  expect(after.includes("\r\n"), ctx).toBe(text.includes("\r\n"));
  expect(/\n$/.test(after), ctx).toBe(/\n$/.test(text));
  // Idempotent.
  fs.apply(add.changes);
  expect(planFor(engine, { fs, ...env }, request()).changes, ctx).toEqual([]);
  // --remove restores the original byte for byte, also when a runc table had to be written out
  // (that table carries gvisor-doctor's marker comment, so --remove takes it back).
  if (wroteExtraTable) expect(after, ctx).toContain(RUNC_MARKER);
  fs.apply(planFor(engine, { fs, ...env }, request({ remove: true })).changes);
  expect(fs.read(env.target), ctx).toBe(text);
}

describe("containerd config.toml properties (random valid files)", () => {
  for (const shim of [null, SHIM]) {
    test(`${CASES} random files, ${shim ? "runsc shim" : "runc shim fallback"}`, () => {
      for (let seed = 1; seed <= CASES; seed++) {
        const { text, version, hasRuntimes } = randomContainerd(seed);
        const R = runtimesPath(version);
        checkTomlRoundTrip(
          "containerd",
          seed,
          text,
          { target: "/etc/containerd/config.toml", containerdVersion: version === 3 ? "2.0.0" : "1.6.20", shim },
          (d) => {
            const rts = R.reduce((o: any, k) => o?.[k], d);
            delete rts.runsc;
            if (!hasRuntimes) delete rts.runc;
          },
          !hasRuntimes,
        );
      }
    });
  }
});

describe("podman and CRI-O properties (random valid files)", () => {
  test(`${CASES} random containers.conf files`, () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const st = { ...randomStyle(r), nested: false };
      const tables: [string[], string[]][] = [];
      if (r.bool())
        tables.push([["containers"], ["log_size_max = -1", `default_ulimits = [${q("nofile=1024:2048", st)}]`]]);
      if (r.bool())
        tables.push([["engine"], [`cgroup_manager = ${q("cgroupfs", st)}`, `events_logger = ${q("file", st)}`]]);
      if (r.bool())
        tables.push([
          ["engine", "runtimes"],
          [`crun = [${st.eol}  ${q("/usr/bin/crun", st)},${st.eol}  ${q("/usr/local/bin/crun", st)},${st.eol}]`],
        ]);
      if (r.bool()) tables.push([["network"], [`network_backend = ${q("netavark", st)}`]]);
      if (!tables.length) tables.push([["containers"], ["log_size_max = -1"]]);
      const text = writeToml(r, [], tables, st);
      checkTomlRoundTrip(
        "podman",
        seed,
        text,
        { target: "/etc/containers/containers.conf" },
        (d) => delete d.engine?.runtimes?.runsc,
        false,
      );
    }
  });
  test(`${CASES} random crio.conf files`, () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = rng(seed);
      const st = { ...randomStyle(r), nested: false };
      const tables: [string[], string[]][] = [];
      if (r.bool()) tables.push([["crio"], [`log_dir = ${q("/var/log/crio/pods", st)}`]]);
      if (r.bool())
        tables.push([
          ["crio", "runtime"],
          [`default_runtime = ${q("runc", st)}`, "selinux = true"],
        ]);
      if (r.bool())
        tables.push([
          ["crio", "runtime", "runtimes", "runc"],
          [`runtime_path = ${q("/usr/bin/runc", st)}`, `runtime_type = ${q("oci", st)}`],
        ]);
      if (r.bool()) tables.push([["crio", "image"], [`pause_image = ${q("registry.k8s.io/pause:3.9", st)}`]]);
      if (!tables.length) tables.push([["crio"], ["log_level = 'info'"]]);
      const text = writeToml(r, [], tables, st);
      checkTomlRoundTrip(
        "crio",
        seed,
        text,
        { target: "/etc/crio/crio.conf", shim: r.bool() ? SHIM : null },
        (d) => delete d.crio?.runtime?.runtimes?.runsc,
        false,
      );
    }
  });
});
