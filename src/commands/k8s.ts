// `gvisor-doctor k8s`: gVisor on every node of a Kubernetes cluster. A command group:
// the subcommands live in their own files (k8s-manifests.ts, k8s-check.ts, k8s-node.ts).
import type { Command } from "../args.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { k8sCheckCommand } from "./k8s-check.ts";
import { k8sManifestsCommand } from "./k8s-manifests.ts";
import { k8sAgentCommand, k8sLabelNodeCommand } from "./k8s-node.ts";

const SUBCOMMANDS: Command[] = [k8sManifestsCommand, k8sCheckCommand, k8sAgentCommand, k8sLabelNodeCommand];

export const K8S_HELP = `Usage: gvisor-doctor k8s <subcommand> [options]

Put gVisor on every node of a Kubernetes cluster, and prove it. A DaemonSet runs
this binary on each node ('install --host-root /host', then 'check --host-root /host');
a node gets the label gvisor.dev/runsc=<version> only after its check passed, and the
RuntimeClass 'gvisor' schedules pods only onto labelled nodes.

Subcommands:
${SUBCOMMANDS.map((c) => `  ${c.name.replace(/^k8s /, "").padEnd(11)} ${c.summary}`).join("\n")}

'gvisor-doctor k8s <subcommand> --help' shows its options.

Examples:
  gvisor-doctor k8s manifests --version 20260817.0 | kubectl apply -f -
  gvisor-doctor k8s check`;

export const k8sCommand: Command = {
  name: "k8s",
  summary: "Kubernetes: node-installer manifests, cluster checks",
  help: K8S_HELP,
  options: {},
  subcommands: SUBCOMMANDS,
  async run() {
    throw new UsageError("'k8s' needs a subcommand", "see: gvisor-doctor k8s --help");
  },
};
