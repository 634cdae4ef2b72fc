// k8s.runtimeclass and its fix, against a stub kubectl that keeps a cluster's
// RuntimeClasses in a file (no cluster on this machine).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { finding, gvd } from "../helpers/cli.ts";

describe("k8s.runtimeclass", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const state = () => join(dir, "runtimeclasses.json");
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-k8s-");
    // The stub answers `get runtimeclass -o json` from the state file and appends on `apply -f -`.
    writeFileSync(
      join(dir, "kubectl"),
      `#!/bin/sh
state="${join(dir, "runtimeclasses.json")}"
case "$1" in
  get) printf '{"items":%s}' "$(cat "$state")" ;;
  apply) input=$(cat); case "$input" in *"handler: runsc"*) echo '[{"metadata":{"name":"gvisor"},"handler":"runsc"}]' > "$state"; echo "runtimeclass.node.k8s.io/gvisor created";; *) exit 1;; esac ;;
  *) exit 2 ;;
esac
`,
    );
    chmodSync(join(dir, "kubectl"), 0o755);
    writeFileSync(join(dir, "kubeconfig"), "apiVersion: v1\nkind: Config\n");
    env = {
      ...process.env,
      NO_COLOR: "1",
      PATH: `${dir}:${process.env.PATH}`,
      DOCKER_HOST: "unix:///nonexistent.sock",
      KUBECONFIG: join(dir, "kubeconfig"),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("without kubectl the check is skipped, not failed", () => {
    const r = gvd(["check", "--json", "--only", "k8s"], { env: { ...env, PATH: dir + "/empty" } });
    expect(finding(r.json, "k8s.runtimeclass")).toMatchObject({ status: "skip", message: "kubectl is not installed" });
  });

  test("a cluster without a runsc RuntimeClass fails with the manifest to apply", () => {
    writeFileSync(state(), '[{"metadata":{"name":"kata"},"handler":"kata"}]');
    const r = gvd(["check", "--json", "--only", "k8s"], { env });
    const f = finding(r.json, "k8s.runtimeclass");
    expect(f.status).toBe("fail");
    expect(f.message).toContain("kata→kata");
    expect(f.diagnosis.fix.command).toContain("handler: runsc");
    expect(r.code).toBe(1);
  });

  test("--fix without --yes does not touch the cluster (non-interactive)", () => {
    const r = gvd(["--fix", "--only", "k8s"], { env });
    expect(r.stdout).toContain("declined");
    expect(readFileSync(state(), "utf8")).toContain("kata");
    expect(readFileSync(state(), "utf8")).not.toContain("runsc");
    expect(r.code).toBe(1);
  });

  test("--fix --yes creates it, re-checks, and shows before → after", () => {
    const r = gvd(["--fix", "--yes", "--only", "k8s"], { env });
    expect(r.stdout).toContain("runtimeclass.node.k8s.io/gvisor created");
    expect(r.stdout).toMatch(/k8s\.runtimeclass +✗ fail → ✓ pass/);
    expect(r.code).toBe(0);
    const after = gvd(["check", "--json", "--only", "k8s"], { env });
    expect(finding(after.json, "k8s.runtimeclass").status).toBe("pass");
  });
});
