// A Kubernetes node seen through --host-root: kubelet runs pods through containerd or
// CRI-O, so one of them must run there, or no RuntimeClass can ever reach gVisor on it
// (every engine check would only be skipped, and the node would look healthy).
import { fail, pass, type Check } from "./types.ts";

export const nodeRuntime: Check = {
  id: "node.runtime",
  title: "The node runs a Kubernetes runtime gVisor is registered with (containerd or CRI-O)",
  requires: { hostRootOnly: true },
  run({ facts }) {
    const running = (["containerd", "crio"] as const).flatMap((n) => {
      const d = facts.engines?.[n].detection;
      return d?.running ? [`${n === "crio" ? "CRI-O" : "containerd"} (pid ${d.pid}, ${d.configPath})`] : [];
    });
    if (running.length) return pass(`${running.join(" and ")} runs on the node; the runsc runtime is checked below`);
    return fail(`neither containerd nor CRI-O runs on the node at ${facts.hostRoot}`, {
      cause: "kubelet starts pods through containerd or CRI-O; with neither running, no RuntimeClass handler (runsc) can be served here, whatever is installed.",
      fix: { id: "node.start-runtime", summary: "Start the node's container runtime (systemctl start containerd), or check that --host-root names the node's / and the pod has hostPID", command: null, automatic: false },
    });
  },
};
