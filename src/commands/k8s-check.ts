// Placeholder: replaced by its implementation in this change.
import type { Command } from "../args.ts";
export const k8sCheckCommand: Command = { name: "k8s check", summary: "(in progress)", help: "", options: {}, async run() { return 2; } };
