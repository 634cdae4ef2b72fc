// Kubernetes: pods opt into gVisor through a RuntimeClass whose handler names the
// runtime registered with containerd/CRI-O ("runsc").
import { existsSync } from "node:fs";
import { run, failureText } from "../platform/proc.ts";
import { which } from "../platform/which.ts";
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
  timeoutMs: 15_000,
  async run({ options }) {
    const kubectl = which("kubectl", options.env.PATH ?? "");
    if (!kubectl) return skip("kubectl is not installed");
    // Without a kubeconfig kubectl only tries localhost:8080; say so instead of waiting on it.
    const kubeconfig = options.env.KUBECONFIG || `${options.env.HOME ?? ""}/.kube/config`;
    if (!options.env.KUBECONFIG && !existsSync(kubeconfig) && !options.env.KUBERNETES_SERVICE_HOST) return skip(`no cluster configured (no ${kubeconfig}, KUBECONFIG unset)`);
    const r = await run(kubectl, ["get", "runtimeclass", "-o", "json", "--request-timeout=5s"], { timeoutMs: 10_000, env: options.env });
    if (r.code !== 0) {
      if (/the server doesn't have a resource type|no matches for kind/i.test(r.stderr)) return skip("this cluster has no RuntimeClass API (Kubernetes < 1.14)");
      const last = r.stderr.trim().split("\n").filter(Boolean).at(-1) ?? failureText(r);
      return skip(`no reachable cluster: ${last.slice(0, 200)}`);
    }
    let items: { metadata?: { name?: string }; handler?: string }[] = [];
    try {
      items = JSON.parse(r.stdout).items ?? [];
    } catch {
      return skip("kubectl printed something that is not JSON");
    }
    const rc = items.find((i) => i.handler === "runsc");
    if (rc) return pass(`RuntimeClass "${rc.metadata?.name}" → handler runsc (pods: spec.runtimeClassName: ${rc.metadata?.name})`, [], { kubectl });
    return fail(`no RuntimeClass has handler runsc${items.length ? ` (found: ${items.map((i) => `${i.metadata?.name}→${i.handler}`).join(", ")})` : ""}`, {
      cause: "Pods select gVisor with spec.runtimeClassName; the RuntimeClass's handler must equal the runtime name in containerd/CRI-O (runsc).",
      fix: { id: "k8s.runtimeclass", summary: "Create the gvisor RuntimeClass (kubectl apply)", command: `kubectl apply -f - <<'EOF'\n${RUNTIMECLASS_YAML}EOF`, automatic: true, confirm: "creates a RuntimeClass in your cluster" },
    }, [], { kubectl });
  },
};
