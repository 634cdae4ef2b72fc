// `gvisor-doctor k8s manifests`: print the Kubernetes objects that put gVisor on every
// node. Flags are checked in src/k8s/manifest-options.ts, the objects built in
// src/k8s/manifests.ts; this file only wires them to the CLI.
import type { Command } from "../args.ts";
import { EXIT } from "../../platform/os/errors.ts";
import { VERSION } from "../version.ts";

export const K8S_MANIFESTS_HELP = `Usage: gvisor-doctor k8s manifests --version YYYYMMDD[.N] [options]

Print the Kubernetes objects that put gVisor on every node, as multi-document
YAML for 'kubectl apply -f -' (with --json: one List document):

  Namespace gvisor-system (Pod Security: privileged), ServiceAccount gvisor-doctor
  ClusterRole + ClusterRoleBinding gvisor-doctor-node-labeler: get, patch on nodes
  DaemonSet gvisor-doctor: one pod per node (privileged, hostPID, the node's / at
    /host, every taint tolerated, system-node-critical, one node at a time):
      init  install --host-root /host --version V --restart
              download, verify and install gVisor V on the node, register runsc
              with containerd/CRI-O and restart them
      init  check --host-root /host --json      prove it before going on
      agent k8s agent --host-root /host --interval 300
              re-checks every 5 minutes; labels the node gvisor.dev/runsc=V while
              the checks pass and removes the label when one fails; ready = the
              last check passed (a rollout stops at a node that fails)
  RuntimeClass gvisor: handler runsc, only on nodes labelled gvisor.dev/runsc=V

Options:
  --version V           Required: the gVisor release every node installs, YYYYMMDD or
                        YYYYMMDD.N. It is also the node label value and the RuntimeClass
                        selector, so it must not move: latest and nightly are refused
  --namespace NS        Namespace of the ServiceAccount and DaemonSet (default gvisor-system)
  --no-namespace        Do not emit the Namespace object (it exists, e.g. kube-system)
  --image IMG           The installer image (default ghcr.io/gvisor-doctor/gvisor-doctor:<this version>);
                        build your own from examples/k8s/Dockerfile
  --mirror URL          Where the nodes download gVisor from (an http(s) URL with the
                        release bucket's layout; default: the gVisor bucket)
  --node-selector K=V   Install only on nodes with this label; repeatable
  --runtime-class NAME  The RuntimeClass name (default gvisor): pods select gVisor with
                        spec.runtimeClassName: NAME
  --runtime-arg ARG     A runsc flag for the registered runtime, repeatable. Write it with
                        '=' when ARG starts with '-': --runtime-arg=--network=none
  --admission-policy    Also emit a ValidatingAdmissionPolicy + binding (Kubernetes >= 1.30)
                        that lets the agent change only the gvisor.dev/runsc label, and
                        only on the node its own pod runs on
  --distribution D      k3s, rke2, k0s, microk8s or auto (default): the nodes' Kubernetes
                        distribution. The node's containerd is found on each node either way
                        (k3s/RKE2: runsc goes into config.toml.tmpl, k0s: /etc/k0s/containerd.d/,
                        microk8s: args/containerd-template.toml); naming it also mounts its
                        containerd config and socket directories under /host
  --json                One JSON document: {"schemaVersion":1,"apiVersion":"v1","kind":"List","items":[…]}

Notes:
  - RBAC cannot limit a ServiceAccount to "its own" node: the ClusterRole allows
    get/patch on every node. --admission-policy closes that gap.
  - Upgrading: print again with the new --version and apply. The DaemonSet rolls one
    node at a time, and gVisor pods are scheduled only onto nodes already proved with
    the new release (pods already running stay where they are).
  - system-node-critical outside kube-system: some clusters (GKE) admit it only with a
    ResourceQuota for that priority class; --namespace kube-system --no-namespace avoids it.
  - The output is deterministic; its first lines say how it was made.

Exit codes: 0 printed · 2 usage error (nothing printed)

Examples:
  gvisor-doctor k8s manifests --version 20260817.0 | kubectl apply -f -
  gvisor-doctor k8s manifests --version 20260817.0 --namespace kube-system --no-namespace \\
      --node-selector pool=sandbox --runtime-arg=--network=none --admission-policy
  gvisor-doctor k8s manifests --version 20260817.0 --json | jq -r '.items[].kind'`;

export const k8sManifestsCommand: Command = {
  name: "k8s manifests",
  summary: "Print the DaemonSet, RBAC and RuntimeClass that put gVisor on every node",
  help: K8S_MANIFESTS_HELP,
  options: {
    version: { type: "string" },
    namespace: { type: "string" },
    "no-namespace": { type: "boolean" },
    image: { type: "string" },
    mirror: { type: "string" },
    "node-selector": { type: "string", multiple: true },
    "runtime-class": { type: "string" },
    "runtime-arg": { type: "string", multiple: true },
    "admission-policy": { type: "boolean" },
    distribution: { type: "string" },
  },
  async run(p, io) {
    // Loaded on use: the YAML renderer costs the other commands nothing at startup.
    const [{ manifestOptions }, { renderManifests }] = await Promise.all([
      import("../k8s/manifest-options.ts"),
      import("../k8s/manifests.ts"),
    ]);
    io.stdout(renderManifests(manifestOptions(p.values, VERSION), io.json ? "json" : "yaml"));
    return EXIT.OK;
  },
};
