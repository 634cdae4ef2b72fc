// gvisor-doctor as a library (ESM, typed; Bun and Deno load this file, Node loads the
// bundle `npm run build:lib` makes in dist/lib.js). See docs/exec.md.
//
//   import { runIsolated } from "gvisor-doctor";
//   const r = await runIsolated({ command: ["npm", "test"], mounts: [`${process.cwd()}:/work:rw`], workdir: "/work" });
//   if (!r.sandboxed) console.warn("ran without gVisor");
export { runIsolated, detectSandbox, isGvisorAvailable, SandboxUnavailableError } from "../platform/exec/isolated.ts";
export { ActionError, UsageError } from "../platform/os/errors.ts";
export type {
  ExecResult,
  Method,
  MethodStatus,
  Mount,
  Network,
  RunIsolatedOptions,
  SandboxDetection,
  Via,
} from "../platform/exec/types.ts";
