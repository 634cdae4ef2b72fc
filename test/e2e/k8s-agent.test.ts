// The Kubernetes commands through the compiled binary, the way the DaemonSet pod and a
// user run them: `k8s agent` (with the real in-process check on a host tree) and
// `k8s label-node` against a fake API server on 127.0.0.1 (HTTP, and HTTPS verified
// with the service account's CA: node:https in a Bun-compiled binary), and `k8s check`
// against the recorded-cluster stub kubectl. The fake API lives in this process, so the
// binary is spawned asynchronously (a blocking spawn would starve the server).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { assertAgentLineSchema, assertK8sCheckSchema } from "../helpers/schema.ts";
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { BINARY } from "../helpers/cli.ts";
import { fakeApi, podEnv, SUBJECT, type FakeApi } from "../fixtures/k8s/kubectl/fake-api.ts";
import {
  clusterRoutes,
  KUBECTL_ERRORS,
  stubCluster,
  testPodRoutes,
  type StubCluster,
} from "../fixtures/k8s/kubectl/stub.ts";

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Spawn the binary without blocking this process's event loop; `onStdout` sees output as it comes. */
function gvdAsync(
  args: string[],
  env: NodeJS.ProcessEnv,
  o: {
    onSpawn?: (kill: (sig: NodeJS.Signals) => void) => void;
    onStdout?: (text: string) => void;
    timeoutMs?: number;
  } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      o.onStdout?.(stdout);
    });
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    o.onSpawn?.((sig) => child.kill(sig));
  });
}

let dir: string;
let api: FakeApi | null = null;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-k8s-e2e-");
});
afterEach(async () => {
  await api?.close();
  api = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A node's / as install --host-root leaves it: a release live under /usr/local (runsc itself is not there). */
function hostTree(): string {
  const root = join(dir, "host");
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "usr/local/lib/gvisor/20260817.0"), { recursive: true });
  writeFileSync(join(root, "usr/local/lib/gvisor/20260817.0/runsc"), "");
  symlinkSync("20260817.0", join(root, "usr/local/lib/gvisor/current"));
  return root;
}

describe("k8s label-node (compiled binary, in-cluster API)", () => {
  test("sets the label with a merge patch, after a GET; --json reports the action", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const r = await gvdAsync(["k8s", "label-node", "--label", "gvisor.dev/runsc=20260817.0", "--json"], podEnv(api));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      node: "worker-a",
      action: "set",
      label: { key: "gvisor.dev/runsc", value: "20260817.0" },
    });
    expect(api.requests.map((q) => [q.method, q.path, q.contentType])).toEqual([
      ["GET", "/api/v1/nodes/worker-a", null],
      ["PATCH", "/api/v1/nodes/worker-a", "application/merge-patch+json"],
    ]);
    expect(api.requests[1].body).toEqual({ metadata: { labels: { "gvisor.dev/runsc": "20260817.0" } } });
  });

  test("--remove sends null for the key; --node overrides NODE_NAME", async () => {
    api = await fakeApi({ nodes: { "worker-b": { "gvisor.dev/runsc": "20260817.0" } } });
    const r = await gvdAsync(
      ["k8s", "label-node", "--node", "worker-b", "--remove", "gvisor.dev/runsc"],
      podEnv(api, "worker-a"),
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("node worker-b: gvisor.dev/runsc removed");
    expect(api.requests[1].body).toEqual({ metadata: { labels: { "gvisor.dev/runsc": null } } });
  });

  test("HTTPS: the binary verifies the API server with the service account's ca.crt", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} }, tls: true });
    const r = await gvdAsync(["k8s", "label-node", "--label", "gvisor.dev/runsc=20260817.0"], podEnv(api));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(api.nodes["worker-a"]["gvisor.dev/runsc"]).toBe("20260817.0");
  });

  test("403 → exit 1: RBAC, the ServiceAccount, and the rule to grant", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    api.failWith = {
      status: 403,
      reason: "Forbidden",
      message: `nodes "{name}" is forbidden: User "${SUBJECT}" cannot {verb} resource "nodes" in API group "" at the cluster scope`,
    };
    const r = await gvdAsync(["k8s", "label-node", "--label", "gvisor.dev/runsc=20260817.0"], podEnv(api));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: RBAC: ${SUBJECT} may not get nodes (403 Forbidden)`);
    expect(r.stderr).toContain("give the ServiceAccount get and patch on nodes");
  });

  test("404 → exit 1: no such node, and where NODE_NAME comes from", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const r = await gvdAsync(["k8s", "label-node", "--label", "gvisor.dev/runsc=1"], podEnv(api, "worker-typo"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: no node named "worker-typo" (404 Not Found)');
    expect(r.stderr).toContain("spec.nodeName");
  });

  test("no token → exit 1: not in a pod", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    rmSync(join(api.saDir, "token"));
    const r = await gvdAsync(["k8s", "label-node", "--remove", "gvisor.dev/runsc"], podEnv(api));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no service account token at ${api.saDir}/token: not running in a pod`);
  });

  test("a bad label is a usage error (exit 2) before any request", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const r = await gvdAsync(["k8s", "label-node", "--label", "gvisor.dev/runsc=0.0~20221219.0"], podEnv(api));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('label value "0.0~20221219.0" must be letters');
    expect(api.requests).toHaveLength(0);
  });
});

describe("k8s agent (compiled binary, real check on a host tree)", () => {
  test("--once on a node whose check fails: the label is taken away, one JSON line names the failing check, exit 1", async () => {
    api = await fakeApi({ nodes: { "worker-a": { "gvisor.dev/runsc": "20260817.0" } } });
    const marker = join(dir, "ready");
    const r = await gvdAsync(["k8s", "agent", "--host-root", hostTree(), "--once"], {
      ...podEnv(api),
      GVISOR_DOCTOR_AGENT_READY: marker,
    });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    assertAgentLineSchema(line);
    expect(line).toMatchObject({
      schemaVersion: 1,
      kind: "gvisor-doctor.agent",
      node: "worker-a",
      ok: false,
      version: "20260817.0",
      label: { key: "gvisor.dev/runsc", value: null, action: "removed", error: null },
    });
    // The empty host tree has no runsc: the real check says so, with its host root.
    expect(line.failing.map((f: any) => f.id)).toContain("runsc.binary");
    expect(line.check.host.hostRoot).toBe(join(dir, "host"));
    expect(api.nodes["worker-a"]).toEqual({});
    expect(existsSync(marker)).toBe(false);
  });

  test("--once on a node that passes: labelled with the live release, ready for the probe; a second round only reads", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const env = { ...podEnv(api), GVISOR_DOCTOR_AGENT_READY: join(dir, "ready") };
    const host = hostTree();
    // Only host.platform, so the check passes on this machine (arguments after -- go to check).
    const r = await gvdAsync(["k8s", "agent", "--host-root", host, "--once", "--", "--only", "host.platform"], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      version: "20260817.0",
      label: { value: "20260817.0", action: "set" },
      failing: [],
    });
    assertAgentLineSchema(JSON.parse(r.stdout));
    expect(api.nodes["worker-a"]["gvisor.dev/runsc"]).toBe("20260817.0");
    const probe = await gvdAsync(["k8s", "agent", "--probe"], env);
    expect(probe.code).toBe(0);
    expect(probe.stdout).toContain("ready: node worker-a passed");
    const again = await gvdAsync(["k8s", "agent", "--host-root", host, "--once", "--", "--only", "host.platform"], env);
    expect(JSON.parse(again.stdout).label.action).toBe("unchanged");
    expect(api.requests.filter((q) => q.method === "PATCH")).toHaveLength(1);
  });

  test.skipIf(!existsSync("/usr/bin/runsc"))(
    "rounds are --offline: no node asks the release bucket for a newer gVisor every interval",
    async () => {
      api = await fakeApi({ nodes: { "worker-a": {} } });
      const host = hostTree();
      copyFileSync("/usr/bin/runsc", join(host, "usr/local/lib/gvisor/20260817.0/runsc"));
      chmodSync(join(host, "usr/local/lib/gvisor/20260817.0/runsc"), 0o755);
      mkdirSync(join(host, "usr/local/bin"), { recursive: true });
      symlinkSync("../lib/gvisor/current/runsc", join(host, "usr/local/bin/runsc"));
      const r = await gvdAsync(["k8s", "agent", "--host-root", host, "--once", "--", "--only", "runsc.version"], {
        ...podEnv(api),
        GVISOR_DOCTOR_AGENT_READY: join(dir, "ready"),
      });
      const version = JSON.parse(r.stdout).check.checks.find((c: any) => c.id === "runsc.version");
      expect(version.details).toContain("newer-release lookup skipped (--offline)");
    },
  );

  test("the loop prints a line per round and ends promptly on SIGTERM (exit 0), taking its readiness with it", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const marker = join(dir, "ready");
    let kill: (sig: NodeJS.Signals) => void = () => {};
    let stoppedAt = 0;
    let readyWhileRunning = false;
    const r = await gvdAsync(
      ["k8s", "agent", "--host-root", hostTree(), "--interval", "600", "--", "--only", "host.platform"],
      { ...podEnv(api), GVISOR_DOCTOR_AGENT_READY: marker },
      {
        onSpawn: (k) => (kill = k),
        onStdout: (out) => {
          if (!stoppedAt && out.includes("\n")) {
            readyWhileRunning = existsSync(marker);
            stoppedAt = Date.now();
            kill("SIGTERM"); // during the 600 s wait
          }
        },
      },
    );
    expect(readyWhileRunning).toBe(true);
    expect(r.code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(existsSync(marker)).toBe(false);
  });

  test("--probe without a passed round: exit 1 and why", async () => {
    const r = await gvdAsync(["k8s", "agent", "--probe"], {
      PATH: process.env.PATH,
      GVISOR_DOCTOR_AGENT_READY: join(dir, "ready"),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not ready: the last agent round did not pass, or none finished yet");
  });

  test("outside a pod: exit 1 at once, not a failed label every round", async () => {
    const r = await gvdAsync(
      ["k8s", "agent", "--host-root", hostTree()],
      { PATH: process.env.PATH, NODE_NAME: "worker-a" },
      { timeoutMs: 10_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not running in a Kubernetes pod");
    expect(r.stdout).toBe("");
  });
});

describe("k8s check (compiled binary, recorded cluster)", () => {
  let stub: StubCluster | null = null;
  afterEach(() => {
    stub?.cleanup();
    stub = null;
  });

  test("--json: one document with the findings, the nodes and the test pod; a failing node → exit 1", async () => {
    stub = stubCluster([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })]);
    const r = await gvdAsync(["k8s", "check", "--json"], stub.env);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    assertK8sCheckSchema(doc);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      command: "k8s check",
      namespace: "gvisor-system",
      runtimeClass: "gvisor",
      ok: false,
      selector: { key: "gvisor.dev/runsc", value: "20260817.0" },
      cluster: { context: "admin@prod-eu", server: "https://10.20.0.10:6443", version: "v1.31.6" },
    });
    const status = Object.fromEntries(doc.checks.map((c: any) => [c.id, c.status]));
    expect(status).toEqual({
      "k8s.cluster": "pass",
      "k8s.runtimeclass": "pass",
      "k8s.daemonset": "warn",
      "k8s.nodes": "pass",
      "node/cp-1": "warn",
      "node/worker-a": "pass",
      "node/worker-b": "fail",
      "k8s.pod": "pass",
    });
    expect(doc.summary).toEqual({ pass: 5, warn: 2, fail: 1, skip: 0 });
    expect(doc.nodes.find((n: any) => n.name === "worker-b").lastCheck.failing[0].id).toBe("containerd.runtime");
    expect(doc.testPod).toMatchObject({ node: "worker-a", signature: true, deleted: true });
    expect(stub.callsStarting("delete", "pod")).toHaveLength(1);
  });

  test("human output: a line per finding, cause and fix under the failures", async () => {
    stub = stubCluster([
      ...clusterRoutes(),
      ...testPodRoutes({ status: "testpod-pending-sandbox.json", events: "events-runtimehandler-old.json" }),
    ]);
    const r = await gvdAsync(["k8s", "check"], stub.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("gvisor-doctor");
    expect(r.stdout).toContain(
      "Kubernetes v1.31.6 context admin@prod-eu (https://10.20.0.10:6443), namespace gvisor-system, RuntimeClass gvisor",
    );
    expect(r.stdout).toMatch(
      /✗ node\/worker-b +no gvisor\.dev\/runsc label: the node's check fails \(pod gvisor-doctor-q7m2d Init:CrashLoopBackOff\)/,
    );
    expect(r.stdout).toContain('containerd.runtime: containerd\'s merged config has no "runsc" runtime');
    expect(r.stdout).toMatch(/✗ k8s\.pod +node worker-b has no runsc runtime: RuntimeHandler "runsc" not supported/);
    expect(r.stdout).toContain("kubectl -n gvisor-system delete pod gvisor-doctor-q7m2d");
    expect(r.stdout).toMatch(/\d passed · 2 warnings · 2 failed · 0 skipped/);
  });

  test("kubectl missing: exit 1 with the reason, in JSON too", async () => {
    stub = stubCluster([]);
    const r = await gvdAsync(["k8s", "check", "--json"], { ...stub.env, PATH: "/nonexistent" });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    assertK8sCheckSchema(doc);
    expect(doc.ok).toBe(false);
    expect(doc.checks[0]).toMatchObject({
      id: "k8s.cluster",
      status: "fail",
      message: "kubectl is not installed (not on PATH)",
    });
  });

  test("cluster unreachable: exit 1 with kubectl's words", async () => {
    stub = stubCluster(
      clusterRoutes({
        version: { args: "version -o json*", exit: 1, stdout: "version.json", stderr: KUBECTL_ERRORS.refused },
      }),
    );
    const r = await gvdAsync(["k8s", "check"], stub.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `✗ k8s.cluster       cannot reach the cluster at https://10.20.0.10:6443: ${KUBECTL_ERRORS.refused}`,
    );
    expect(r.stdout).toContain("skipped: needs k8s.cluster (failed)");
  });

  test.skipIf(!existsSync("/usr/bin/kubectl"))(
    "with the real kubectl and a kubeconfig whose server refuses: the same answer",
    async () => {
      writeFileSync(
        join(dir, "kubeconfig"),
        'apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: "https://127.0.0.1:1"}\n  name: c\ncontexts:\n- context: {cluster: c, user: u}\n  name: test\ncurrent-context: test\nusers:\n- name: u\n  user: {token: abc}\n',
      );
      const r = await gvdAsync(["k8s", "check", "--json"], {
        PATH: process.env.PATH,
        HOME: dir,
        KUBECONFIG: join(dir, "kubeconfig"),
      });
      expect(r.code).toBe(1);
      const f = JSON.parse(r.stdout).checks[0];
      expect(f.status).toBe("fail");
      expect(f.message).toStartWith("cannot reach the cluster at https://127.0.0.1:1: ");
      expect(f.message).toContain("refused");
    },
  );

  test("bad options are usage errors (exit 2)", async () => {
    const r = await gvdAsync(["k8s", "check", "--timeout", "soon"], { PATH: process.env.PATH });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--timeout soon: expected a number of seconds");
  });
});
