// `k8s check`: is gVisor usable in this cluster, and where not, why? Reads the cluster
// through kubectl: the RuntimeClass, the DaemonSet, the nodes and their gvisor.dev/runsc
// label (node-report.ts explains each unlabelled node), then proves it end to end with a
// test pod (test-pod.ts). Findings use the check shapes, so the human and JSON renderers
// of `check` print them.
import { fail, pass, skip, warn, type Finding, type Outcome } from "../../checks/types.ts";
import { DAEMONSET_NAME, NODE_LABEL_KEY, POD_LABELS, RUNTIME_HANDLER } from "./contract.ts";
import {
  findKubectl,
  kubectlJson,
  noClusterReason,
  type Kubectl,
  type KubectlJson,
} from "../../platform/k8s/kubectl.ts";
import { inspectNode, manifestsFix, type NodeReport } from "./node-report.ts";
import { newestPod, type DaemonSetObj, type List, type NodeObj, type PodObj, type RuntimeClassObj } from "./objects.ts";
import { runTestPod, type TestPodReport } from "./test-pod.ts";

/** The DaemonSet's pods are listed by the name label of POD_LABELS. */
const NAME_LABEL = "app.kubernetes.io/name";

export type { NodeReport } from "./node-report.ts";

export interface ClusterCheckOptions {
  namespace: string;
  runtimeClass: string;
  image: string;
  /** Run the test pod. */
  pod: boolean;
  /** Seconds to wait for the test pod. */
  timeoutS: number;
  context: string | null;
  env: NodeJS.ProcessEnv;
  pollMs?: number;
  signal?: AbortSignal;
  /** Told what is being asked (progress). */
  onStep?: (what: string) => void;
}

export interface ClusterReport {
  cluster: { context: string | null; server: string | null; version: string | null; kubectl: string | null };
  namespace: string;
  runtimeClass: string;
  /** The RuntimeClass's nodeSelector on gvisor.dev/runsc, when it has one. */
  selector: { key: string; value: string } | null;
  findings: Finding[];
  nodes: NodeReport[];
  testPod: TestPodReport | null;
}

const ID = {
  cluster: "k8s.cluster",
  runtimeClass: "k8s.runtimeclass",
  daemonSet: "k8s.daemonset",
  nodes: "k8s.nodes",
  pod: "k8s.pod",
} as const;
export const nodeFindingId = (name: string) => `node/${name}`;

function toFinding(id: string, title: string, o: Outcome, started: number): Finding {
  return {
    id,
    title,
    status: o.status,
    message: o.message,
    details: o.details ?? [],
    diagnosis: o.diagnosis ?? null,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Run `fn` over `items`, at most `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Where kubectl can reach a cluster: the k8s.cluster outcome and what we learnt. */
async function reachCluster(
  o: ClusterCheckOptions,
  report: ClusterReport,
): Promise<{ outcome: Outcome; k: Kubectl | null }> {
  const path = findKubectl(o.env);
  if (!path) {
    return {
      k: null,
      outcome: fail("kubectl is not installed (not on PATH)", {
        cause: "k8s check reads the cluster through kubectl and your kubeconfig.",
        fix: {
          id: "k8s.kubectl",
          summary:
            "Install kubectl (https://kubernetes.io/docs/tasks/tools/) and point it at the cluster (KUBECONFIG or ~/.kube/config)",
          command: null,
          automatic: false,
        },
      }),
    };
  }
  report.cluster.kubectl = path;
  const noCluster = o.context ? null : noClusterReason(o.env);
  if (noCluster) {
    return {
      k: null,
      outcome: fail(noCluster, {
        cause: "kubectl has no kubeconfig, so it knows no cluster.",
        fix: {
          id: "k8s.kubeconfig",
          summary: "Point kubectl at the cluster: set KUBECONFIG, or copy the cluster's kubeconfig to ~/.kube/config",
          command: "kubectl config get-contexts",
          automatic: false,
        },
      }),
    };
  }
  const k: Kubectl = { path, context: o.context, env: o.env, requestTimeoutS: 10 };
  const view = await kubectlJson<{ "current-context"?: string; clusters?: { cluster?: { server?: string } }[] }>(k, [
    "config",
    "view",
    "--minify",
  ]);
  if (view.ok) {
    report.cluster.context = o.context ?? view.value["current-context"] ?? null;
    report.cluster.server = view.value.clusters?.[0]?.cluster?.server ?? null;
  } else if (view.kind === "no-context") {
    return {
      k: null,
      outcome: fail(`kubectl has no context ${o.context ? `"${o.context}"` : "selected"}: ${view.message}`, {
        cause: "--context (or the kubeconfig's current-context) names no context in the kubeconfig.",
        fix: {
          id: "k8s.context",
          summary: "Pick one of the kubeconfig's contexts",
          command: "kubectl config get-contexts",
          automatic: false,
        },
      }),
    };
  }
  const version = await kubectlJson<{ serverVersion?: { gitVersion?: string } }>(k, ["version"]);
  if (version.ok && version.value.serverVersion) {
    report.cluster.version = version.value.serverVersion.gitVersion ?? null;
    const where = [report.cluster.server, report.cluster.context && `context ${report.cluster.context}`]
      .filter(Boolean)
      .join(", ");
    return { k, outcome: pass(`Kubernetes ${report.cluster.version ?? "?"}${where ? ` at ${where}` : ""}`) };
  }
  const message = version.ok ? "kubectl version printed no server version" : version.message;
  const kind = version.ok ? "other" : version.kind;
  const at = report.cluster.server ? ` at ${report.cluster.server}` : "";
  if (kind === "unauthorized")
    return {
      k: null,
      outcome: fail(`the cluster${at} refused your credentials: ${message}`, {
        cause: "The kubeconfig's credentials expired or are wrong.",
        fix: {
          id: "k8s.login",
          summary: "Log in again / refresh the kubeconfig (e.g. your cloud CLI's get-credentials)",
          command: null,
          automatic: false,
        },
      }),
    };
  return {
    k: null,
    outcome: fail(`cannot reach the cluster${at}: ${message}`, {
      cause:
        "kubectl could not talk to the API server (wrong server in the kubeconfig, cluster down, VPN or firewall).",
      fix: {
        id: "k8s.reach",
        summary: "Check the kubeconfig's server and your network (VPN, firewall), then try again",
        command: "kubectl cluster-info",
        automatic: false,
      },
    }),
  };
}

function runtimeClassOutcome(o: ClusterCheckOptions, r: KubectlJson<RuntimeClassObj>, report: ClusterReport): Outcome {
  if (!r.ok) {
    if (r.kind === "not-found")
      return fail(
        `RuntimeClass "${o.runtimeClass}" does not exist`,
        {
          cause: `Pods choose gVisor with runtimeClassName: ${o.runtimeClass}; without the RuntimeClass they are rejected.`,
          fix: manifestsFix(null, "Apply the manifests (they create the RuntimeClass with its nodeSelector)"),
        },
        [r.message],
      );
    if (r.kind === "no-resource-type")
      return fail("this cluster has no RuntimeClass API (node.k8s.io/v1 needs Kubernetes 1.20 or later)", null, [
        r.message,
      ]);
    return fail(`cannot read RuntimeClass "${o.runtimeClass}": ${r.message}`, null);
  }
  const rc = r.value;
  if (rc.handler !== RUNTIME_HANDLER) {
    return fail(`RuntimeClass "${o.runtimeClass}" has handler "${rc.handler ?? ""}", not "${RUNTIME_HANDLER}"`, {
      cause: `The handler must be the runtime name the nodes' containerd/CRI-O know gVisor by (${RUNTIME_HANDLER}, as install registers it).`,
      fix: {
        id: "k8s.runtimeclass-handler",
        summary: `Recreate the RuntimeClass with handler ${RUNTIME_HANDLER} (the handler cannot be changed in place)`,
        command: `kubectl delete runtimeclass ${o.runtimeClass} && gvisor-doctor k8s manifests --version <version> | kubectl apply -f -`,
        automatic: false,
      },
    });
  }
  const sel = rc.scheduling?.nodeSelector ?? {};
  if (Object.hasOwn(sel, NODE_LABEL_KEY)) {
    report.selector = { key: NODE_LABEL_KEY, value: sel[NODE_LABEL_KEY] };
    return pass(
      `RuntimeClass "${o.runtimeClass}" → handler ${RUNTIME_HANDLER}, nodeSelector ${NODE_LABEL_KEY}=${sel[NODE_LABEL_KEY]}`,
    );
  }
  const other = Object.entries(sel).map(([k, v]) => `${k}=${v}`);
  return warn(
    other.length
      ? `RuntimeClass "${o.runtimeClass}" selects nodes by ${other.join(", ")}, not by ${NODE_LABEL_KEY}: the agent's label does not steer gVisor pods`
      : `RuntimeClass "${o.runtimeClass}" has no scheduling.nodeSelector: gVisor pods may land on nodes without gVisor`,
    {
      cause: `Without a nodeSelector on ${NODE_LABEL_KEY}, the scheduler may put a ${o.runtimeClass} pod on a node where runsc is missing or broken; it then fails with 'RuntimeHandler "runsc" not supported'.`,
      fix: manifestsFix(
        null,
        `Apply the manifests: their RuntimeClass selects ${NODE_LABEL_KEY}=<version>, which the agent sets only on nodes that passed`,
      ),
    },
  );
}

function daemonSetOutcome(o: ClusterCheckOptions, r: KubectlJson<DaemonSetObj>, selector: string | null): Outcome {
  const name = `${o.namespace}/${DAEMONSET_NAME}`;
  if (!r.ok) {
    if (r.kind === "not-found")
      return fail(
        `DaemonSet ${name} does not exist: nothing installs and checks gVisor on the nodes`,
        {
          cause:
            "gvisor-doctor's DaemonSet installs runsc on every node, checks it, and labels the node when it works.",
          fix: manifestsFix(selector, "Apply the manifests"),
        },
        [r.message],
      );
    return fail(`cannot read DaemonSet ${name}: ${r.message}`, null);
  }
  const s = r.value.status ?? {};
  const desired = s.desiredNumberScheduled ?? 0;
  const ready = s.numberReady ?? 0;
  const text = `DaemonSet ${name}: ${ready} of ${desired} pods ready${s.updatedNumberScheduled !== undefined && s.updatedNumberScheduled < desired ? `, ${s.updatedNumberScheduled} up to date` : ""}`;
  if (desired === 0)
    return fail(`${text}: it runs on no node`, {
      cause: "The DaemonSet's nodeSelector, affinity or missing tolerations match no node.",
      fix: {
        id: "k8s.daemonset-placement",
        summary: "Check the DaemonSet's nodeSelector and tolerations against the nodes' labels and taints",
        command: `kubectl -n ${o.namespace} describe daemonset ${DAEMONSET_NAME}`,
        automatic: false,
      },
    });
  if (ready < desired) return warn(`${text} (the nodes below say why)`);
  return pass(text);
}

function nodesOutcome(o: ClusterCheckOptions, nodes: NodeReport[], report: ClusterReport): Outcome {
  if (!nodes.length) return fail("the cluster has no nodes", null);
  const sel = report.selector;
  const usable = nodes.filter((n) => n.selected);
  const want = sel ? `${sel.key}=${sel.value}` : NODE_LABEL_KEY;
  if (!usable.length) {
    return fail(`no node carries ${want}: ${o.runtimeClass} pods cannot run anywhere`, {
      cause: "The agent labels a node only after the node's check passed; the node findings say why none did.",
      fix: {
        id: "k8s.label-nodes",
        summary: "Fix the nodes' failing checks (below); the agents then label them",
        command: null,
        automatic: false,
      },
    });
  }
  return pass(
    `${usable.length} of ${nodes.length} node${nodes.length === 1 ? "" : "s"} carry ${want}: ${usable.map((n) => n.name).join(", ")}`,
  );
}

/** The whole cluster check. Never throws for cluster trouble: that is a failed finding. */
export async function checkCluster(o: ClusterCheckOptions): Promise<ClusterReport> {
  const report: ClusterReport = {
    cluster: { context: o.context, server: null, version: null, kubectl: null },
    namespace: o.namespace,
    runtimeClass: o.runtimeClass,
    selector: null,
    findings: [],
    nodes: [],
    testPod: null,
  };
  const add = (id: string, title: string, outcome: Outcome, started: number) =>
    report.findings.push(toFinding(id, title, outcome, started));
  const titles = {
    cluster: "kubectl reaches the cluster",
    runtimeClass: `RuntimeClass ${o.runtimeClass} has handler ${RUNTIME_HANDLER} and selects gVisor nodes`,
    daemonSet: `DaemonSet ${o.namespace}/${DAEMONSET_NAME} runs on the nodes`,
    nodes: `Nodes carry ${NODE_LABEL_KEY}`,
    pod: `A ${o.runtimeClass} pod runs under gVisor`,
  };
  let t = performance.now();
  o.onStep?.("reaching the cluster…");
  const { outcome, k } = await reachCluster(o, report);
  add(ID.cluster, titles.cluster, outcome, t);
  if (!k) {
    const blocked = skip(`needs ${ID.cluster} (failed)`);
    for (const key of ["runtimeClass", "daemonSet", "nodes", "pod"] as const)
      add(ID[key], titles[key], blocked, performance.now());
    return report;
  }

  t = performance.now();
  o.onStep?.("reading the RuntimeClass, nodes and DaemonSet…");
  const [rc, nodes, pods, ds] = await Promise.all([
    kubectlJson<RuntimeClassObj>(k, ["get", "runtimeclass", o.runtimeClass]),
    kubectlJson<List<NodeObj>>(k, ["get", "nodes"]),
    kubectlJson<List<PodObj>>(k, ["get", "pods", "-n", o.namespace, "-l", `${NAME_LABEL}=${POD_LABELS[NAME_LABEL]}`]),
    kubectlJson<DaemonSetObj>(k, ["get", "daemonset", DAEMONSET_NAME, "-n", o.namespace]),
  ]);
  const rcOutcome = runtimeClassOutcome(o, rc, report);
  add(ID.runtimeClass, titles.runtimeClass, rcOutcome, t);
  add(ID.daemonSet, titles.daemonSet, daemonSetOutcome(o, ds, report.selector?.value ?? null), t);

  let nodesOk = false;
  if (!nodes.ok) {
    add(
      ID.nodes,
      titles.nodes,
      fail(
        `cannot list nodes: ${nodes.message}`,
        nodes.kind === "forbidden"
          ? {
              cause: "Your user may not list nodes (a cluster-scoped read).",
              fix: {
                id: "k8s.rbac-nodes",
                summary: "Run it as a user who may list nodes and pods (e.g. a cluster admin)",
                command: null,
                automatic: false,
              },
            }
          : null,
      ),
      t,
    );
  } else {
    o.onStep?.("reading the nodes' last checks…");
    const nodeItems = nodes.value.items ?? [];
    const inspected = await mapLimit(nodeItems, 8, async (n) => {
      const started = performance.now();
      const ctx = { namespace: o.namespace, runtimeClass: o.runtimeClass, selector: report.selector?.value ?? null };
      return { ...(await inspectNode(k, ctx, n, pods, ds.ok ? ds.value : null)), started };
    });
    report.nodes = inspected.map((i) => i.node);
    const summary = nodesOutcome(o, report.nodes, report);
    nodesOk = summary.status === "pass";
    add(ID.nodes, titles.nodes, summary, t);
    for (const i of inspected) add(nodeFindingId(i.node.name), `node ${i.node.name}`, i.outcome, i.started);
  }

  t = performance.now();
  const rcOk = rcOutcome.status === "pass" || rcOutcome.status === "warn";
  if (!o.pod) add(ID.pod, titles.pod, skip("skipped by --no-pod"), t);
  else if (!rcOk) add(ID.pod, titles.pod, skip(`needs ${ID.runtimeClass} (failed)`), t);
  else if (nodes.ok && !nodesOk && report.selector)
    add(ID.pod, titles.pod, skip(`needs ${ID.nodes} (failed): no node would take the pod`), t);
  else {
    o.onStep?.(`running a test pod with runtimeClassName ${o.runtimeClass}…`);
    const dsPods = pods.ok ? (pods.value.items ?? []) : [];
    const r = await runTestPod(k, {
      namespace: o.namespace,
      runtimeClass: o.runtimeClass,
      image: o.image,
      timeoutS: o.timeoutS,
      pollMs: o.pollMs,
      signal: o.signal,
      daemonSetPodOn: (node) => newestPod(dsPods.filter((p) => p.spec?.nodeName === node))?.metadata.name ?? null,
    });
    report.testPod = r.report;
    add(ID.pod, titles.pod, r.outcome, t);
  }
  return report;
}
