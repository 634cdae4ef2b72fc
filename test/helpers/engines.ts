// Drive the engines' pure planners over an in-memory file system: golden and
// property tests use these, so every scenario runs exactly the code `configure` runs.
import { planContainerd } from "../../platform/engines/containerd/adapter.ts";
import { planCrio } from "../../platform/engines/crio/adapter.ts";
import { planDaemonJson } from "../../platform/engines/docker/adapter.ts";
import { planPodman } from "../../platform/engines/podman/adapter.ts";
import {
  EngineConfigError,
  type EngineName,
  type FileChange,
  type RuntimeRequest,
} from "../../platform/engines/types.ts";
import { join } from "node:path";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "engines");

export class MemFs {
  files = new Map<string, string>();
  constructor(init: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(init)) this.files.set(k, v);
  }
  read = (p: string): string | null => this.files.get(p) ?? null;
  list = (dir: string): string[] | null => {
    const names = [...this.files.keys()]
      .filter((f) => f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes("/"))
      .map((f) => f.slice(dir.length + 1));
    return names.length ? names : null;
  };
  apply(changes: FileChange[]): void {
    for (const c of changes) {
      if (c.after === null) this.files.delete(c.path);
      else this.files.set(c.path, c.after);
    }
  }
  clone(): MemFs {
    return new MemFs(Object.fromEntries(this.files));
  }
}

export const RUNSC = "/usr/local/bin/runsc";
export const SHIM = "/usr/local/bin/containerd-shim-runsc-v1";
export const WRAPPERS = "/usr/local/libexec/gvisor-doctor";

export function request(over: Partial<RuntimeRequest> = {}): RuntimeRequest {
  return {
    name: "runsc",
    runscPath: RUNSC,
    runtimeArgs: ["--network=none"],
    makeDefault: false,
    remove: false,
    ...over,
  };
}

/** The engines the planners cover: every one in the registry. */
export type Engine = EngineName;

export interface Outcome {
  changes: FileChange[];
  notes: string[];
}

export interface PlanEnv {
  fs: MemFs;
  /** The file the engine's config lives in. */
  target: string;
  containerdVersion?: string | null;
  shim?: string | null;
  force?: boolean;
}

/** Plan one request; docker's afterReload deletions are folded into the changes. */
export function planFor(engine: Engine, env: PlanEnv, req: RuntimeRequest): Outcome {
  switch (engine) {
    case "docker": {
      const before = env.fs.read(env.target);
      const p = planDaemonJson({ file: env.target, before, request: req, force: !!env.force });
      const changes: FileChange[] = [];
      if (p.after !== before)
        changes.push({
          path: env.target,
          before,
          after: p.after,
          action: before === null ? "create" : "modify",
          reason: "",
        });
      if (p.afterReload.kind === "delete")
        changes.push({ path: env.target, before: p.after, after: null, action: "delete", reason: "" });
      return { changes, notes: p.notes };
    }
    case "containerd": {
      const r = planContainerd({
        configPath: env.target,
        reader: env.fs,
        containerdVersion: env.containerdVersion ?? "1.6.20",
        shim: env.shim ?? null,
        wrapperDir: WRAPPERS,
        request: req,
        force: !!env.force,
      });
      return { changes: r.changes, notes: r.notes };
    }
    case "podman": {
      const r = planPodman({
        target: env.target,
        read: env.fs.read,
        wrapperDir: WRAPPERS,
        request: req,
        force: !!env.force,
      });
      return { changes: r.changes, notes: r.notes };
    }
    case "crio": {
      const r = planCrio({
        target: env.target,
        read: env.fs.read,
        shim: env.shim ?? null,
        wrapperDir: WRAPPERS,
        request: req,
        force: !!env.force,
      });
      return { changes: r.changes, notes: r.notes };
    }
  }
}

/** A readable, byte-exact rendering of an outcome (or a refusal) for golden files. */
export function render(o: Outcome | EngineConfigError): string {
  if (o instanceof EngineConfigError) {
    const at = o.spot
      ? `${o.spot.file}${o.spot.line ? `:${o.spot.line}` : ""}${o.spot.column ? `:${o.spot.column}` : ""}`
      : "-";
    return `REFUSED ${o.code} at ${at}\n${o.message}\nhint: ${o.hint ?? "-"}\n${o.snippet ? `snippet:\n${o.snippet}` : ""}`;
  }
  let out = "";
  for (const n of o.notes) out += `# note: ${n}\n`;
  if (!o.changes.length) return `${out}(no changes)\n`;
  // Last change per path wins (docker: modify, then delete after the reload).
  for (const c of o.changes) {
    out += `=== ${c.action} ${c.path}${c.mode && c.after !== null ? ` mode ${c.mode.toString(8)}` : ""}\n`;
    if (c.after !== null) out += `${c.after}\n=== end\n`;
  }
  return out;
}

export function attempt(fn: () => Outcome): Outcome | EngineConfigError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EngineConfigError) return e;
    throw e;
  }
}
