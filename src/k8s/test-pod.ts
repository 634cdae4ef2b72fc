// The end-to-end proof: a throwaway pod with the RuntimeClass runs `dmesg`, and its log
// must start with gVisor's banner. When it does not get that far, the pod's status and
// events say why (no runsc handler on the node, no node matches, image not pullable).
import { randomBytes } from "node:crypto";
import { GVISOR_SIGNATURE } from "../../platform/runsc/binaries.ts";
import { sleep } from "../../platform/os/sleep.ts";
import { fail, pass, type Diagnosis, type Outcome } from "../../checks/types.ts";
import { CONTAINERS } from "./contract.ts";
import { kubectl, kubectlErrorLine, kubectlJson, type Kubectl } from "../../platform/k8s/kubectl.ts";
import { podStatusReason, type EventObj, type List, type PodObj } from "./objects.ts";

export interface TestPodOptions {
  namespace: string;
  runtimeClass: string;
  image: string;
  timeoutS: number;
  /** Time between status polls (ms). */
  pollMs?: number;
  /** Aborts the wait (Ctrl-C); the pod is still deleted. */
  signal?: AbortSignal;
  /** The DaemonSet pod on a node, to name it in fixes. */
  daemonSetPodOn?: (node: string) => string | null;
}

export interface TestPodReport {
  name: string;
  namespace: string;
  image: string;
  node: string | null;
  phase: string | null;
  /** kubectl's STATUS column at the end. */
  status: string | null;
  /** Whether the log showed the gVisor banner. */
  signature: boolean;
  /** The first lines of the pod's log. */
  log: string[];
  events: { type: string; reason: string; message: string }[];
  deleted: boolean;
}

const CONTAINER = "dmesg";
const IMAGE_ERRORS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "RegistryUnavailable",
]);
const NO_HANDLER =
  /RuntimeHandler "?[^"\s]*"? not supported|no runtime for "?[^"\s]*"? is configured|failed to get sandbox runtime|unknown runtime handler/i;
const NO_NODE = /didn't match Pod's node affinity\/selector|node\(s\) didn't match/i;

export function testPodManifest(name: string, o: TestPodOptions): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: o.namespace,
      labels: { "app.kubernetes.io/name": "gvisor-doctor-check", "app.kubernetes.io/managed-by": "gvisor-doctor" },
    },
    spec: {
      runtimeClassName: o.runtimeClass,
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: CONTAINER,
          image: o.image,
          command: ["dmesg"],
          resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
        },
      ],
    },
  };
}

/** Why the pod will not get further, from its status and events; null while it may still. */
function stuckReason(pod: PodObj | null, events: EventObj[]): string | null {
  const waiting = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.waiting?.reason;
  if (waiting && IMAGE_ERRORS.has(waiting)) return waiting;
  if (events.some((e) => NO_HANDLER.test(e.message ?? ""))) return "no-handler";
  if (events.some((e) => e.reason === "FailedScheduling" && NO_NODE.test(e.message ?? ""))) return "no-node";
  return null;
}

/** Run the test pod and judge it; the pod is deleted whatever happens. */
export async function runTestPod(k: Kubectl, o: TestPodOptions): Promise<{ outcome: Outcome; report: TestPodReport }> {
  const name = `gvisor-doctor-check-${randomBytes(3).toString("hex")}`;
  const ns = ["-n", o.namespace];
  const report: TestPodReport = {
    name,
    namespace: o.namespace,
    image: o.image,
    node: null,
    phase: null,
    status: null,
    signature: false,
    log: [],
    events: [],
    deleted: false,
  };
  const created = await kubectl(k, ["create", "-f", "-", ...ns], { input: JSON.stringify(testPodManifest(name, o)) });
  if (created.code !== 0) return { outcome: createFailure(kubectlErrorLine(created), o), report };
  let pod: PodObj | null = null;
  let events: EventObj[] = [];
  let stuck: string | null = null;
  let timedOut = false;
  try {
    const deadline = Date.now() + o.timeoutS * 1000;
    for (let poll = 0; ; poll++) {
      const r = await kubectlJson<PodObj>(k, ["get", "pod", name, ...ns]);
      if (r.ok) pod = r.value;
      const phase = pod?.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") break;
      // A pending pod's events tell early when it can never start here.
      if (phase === "Pending" || !phase) {
        events = await podEvents(k, name, o.namespace);
        stuck = stuckReason(pod, events);
        if (stuck) break;
      }
      if (o.signal?.aborted) break;
      if (Date.now() >= deadline) {
        timedOut = true;
        break;
      }
      await sleep(o.pollMs ?? 1000);
    }
    report.node = pod?.spec?.nodeName ?? null;
    report.phase = pod?.status?.phase ?? null;
    report.status = pod ? podStatusReason(pod) : null;
    const ran = report.phase === "Succeeded" || report.phase === "Failed";
    if (ran) {
      const logs = await kubectl(k, ["logs", name, "-c", CONTAINER, ...ns]);
      const text = logs.code === 0 ? logs.stdout : "";
      report.log = text.split("\n").filter(Boolean).slice(0, 5);
      report.signature = text.includes(GVISOR_SIGNATURE);
    } else if (!stuck) {
      events = await podEvents(k, name, o.namespace);
    }
    report.events = events.map((e) => ({
      type: e.type ?? "",
      reason: e.reason ?? "",
      message: (e.message ?? "").trim(),
    }));
    return { outcome: verdict(report, o, { stuck, timedOut, interrupted: !!o.signal?.aborted }), report };
  } finally {
    const del = await kubectl(k, ["delete", "pod", name, ...ns, "--wait=false", "--ignore-not-found"]);
    report.deleted = del.code === 0;
  }
}

async function podEvents(k: Kubectl, name: string, namespace: string): Promise<EventObj[]> {
  const r = await kubectlJson<List<EventObj>>(k, [
    "get",
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.name=${name}`,
  ]);
  return r.ok ? (r.value.items ?? []) : [];
}

const imageFix = (o: TestPodOptions): Diagnosis => ({
  cause: `The node could not pull ${o.image} (no registry access, a private registry, or a typo).`,
  fix: {
    id: "k8s.pod-image",
    summary: "Use an image your nodes have or can pull (it needs a dmesg binary, e.g. a busybox mirror)",
    command: `gvisor-doctor k8s check --image <registry>/busybox:1.36`,
    automatic: false,
  },
});

function createFailure(line: string, o: TestPodOptions): Outcome {
  if (/RuntimeClass "?[^"\s]*"? not found/i.test(line)) {
    return fail(
      `the test pod was rejected: RuntimeClass "${o.runtimeClass}" does not exist`,
      {
        cause:
          "Pods name a RuntimeClass in spec.runtimeClassName; admission rejects a pod whose RuntimeClass is missing.",
        fix: {
          id: "k8s.apply-manifests",
          summary: "Apply the manifests (they create the RuntimeClass)",
          command: "gvisor-doctor k8s manifests | kubectl apply -f -",
          automatic: false,
        },
      },
      [line],
    );
  }
  if (/namespaces? "?[^"\s]*"? not found/i.test(line)) {
    return fail(
      `the test pod cannot be created: namespace "${o.namespace}" does not exist`,
      {
        cause: "The test pod is created in --namespace (default: the DaemonSet's namespace).",
        fix: {
          id: "k8s.pod-namespace",
          summary: "Apply the manifests, or run the test pod in another namespace",
          command: "gvisor-doctor k8s check --namespace default",
          automatic: false,
        },
      },
      [line],
    );
  }
  if (/forbidden/i.test(line)) {
    return fail(
      `the test pod was refused: ${line}`,
      {
        cause: "RBAC or an admission policy (Pod Security, a policy engine) refused the pod.",
        fix: {
          id: "k8s.pod-forbidden",
          summary: "Allow creating pods in the namespace, or pick one where you may (--namespace)",
          command: null,
          automatic: false,
        },
      },
      [line],
    );
  }
  return fail(`the test pod could not be created: ${line}`, null, [line]);
}

function verdict(
  r: TestPodReport,
  o: TestPodOptions,
  how: { stuck: string | null; timedOut: boolean; interrupted: boolean },
): Outcome {
  const where = r.node ? ` on node ${r.node}` : "";
  const eventLines = r.events.map((e) => `event ${e.reason}: ${e.message}`);
  if (r.signature)
    return pass(
      `a pod with runtimeClassName ${o.runtimeClass} ran under gVisor${where} (dmesg: ${r.log.find((l) => l.includes(GVISOR_SIGNATURE))?.trim()})`,
      [`pod ${o.namespace}/${r.name}, image ${o.image}`],
    );
  if (r.phase === "Succeeded" || r.phase === "Failed") {
    return fail(
      `the test pod ran${where}, but not under gVisor: no "${GVISOR_SIGNATURE}" in its dmesg`,
      {
        cause: `The node started the pod with another runtime: its containerd/CRI-O maps the handler "runsc" to something that is not runsc (e.g. runc), so ${o.runtimeClass} pods are not isolated there.`,
        fix: {
          id: "k8s.node-check",
          summary: "Read that node's last check (its agent's log line) and fix the runtime registration there",
          command: dsPodCommand(
            o,
            r.node,
            (pod) => `kubectl -n ${o.namespace} logs ${pod} -c ${CONTAINERS.agent} --tail=1`,
          ),
          automatic: false,
        },
      },
      [`log: ${r.log.join(" | ") || "(empty)"}`, ...eventLines],
    );
  }
  if (how.stuck && IMAGE_ERRORS.has(how.stuck))
    return fail(`the test pod cannot start${where}: ${how.stuck} for ${o.image}`, imageFix(o), eventLines);
  if (how.stuck === "no-handler") {
    const msg = r.events.find((e) => NO_HANDLER.test(e.message))?.message ?? "";
    return fail(
      `node ${r.node ?? "?"} has no runsc runtime: ${shortHandlerMessage(msg)}`,
      {
        cause:
          "containerd/CRI-O on that node does not know the RuntimeClass's handler runsc: it is not registered, or registered but the runtime was not restarted (or kubelet talks to another runtime). Yet the pod was scheduled there, so the node is labelled or the RuntimeClass has no nodeSelector.",
        fix: {
          id: "k8s.node-runtime",
          summary:
            "Re-run the DaemonSet's install on that node (it registers runsc and restarts the runtime): delete its pod",
          command: dsPodCommand(o, r.node, (pod) => `kubectl -n ${o.namespace} delete pod ${pod}`),
          automatic: false,
        },
      },
      eventLines,
    );
  }
  if (how.stuck === "no-node") {
    const msg = r.events.find((e) => e.reason === "FailedScheduling")?.message ?? "";
    return fail(
      `no node can take a ${o.runtimeClass} pod: ${msg}`,
      {
        cause:
          "The RuntimeClass's scheduling.nodeSelector matches no schedulable node: no node carries the gvisor.dev/runsc label with the selected version (yet).",
        fix: {
          id: "k8s.label-nodes",
          summary:
            "See the node findings above for why nodes are not labelled; the agent labels a node once its check passes",
          command: null,
          automatic: false,
        },
      },
      eventLines,
    );
  }
  const state = `${r.status ?? "not found"}${where}`;
  if (how.interrupted)
    return fail(`interrupted while the test pod was ${state} (the pod is deleted)`, null, eventLines);
  return fail(
    `the test pod did not finish within ${o.timeoutS} s (${state})`,
    {
      cause: "The pod was still pending or running when the time was up; its events (below) usually say why.",
      fix: {
        id: "k8s.pod-timeout",
        summary: "Wait longer (a first image pull can be slow), or read the events",
        command: `gvisor-doctor k8s check --timeout ${o.timeoutS * 3}`,
        automatic: false,
      },
    },
    eventLines,
  );
}

/** A command about the DaemonSet pod on `node`, when there is one. */
function dsPodCommand(o: TestPodOptions, node: string | null, cmd: (pod: string) => string): string | null {
  const pod = node ? o.daemonSetPodOn?.(node) : null;
  return pod ? cmd(pod) : null;
}

/** `Failed to create pod sandbox: rpc error: … RuntimeHandler "runsc" not supported` → the last part. */
function shortHandlerMessage(msg: string): string {
  const m =
    msg.match(
      /RuntimeHandler "?[^"\s]*"? not supported|no runtime for "?[^"\s]*"? is configured|unknown runtime handler/i,
    ) ?? msg.match(NO_HANDLER);
  return m ? msg.slice(msg.indexOf(m[0])).trim() : msg;
}
