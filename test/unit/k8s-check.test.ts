// `k8s check` against recorded kubectl answers (test/fixtures/k8s/kubectl): a stub kubectl
// on PATH answers by its arguments and records them, so the tests can also say what was
// asked of the cluster (the test pod's manifest, its deletion). No cluster here.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { summarize } from "../../checks/summary.ts";
import { clusterReportJson } from "../../src/commands/k8s-check.ts";
import { checkCluster, type ClusterCheckOptions, type ClusterReport } from "../../src/k8s/cluster-check.ts";
import { checkDocInLog, lastAgentLine } from "../../src/k8s/node-report.ts";
import { podStatusReason, untoleratedTaints, type List, type PodObj } from "../../src/k8s/objects.ts";
import {
  clusterRoutes,
  fixtureJson as fixture,
  KUBECTL_ERRORS,
  KUBECTL_FIXTURES,
  stubCluster,
  testPodRoutes,
  type Route,
  type StubCluster,
} from "../fixtures/k8s/kubectl/stub.ts";
import { assertAgentLineSchema, assertK8sCheckSchema, assertReportSchema } from "../helpers/schema.ts";

let stub: StubCluster | null = null;
afterEach(() => {
  stub?.cleanup();
  stub = null;
});

/** The `k8s check --json` document of a report, as the command prints it (ok as it computes it). */
const jsonDoc = (r: ClusterReport): any => JSON.parse(clusterReportJson(r, summarize(r.findings).fail === 0));

/** checkCluster directly; every report's --json document must match docs/k8s-check-report.schema.json. */
async function checkChecked(o: ClusterCheckOptions): Promise<ClusterReport> {
  const r = await checkCluster(o);
  assertK8sCheckSchema(jsonDoc(r));
  return r;
}

/** checkCluster against the stub; `files` replace recorded answers of the same name. */
async function check(
  routes: Route[],
  opts: Partial<ClusterCheckOptions> = {},
  files: Record<string, unknown> = {},
): Promise<ClusterReport> {
  stub = stubCluster(routes, files);
  return checkChecked({
    namespace: "gvisor-system",
    runtimeClass: "gvisor",
    image: "busybox:1.36",
    pod: true,
    timeoutS: 30,
    context: null,
    env: stub.env,
    pollMs: 20,
    ...opts,
  });
}

/** The finding `id` (as `any`, like a parsed --json report: tests read its diagnosis directly). */
const find = (r: ClusterReport, id: string): any => {
  const f = r.findings.find((x) => x.id === id);
  if (!f) throw new Error(`no finding ${id}: ${r.findings.map((x) => x.id).join(", ")}`);
  return f;
};

describe("k8s check: a cluster where gVisor works", () => {
  test("every node labelled, the test pod's dmesg shows the gVisor banner: all pass", async () => {
    const r = await check([
      ...clusterRoutes({
        nodes: { args: "get nodes -o json*", stdout: "nodes-healthy.json" },
        pods: {
          args: "get pods -n gvisor-system -l app.kubernetes.io/name=gvisor-doctor -o json*",
          stdout: "pods-healthy.json",
        },
        ds: { args: "get daemonset gvisor-doctor -n gvisor-system -o json*", stdout: "daemonset-healthy.json" },
      }),
      ...testPodRoutes({ status: "testpod-succeeded.json" }),
    ]);
    expect(find(r, "k8s.cluster")).toMatchObject({
      status: "pass",
      message: "Kubernetes v1.31.6 at https://10.20.0.10:6443, context admin@prod-eu",
    });
    expect(find(r, "k8s.runtimeclass")).toMatchObject({
      status: "pass",
      message: 'RuntimeClass "gvisor" → handler runsc, nodeSelector gvisor.dev/runsc=20260817.0',
    });
    expect(find(r, "k8s.daemonset")).toMatchObject({
      status: "pass",
      message: "DaemonSet gvisor-system/gvisor-doctor: 2 of 2 pods ready",
    });
    expect(find(r, "k8s.nodes")).toMatchObject({
      status: "pass",
      message: "2 of 3 nodes carry gvisor.dev/runsc=20260817.0: worker-a, worker-b",
    });
    expect(find(r, "node/worker-a")).toMatchObject({
      status: "pass",
      message: "gvisor.dev/runsc=20260817.0 (pod gvisor-doctor-4xk9p Running)",
    });
    // The control-plane node is tainted and the DaemonSet does not tolerate it: said, not failed.
    expect(find(r, "node/cp-1")).toMatchObject({
      status: "warn",
      message: "no gvisor.dev/runsc label: the DaemonSet gvisor-doctor does not run on this node",
    });
    expect(find(r, "node/cp-1").diagnosis.cause).toContain("taint node-role.kubernetes.io/control-plane:NoSchedule");
    expect(find(r, "k8s.pod")).toMatchObject({
      status: "pass",
      message:
        "a pod with runtimeClassName gvisor ran under gVisor on node worker-a (dmesg: [    0.000000] Starting gVisor...)",
    });
    expect(r.findings.some((f) => f.status === "fail")).toBe(false);
    expect(r.testPod).toMatchObject({ node: "worker-a", phase: "Succeeded", signature: true, deleted: true });
  });

  test("the test pod: runtimeClassName, restartPolicy Never, dmesg in the image, created from stdin, deleted without waiting", async () => {
    const r = await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })], {
      image: "registry.example.com/busybox:1.36",
    });
    const create = stub!.callsStarting("create", "-f", "-");
    expect(create).toHaveLength(1);
    const pod = JSON.parse(stub!.stdinOf(create[0]));
    expect(pod).toMatchObject({
      kind: "Pod",
      metadata: { name: r.testPod!.name, namespace: "gvisor-system" },
      spec: {
        runtimeClassName: "gvisor",
        restartPolicy: "Never",
        containers: [{ image: "registry.example.com/busybox:1.36", command: ["dmesg"] }],
      },
    });
    expect(r.testPod!.name).toMatch(/^gvisor-doctor-check-[0-9a-f]{6}$/);
    expect(stub!.callsStarting("delete", "pod")).toEqual([
      [
        "delete",
        "pod",
        r.testPod!.name,
        "-n",
        "gvisor-system",
        "--wait=false",
        "--ignore-not-found",
        "--request-timeout=10s",
      ],
    ]);
  });

  test("a pod that is pending at first is polled until it finished", async () => {
    const r = await check([
      ...clusterRoutes(),
      ...testPodRoutes({
        status: ["testpod-pending-scheduled.json", "testpod-pending-scheduled.json", "testpod-succeeded.json"],
      }),
    ]);
    expect(find(r, "k8s.pod").status).toBe("pass");
    expect(stub!.callsStarting("get", "pod").length).toBe(3);
  });

  test("--context goes to every kubectl call", async () => {
    await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })], {
      context: "admin@prod-eu",
    });
    const calls = stub!.calls();
    expect(calls.length).toBeGreaterThan(8);
    for (const c of calls) expect(c.join(" ")).toContain("--context admin@prod-eu");
  });
});

describe("k8s check: nodes without the label, and why", () => {
  test("a node whose pod is stuck in Init:CrashLoopBackOff shows the failing check and its fix from the check container's log", async () => {
    const r = await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })]);
    const b = find(r, "node/worker-b");
    expect(b.status).toBe("fail");
    expect(b.message).toBe(
      "no gvisor.dev/runsc label: the node's check fails (pod gvisor-doctor-q7m2d Init:CrashLoopBackOff)",
    );
    expect(b.details).toEqual([
      'containerd.runtime: containerd\'s merged config has no "runsc" runtime',
      "  fix: Register runsc with containerd and restart it: sudo gvisor-doctor configure containerd --restart",
    ]);
    expect(b.diagnosis.fix.command).toBe("kubectl -n gvisor-system delete pod gvisor-doctor-q7m2d");
    const node = r.nodes.find((n) => n.name === "worker-b")!;
    expect(node).toMatchObject({
      label: null,
      selected: false,
      pod: { name: "gvisor-doctor-q7m2d", status: "Init:CrashLoopBackOff", ready: false },
      lastCheck: { source: "check", ok: false },
    });
    expect(node.lastCheck!.failing.map((f) => f.id)).toEqual(["containerd.runtime"]);
    // The check container's log was read (a CrashLoopBackOff container's log is its last run's).
    expect(stub!.callsStarting("logs", "-n", "gvisor-system", "gvisor-doctor-q7m2d", "-c", "check")).toHaveLength(1);
    // A labelled node's pod is not asked for logs.
    expect(stub!.callsStarting("logs", "-n", "gvisor-system", "gvisor-doctor-4xk9p")).toHaveLength(0);
    expect(find(r, "k8s.daemonset")).toMatchObject({
      status: "warn",
      message: "DaemonSet gvisor-system/gvisor-doctor: 1 of 2 pods ready (the nodes below say why)",
    });
  });

  // worker-a without its label: its pod runs the agent, whose last round explains it.
  const unlabelled = (name: string) => {
    const nodes = fixture("nodes.json");
    for (const n of nodes.items) if (n.metadata.name === name) delete n.metadata.labels["gvisor.dev/runsc"];
    return nodes;
  };
  const agentLog = (change: (line: any) => void) => {
    const lines = readFileSync(join(KUBECTL_FIXTURES, "logs-agent-worker-a.txt"), "utf8").split("\n");
    const last = JSON.parse(lines[1]);
    change(last);
    assertAgentLineSchema(last);
    // kubectl logs mixes stderr in: a warning after the last round must not hide it.
    return [lines[0], JSON.stringify(last), lines[2], ""].join("\n");
  };

  test("a node whose agent runs: the agent's last round (the last JSON line, whatever stderr said after it) names the failing checks", async () => {
    const log = agentLog((l) => {
      l.ok = false;
      l.time = "2026-08-20T09:20:02.000Z";
      l.label = { key: "gvisor.dev/runsc", value: null, action: "removed", error: null };
      l.failing = [
        {
          id: "runsc.smoke",
          message: "runsc do true failed: panic: unable to attach: operation not permitted",
          fix: "Make runsc and its parent directories world-executable",
          command: "sudo gvisor-doctor --fix",
        },
      ];
    });
    const r = await check(
      clusterRoutes(),
      { pod: false },
      { "nodes.json": unlabelled("worker-a"), "logs-agent-worker-a.txt": log },
    );
    const a = find(r, "node/worker-a");
    expect(a).toMatchObject({
      status: "fail",
      message:
        "no gvisor.dev/runsc label: the node's check fails (agent, 2026-08-20T09:20:02.000Z; pod gvisor-doctor-4xk9p Running)",
    });
    expect(a.details).toEqual([
      "runsc.smoke: runsc do true failed: panic: unable to attach: operation not permitted",
      "  fix: Make runsc and its parent directories world-executable: sudo gvisor-doctor --fix",
    ]);
    expect(r.nodes.find((n) => n.name === "worker-a")!.lastCheck).toMatchObject({
      source: "agent",
      ok: false,
      label: { action: "removed" },
    });
    expect(stub!.callsStarting("logs", "-n", "gvisor-system", "gvisor-doctor-4xk9p", "-c", "agent")).toHaveLength(1);
  });

  test("a node whose check passes but whose agent may not label it: the RBAC error, and the fix", async () => {
    const log = agentLog((l) => {
      l.label = {
        key: "gvisor.dev/runsc",
        value: "20260817.0",
        action: "failed",
        error: "RBAC: system:serviceaccount:gvisor-system:gvisor-doctor may not get nodes (403 Forbidden)",
      };
    });
    const r = await check(
      clusterRoutes(),
      { pod: false },
      { "nodes.json": unlabelled("worker-a"), "logs-agent-worker-a.txt": log },
    );
    const a = find(r, "node/worker-a");
    expect(a).toMatchObject({
      status: "fail",
      message:
        "no gvisor.dev/runsc label: the check passes, but the agent cannot label the node: RBAC: system:serviceaccount:gvisor-system:gvisor-doctor may not get nodes (403 Forbidden)",
    });
    expect(a.diagnosis.fix.summary).toContain("get and patch on nodes");
  });

  test("the agent's last round: lastAgentLine skips stderr lines and other JSON", () => {
    const line = lastAgentLine(readFileSync(join(KUBECTL_FIXTURES, "logs-agent-worker-a.txt"), "utf8"));
    expect(line).toMatchObject({
      kind: "gvisor-doctor.agent",
      node: "worker-a",
      time: "2026-08-20T09:15:02.331Z",
      ok: true,
    });
    assertAgentLineSchema(line);
    expect(lastAgentLine('{"kind":"something-else"}\nnot json')).toBeNull();
  });

  test("a node with no DaemonSet pod: the DaemonSet does not run there, and the untolerated taint says why", async () => {
    const r = await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })]);
    const cp = r.nodes.find((n) => n.name === "cp-1")!;
    expect(cp).toMatchObject({
      pod: null,
      label: null,
      untoleratedTaints: ["node-role.kubernetes.io/control-plane:NoSchedule"],
    });
    expect(find(r, "node/cp-1").diagnosis.fix.command).toBe(
      "kubectl -n gvisor-system describe daemonset gvisor-doctor",
    );
  });

  test("no node carries the label the RuntimeClass selects: k8s.nodes fails and the test pod is not started", async () => {
    const nodes = fixture("nodes.json");
    for (const n of nodes.items) delete n.metadata.labels["gvisor.dev/runsc"];
    const r = await check(
      [...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })],
      {},
      { "nodes.json": nodes },
    );
    expect(find(r, "k8s.nodes")).toMatchObject({
      status: "fail",
      message: "no node carries gvisor.dev/runsc=20260817.0: gvisor pods cannot run anywhere",
    });
    expect(find(r, "k8s.pod")).toMatchObject({
      status: "skip",
      message: "needs k8s.nodes (failed): no node would take the pod",
    });
    expect(stub!.callsStarting("create")).toHaveLength(0);
    // worker-a's agent said it set the label: someone removed it since.
    expect(find(r, "node/worker-a")).toMatchObject({
      status: "warn",
      message:
        "no gvisor.dev/runsc label, though the agent set gvisor.dev/runsc=20260817.0 at 2026-08-20T09:15:02.331Z: removed since by someone else?",
    });
  });

  test("a node labelled with another version than the RuntimeClass selects is a warning: gVisor pods are not scheduled there", async () => {
    const rc = fixture("runtimeclass-gvisor.json");
    rc.scheduling.nodeSelector["gvisor.dev/runsc"] = "20260901.0";
    const r = await check(clusterRoutes(), { pod: false }, { "runtimeclass-gvisor.json": rc });
    expect(find(r, "node/worker-a")).toMatchObject({
      status: "warn",
      message:
        'gvisor.dev/runsc=20260817.0, but RuntimeClass "gvisor" selects 20260901.0: gVisor pods are not scheduled here',
    });
    expect(find(r, "node/worker-a").diagnosis.fix.command).toBe(
      "gvisor-doctor k8s manifests --version 20260901.0 | kubectl apply -f -",
    );
    expect(find(r, "k8s.nodes").status).toBe("fail");
  });
});

describe("k8s check: the RuntimeClass", () => {
  test("missing: fails with the manifests to apply, and no test pod is started", async () => {
    const r = await check(
      clusterRoutes({ rc: { args: "get runtimeclass gvisor -o json*", exit: 1, stderr: KUBECTL_ERRORS.rcNotFound } }),
    );
    expect(find(r, "k8s.runtimeclass")).toMatchObject({
      status: "fail",
      message: 'RuntimeClass "gvisor" does not exist',
    });
    expect(find(r, "k8s.runtimeclass").diagnosis.fix.command).toBe(
      "gvisor-doctor k8s manifests --version <version> | kubectl apply -f -",
    );
    expect(find(r, "k8s.pod")).toMatchObject({ status: "skip", message: "needs k8s.runtimeclass (failed)" });
    expect(stub!.callsStarting("create")).toHaveLength(0);
  });

  test("without a nodeSelector: a warning (gVisor pods could land on nodes without gVisor)", async () => {
    const r = await check([
      ...clusterRoutes({
        rc: { args: "get runtimeclass gvisor -o json*", stdout: "runtimeclass-gvisor-no-selector.json" },
      }),
      ...testPodRoutes({ status: "testpod-succeeded.json" }),
    ]);
    const f = find(r, "k8s.runtimeclass");
    expect(f).toMatchObject({
      status: "warn",
      message: 'RuntimeClass "gvisor" has no scheduling.nodeSelector: gVisor pods may land on nodes without gVisor',
    });
    expect(f.diagnosis.cause).toContain('RuntimeHandler "runsc" not supported');
    // Without a selector, any labelled node counts, and the test pod still runs.
    expect(find(r, "k8s.nodes").message).toBe("1 of 3 nodes carry gvisor.dev/runsc: worker-a");
    expect(find(r, "k8s.pod").status).toBe("pass");
  });
});

describe("k8s check: the test pod, when it does not prove gVisor", () => {
  test("it ran, but its dmesg has no gVisor banner (runc): fails and names the node and its agent's log", async () => {
    const r = await check([
      ...clusterRoutes(),
      ...testPodRoutes({ status: "testpod-failed-runc.json", log: "logs-dmesg-runc.txt" }),
    ]);
    const f = find(r, "k8s.pod");
    expect(f).toMatchObject({
      status: "fail",
      message: 'the test pod ran on node worker-a, but not under gVisor: no "Starting gVisor" in its dmesg',
    });
    expect(f.details[0]).toBe("log: dmesg: klogctl: Operation not permitted");
    expect(f.diagnosis.fix.command).toBe("kubectl -n gvisor-system logs gvisor-doctor-4xk9p -c agent --tail=1");
    expect(stub!.callsStarting("delete", "pod")).toHaveLength(1);
  });

  test('pending with the event RuntimeHandler "runsc" not supported: the node has no runsc runtime (stops waiting at once)', async () => {
    const r = await check(
      [
        ...clusterRoutes(),
        ...testPodRoutes({ status: "testpod-pending-sandbox.json", events: "events-runtimehandler-old.json" }),
      ],
      { timeoutS: 60 },
    );
    const f = find(r, "k8s.pod");
    expect(f).toMatchObject({
      status: "fail",
      message: 'node worker-b has no runsc runtime: RuntimeHandler "runsc" not supported',
    });
    expect(f.diagnosis.fix.command).toBe("kubectl -n gvisor-system delete pod gvisor-doctor-q7m2d");
    expect(stub!.callsStarting("get", "pod")).toHaveLength(1);
    expect(stub!.callsStarting("delete", "pod")).toHaveLength(1);
  });

  test('containerd\'s newer words for it (no runtime for "runsc" is configured) mean the same', async () => {
    const r = await check([
      ...clusterRoutes(),
      ...testPodRoutes({ status: "testpod-pending-sandbox.json", events: "events-runtimehandler.json" }),
    ]);
    expect(find(r, "k8s.pod").message).toBe('node worker-b has no runsc runtime: no runtime for "runsc" is configured');
  });

  test("no node matches the RuntimeClass's selector: FailedScheduling is the answer", async () => {
    const r = await check([
      ...clusterRoutes(),
      ...testPodRoutes({ status: "testpod-unschedulable.json", events: "events-failedscheduling.json" }),
    ]);
    const f = find(r, "k8s.pod");
    expect(f.status).toBe("fail");
    expect(f.message).toStartWith("no node can take a gvisor pod: 0/3 nodes are available:");
  });

  test("ImagePullBackOff: use --image with an image the nodes have", async () => {
    const r = await check([
      ...clusterRoutes(),
      ...testPodRoutes({ status: "testpod-imagepull.json", events: "events-imagepull.json" }),
    ]);
    const f = find(r, "k8s.pod");
    expect(f).toMatchObject({
      status: "fail",
      message: "the test pod cannot start on node worker-a: ImagePullBackOff for busybox:1.36",
    });
    expect(f.diagnosis.fix.summary).toContain("image your nodes have");
    expect(f.diagnosis.fix.command).toContain("--image");
  });

  test("still pending when the time is up: fails with the events, and the pod is deleted", async () => {
    const r = await check(
      [
        ...clusterRoutes(),
        ...testPodRoutes({ status: "testpod-pending-scheduled.json", events: "events-scheduled.json" }),
      ],
      { timeoutS: 0.3 },
    );
    const f = find(r, "k8s.pod");
    expect(f.message).toBe("the test pod did not finish within 0.3 s (ContainerCreating on node worker-a)");
    expect(f.details).toContain(
      "event Scheduled: Successfully assigned gvisor-system/gvisor-doctor-check-3fa9c1 to worker-a",
    );
    expect(stub!.callsStarting("delete", "pod")).toHaveLength(1);
  });

  test("interrupted (Ctrl-C) while waiting: the pod is still deleted", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-pending-scheduled.json" })], {
      timeoutS: 60,
      signal: ac.signal,
    });
    expect(find(r, "k8s.pod").message).toStartWith("interrupted while the test pod was ContainerCreating");
    expect(r.testPod!.deleted).toBe(true);
  });

  test("rejected at admission because the RuntimeClass vanished: says so", async () => {
    const routes = [...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })].map((x) =>
      x.args.startsWith("create") ? { ...x, exit: 1, stderr: KUBECTL_ERRORS.rcRejected } : x,
    );
    const r = await check(routes);
    expect(find(r, "k8s.pod").message).toBe('the test pod was rejected: RuntimeClass "gvisor" does not exist');
    expect(stub!.callsStarting("delete")).toHaveLength(0); // nothing was created
  });

  test("--no-pod: skipped, nothing created", async () => {
    const r = await check(clusterRoutes(), { pod: false });
    expect(find(r, "k8s.pod")).toMatchObject({ status: "skip", message: "skipped by --no-pod" });
    expect(stub!.callsStarting("create")).toHaveLength(0);
  });
});

describe("k8s check: no cluster", () => {
  test("kubectl missing: k8s.cluster fails with the reason, the rest is skipped", async () => {
    stub = stubCluster([]);
    const r = await checkChecked({
      namespace: "gvisor-system",
      runtimeClass: "gvisor",
      image: "busybox:1.36",
      pod: true,
      timeoutS: 30,
      context: null,
      env: { ...stub.env, PATH: "/nonexistent" },
    });
    expect(find(r, "k8s.cluster")).toMatchObject({ status: "fail", message: "kubectl is not installed (not on PATH)" });
    expect(r.findings.filter((f) => f.id !== "k8s.cluster").map((f) => f.status)).toEqual([
      "skip",
      "skip",
      "skip",
      "skip",
    ]);
  });

  test("no kubeconfig: says so without asking localhost:8080", async () => {
    stub = stubCluster([]);
    const { KUBECONFIG: _, ...env } = stub.env;
    const r = await checkChecked({
      namespace: "gvisor-system",
      runtimeClass: "gvisor",
      image: "busybox:1.36",
      pod: true,
      timeoutS: 30,
      context: null,
      env: { ...env, HOME: stub.dir, KUBERNETES_SERVICE_HOST: "" },
    });
    expect(find(r, "k8s.cluster").message).toBe(
      `no cluster configured (no ${stub.dir}/.kube/config, KUBECONFIG unset)`,
    );
    expect(stub.calls()).toHaveLength(0);
  });

  test("cluster unreachable: kubectl's own words, and where it tried", async () => {
    const r = await check(
      clusterRoutes({
        version: { args: "version -o json*", exit: 1, stdout: "version.json", stderr: KUBECTL_ERRORS.refused },
      }),
    );
    const f = find(r, "k8s.cluster");
    expect(f).toMatchObject({
      status: "fail",
      message: `cannot reach the cluster at https://10.20.0.10:6443: ${KUBECTL_ERRORS.refused}`,
    });
    expect(f.diagnosis.fix.command).toBe("kubectl cluster-info");
    expect(stub!.callsStarting("get")).toHaveLength(0);
  });

  test("a user who may not list nodes: k8s.nodes says so, the rest still runs", async () => {
    const r = await check([
      ...clusterRoutes({ nodes: { args: "get nodes -o json*", exit: 1, stderr: KUBECTL_ERRORS.nodesForbidden } }),
      ...testPodRoutes({ status: "testpod-succeeded.json" }),
    ]);
    expect(find(r, "k8s.nodes")).toMatchObject({
      status: "fail",
      message: `cannot list nodes: ${KUBECTL_ERRORS.nodesForbidden}`,
    });
    expect(find(r, "k8s.pod").status).toBe("pass");
  });

  test("a user who may not list pods in the namespace: unlabelled nodes say their pod is unknown, and why", async () => {
    const forbidden =
      'Error from server (Forbidden): pods is forbidden: User "dev@example.com" cannot list resource "pods" in API group "" in the namespace "gvisor-system"';
    const r = await check(
      clusterRoutes({ pods: { args: "get pods -n gvisor-system *", exit: 1, stderr: forbidden } }),
      { pod: false },
    );
    expect(find(r, "node/worker-b")).toMatchObject({
      status: "warn",
      message: `no gvisor.dev/runsc label; its DaemonSet pod is unknown: cannot list pods in gvisor-system: ${forbidden}`,
    });
  });

  test("no DaemonSet: fails with the manifests to apply; unlabelled nodes are not blamed on their pods", async () => {
    const r = await check(
      clusterRoutes({
        ds: {
          args: "get daemonset gvisor-doctor -n gvisor-system -o json*",
          exit: 1,
          stderr: KUBECTL_ERRORS.dsNotFound,
        },
      }),
      { pod: false },
    );
    expect(find(r, "k8s.daemonset")).toMatchObject({
      status: "fail",
      message: "DaemonSet gvisor-system/gvisor-doctor does not exist: nothing installs and checks gVisor on the nodes",
    });
    expect(find(r, "k8s.daemonset").diagnosis.fix.command).toBe(
      "gvisor-doctor k8s manifests --version 20260817.0 | kubectl apply -f -",
    );
    expect(find(r, "node/worker-b")).toMatchObject({
      status: "warn",
      message: "no gvisor.dev/runsc label (no DaemonSet labels nodes)",
    });
  });
});

describe("reading pods and logs", () => {
  const pods = () => (fixture("pods.json") as List<PodObj>).items!;
  test("kubectl's STATUS column: Running, Init:CrashLoopBackOff", () => {
    expect(pods().map(podStatusReason)).toEqual(["Running", "Init:CrashLoopBackOff"]);
  });
  test("STATUS of a test pod: Completed, Error, ContainerCreating, ImagePullBackOff, Pending", () => {
    const s = (f: string) => podStatusReason(fixture(f));
    expect(
      [
        "testpod-succeeded.json",
        "testpod-failed-runc.json",
        "testpod-pending-sandbox.json",
        "testpod-imagepull.json",
        "testpod-unschedulable.json",
      ].map(s),
    ).toEqual(["Completed", "Error", "ContainerCreating", "ImagePullBackOff", "Pending"]);
  });
  test("a pod still installing is Init:0/2; a failed install Init:Error", () => {
    const p = pods()[1];
    p.status!.initContainerStatuses = [
      { name: "install", state: { running: {} } },
      { name: "check", state: { waiting: { reason: "PodInitializing" } } },
    ];
    expect(podStatusReason(p)).toBe("Init:0/2");
    p.status!.initContainerStatuses[0].state = { terminated: { exitCode: 1, reason: "Error" } };
    expect(podStatusReason(p)).toBe("Init:Error");
  });
  test("taints: tolerated by key, by operator Exists without a key, PreferNoSchedule never blocks", () => {
    const node = {
      metadata: { name: "n" },
      spec: {
        taints: [
          { key: "a", effect: "NoSchedule" },
          { key: "b", value: "x", effect: "NoExecute" },
          { key: "c", effect: "PreferNoSchedule" },
        ],
      },
    };
    expect(untoleratedTaints(node, []).map((t) => t.key)).toEqual(["a", "b"]);
    expect(untoleratedTaints(node, [{ key: "a", operator: "Exists" }]).map((t) => t.key)).toEqual(["b"]);
    expect(untoleratedTaints(node, [{ key: "b", operator: "Equal", value: "y" }]).map((t) => t.key)).toEqual([
      "a",
      "b",
    ]);
    expect(untoleratedTaints(node, [{ operator: "Exists" }])).toEqual([]);
  });
  test("the check container's log: the JSON document even after stderr lines", () => {
    const doc = readFileSync(join(KUBECTL_FIXTURES, "logs-check-worker-b.txt"), "utf8");
    expect(checkDocInLog(doc)?.ok).toBe(false);
    assertReportSchema(checkDocInLog(doc));
    expect(checkDocInLog(`gathering host facts…\nwarning: something\n${doc}`)?.ok).toBe(false);
    expect(checkDocInLog("gvisor-doctor: unknown option --host-root for 'check'")).toBeNull();
  });
});

describe("the --json document (docs/k8s-check-report.schema.json)", () => {
  test("a full run matches the schema; a wrong field type or an unknown field does not", async () => {
    const r = await check([...clusterRoutes(), ...testPodRoutes({ status: "testpod-succeeded.json" })]);
    const doc = jsonDoc(r);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      command: "k8s check",
      namespace: "gvisor-system",
      runtimeClass: "gvisor",
      ok: false,
      testPod: { deleted: true },
    });
    expect(doc.nodes.find((n: any) => n.name === "worker-b").lastCheck).toMatchObject({
      source: "check",
      time: null,
      label: null,
    });
    assertK8sCheckSchema(doc);
    const broken = (change: (d: any) => void) => {
      const d = structuredClone(doc);
      change(d);
      return () => assertK8sCheckSchema(d);
    };
    expect(broken((d) => (d.ok = "false"))).toThrow("k8s-check-report.schema.json");
    expect(broken((d) => (d.nodes[0].ready = 1))).toThrow("must be boolean");
    expect(broken((d) => (d.checks[0].status = "ok"))).toThrow("must be equal to one of the allowed values");
    expect(broken((d) => (d.testPod.extra = true))).toThrow("must NOT have additional properties");
    expect(broken((d) => (d.hosts = []))).toThrow("must NOT have additional properties");
    expect(broken((d) => delete d.testPod)).toThrow("must have required property 'testPod'");
  });
});
