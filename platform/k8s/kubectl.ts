// kubectl as the way into a cluster from a workstation (the user's kubeconfig, contexts,
// auth plugins all just work): find it, run it with a request timeout, read its JSON,
// and turn its errors into one of a few causes a person can act on.
import { existsSync } from "node:fs";
import { run, type RunResult } from "../os/spawn.ts";
import { which } from "../os/which.ts";

export interface Kubectl {
  path: string;
  /** --context for every call (null: the kubeconfig's current context). */
  context: string | null;
  env: NodeJS.ProcessEnv;
  /** --request-timeout for every call, in seconds. */
  requestTimeoutS: number;
}

/** kubectl on PATH, or null. */
export function findKubectl(env: NodeJS.ProcessEnv): string | null {
  return which("kubectl", env.PATH ?? "");
}

/**
 * Why no cluster is configured, or null when one may be. Without a kubeconfig kubectl
 * only tries localhost:8080; saying so beats waiting on a refused connection.
 */
export function noClusterReason(env: NodeJS.ProcessEnv): string | null {
  if (env.KUBECONFIG || env.KUBERNETES_SERVICE_HOST) return null;
  const kubeconfig = `${env.HOME ?? ""}/.kube/config`;
  return existsSync(kubeconfig) ? null : `no cluster configured (no ${kubeconfig}, KUBECONFIG unset)`;
}

/** Run `kubectl ARGS` with the context and request timeout appended (kubectl takes global flags anywhere). */
export function kubectl(
  k: Kubectl,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const flags = [...(k.context ? ["--context", k.context] : []), `--request-timeout=${k.requestTimeoutS}s`];
  return run(k.path, [...args, ...flags], {
    env: k.env,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? (k.requestTimeoutS + 10) * 1000,
  });
}

export type KubectlErrorKind =
  /** No connection to the API server (refused, DNS, timeout, TLS). */
  | "unreachable"
  /** The credentials were rejected. */
  | "unauthorized"
  /** RBAC said no. */
  | "forbidden"
  | "not-found"
  /** The cluster does not serve this resource type (e.g. RuntimeClass before 1.14). */
  | "no-resource-type"
  /** --context names no context in the kubeconfig. */
  | "no-context"
  | "other";

const KINDS: [KubectlErrorKind, RegExp][] = [
  [
    "no-context",
    /context was not found for specified context|context "[^"]*" does not exist|cannot locate context|current-context must exist/i,
  ],
  ["no-resource-type", /the server doesn't have a resource type|no matches for kind/i],
  ["not-found", /\(NotFound\)|not found$/im],
  ["unauthorized", /\(Unauthorized\)|must be logged in|provide credentials/i],
  ["forbidden", /\(Forbidden\)|is forbidden/i],
  [
    "unreachable",
    /connection to the server .* was refused|unable to connect to the server|dial tcp|i\/o timeout|no such host|context deadline exceeded|Client\.Timeout|TLS handshake|x509:|connection reset|EOF$/im,
  ],
];

/** The last line kubectl printed that is not a klog line ("E1123 17:56:08.650771 …"). */
export function kubectlErrorLine(r: RunResult): string {
  if (r.spawnError) return r.spawnError;
  if (r.timedOut)
    return `kubectl ${r.cmd.slice(1).join(" ")} did not answer within ${Math.round(r.durationMs / 1000)} s`;
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^[IWEF]\d{4} \d/.test(l));
  return lines.at(-1) ?? r.stdout.trim().split("\n").at(-1) ?? `exit ${r.code}`;
}

export function classifyKubectlError(r: RunResult): KubectlErrorKind {
  if (r.timedOut) return "unreachable";
  const text = `${r.stderr}\n${kubectlErrorLine(r)}`;
  return KINDS.find(([, re]) => re.test(text))?.[0] ?? "other";
}

export type KubectlJson<T> =
  | { ok: true; value: T; result: RunResult }
  | { ok: false; kind: KubectlErrorKind; message: string; result: RunResult };

/** `kubectl ARGS -o json`, parsed; a failure says which kind it was. */
export async function kubectlJson<T = any>(
  k: Kubectl,
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<KubectlJson<T>> {
  const r = await kubectl(k, [...args, "-o", "json"], opts);
  if (r.code !== 0) return { ok: false, kind: classifyKubectlError(r), message: kubectlErrorLine(r), result: r };
  try {
    return { ok: true, value: JSON.parse(r.stdout) as T, result: r };
  } catch {
    return {
      ok: false,
      kind: "other",
      message: `kubectl ${args.join(" ")} printed something that is not JSON: ${r.stdout.slice(0, 120)}`,
      result: r,
    };
  }
}
