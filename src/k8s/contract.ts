// The names the node-installer DaemonSet, the agent and `k8s check` agree on. They are
// part of the public contract (README "Kubernetes"): `k8s manifests` writes them, the
// agent acts on them, `k8s check` looks for them.

/** Node label the agent sets to the installed gVisor version once the node's check passed. */
export const NODE_LABEL_KEY = "gvisor.dev/runsc";
export const DEFAULT_NAMESPACE = "gvisor-system";
export const DAEMONSET_NAME = "gvisor-doctor";
export const DEFAULT_RUNTIME_CLASS = "gvisor";
/** The RuntimeClass handler: the runtime name registered with containerd/CRI-O. */
export const RUNTIME_HANDLER = "runsc";
/** Pod labels of the DaemonSet's pods (the selector `k8s check` lists them by). */
export const POD_LABELS = {
  "app.kubernetes.io/name": "gvisor-doctor",
  "app.kubernetes.io/component": "node-installer",
} as const;
/** Container names in the DaemonSet pod, in the order they run. */
export const CONTAINERS = { install: "install", check: "check", agent: "agent" } as const;
/** Where the host's root file system is mounted in the DaemonSet pod. */
export const HOST_ROOT = "/host";
/** Where a pod's service account token and CA are mounted. */
export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The agent's readiness probe fails once the last passed round is older than this many intervals. */
export const STALE_INTERVALS = 3;
