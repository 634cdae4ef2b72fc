// A Kubernetes node seen through --host-root: kubelet runs pods through containerd or
// CRI-O, so one of them must run there, or no RuntimeClass can ever reach gVisor on it
// (every engine check would only be skipped, and the node would look healthy).
import { distributionOf } from "../platform/engines/containerd/distributions.ts";
import { ENGINES } from "../platform/engines/index.ts";
import { HOST_ROOT_ENGINES } from "../platform/engines/types.ts";
import { fail, pass, type Check } from "./types.ts";

export const nodeRuntime: Check = {
  id: "node.runtime",
  title: "The node runs a Kubernetes runtime gVisor is registered with (containerd or CRI-O)",
  requires: { hostRootOnly: true },
  run({ facts }) {
    // k3s, RKE2, k0s, microk8s: their own containerd, and the file runsc is registered in.
    const dist = distributionOf(facts.engines?.containerd.detection);
    const running = HOST_ROOT_ENGINES.flatMap((n) => {
      const d = facts.engines?.[n].detection;
      const what = n === "containerd" && dist ? `${dist.title}'s containerd` : ENGINES[n].title;
      return d?.running ? [`${what} (pid ${d.pid}, ${d.configPath})`] : [];
    });
    const data = { distribution: dist };
    if (running.length) {
      const where = dist
        ? `; runsc is registered in ${dist.target} (${dist.title} builds its containerd config from it)`
        : "";
      return pass(`${running.join(" and ")} runs on the node${where}; the runsc runtime is checked below`, [], data);
    }
    return fail(`neither containerd nor CRI-O runs on the node at ${facts.hostRoot}`, {
      cause:
        "kubelet starts pods through containerd or CRI-O; with neither running, no RuntimeClass handler (runsc) can be served here, whatever is installed.",
      fix: {
        id: "node.start-runtime",
        summary:
          "Start the node's container runtime (systemctl start containerd), or check that --host-root names the node's / and the pod has hostPID",
        command: null,
        automatic: false,
      },
    });
  },
};
