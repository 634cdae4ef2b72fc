// The editing code every adapter shares (platform/engines/edit/): the surgical TOML editor,
// runtime args and wrappers, globs, ownership headers, and the write path (stale plans,
// rollback, a writer killed mid-write).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { applyChanges, pruneBackups, StalePlanError } from "../../../platform/engines/edit/apply.ts";
import { dropInNameFor, expandGlob, globToRegExp } from "../../../platform/engines/edit/glob.ts";
import {
  normalizeRuntimeArgs,
  parseWrapper,
  renderWrapper,
  argsToRunscConfig,
} from "../../../platform/engines/edit/runtime-args.ts";
import { confDropIns, mergeLayers, readLayer } from "../../../platform/engines/edit/layered-config.ts";
import { managedByTool } from "../../../platform/engines/edit/text.ts";
import { TomlDoc } from "../../../platform/engines/edit/toml-edit.ts";
import { EngineConfigError, type FileChange } from "../../../platform/engines/types.ts";

describe("the surgical TOML editor", () => {
  test("replaces a value and keeps the comment after it", () => {
    const d = new TomlDoc('[a]\nx = "old"   # keep me\ny = 1\n');
    d.set(["a"], "x", "new");
    expect(d.text).toBe('[a]\nx = "new"   # keep me\ny = 1\n');
  });
  test("a multi-line array value is replaced whole; the lines after it stay", () => {
    const d = new TomlDoc("[a]\nx = [\n  1, # one\n  2,\n]\ny = 2\n");
    d.set(["a"], "x", ["z"]);
    expect(d.text).toBe('[a]\nx = ["z"]\ny = 2\n');
  });
  test("brackets inside strings and multi-line strings are not tables", () => {
    const d = new TomlDoc('[a]\ns = """\n[not.a.table]\n"""\nt = \'[x]\'\n[b]\n');
    expect(d.tables.map((t) => t.path.join("."))).toEqual(["a", "b"]);
  });
  test("keeps CRLF and a missing final newline", () => {
    const d = new TomlDoc("[a]\r\nx = 1");
    d.set(["a"], "y", true);
    d.addTable(["b"], [["z", "q"]]);
    expect(d.text).toBe('[a]\r\nx = 1\r\ny = true\r\n\r\n[b]\r\nz = "q"'); // keys unindented, like [a]'s
  });
  test("a table whose sub-tables exist goes before them", () => {
    const d = new TomlDoc("[p.c.runtimes.runc]\n  k = 1\n");
    d.addTable(["p", "c"], [["default", "runsc"]]);
    expect(d.text.indexOf("[p.c]")).toBeLessThan(d.text.indexOf("[p.c.runtimes.runc]"));
  });
  test("conflicts: inline tables, dotted keys and arrays of tables on the way are named with their line", () => {
    expect(new TomlDoc("[a]\nb = { c = 1 }\n").conflicts(["a", "b", "d"])).toEqual([
      expect.objectContaining({ line: 2 }),
    ]);
    expect(new TomlDoc("[a]\nb.d.x = 1\n").conflicts(["a", "b", "d"])).toEqual([expect.objectContaining({ line: 2 })]);
    expect(new TomlDoc("[[a.b]]\nx = 1\n").conflicts(["a", "b", "d"])).toEqual([expect.objectContaining({ line: 1 })]);
    expect(new TomlDoc("[a.b.d]\nx = 1\n").conflicts(["a", "b", "d"])).toEqual([]);
  });
});

describe("runtime args and wrappers", () => {
  test("--flag=value, flag=value (podman's spelling) and --flag are accepted; anything else is refused", () => {
    expect(normalizeRuntimeArgs(["network=none", "--debug", "-platform=kvm"])).toEqual({
      args: ["--network=none", "--debug", "--platform=kvm"],
      error: null,
    });
    expect(normalizeRuntimeArgs(["--", "a b"]).error).toContain("is not a runsc flag");
    expect(argsToRunscConfig(["--network=none", "--debug"])).toEqual({ network: "none", debug: "true" });
  });
  test("a wrapper round-trips its runsc and flags, quoting included", () => {
    const text = renderWrapper(
      "podman",
      "runsc",
      "/opt/my runsc",
      ["--debug-log=/var/log/it's.log", "--network=none"],
      "why",
    );
    expect(parseWrapper(text)).toEqual({
      runsc: "/opt/my runsc",
      args: ["--debug-log=/var/log/it's.log", "--network=none"],
    });
    expect(parseWrapper('#!/bin/sh\nexec /usr/bin/runsc "$@"\n')).toBeNull(); // not ours: no marker
  });
});

describe("globs (containerd imports)", () => {
  test("filepath.Match semantics on the last element", () => {
    expect(globToRegExp("*.toml").test("99-gvisor.toml")).toBe(true);
    expect(globToRegExp("*.toml").test("a/b.toml")).toBe(false);
    expect(globToRegExp("[0-9]?-*.conf").test("10-x.conf")).toBe(true);
    expect(dropInNameFor("/etc/containerd/conf.d/*.toml", ["99-gvisor.toml"])).toBe("99-gvisor.toml");
    expect(dropInNameFor("/etc/containerd/conf.d/*.conf", ["99-gvisor.toml", "gvisor.toml", "99-gvisor.conf"])).toBe(
      "99-gvisor.conf",
    );
    expect(dropInNameFor("/etc/containerd/extra.toml", ["99-gvisor.toml"])).toBeNull();
    expect(expandGlob("/d/*.toml", () => ["b.toml", "a.toml", "c.txt"])).toEqual(["/d/a.toml", "/d/b.toml"]);
  });
});

describe("layered configs (a main file and drop-ins: Podman, CRI-O)", () => {
  const layer = (text: string | null, path: string) =>
    readLayer(text, path, (doc) => ({
      runtimes: Object.fromEntries(Object.entries<any>(doc.runtimes ?? {}).map(([k, v]) => [k, String(v)])),
      defaultRuntime: typeof doc.default === "string" ? doc.default : null,
    }));
  const declare = (name: string, r: string, f: { path: string }) => ({
    name,
    path: r,
    args: [],
    source: { file: f.path },
  });

  test("drop-ins are the *.conf files of the directory in lexical order; an unreadable directory has none", () => {
    const list = () => ["99-gvisor.conf", "10-base.conf", "README", "50-x.conf.bak", "01-a.conf"];
    expect(confDropIns("/etc/x.conf.d", list)).toEqual([
      "/etc/x.conf.d/01-a.conf",
      "/etc/x.conf.d/10-base.conf",
      "/etc/x.conf.d/99-gvisor.conf",
    ]);
    expect(
      confDropIns("/nonexistent", () => {
        throw new Error("ENOENT");
      }),
    ).toEqual([]);
  });

  test("a later file wins per runtime and for the default; a missing file counts, a broken one is a fault", () => {
    const ins = mergeLayers(
      "crio",
      "/etc/main.conf",
      [
        layer('default = "runc"\n[runtimes]\nrunsc = "/old"\nrunc = "/usr/bin/runc"\n', "/etc/main.conf"),
        layer(null, "/etc/d/10-missing.conf"),
        layer("[runtimes\n", "/etc/d/50-broken.conf"),
        layer('default = "runsc"\n[runtimes]\nrunsc = "/new"\n', "/etc/d/99-gvisor.conf"),
      ],
      declare,
    );
    expect(ins.defaultRuntime).toBe("runsc");
    expect(Object.values(ins.runtimes).map((r) => [r.name, r.path, r.source.file])).toEqual([
      ["runsc", "/new", "/etc/d/99-gvisor.conf"],
      ["runc", "/usr/bin/runc", "/etc/main.conf"],
    ]);
    expect(ins.files.map((f) => [f.path, f.exists])).toEqual([
      ["/etc/main.conf", true],
      ["/etc/d/10-missing.conf", false],
      ["/etc/d/50-broken.conf", true],
      ["/etc/d/99-gvisor.conf", true],
    ]);
    expect(ins.faults.map((f) => [f.code, f.file])).toEqual([["crio.config-invalid", "/etc/d/50-broken.conf"]]);
  });
});

describe("configuration-management ownership headers", () => {
  test("recognised banners", () => {
    expect(managedByTool("# Ansible managed\nversion = 2\n")).toBe("Ansible");
    expect(managedByTool("# This file is managed by Puppet. DO NOT EDIT.\n")).toBe("Puppet");
    expect(managedByTool("# Generated by Chef for node1\n")).toBe("Chef");
    expect(managedByTool("# Managed by SaltStack\n")).toBe("Salt");
    expect(managedByTool('{\n  "//": "maintained by ansible",\n  "debug": true\n}')).toBe("Ansible");
  });
  test("mentions that are not ownership banners", () => {
    expect(managedByTool("# see the chef cookbook for why\n[a]\n")).toBeNull();
    expect(managedByTool('{"log-driver": "managed-by-salt"}')).toBeNull();
    expect(managedByTool(`${"\n".repeat(20)}# Ansible managed\n`)).toBeNull(); // banners sit at the top
  });
});

describe("applying changes", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync("/tmp/gvd-test-apply-");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const now = new Date("2026-11-23T16:01:02Z");

  test("a file changed since the plan was made is not written (StalePlanError)", async () => {
    const f = join(dir, "d.json");
    writeFileSync(f, "{}\n");
    const c: FileChange = { path: f, before: '{"x": 1}\n', after: "{}", action: "modify", reason: "" };
    await expect(applyChanges([c], { now, lockPath: join(dir, "lock") })).rejects.toBeInstanceOf(StalePlanError);
    expect(readFileSync(f, "utf8")).toBe("{}\n");
  });
  test("when a later file fails, the earlier ones are restored and the error names the file", async () => {
    const a = join(dir, "a.toml");
    writeFileSync(a, "a = 1\n");
    mkdirSync(join(dir, "ro"));
    chmodSync(join(dir, "ro"), 0o555);
    const changes: FileChange[] = [
      { path: a, before: "a = 1\n", after: "a = 2\n", action: "modify", reason: "" },
      { path: join(dir, "ro", "sub", "b.toml"), before: null, after: "b = 1\n", action: "create", reason: "" },
    ];
    // As root the directory mode does not stop us: make the parent a file instead.
    writeFileSync(join(dir, "ro", "sub"), "not a directory");
    const err = await applyChanges(changes, { now, lockPath: join(dir, "lock") }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineConfigError);
    expect(err.message).toContain(join(dir, "ro", "sub", "b.toml"));
    expect(err.message).toContain(`restored ${a}`);
    expect(readFileSync(a, "utf8")).toBe("a = 1\n");
  });
  test("created files get their mode; modified ones keep theirs and get a timestamped backup", async () => {
    const f = join(dir, "c.toml");
    writeFileSync(f, "x = 1\n");
    chmodSync(f, 0o640);
    const w = join(dir, "bin", "wrap");
    const done = await applyChanges(
      [
        { path: f, before: "x = 1\n", after: "x = 2\n", action: "modify", reason: "" },
        { path: w, before: null, after: "#!/bin/sh\n", action: "create", mode: 0o755, reason: "" },
      ],
      { now, lockPath: join(dir, "lock") },
    );
    expect(done).toEqual([
      { path: f, action: "modify", backup: `${f}.gvisor-doctor-20261123T160102Z.bak` },
      { path: w, action: "create", backup: null },
    ]);
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(statSync(`${f}.gvisor-doctor-20261123T160102Z.bak`).mode & 0o777).toBe(0o640);
    expect(statSync(w).mode & 0o777).toBe(0o755);
  });
  test("a removal in the same second as the registration finds the first backup and prunes them all", async () => {
    // configure then uninstall in one second: NAME.bak holds the original, NAME.1.bak the registered state.
    const f = join(dir, "config.toml");
    writeFileSync(f, "original\n");
    const reg: FileChange = { path: f, before: "original\n", after: "registered\n", action: "modify", reason: "" };
    await applyChanges([reg], { now, lockPath: join(dir, "lock") });
    const unreg: FileChange = { path: f, before: "registered\n", after: "original\n", action: "modify", reason: "" };
    await applyChanges([unreg], { now, lockPath: join(dir, "lock") });
    expect(
      readdirSync(dir)
        .filter((n) => n.endsWith(".bak"))
        .sort(),
    ).toEqual(["config.toml.gvisor-doctor-20261123T160102Z.1.bak", "config.toml.gvisor-doctor-20261123T160102Z.bak"]);
    expect(pruneBackups(f)).toHaveLength(2);
    expect(readdirSync(dir).filter((n) => n.endsWith(".bak"))).toEqual([]);
  });
  test("SIGKILL between writing the temp file and the rename leaves the old file; the next run cleans up and writes", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, '{"old": true}\n');
    // A child applies the change and parks itself right before the rename; we kill it there.
    const script = join(dir, "child.ts");
    writeFileSync(
      script,
      `
      import { applyChanges } from ${JSON.stringify(join(import.meta.dirname, "../../../platform/engines/edit/apply.ts"))};
      await applyChanges([{ path: ${JSON.stringify(f)}, before: '{"old": true}\\n', after: '{"new": true}\\n', action: "modify", reason: "" }],
        { now: new Date(), lockPath: ${JSON.stringify(join(dir, "lock"))}, beforeRename: () => { process.stdout.write("ready\\n"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); } });
    `,
    );
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) =>
      child.stdout!.on("data", (b: Buffer) => b.toString().includes("ready") && resolve()),
    );
    const temps = readdirSync(dir).filter((n) => n.includes(".gvd-tmp-"));
    expect(temps).toHaveLength(1);
    expect(readFileSync(join(dir, temps[0]), "utf8")).toBe('{"new": true}\n'); // complete, synced, not yet renamed
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(readFileSync(f, "utf8")).toBe('{"old": true}\n');
    // The dead writer's lock and temp file do not block or litter the next run.
    await applyChanges(
      [{ path: f, before: '{"old": true}\n', after: '{"new": true}\n', action: "modify", reason: "" }],
      { now, lockPath: join(dir, "lock") },
    );
    expect(readFileSync(f, "utf8")).toBe('{"new": true}\n');
    expect(readdirSync(dir).filter((n) => n.includes(".gvd-tmp-"))).toEqual([]);
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });
});
