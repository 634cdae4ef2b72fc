// Kubernetes: pods opt into gVisor through a RuntimeClass whose handler names the
// runtime registered with containerd/CRI-O ("runsc").
import { findKubectl, kubectlJson, noClusterReason } from "../platform/k8s/kubectl.ts";
import { actionFix } from "./fix-actions.ts";
import { fail, pass, skip, type Check } from "./types.ts";

export const RUNTIMECLASS_YAML = `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor
handler: runsc
`;

export const k8sRuntimeClass: Check = {
  id: "k8s.runtimeclass",
  title: "Kubernetes has a RuntimeClass with handler runsc",
  requires: { thisMachine: true },
  timeoutMs: 15_000,
  async run({ options }) {
    const kubectl = findKubectl(options.env);
    if (!kubectl) return skip("kubectl is not installed");
    const noCluster = noClusterReason(options.env);
    if (noCluster) return skip(noCluster);
    const r = await kubectlJson<{ items?: { metadata?: { name?: string }; handler?: string }[] }>(
      { path: kubectl, context: null, env: options.env, requestTimeoutS: 5 },
      ["get", "runtimeclass"],
      { timeoutMs: 10_000 },
    );
    if (!r.ok) {
      if (r.kind === "no-resource-type") return skip("this cluster has no RuntimeClass API (Kubernetes < 1.14)");
      if (r.result.code === 0) return skip("kubectl printed something that is not JSON");
      return skip(`no reachable cluster: ${r.message.slice(0, 200)}`);
    }
    const items = r.value.items ?? [];
    const rc = items.find((i) => i.handler === "runsc");
    if (rc)
      return pass(
        `RuntimeClass "${rc.metadata?.name}" → handler runsc (pods: spec.runtimeClassName: ${rc.metadata?.name})`,
        [],
        { kubectl },
      );
    return fail(
      `no RuntimeClass has handler runsc${items.length ? ` (found: ${items.map((i) => `${i.metadata?.name}→${i.handler}`).join(", ")})` : ""}`,
      {
        cause:
          "Pods select gVisor with spec.runtimeClassName; the RuntimeClass's handler must equal the runtime name in containerd/CRI-O (runsc).",
        fix: actionFix(
          "k8s.runtimeclass",
          "Create the gvisor RuntimeClass (kubectl apply)",
          { kind: "kubectl-apply", manifest: RUNTIMECLASS_YAML },
          { confirm: "creates a RuntimeClass in your cluster" },
        ),
      },
      [],
      { kubectl },
    );
  },
};
