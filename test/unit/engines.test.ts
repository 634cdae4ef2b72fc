// The engine adapters' building blocks: what dockerd says about a broken daemon.json,
// the read side the doctor's checks use, the TOML editor's refusals, wrappers, globs,
// ownership headers, and the write path (stale plans, rollback, a writer killed mid-write).
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
import { applyChanges, pruneBackups, StalePlanError } from "../../platform/engines/edit/apply.ts";
import {
  inspectContainerdText,
  inspectConfig as inspectContainerdConfig,
  planContainerd,
} from "../../platform/engines/containerd/adapter.ts";
import { flagConflicts, inspectDaemonJson, planDaemonJson } from "../../platform/engines/docker/adapter.ts";
import { dropInNameFor, expandGlob, globToRegExp } from "../../platform/engines/edit/glob.ts";
import { dockerdJsonError } from "../../platform/engines/docker/go-json.ts";
import { inspectContainersConf, podmanConfigFiles, podmanTarget } from "../../platform/engines/podman/adapter.ts";
import {
  normalizeRuntimeArgs,
  parseWrapper,
  renderWrapper,
  argsToRunscConfig,
} from "../../platform/engines/edit/runtime-args.ts";
import { managedByTool } from "../../platform/engines/edit/text.ts";
import { TomlDoc } from "../../platform/engines/edit/toml-edit.ts";
import { EngineConfigError, type FileChange } from "../../platform/engines/types.ts";
import { FIXTURES, MemFs, request } from "../helpers/engines.ts";

const fixture = (engine: string, name: string) => readFileSync(join(FIXTURES, engine, name), "utf8");

describe("what dockerd says about a daemon.json (Go's decoder, measured with dockerd 20.10)", () => {
  const cases: [string, string][] = [
    ["", "EOF"],
    ["  \n\t\n", "EOF"],
    ['\uFEFF{"iptables": true}', "invalid character 'ï' looking for beginning of value"],
    ['{"a": 1,}', "invalid character '}' looking for beginning of object key string"],
    ['{\n  // c\n  "debug": true\n}', "invalid character '/' looking for beginning of object key string"],
    ['{"debug": tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"debug": true', "unexpected EOF"],
    ['{"runtimes": []}', ""],
    ['{"debug": true} trailing', ""],
    ["[1]", "json: cannot unmarshal array into Go value of type map[string]interface {}"],
  ];
  for (const [text, msg] of cases) {
    test(`${JSON.stringify(text).slice(0, 30)} → ${msg || "accepted"}`, () => {
      expect(dockerdJsonError(text)?.message ?? "").toBe(msg);
    });
  }
  test("positions point at the offending character (line and column for people)", () => {
    const ins = inspectDaemonJson(fixture("docker", "trailing-comma.json"), "/d.json");
    expect(ins.parseError).toMatchObject({ line: 3, column: 1, message: "trailing comma before }" });
    expect(ins.parseError!.whatDockerdWouldSay).toBe(
      "unable to configure the Docker daemon with file /d.json: invalid character '}' looking for beginning of object key string",
    );
  });
});

describe("inspectDaemonJson: the read side of the docker checks", () => {
  test("empty, whitespace-only and BOM files are invalid for dockerd but repairable", () => {
    for (const [f, flags] of [
      ["empty.json", { empty: true }],
      ["whitespace.json", { whitespaceOnly: true }],
      ["bom.json", { bom: true }],
      ["bom-empty.json", { bom: true, whitespaceOnly: true }],
    ] as const) {
      const ins = inspectDaemonJson(fixture("docker", f), f);
      expect(ins).toMatchObject({ valid: false, repairable: true, ...flags });
      expect(ins.faults[0].code).toBe("docker.config-repairable");
    }
  });
  test("a missing file is valid (dockerd starts with defaults) and declares no runtimes", () => {
    expect(inspectDaemonJson(null, "/x")).toMatchObject({ exists: false, valid: true, runtimes: {} });
  });
  test("runtimes with their lines; a non-object names its key path", () => {
    const ins = inspectDaemonJson(fixture("docker", "existing-runtimes.json"), "f");
    expect(ins.runtimes!.runsc).toMatchObject({ path: "/opt/old/runsc", runtimeArgs: ["--platform=kvm"], line: 4 });
    expect(ins.runtimes!.kata.line).toBe(3);
    expect(inspectDaemonJson(fixture("docker", "runtimes-not-object.json"), "f").runtimesError).toMatchObject({
      keyPath: "runtimes",
      line: 2,
    });
    expect(inspectDaemonJson(fixture("docker", "runtime-not-object.json"), "f").runtimesError).toMatchObject({
      keyPath: "runtimes.runsc",
      line: 3,
    });
  });
  test("duplicate keys (dockerd silently takes the last) and ownership headers", () => {
    expect(inspectDaemonJson(fixture("docker", "duplicate-runtimes.json"), "f").duplicates).toEqual([
      { keyPath: "runtimes", lines: [2, 4] },
    ]);
    expect(inspectDaemonJson(fixture("docker", "managed-puppet.json"), "f").managedBy).toBe("Puppet");
  });
  test("keys also given as dockerd flags are faults (dockerd refuses to start or reload)", () => {
    const text = '{"iptables": true, "runtimes": {}}';
    const faults = flagConflicts(
      "f",
      inspectDaemonJson(text, "f"),
      ["dockerd", "--iptables=false", "--add-runtime", "x=/x", "--debug"],
      text,
    );
    expect(faults.map((f) => f.message.split(" (")[0])).toEqual([
      '"iptables" is set both in f and on dockerd\'s command line',
      '"runtimes" is set both in f and on dockerd\'s command line',
    ]);
    expect(flagConflicts("f", inspectDaemonJson(text, "f"), ["dockerd", "--debug"], text)).toEqual([]);
  });
  test("text after the object: dockerd ignores it, so it is valid but reported", () => {
    const ins = inspectDaemonJson('{"debug": true}\n}\n', "f");
    expect(ins.valid).toBe(true);
    expect(ins.faults.map((f) => f.code)).toEqual(["docker.config-trailing"]);
  });
});

describe("planDaemonJson: what waits until dockerd has dropped the runtime (afterReload)", () => {
  const plan = (before: string | null, remove: boolean) =>
    planDaemonJson({ file: "/d.json", before, request: request({ remove }), force: false });
  const user = '{\n    "debug": false\n}\n';

  test("registering leaves nothing for after the reload", () => {
    expect(plan(null, false).afterReload).toEqual({ kind: "nothing" });
    expect(plan(user, false).afterReload).toEqual({ kind: "nothing" });
  });
  test("the last runtime of a user's file: \"runtimes\": {} now, the user's own text after the reload", () => {
    const rm = plan(plan(user, false).after, true);
    expect(JSON.parse(rm.after!)).toEqual({ debug: false, runtimes: {} });
    expect(rm.afterReload).toEqual({ kind: "rewrite", text: user });
  });
  test("a file gvisor-doctor created: emptied now, deleted after the reload (also when a reload was missed)", () => {
    const rm = plan(plan(null, false).after, true);
    expect(JSON.parse(rm.after!)).toEqual({ runtimes: {} });
    expect(rm.afterReload).toEqual({ kind: "delete" });
    const again = plan(rm.after, true);
    expect(again).toMatchObject({ after: rm.after, afterReload: { kind: "delete" }, existed: false });
  });
  test("other runtimes stay, or there is nothing to remove: nothing after the reload", () => {
    const two = '{"runtimes": {"kata": {"path": "/usr/bin/kata"}, "runsc": {"path": "/usr/bin/runsc"}}}\n';
    expect(plan(two, true).afterReload).toEqual({ kind: "nothing" });
    expect(plan(null, true)).toMatchObject({ after: null, afterReload: { kind: "nothing" }, existed: false });
    expect(plan(user, true)).toMatchObject({ after: user, afterReload: { kind: "nothing" }, existed: false });
  });
});

describe("inspectContainerdText: the read side of the containerd checks", () => {
  test("the schema decides where runtimes live", () => {
    expect(inspectContainerdText(fixture("containerd", "v1-no-version.toml"), "f")).toMatchObject({
      version: 1,
      versionDeclared: false,
      runtimesPath: ["plugins", "cri", "containerd", "runtimes"],
    });
    expect(inspectContainerdText(fixture("containerd", "k8s-v2-systemd.toml"), "f")).toMatchObject({
      version: 2,
      defaultRuntimeName: "runc",
      runtimes: { runc: { runtimeType: "io.containerd.runc.v2", options: { SystemdCgroup: true }, line: 10 } },
    });
    expect(inspectContainerdText(fixture("containerd", "v3-containerd2.toml"), "f").pluginPath).toEqual([
      "plugins",
      "io.containerd.cri.v1.runtime",
    ]);
  });
  test("a version 2 section in a version 3 file is a fault, with its line", () => {
    const ins = inspectContainerdText(fixture("containerd", "v3-with-v2-section-fault.toml"), "f");
    expect(ins.faults).toEqual([
      expect.objectContaining({ code: "containerd.v2-section-in-v3", line: 4, severity: "error" }),
    ]);
    expect(ins.runtimes).toEqual({});
  });
  test("version 3 on containerd 1.x, and no version on containerd 2.x, are faults", () => {
    expect(
      inspectContainerdText(fixture("containerd", "v3-containerd2.toml"), "f", "1.6.20").faults.map((f) => f.code),
    ).toContain("containerd.v3-on-1x");
    expect(
      inspectContainerdText(fixture("containerd", "v1-no-version.toml"), "f", "2.0.1").faults.map((f) => f.code),
    ).toContain("containerd.v1-on-2x");
  });
  test("invalid TOML is reported with line and column, not thrown", () => {
    const ins = inspectContainerdText(fixture("containerd", "invalid-duplicate-table.toml"), "f");
    expect(ins.parseError).toMatchObject({ line: 4, column: 2 });
  });
  test("imports are expanded and imported runtimes count (later files win)", () => {
    const fs = new MemFs({
      "/etc/containerd/config.toml": 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml", "missing.toml"]\n',
      "/etc/containerd/conf.d/10-a.toml":
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runsc.v1"\n',
      "/etc/containerd/conf.d/README": "not toml",
    });
    const ins = inspectContainerdConfig("/etc/containerd/config.toml", "1.6.20", fs);
    expect(ins.imports).toEqual([
      { pattern: "/etc/containerd/conf.d/*.toml", files: ["/etc/containerd/conf.d/10-a.toml"] },
      { pattern: "missing.toml", files: ["/etc/containerd/missing.toml"] },
    ]);
    expect(ins.runtimes.runsc).toMatchObject({ file: "/etc/containerd/conf.d/10-a.toml", line: 2 });
    expect(ins.faults.map((f) => f.code)).toEqual(["containerd.import-missing"]);
  });
});

describe("containerd 2.x schema faults", () => {
  test("grpc.v1.cri streaming keys, which containerd 2.x still reads, are no version 2 section in a v3 file", () => {
    const codes = (text: string) => inspectContainerdText(text, "f", "2.1.9").faults.map((f) => f.code);
    const v3 =
      "version = 3\n[plugins.'io.containerd.grpc.v1.cri']\n  disable_tcp_service = true\n" +
      "  stream_server_port = '0'\n" +
      "  [plugins.'io.containerd.grpc.v1.cri'.x509_key_pair_streaming]\n    tls_cert_file = ''\n";
    expect(codes(v3)).toEqual([]);
    const stale =
      `${v3}[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.runsc]\n` +
      "  runtime_type = 'io.containerd.runsc.v1'\n";
    expect(codes(stale)).toEqual(["containerd.v2-section-in-v3"]);
  });
  test("no version line on 2.x: the cause comes first, and its fix is the migration", () => {
    const text = readFileSync(join(FIXTURES, "containerd", "v2-names-no-version.toml"), "utf8");
    const f = inspectContainerdText(text, "f", "2.1.9").faults;
    expect(f[0].code).toBe("containerd.v1-on-2x");
    expect(f[0].fix).toContain("configure containerd --migrate");
  });
});

describe("containerd planning decisions", () => {
  test("a drop-in defining the CRI plugin would wipe the main file's settings before containerd 2.1: the main file is edited", () => {
    const fs = new MemFs({ "/etc/containerd/config.toml": fixture("containerd", "imports-with-plugin.toml") });
    const r = planContainerd({
      configPath: "/etc/containerd/config.toml",
      reader: fs,
      containerdVersion: "1.7.2",
      shim: null,
      wrapperDir: "/w",
      request: request(),
      force: false,
    });
    expect(r.changes[0].path).toBe("/etc/containerd/config.toml");
    const r21 = planContainerd({
      configPath: "/etc/containerd/config.toml",
      reader: fs,
      containerdVersion: "2.1.0",
      shim: null,
      wrapperDir: "/w",
      request: request(),
      force: false,
    });
    expect(r21.changes[0].path).toBe("/etc/containerd/conf.d/99-gvisor.toml");
  });
  test("the runtime goes to the imported file that owns the CRI plugin (it would override the main file)", () => {
    const fs = new MemFs({
      "/etc/containerd/config.toml": 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
      "/etc/containerd/conf.d/50-k8s.toml":
        'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "pause"\n',
    });
    const r = planContainerd({
      configPath: "/etc/containerd/config.toml",
      reader: fs,
      containerdVersion: "1.6.20",
      shim: null,
      wrapperDir: "/w",
      request: request({ runtimeArgs: [] }),
      force: false,
    });
    expect(r.changes.map((c) => c.path)).toEqual(["/etc/containerd/conf.d/50-k8s.toml"]);
  });
  test("runsc under the other version's plugin path (a v3 table in a v2 file, as seen on containerd 2.1) is moved to the right one", () => {
    const text =
      'version = 2\n\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runc.v2"\n  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc.options]\n    BinaryName = "/usr/bin/runsc"\n    SystemdCgroup = true\n';
    const fs = new MemFs({ "/etc/containerd/config.toml": text });
    const r = planContainerd({
      configPath: "/etc/containerd/config.toml",
      reader: fs,
      containerdVersion: "2.1.9",
      shim: null,
      wrapperDir: "/w",
      request: request({ runtimeArgs: [] }),
      force: false,
    });
    const after = r.changes.find((c) => c.path === "/etc/containerd/config.toml")!.after!;
    expect(after).not.toContain("io.containerd.cri.v1.runtime");
    expect(after).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]');
    expect(r.notes.join("\n")).toContain('moved runtime "runsc"');
  });
  test("version 3 on containerd 1.6 is refused with the fix", () => {
    const fs = new MemFs({ "/c.toml": fixture("containerd", "v3-containerd2.toml") });
    expect(() =>
      planContainerd({
        configPath: "/c.toml",
        reader: fs,
        containerdVersion: "1.6.20",
        shim: null,
        wrapperDir: "/w",
        request: request(),
        force: false,
      }),
    ).toThrow(/containerd 1\.6\.20 ignores/);
  });
  test("a missing config is created for the installed containerd's schema, and removed again by --remove", () => {
    for (const [v, schema] of [
      ["1.6.20", "version = 2"],
      ["2.0.3", "version = 3"],
    ]) {
      const fs = new MemFs();
      const add = planContainerd({
        configPath: "/etc/containerd/config.toml",
        reader: fs,
        containerdVersion: v,
        shim: null,
        wrapperDir: "/w",
        request: request(),
        force: false,
      });
      expect(add.changes[0]).toMatchObject({ action: "create", path: "/etc/containerd/config.toml" });
      expect(add.changes[0].after).toContain(schema);
      fs.apply(add.changes);
      const rm = planContainerd({
        configPath: "/etc/containerd/config.toml",
        reader: fs,
        containerdVersion: v,
        shim: null,
        wrapperDir: "/w",
        request: request({ remove: true }),
        force: false,
      });
      fs.apply(rm.changes);
      expect([...fs.files.keys()]).toEqual([]);
    }
  });
  test("a wrapper path that someone else's file occupies is never overwritten", () => {
    const fs = new MemFs({ "/c.toml": "version = 2\n", "/w/containerd-runsc": "#!/bin/sh\nexec my-own-thing\n" });
    expect(() =>
      planContainerd({
        configPath: "/c.toml",
        reader: fs,
        containerdVersion: "1.6.20",
        shim: null,
        wrapperDir: "/w",
        request: request(),
        force: false,
      }),
    ).toThrow(/was not written by gvisor-doctor/);
  });
  test('Docker\'s containerd (disabled_plugins = ["cri"]): not applicable, unless forced', () => {
    const fs = new MemFs({ "/c.toml": 'disabled_plugins = ["cri"]\n' });
    const plan = (force: boolean) =>
      planContainerd({
        configPath: "/c.toml",
        reader: fs,
        containerdVersion: "1.6.20",
        shim: null,
        wrapperDir: "/w",
        request: request(),
        force,
      });
    const err = (() => {
      try {
        plan(false);
      } catch (e) {
        return e as EngineConfigError;
      }
    })();
    expect(err).toMatchObject({ code: "cri-disabled", notApplicable: true });
    expect(plan(true).changes[0].after).toContain("[plugins.cri.containerd.runtimes.runsc]");
    expect(
      inspectContainerdText('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "f").faults.map(
        (f) => f.code,
      ),
    ).toEqual(["containerd.cri-disabled"]);
  });
  test("--force edits a managed file", () => {
    const fs = new MemFs({ "/c.toml": fixture("containerd", "managed-ansible.toml") });
    const r = planContainerd({
      configPath: "/c.toml",
      reader: fs,
      containerdVersion: "1.6.20",
      shim: null,
      wrapperDir: "/w",
      request: request(),
      force: true,
    });
    expect(r.changes[0].after).toStartWith("# Ansible managed\n");
  });
});

describe("podman's config files", () => {
  test("CONTAINERS_CONF replaces every other file; root reads /etc drop-ins, rootless its own too", () => {
    expect(podmanConfigFiles({ CONTAINERS_CONF: "/x.conf" }, 0)).toEqual(["/x.conf"]);
    const list = (d: string) => (d.endsWith("containers.conf.d") ? ["b.conf", "a.conf", "notes.txt"] : []);
    expect(podmanConfigFiles({}, 0, list)).toEqual([
      "/usr/share/containers/containers.conf",
      "/etc/containers/containers.conf",
      "/etc/containers/containers.conf.d/a.conf",
      "/etc/containers/containers.conf.d/b.conf",
    ]);
    expect(podmanConfigFiles({ HOME: "/home/u" }, 1000, list).slice(-3)).toEqual([
      "/home/u/.config/containers/containers.conf",
      "/home/u/.config/containers/containers.conf.d/a.conf",
      "/home/u/.config/containers/containers.conf.d/b.conf",
    ]);
  });
  test("the target: --config file or directory, CONTAINERS_CONF, else the system or user drop-in", () => {
    expect(podmanTarget("/etc/x.conf", {}, 0, "runsc")).toMatchObject({ path: "/etc/x.conf", dropIn: false });
    expect(podmanTarget("/tmp/conf.d/", {}, 0, "runsc")).toMatchObject({
      path: "/tmp/conf.d/99-gvisor.conf",
      dropIn: true,
    });
    expect(podmanTarget(undefined, { CONTAINERS_CONF: "/c.conf" }, 0, "runsc").path).toBe("/c.conf");
    expect(podmanTarget(undefined, {}, 0, "gvisor").path).toBe(
      "/etc/containers/containers.conf.d/99-gvisor-gvisor.conf",
    );
    expect(podmanTarget(undefined, { HOME: "/home/u" }, 1000, "runsc").path).toBe(
      "/home/u/.config/containers/containers.conf.d/99-gvisor.conf",
    );
  });
  test("runtimes as declared", () => {
    expect(inspectContainersConf(fixture("podman", "runtimes-multiline.conf"), "f")).toMatchObject({
      runtimes: { runsc: ["/opt/gvisor/runsc", "/usr/bin/runsc"], crun: ["/usr/bin/crun"] },
      defaultRuntime: "runsc",
    });
  });
});

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
      import { applyChanges } from ${JSON.stringify(join(import.meta.dirname, "../../platform/engines/edit/apply.ts"))};
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
