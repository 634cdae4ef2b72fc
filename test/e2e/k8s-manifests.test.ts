// `gvisor-doctor k8s manifests` through the compiled binary: what a user pipes into
// kubectl, the usage errors (exit 2, nothing on stdout), and the help.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { BINARY, ROOT, gvd } from "../helpers/cli.ts";
import { spawnSync } from "node:child_process";

const EXAMPLE = join(ROOT, "examples", "k8s", "gvisor-doctor.yaml");
const PKG_VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
/** The binary's version, e.g. 0.1.0+g1a2b3c4-dirty, and its label/tag spelling 0.1.0_g1a2b3c4-dirty. */
const TOOL = spawnSync(BINARY, ["--version"], { encoding: "utf8" })
  .stdout.trim()
  .replace(/^gvisor-doctor /, "");
const TOOL_LABEL = TOOL.replace(/[^A-Za-z0-9_.-]/g, "_");
const V = "20260817.0";

describe("k8s manifests (compiled binary)", () => {
  test("prints the example file for the flags in the example's header (the binary's own version in the labels and image tag)", () => {
    const example = readFileSync(EXAMPLE, "utf8");
    const argv = example.split("\n")[1].replace(/^#\s+/, "").split(/\s+/);
    expect(argv.slice(0, 3)).toEqual(["gvisor-doctor", "k8s", "manifests"]);
    const r = gvd(argv.slice(1));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .replaceAll(`gvisor-doctor ${TOOL};`, `gvisor-doctor ${PKG_VERSION};`)
        .replaceAll(TOOL_LABEL, PKG_VERSION),
    ).toBe(example);
  });

  test("the image defaults to this release of gvisor-doctor", () => {
    const r = gvd(["k8s", "manifests", "--version", V]);
    expect(r.stdout).toContain(`image: ghcr.io/gvisor-doctor/gvisor-doctor:${TOOL_LABEL}\n`);
    expect(r.stdout).toContain(`app.kubernetes.io/version: ${TOOL_LABEL}\n`);
  });

  test("--json prints one List holding the same objects as the YAML", () => {
    const argv = ["k8s", "manifests", "--version", V, "--admission-policy", "--node-selector", "pool=sandbox"];
    const r = gvd([...argv, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ schemaVersion: 1, apiVersion: "v1", kind: "List" });
    const yaml = parseAllDocuments(gvd(argv).stdout).map((d) => d.toJS());
    expect(r.json.items).toEqual(yaml);
    expect(r.json.items.map((o: any) => o.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
      "DaemonSet",
      "RuntimeClass",
    ]);
  });

  test("--version latest: exit 2, why and how to pick a release on stderr, nothing on stdout", () => {
    const r = gvd(["k8s", "manifests", "--version", "latest"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "gvisor-doctor: --version latest moves: every node must install the same release, and the node label and the RuntimeClass selector must name it\n" +
        "pick a release: the newest is the tag at https://github.com/google/gvisor/releases/latest (release-20260817.0 → --version 20260817.0)\n",
    );
  });

  test("no --version: exit 2 (there is no default release)", () => {
    const r = gvd(["k8s", "manifests"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("k8s manifests needs --version YYYYMMDD[.N]");
  });

  test("a node selector that is not a valid label: exit 2 naming the rule", () => {
    const r = gvd(["k8s", "manifests", "--version", V, "--node-selector", "pool=has space"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`--node-selector pool=has space: label value "has space" must be letters, digits`);
  });

  test("--runtime-arg with a separate value starting with '-': exit 2 with the '=' spelling", () => {
    const r = gvd(["k8s", "manifests", "--version", V, "--runtime-arg", "--network=none"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--runtime-arg");
    expect(gvd(["k8s", "manifests", "--version", V, "--runtime-arg=--network=none"]).stdout).toContain(
      "--runtime-arg=--network=none",
    );
  });

  test("an unknown flag: exit 2 pointing at the help", () => {
    const r = gvd(["k8s", "manifests", "--version", V, "--namesapce", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --namesapce for 'k8s manifests'");
    expect(r.stderr).toContain("gvisor-doctor k8s manifests --help");
  });

  test("--help answers: what is printed, that --version is required and why, every flag, how to apply", () => {
    for (const argv of [
      ["k8s", "manifests", "--help"],
      ["help", "k8s", "manifests"],
    ]) {
      const r = gvd(argv);
      expect(r.code).toBe(0);
      for (const s of [
        "Usage: gvisor-doctor k8s manifests --version YYYYMMDD[.N]",
        "latest and nightly are refused",
        "kubectl apply -f -",
        "--namespace NS",
        "--no-namespace",
        "--image IMG",
        "--mirror URL",
        "--node-selector K=V",
        "--runtime-class NAME",
        "--runtime-arg ARG",
        "--admission-policy",
        "--json",
        "RBAC cannot limit",
        "examples/k8s/Dockerfile",
        "Exit codes",
      ])
        expect(r.stdout).toContain(s);
    }
    expect(gvd(["k8s", "--help"]).stdout).toContain("manifests   Print the DaemonSet, RBAC and RuntimeClass");
  });
});
