// containerd's config as the adapter reads and plans it: schema versions and their faults,
// imports, and the planning decisions (platform/engines/containerd/).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  inspectContainerdText,
  inspectConfig as inspectContainerdConfig,
  planContainerd,
  type ContainerdPlanInput,
} from "../../../../platform/engines/containerd/adapter.ts";
import { EngineConfigError } from "../../../../platform/engines/types.ts";
import { FIXTURES, MemFs, request } from "../../../helpers/engines.ts";

const fixture = (engine: string, name: string) => readFileSync(join(FIXTURES, engine, name), "utf8");
/** planContainerd on `fs` with what most cases share: /c.toml, containerd 1.6.20, no shim, not forced. */
const plan = (fs: MemFs, over: Partial<ContainerdPlanInput> = {}) =>
  planContainerd({
    configPath: "/c.toml",
    reader: fs,
    containerdVersion: "1.6.20",
    shim: null,
    wrapperDir: "/w",
    request: request(),
    force: false,
    ...over,
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
    const r = plan(fs, { configPath: "/etc/containerd/config.toml", containerdVersion: "1.7.2" });
    expect(r.changes[0].path).toBe("/etc/containerd/config.toml");
    const r21 = plan(fs, { configPath: "/etc/containerd/config.toml", containerdVersion: "2.1.0" });
    expect(r21.changes[0].path).toBe("/etc/containerd/conf.d/99-gvisor.toml");
  });
  test("the runtime goes to the imported file that owns the CRI plugin (it would override the main file)", () => {
    const fs = new MemFs({
      "/etc/containerd/config.toml": 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
      "/etc/containerd/conf.d/50-k8s.toml":
        'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "pause"\n',
    });
    const r = plan(fs, { configPath: "/etc/containerd/config.toml", request: request({ runtimeArgs: [] }) });
    expect(r.changes.map((c) => c.path)).toEqual(["/etc/containerd/conf.d/50-k8s.toml"]);
  });
  test("runsc under the other version's plugin path (a v3 table in a v2 file, as seen on containerd 2.1) is moved to the right one", () => {
    const text =
      'version = 2\n\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runc.v2"\n  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc.options]\n    BinaryName = "/usr/bin/runsc"\n    SystemdCgroup = true\n';
    const fs = new MemFs({ "/etc/containerd/config.toml": text });
    const r = plan(fs, {
      configPath: "/etc/containerd/config.toml",
      containerdVersion: "2.1.9",
      request: request({ runtimeArgs: [] }),
    });
    const after = r.changes.find((c) => c.path === "/etc/containerd/config.toml")!.after!;
    expect(after).not.toContain("io.containerd.cri.v1.runtime");
    expect(after).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]');
    expect(r.notes.join("\n")).toContain('moved runtime "runsc"');
  });
  test("version 3 on containerd 1.6 is refused with the fix", () => {
    const fs = new MemFs({ "/c.toml": fixture("containerd", "v3-containerd2.toml") });
    expect(() => plan(fs)).toThrow(/containerd 1\.6\.20 ignores/);
  });
  test("a missing config is created for the installed containerd's schema, and removed again by --remove", () => {
    for (const [v, schema] of [
      ["1.6.20", "version = 2"],
      ["2.0.3", "version = 3"],
    ]) {
      const fs = new MemFs();
      const add = plan(fs, { configPath: "/etc/containerd/config.toml", containerdVersion: v });
      expect(add.changes[0]).toMatchObject({ action: "create", path: "/etc/containerd/config.toml" });
      expect(add.changes[0].after).toContain(schema);
      fs.apply(add.changes);
      const rm = plan(fs, {
        configPath: "/etc/containerd/config.toml",
        containerdVersion: v,
        request: request({ remove: true }),
      });
      fs.apply(rm.changes);
      expect([...fs.files.keys()]).toEqual([]);
    }
  });
  test("a wrapper path that someone else's file occupies is never overwritten", () => {
    const fs = new MemFs({ "/c.toml": "version = 2\n", "/w/containerd-runsc": "#!/bin/sh\nexec my-own-thing\n" });
    expect(() => plan(fs)).toThrow(/was not written by gvisor-doctor/);
  });
  test('Docker\'s containerd (disabled_plugins = ["cri"]): not applicable, unless forced', () => {
    const fs = new MemFs({ "/c.toml": 'disabled_plugins = ["cri"]\n' });
    const err = (() => {
      try {
        plan(fs, { force: false });
      } catch (e) {
        return e as EngineConfigError;
      }
    })();
    expect(err).toMatchObject({ code: "cri-disabled", notApplicable: true });
    expect(plan(fs, { force: true }).changes[0].after).toContain("[plugins.cri.containerd.runtimes.runsc]");
    expect(
      inspectContainerdText('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "f").faults.map(
        (f) => f.code,
      ),
    ).toEqual(["containerd.cri-disabled"]);
  });
  test("--force edits a managed file", () => {
    const fs = new MemFs({ "/c.toml": fixture("containerd", "managed-ansible.toml") });
    const r = plan(fs, { force: true });
    expect(r.changes[0].after).toStartWith("# Ansible managed\n");
  });
});
