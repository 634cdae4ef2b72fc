// Which exec methods work on this host, and why not — from the host facts (runsc
// binaries, container tells, `docker info` runtimes). Gathering fetches only what a
// method needs (auto stops at the first method that works); deciding is pure and
// unit-tested with made-up views.
import { basename } from "node:path";
import { detectContainer, dockerFacts, type HostFacts } from "../facts/host-facts.ts";
import type { DockerDaemonFacts } from "../engines/docker/client.ts";
import { findRunscBinaries, primaryRunsc } from "../runsc/binaries.ts";
import { findTool } from "../os/which.ts";
import type { Method, MethodStatus, SandboxDetection, Via } from "./types.ts";

/** A runsc binary; `versionOk` is null when `runsc --version` was not run (the fast path). */
export interface RunscSeen {
  path: string;
  versionOk: boolean | null;
  versionText: string;
}

/** The slice of host facts exec decides on. `undefined` means "not gathered". */
export interface SandboxView {
  root: boolean;
  container: HostFacts["container"];
  runsc?: RunscSeen[];
  docker?: DockerDaemonFacts;
  /** The podman CLI, or null when not installed. */
  podman?: string | null;
}

export function baseView(env: NodeJS.ProcessEnv = process.env): SandboxView {
  return { root: process.getuid?.() === 0, container: detectContainer(env) };
}

/**
 * Add what `method` needs to the view (concurrently, skipping what is there).
 * `thorough` runs every runsc's --version (for reports); otherwise the first runsc
 * found is trusted, and a broken one surfaces as its own start error.
 */
export async function extendView(
  view: SandboxView,
  methods: Method[],
  env: NodeJS.ProcessEnv,
  thorough = false,
): Promise<SandboxView> {
  const needRunsc = !view.runsc && methods.some((m) => m === "runsc" || m === "podman");
  const needDocker = !view.docker && methods.includes("docker");
  const [runsc, docker] = await Promise.all([
    needRunsc ? gatherRunsc(env, thorough) : view.runsc,
    // The daemon's process only names its config file, which exec does not need.
    needDocker ? dockerFacts(env, []) : view.docker,
  ]);
  const podman = view.podman !== undefined || !methods.includes("podman") ? view.podman : findTool("podman", env);
  return { ...view, runsc, docker, podman };
}

async function gatherRunsc(env: NodeJS.ProcessEnv, thorough: boolean): Promise<RunscSeen[]> {
  if (thorough) {
    const bin = primaryRunsc(await findRunscBinaries(env));
    return bin ? [{ path: bin.path, versionOk: bin.versionOk, versionText: bin.versionText }] : [];
  }
  const path = findTool("runsc", env);
  return path ? [{ path, versionOk: null, versionText: "" }] : [];
}

const NOT_CHECKED = "not checked";
const notChecked = (method: Method): MethodStatus => ({
  method,
  available: false,
  sandboxed: method !== "none",
  reason: NOT_CHECKED,
  detail: {},
});

function usableRunsc(v: SandboxView): { bin: RunscSeen } | { why: string } {
  const bin = v.runsc?.[0];
  if (!bin)
    return { why: "no runsc binary on PATH or in /usr/local/bin, /usr/bin (install: sudo gvisor-doctor install)" };
  if (bin.versionOk === false) return { why: `${bin.path} does not run: ${bin.versionText}` };
  return { bin };
}

const describeRunsc = (b: RunscSeen) => (b.versionText ? `${b.path} (${b.versionText})` : b.path);

export function runscStatus(v: SandboxView): MethodStatus {
  if (!v.runsc) return notChecked("runsc");
  const r = usableRunsc(v);
  if ("why" in r) return { method: "runsc", available: false, sandboxed: true, reason: r.why, detail: {} };
  if (!v.root)
    return {
      method: "runsc",
      available: false,
      sandboxed: true,
      reason: `running ${r.bin.path} directly needs root (like \`runsc do\`); run as root, or register runsc with Docker`,
      detail: { runsc: r.bin.path },
    };
  const where = v.container.inside ? ` inside a container (${v.container.tells.join(", ")})` : "";
  return {
    method: "runsc",
    available: true,
    sandboxed: true,
    reason: `${describeRunsc(r.bin)} as root${where}`,
    detail: { runsc: r.bin.path },
  };
}

/** The docker runtime that is runsc: the one named "runsc", else any whose path is a runsc binary. */
export function runscRuntime(runtimes: Record<string, { path: string; runtimeArgs?: string[] }>): string | null {
  if (runtimes.runsc) return "runsc";
  return Object.keys(runtimes).find((k) => basename(runtimes[k].path) === "runsc") ?? null;
}

export function dockerStatus(v: SandboxView): MethodStatus {
  const d = v.docker;
  if (!d) return notChecked("docker");
  const no = (reason: string): MethodStatus => ({
    method: "docker",
    available: false,
    sandboxed: true,
    reason,
    detail: {},
  });
  if (!d.cli) return no("the docker CLI is not installed");
  if (!d.info) return no(`cannot reach dockerd at ${d.host}: ${d.infoError}`);
  const name = runscRuntime(d.info.runtimes);
  if (!name)
    return no(
      `dockerd at ${d.host} has no runsc runtime (it has: ${Object.keys(d.info.runtimes).join(", ")}); fix: sudo gvisor-doctor configure docker`,
    );
  const rt = d.info.runtimes[name];
  const args = rt.runtimeArgs?.length ? ` ${rt.runtimeArgs.join(" ")}` : "";
  return {
    method: "docker",
    available: true,
    sandboxed: true,
    reason: `dockerd ${d.info.serverVersion} at ${d.host}, runtime ${name} → ${rt.path}${args}`,
    detail: { cli: d.cli, runtime: name, runtimeArgs: (rt.runtimeArgs ?? []).join(" ") },
  };
}

export function podmanStatus(v: SandboxView): MethodStatus {
  if (v.podman === undefined || !v.runsc) return notChecked("podman");
  const no = (reason: string): MethodStatus => ({
    method: "podman",
    available: false,
    sandboxed: true,
    reason,
    detail: {},
  });
  if (!v.podman) return no("podman is not installed");
  const r = usableRunsc(v);
  if ("why" in r) return no(`podman runs runsc by path, and ${r.why}`);
  // Rootless Podman needs --ignore-cgroups for runsc, which would silently drop the pids and memory limits.
  if (!v.root)
    return no(
      "rootless Podman cannot enforce the pids and memory limits under runsc (it needs --ignore-cgroups); run as root",
    );
  return {
    method: "podman",
    available: true,
    sandboxed: true,
    reason: `${v.podman} --runtime ${describeRunsc(r.bin)}`,
    detail: { cli: v.podman, runsc: r.bin.path },
  };
}

const NONE: MethodStatus = {
  method: "none",
  available: true,
  sandboxed: false,
  reason: "a plain subprocess: no isolation",
  detail: {},
};
const STATUS: Record<Method, (v: SandboxView) => MethodStatus> = {
  runsc: runscStatus,
  docker: dockerStatus,
  podman: podmanStatus,
  none: () => NONE,
};

/**
 * Auto's order for this host: inside a container (or pod) runsc directly comes
 * first (an engine socket there usually belongs to the outer host); elsewhere the
 * engines come first (their runtime is what the admin configured), then runsc as root.
 */
export const preferenceOrder = (inContainer: boolean): Method[] =>
  inContainer ? ["runsc", "docker", "podman", "none"] : ["docker", "podman", "runsc", "none"];

export function detectFromView(v: SandboxView): SandboxDetection {
  const methods = preferenceOrder(v.container.inside).map((m) => STATUS[m](v));
  const auto = methods.find((m) => m.available && m.sandboxed)?.method ?? "none";
  return { methods, auto, gvisor: auto !== "none" };
}

/** Every method's status (runs every probe; for reports and `detectSandbox()`). */
export async function detectAll(env: NodeJS.ProcessEnv = process.env): Promise<SandboxDetection> {
  return detectFromView(await extendView(baseView(env), ["runsc", "docker", "podman"], env, true));
}

export type Choice =
  | { ok: true; status: MethodStatus; view: SandboxView }
  | { ok: false; message: string; detection: SandboxDetection };

/**
 * The method to run with, probing no more than needed: an explicit `via` is checked
 * alone and never falls back; auto tries the methods in order and stops at the first
 * that works, else falls back to none — unless a sandbox is required.
 */
export async function chooseMethod(
  via: Via,
  requireSandbox: boolean,
  env: NodeJS.ProcessEnv,
  view: SandboxView = baseView(env),
): Promise<Choice> {
  if (via !== "auto") {
    view = await extendView(view, [via], env);
    const s = STATUS[via](view);
    if (s.available) return { ok: true, status: s, view };
    return { ok: false, message: `--via ${via} is not available here: ${s.reason}`, detection: detectFromView(view) };
  }
  for (const m of preferenceOrder(view.container.inside)) {
    if (m === "none") break;
    view = await extendView(view, [m], env);
    const s = STATUS[m](view);
    if (s.available) return { ok: true, status: s, view };
  }
  if (!requireSandbox) return { ok: true, status: NONE, view };
  const d = detectFromView(view);
  return {
    ok: false,
    message: `no gVisor sandbox is available (${whyNot(d)}); --require-sandbox refuses to run without one`,
    detection: d,
  };
}

/** "docker: …; podman: …; runsc: …" for messages. */
export function whyNot(d: SandboxDetection): string {
  return d.methods
    .filter((m) => m.sandboxed && m.reason !== NOT_CHECKED)
    .map((m) => `${m.method}: ${m.reason}`)
    .join("; ");
}
