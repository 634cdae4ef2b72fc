// Docker's daemon.json as dockerd reads it: what Go's decoder says about a broken file, and the
// read side the docker checks use (platform/engines/docker/).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { flagConflicts, inspectDaemonJson, planDaemonJson } from "../../../../platform/engines/docker/adapter.ts";
import { dockerdJsonError } from "../../../../platform/engines/docker/go-json.ts";
import { FIXTURES, request } from "../../../helpers/engines.ts";

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
