// The slices of Kubernetes objects `k8s check` reads (as `kubectl get -o json` prints
// them), and what kubectl's STATUS column would say about a pod.

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface List<T> {
  items?: T[];
}

export interface RuntimeClassObj {
  metadata: Meta;
  handler?: string;
  scheduling?: { nodeSelector?: Record<string, string>; tolerations?: Toleration[] } | null;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface NodeObj {
  metadata: Meta;
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: {
    conditions?: { type: string; status: string }[];
    nodeInfo?: { containerRuntimeVersion?: string; kubeletVersion?: string; operatingSystem?: string };
  };
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; reason?: string; signal?: number; message?: string };
}

export interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface PodObj {
  metadata: Meta;
  spec?: { nodeName?: string; initContainers?: { name: string }[]; containers?: { name: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface DaemonSetObj {
  metadata: Meta;
  spec?: {
    template?: { spec?: { nodeSelector?: Record<string, string>; tolerations?: Toleration[]; affinity?: unknown } };
  };
  status?: {
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    numberUnavailable?: number;
  };
}

export interface EventObj {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { name?: string; kind?: string };
}

/**
 * kubectl's STATUS column for a pod (its printer's rules, shortened): Init:CrashLoopBackOff,
 * Init:1/2, PodInitializing, Running, Completed, ImagePullBackOff, Terminating, …
 */
export function podStatusReason(pod: PodObj): string {
  const st = pod.status ?? {};
  let reason = st.reason || st.phase || "Unknown";
  const inits = st.initContainerStatuses ?? [];
  const initCount = pod.spec?.initContainers?.length ?? inits.length;
  let initializing = false;
  for (let i = 0; i < inits.length; i++) {
    const s = inits[i].state ?? {};
    if (s.terminated && s.terminated.exitCode === 0) continue;
    if (s.terminated)
      reason = s.terminated.reason
        ? `Init:${s.terminated.reason}`
        : s.terminated.signal
          ? `Init:Signal:${s.terminated.signal}`
          : `Init:ExitCode:${s.terminated.exitCode}`;
    else if (s.waiting?.reason && s.waiting.reason !== "PodInitializing") reason = `Init:${s.waiting.reason}`;
    else reason = `Init:${i}/${initCount}`;
    initializing = true;
    break;
  }
  if (!initializing) {
    let running = false;
    for (const c of [...(st.containerStatuses ?? [])].reverse()) {
      const s = c.state ?? {};
      if (s.waiting?.reason) reason = s.waiting.reason;
      else if (s.terminated)
        reason =
          s.terminated.reason ||
          (s.terminated.signal ? `Signal:${s.terminated.signal}` : `ExitCode:${s.terminated.exitCode}`);
      else if (s.running && c.ready) running = true;
    }
    if (running && reason === "Completed") reason = "Running";
  }
  if (pod.metadata.deletionTimestamp) reason = "Terminating";
  return reason;
}

/** The container status named `name` among the pod's init and app containers. */
export function containerStatus(pod: PodObj, name: string): ContainerStatus | undefined {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find(
    (c) => c.name === name,
  );
}

/** Has this container run at least once (so it has a log)? */
export function hasRun(s: ContainerStatus | undefined): boolean {
  return !!(s && (s.state?.running || s.state?.terminated || s.lastState?.terminated));
}

const tolerates = (t: Toleration, taint: Taint) =>
  (!t.effect || t.effect === taint.effect) &&
  (t.key === undefined || t.key === ""
    ? t.operator === "Exists"
    : t.key === taint.key && (t.operator === "Exists" || (t.value ?? "") === (taint.value ?? "")));

/** The node's scheduling taints that none of the tolerations tolerates. */
export function untoleratedTaints(node: NodeObj, tolerations: Toleration[]): Taint[] {
  return (node.spec?.taints ?? []).filter(
    (taint) => taint.effect !== "PreferNoSchedule" && !tolerations.some((t) => tolerates(t, taint)),
  );
}

export const taintText = (t: Taint) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`;

export function nodeReady(node: NodeObj): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}

/** The newest of the pods, preferring those not being deleted. */
export function newestPod(pods: PodObj[]): PodObj | undefined {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  const pool = live.length ? live : pods;
  return [...pool].sort((a, b) =>
    (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? ""),
  )[0];
}
