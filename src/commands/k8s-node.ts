// Placeholder: replaced by its implementation in this change.
import type { Command } from "../args.ts";
export const k8sAgentCommand: Command = { name: "k8s agent", summary: "(in progress)", help: "", options: {}, async run() { return 2; } };
export const k8sLabelNodeCommand: Command = { name: "k8s label-node", summary: "(in progress)", help: "", options: {}, async run() { return 2; } };
