// One node as `k8s check` sees it: its gvisor.dev/runsc label against the RuntimeClass's
// selector and, for a node without it, why: its DaemonSet pod's state and its last check
// (the agent's last log line, or the check init container's report while the pod is stuck
// in init), the install's last lines, or why the DaemonSet does not run there (taints).
import { fail, pass, warn, type Diagnosis, type Outcome } from "../../checks/types.ts";
import { failingChecks, isAgentLine, type AgentLine, type CheckDoc, type FailingCheck } from "./agent.ts";
import { CONTAINERS, DAEMONSET_NAME, NODE_LABEL_KEY } from "./contract.ts";
import { kubectl, type Kubectl, type KubectlJson } from "../../platform/k8s/kubectl.ts";
import {
  containerStatus,
  hasRun,
  newestPod,
  nodeReady,
  podStatusReason,
  taintText,
  untoleratedTaints,
  type DaemonSetObj,
  type List,
  type NodeObj,
  type PodObj,
} from "./objects.ts";

/** What a node's finding needs to know about the check's options. */
export interface NodeContext {
  namespace: string;
  runtimeClass: string;
  /** The value the RuntimeClass selects on gvisor.dev/runsc (null: it has no such selector). */
  selector: string | null;
}

export interface NodeReport {
  name: string;
  ready: boolean;
  /** The node's gvisor.dev/runsc value, null when it has none. */
  label: string | null;
  /** Whether the RuntimeClass's nodeSelector selects this node. */
  selected: boolean;
  pod: { name: string; status: string; ready: boolean } | null;
  /** The node's last check, from the agent's last line or the check init container. */
  lastCheck: {
    source: "agent" | "check";
    time: string | null;
    ok: boolean;
    failing: FailingCheck[];
    label: AgentLine["label"] | null;
  } | null;
  /** The install init container's last lines, when the install fails. */
  installLog: string[] | null;
  /** Taints the DaemonSet does not tolerate (why it has no pod there). */
  untoleratedTaints: string[];
}

/** Apply the manifests (of `version`, when known): the fix for a missing or mismatched piece. */
export const manifestsFix = (version: string | null, summary: string): Diagnosis["fix"] => ({
  id: "k8s.apply-manifests",
  summary,
  command: `gvisor-doctor k8s manifests --version ${version ?? "<version>"} | kubectl apply -f -`,
  automatic: false,
});

/** The last agent round in a log tail (kubectl logs mixes in stderr, so look for the JSON line). */
export function lastAgentLine(log: string): AgentLine | null {
  for (const line of log.split("\n").reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const v = JSON.parse(t);
      if (isAgentLine(v)) return v;
    } catch {}
  }
  return null;
}

/** The check --json document in the check container's log (pretty-printed, maybe after stderr lines). */
export function checkDocInLog(log: string): CheckDoc | null {
  const tryParse = (s: string) => {
    try {
      const v = JSON.parse(s);
      return v && typeof v === "object" && typeof v.ok === "boolean" ? (v as CheckDoc) : null;
    } catch {
      return null;
    }
  };
  const whole = tryParse(log);
  if (whole) return whole;
  const start = log.search(/^\{/m);
  const end = log.lastIndexOf("}");
  return start >= 0 && end > start ? tryParse(log.slice(start, end + 1)) : null;
}

async function logsOf(k: Kubectl, ns: string, pod: string, container: string, tail?: number): Promise<string | null> {
  const r = await kubectl(k, ["logs", "-n", ns, pod, "-c", container, ...(tail ? [`--tail=${tail}`] : [])]);
  return r.code === 0 ? r.stdout : null;
}

const failingLines = (failing: FailingCheck[]) =>
  failing.flatMap((f) => [
    `${f.id}: ${f.message}`,
    ...(f.fix || f.command ? [`  fix: ${[f.fix, f.command].filter(Boolean).join(": ")}`] : []),
  ]);

/** What one node says, and its finding. */
export async function inspectNode(
  k: Kubectl,
  o: NodeContext,
  node: NodeObj,
  pods: KubectlJson<List<PodObj>>,
  ds: DaemonSetObj | null,
): Promise<{ node: NodeReport; outcome: Outcome }> {
  const name = node.metadata.name;
  const label = node.metadata.labels?.[NODE_LABEL_KEY] ?? null;
  const sel = o.selector;
  const pod = newestPod((pods.ok ? (pods.value.items ?? []) : []).filter((p) => p.spec?.nodeName === name));
  const tolerations = ds?.spec?.template?.spec?.tolerations ?? [];
  const nr: NodeReport = {
    name,
    ready: nodeReady(node),
    label,
    selected: sel === null ? label !== null : label === sel,
    pod: pod
      ? {
          name: pod.metadata.name,
          status: podStatusReason(pod),
          ready: !!containerStatus(pod, CONTAINERS.agent)?.ready,
        }
      : null,
    lastCheck: null,
    installLog: null,
    untoleratedTaints: untoleratedTaints(node, tolerations).map(taintText),
  };
  const notReady = nr.ready ? "" : " (node NotReady)";
  if (label !== null) {
    if (sel !== null && label !== sel) {
      return {
        node: nr,
        outcome: warn(
          `${NODE_LABEL_KEY}=${label}, but RuntimeClass "${o.runtimeClass}" selects ${sel}: gVisor pods are not scheduled here${notReady}`,
          {
            cause:
              "The node was labelled by an install of another version than the RuntimeClass selects (a rollout in progress, or manifests of two versions applied).",
            fix: manifestsFix(
              sel,
              "Apply the manifests of one version: the DaemonSet reinstalls, re-checks and relabels the node",
            ),
          },
        ),
      };
    }
    return {
      node: nr,
      outcome: pass(`${NODE_LABEL_KEY}=${label}${nr.pod ? ` (pod ${nr.pod.name} ${nr.pod.status})` : ""}${notReady}`),
    };
  }
  const noLabel = `no ${NODE_LABEL_KEY} label`;
  if (!ds) return { node: nr, outcome: warn(`${noLabel} (no DaemonSet labels nodes)${notReady}`) };
  if (!pods.ok)
    return {
      node: nr,
      outcome: warn(`${noLabel}; its DaemonSet pod is unknown: cannot list pods in ${o.namespace}: ${pods.message}`),
    };
  if (!pod) {
    const taints = nr.untoleratedTaints;
    const dsSel = Object.entries(ds.spec?.template?.spec?.nodeSelector ?? {}).filter(
      ([key, v]) => node.metadata.labels?.[key] !== v,
    );
    const cause = taints.length
      ? `The DaemonSet does not tolerate the node's taint${taints.length > 1 ? "s" : ""} ${taints.join(", ")}.`
      : dsSel.length
        ? `The node lacks the DaemonSet's nodeSelector ${dsSel.map(([key, v]) => `${key}=${v}`).join(", ")}.`
        : "The DaemonSet controller has not placed a pod here (a new node, affinity, or the pod was evicted).";
    return {
      node: nr,
      outcome: warn(`${noLabel}: the DaemonSet ${DAEMONSET_NAME} does not run on this node${notReady}`, {
        cause: `${cause} gVisor pods are not scheduled here, which is right if this node is not meant to run them.`,
        fix: {
          id: "k8s.daemonset-placement",
          summary: taints.length
            ? "If the node should run gVisor pods, add a toleration for its taints to the DaemonSet"
            : "Check the DaemonSet's nodeSelector and affinity",
          command: `kubectl -n ${o.namespace} describe daemonset ${DAEMONSET_NAME}`,
          automatic: false,
        },
      }),
    };
  }
  const podText = `pod ${pod.metadata.name} ${nr.pod!.status}`;
  const rerun = {
    id: "k8s.rerun-node",
    summary:
      "Fix what the failing checks say on the node (below), then re-run its install and check by deleting the pod",
    command: `kubectl -n ${o.namespace} delete pod ${pod.metadata.name}`,
    automatic: false,
  };
  // The agent runs: its last line is the newest word on this node.
  if (hasRun(containerStatus(pod, CONTAINERS.agent))) {
    const line = lastAgentLine((await logsOf(k, o.namespace, pod.metadata.name, CONTAINERS.agent, 20)) ?? "");
    if (line) {
      nr.lastCheck = { source: "agent", time: line.time, ok: line.ok, failing: line.failing, label: line.label };
      if (!line.ok)
        return {
          node: nr,
          outcome: fail(
            `${noLabel}: the node's check fails (agent, ${line.time}; ${podText})${notReady}`,
            {
              cause: "The agent removes the label while the node's check fails, so gVisor pods are not sent here.",
              fix: rerun,
            },
            failingLines(line.failing),
          ),
        };
      if (line.label.action === "failed")
        return {
          node: nr,
          outcome: fail(`${noLabel}: the check passes, but the agent cannot label the node: ${line.label.error}`, {
            cause: "The agent writes the label through the API with its ServiceAccount; that failed.",
            fix: {
              id: "k8s.agent-rbac",
              summary: "Give the DaemonSet's ServiceAccount get and patch on nodes (the manifests' ClusterRole)",
              command: null,
              automatic: false,
            },
          }),
        };
      if (line.label.value === null)
        return {
          node: nr,
          outcome: fail(`${noLabel}: the check passes, but ${line.label.error ?? "no installed release was found"}`, {
            cause: "The agent labels the node with the release live under the install prefix on the node.",
            fix: rerun,
          }),
        };
      return {
        node: nr,
        outcome: warn(
          `${noLabel}, though the agent set ${line.label.key}=${line.label.value} at ${line.time}: removed since by someone else?`,
        ),
      };
    }
    return { node: nr, outcome: warn(`${noLabel} yet: the agent has not finished a round (${podText})${notReady}`) };
  }
  // Stuck in init: the check container's report says why.
  if (hasRun(containerStatus(pod, CONTAINERS.check))) {
    const doc = checkDocInLog((await logsOf(k, o.namespace, pod.metadata.name, CONTAINERS.check)) ?? "");
    if (doc) {
      const failing = failingChecks(doc);
      nr.lastCheck = { source: "check", time: null, ok: doc.ok, failing, label: null };
      if (!doc.ok)
        return {
          node: nr,
          outcome: fail(
            `${noLabel}: the node's check fails (${podText})${notReady}`,
            {
              cause:
                "The DaemonSet's check init container fails on this node, so the pod never starts its agent and the node is not labelled.",
              fix: rerun,
            },
            failingLines(failing),
          ),
        };
      return { node: nr, outcome: warn(`${noLabel} yet: the check passed; the agent is starting (${podText})`) };
    }
  }
  const install = containerStatus(pod, CONTAINERS.install);
  const installFailed = [install?.state?.terminated, install?.lastState?.terminated].some((t) => t && t.exitCode !== 0);
  if (installFailed && !hasRun(containerStatus(pod, CONTAINERS.check))) {
    const log = (await logsOf(k, o.namespace, pod.metadata.name, CONTAINERS.install, 5)) ?? "";
    nr.installLog = log.split("\n").filter(Boolean);
    return {
      node: nr,
      outcome: fail(
        `${noLabel}: the install fails on this node (${podText})${notReady}`,
        {
          cause: "The DaemonSet's install init container fails; its last lines are below.",
          fix: { ...rerun, summary: "Fix what the install says (below), then re-run it by deleting the pod" },
        },
        nr.installLog,
      ),
    };
  }
  if (/ImagePull|ErrImage|InvalidImageName/.test(nr.pod!.status)) {
    return {
      node: nr,
      outcome: fail(`${noLabel}: the node cannot pull the gvisor-doctor image (${podText})`, {
        cause:
          "The kubelet cannot pull the DaemonSet's image (registry access, a private registry without imagePullSecrets, or a wrong tag).",
        fix: {
          id: "k8s.daemonset-image",
          summary: "Check the image and pull access",
          command: `kubectl -n ${o.namespace} describe pod ${pod.metadata.name}`,
          automatic: false,
        },
      }),
    };
  }
  return { node: nr, outcome: warn(`${noLabel} yet: ${podText} (installing or starting)${notReady}`) };
}
