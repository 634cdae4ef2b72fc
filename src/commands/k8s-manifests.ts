// Placeholder: replaced by its implementation in this change.
import type { Command } from "../args.ts";
export const k8sManifestsCommand: Command = { name: "k8s manifests", summary: "(in progress)", help: "", options: {}, async run() { return 2; } };
