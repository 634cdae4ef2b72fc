// The Kubernetes API from inside a pod, with the pod's service account: the DaemonSet
// image has no kubectl, and labelling its own node is one GET and one PATCH.
// node:http/node:https (not fetch): they take the service account's CA per request
// in Bun (compiled too), Deno and Node alike; fetch's `tls.ca` is Bun-only.
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { join } from "node:path";
import { ActionError } from "../../platform/os/errors.ts";
import { DAEMONSET_NAME, DEFAULT_NAMESPACE, SA_DIR } from "./contract.ts";

const TIMEOUT_MS = 15_000;

export interface ApiConfig {
  /** e.g. https://10.96.0.1:443 */
  base: string;
  /** Directory with the service account's token and ca.crt. */
  saDir: string;
}

/**
 * Where the API is and whose credentials to use. Tests point GVISOR_DOCTOR_K8S_API at
 * a fake server (http://127.0.0.1:PORT allowed) and GVISOR_DOCTOR_K8S_SA_DIR at a token.
 */
export function inClusterConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const saDir = env.GVISOR_DOCTOR_K8S_SA_DIR || SA_DIR;
  if (env.GVISOR_DOCTOR_K8S_API) return { base: env.GVISOR_DOCTOR_K8S_API.replace(/\/+$/, ""), saDir };
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) {
    throw new ActionError(
      "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set, so the API server is unknown",
      "run this in the gvisor-doctor DaemonSet pod (gvisor-doctor k8s manifests); from a workstation use: kubectl label node NAME KEY=VALUE",
    );
  }
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  return { base: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, saDir };
}

/** The bearer token, read for every request: kubelet rotates projected tokens in place. */
export function readToken(cfg: ApiConfig): string {
  const path = join(cfg.saDir, "token");
  try {
    const t = readFileSync(path, "utf8").trim();
    if (t) return t;
  } catch {}
  throw new ActionError(
    `no service account token at ${path}: not running in a pod, or the pod does not mount its token`,
    "run this in the gvisor-doctor DaemonSet pod, and do not set automountServiceAccountToken: false on it",
  );
}

/** "system:serviceaccount:NS:NAME" from the token's payload (a JWT), for error messages. */
export function tokenSubject(token: string): string | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof payload?.sub === "string" ? payload.sub : null;
  } catch {
    return null;
  }
}

export interface ApiResponse {
  status: number;
  body: any;
}

/** An API call that failed: the message names the cause, the hint the fix. */
export class ApiError extends ActionError {
  constructor(
    message: string,
    hint: string | undefined,
    readonly status: number | null,
  ) {
    super(message, hint);
  }
}

export async function apiRequest(
  cfg: ApiConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<ApiResponse> {
  const token = readToken(cfg);
  const url = new URL(cfg.base + path);
  const tlsUrl = url.protocol === "https:";
  let ca: string | undefined;
  if (tlsUrl) {
    const caPath = join(cfg.saDir, "ca.crt");
    try {
      ca = readFileSync(caPath, "utf8");
    } catch {
      throw new ActionError(
        `no cluster CA at ${caPath}: cannot verify the API server ${cfg.base}`,
        "run this in a pod that mounts its service account (the default)",
      );
    }
  }
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {
    Authorization: `Bearer ${token}`,
    Accept: "application/json",
    "User-Agent": "gvisor-doctor",
  };
  if (payload !== undefined) {
    headers["Content-Type"] = contentType;
    headers["Content-Length"] = String(Buffer.byteLength(payload));
  }
  return new Promise<ApiResponse>((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on("error", reject);
    };
    const opts: https.RequestOptions = { method, headers, timeout: TIMEOUT_MS, ...(ca ? { ca } : {}) };
    const req = tlsUrl ? https.request(url, opts, onResponse) : http.request(url, opts, onResponse);
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on("error", (e: NodeJS.ErrnoException) => {
      const certProblem = /certificate|self[- ]signed|unable to verify|CERT_|DEPTH_ZERO/i.test(
        `${e.code ?? ""} ${e.message}`,
      );
      reject(
        new ApiError(
          `cannot reach the Kubernetes API at ${cfg.base}: ${e.message}`,
          certProblem
            ? `the API server's certificate is not signed by ${join(cfg.saDir, "ca.crt")}`
            : "is the API server reachable from this pod (NetworkPolicy, KUBERNETES_SERVICE_HOST)?",
          null,
        ),
      );
    });
    req.end(payload);
  });
}

/** Turn a non-2xx answer about node `name` into an error that says why and what to do. */
export function nodeApiError(cfg: ApiConfig, r: ApiResponse, verb: "get" | "patch", name: string): ApiError {
  const serverMsg =
    typeof r.body === "object" && r.body?.message
      ? String(r.body.message)
      : typeof r.body === "string"
        ? r.body.trim().slice(0, 300)
        : "";
  const subject = serverMsg.match(/User "([^"]+)"/)?.[1] ?? safeSubject(cfg) ?? "this pod's ServiceAccount";
  switch (r.status) {
    case 401:
      return new ApiError(
        `the Kubernetes API rejected the service account token (401 Unauthorized)`,
        `the token expired or its ServiceAccount was deleted: restart the pod (kubectl -n ${DEFAULT_NAMESPACE} rollout restart daemonset ${DAEMONSET_NAME})`,
        401,
      );
    case 403:
      if (/admission|denied request/i.test(serverMsg)) {
        return new ApiError(
          `an admission policy refused to ${verb} node "${name}" (403 Forbidden): ${serverMsg}`,
          "the policy (e.g. the manifests' ValidatingAdmissionPolicy) lets the agent change only its own node's label: check NODE_NAME and --label-key",
          403,
        );
      }
      return new ApiError(
        `RBAC: ${subject} may not ${verb} nodes (403 Forbidden)${serverMsg ? `: ${serverMsg}` : ""}`,
        `give the ServiceAccount get and patch on nodes: a ClusterRole with rule {apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"]} and a ClusterRoleBinding to ${subject} (gvisor-doctor k8s manifests has both)`,
        403,
      );
    case 404:
      return new ApiError(
        `no node named "${name}" (404 Not Found)`,
        "NODE_NAME must be this node's name: set it from the downward API (fieldRef: spec.nodeName), or pass --node NAME",
        404,
      );
    case 422:
      return new ApiError(
        `the API server refused the change (422 Invalid)${serverMsg ? `: ${serverMsg}` : ""}`,
        /admission|denied request/i.test(serverMsg)
          ? "an admission policy lets the agent change only its own node's label: check NODE_NAME and --label-key"
          : undefined,
        422,
      );
    default:
      return new ApiError(
        `the Kubernetes API answered ${r.status} to ${verb} node "${name}"${serverMsg ? `: ${serverMsg}` : ""}`,
        undefined,
        r.status,
      );
  }
}

function safeSubject(cfg: ApiConfig): string | null {
  try {
    return tokenSubject(readFileSync(join(cfg.saDir, "token"), "utf8").trim());
  } catch {
    return null;
  }
}

const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

/** The node's labels. */
export async function getNodeLabels(cfg: ApiConfig, name: string): Promise<Record<string, string>> {
  const r = await apiRequest(cfg, "GET", nodePath(name));
  if (r.status !== 200) throw nodeApiError(cfg, r, "get", name);
  return r.body?.metadata?.labels ?? {};
}

/** Set (value) or remove (null) one label with a JSON merge patch; returns the labels after. */
export async function patchNodeLabel(
  cfg: ApiConfig,
  name: string,
  key: string,
  value: string | null,
): Promise<Record<string, string>> {
  const r = await apiRequest(
    cfg,
    "PATCH",
    nodePath(name),
    { metadata: { labels: { [key]: value } } },
    "application/merge-patch+json",
  );
  if (r.status !== 200) throw nodeApiError(cfg, r, "patch", name);
  return r.body?.metadata?.labels ?? {};
}

export type LabelAction = "set" | "removed" | "unchanged";

export interface LabelResult {
  action: LabelAction;
  /** The value before (null: the label was absent). */
  previous: string | null;
}

/**
 * Make node `name` carry `key=value` (or not carry `key`, for null). Reads first and
 * patches only on a change, so an agent round that changes nothing writes nothing.
 */
export async function ensureNodeLabel(
  cfg: ApiConfig,
  name: string,
  key: string,
  value: string | null,
): Promise<LabelResult> {
  const labels = await getNodeLabels(cfg, name);
  const previous = Object.hasOwn(labels, key) ? labels[key] : null;
  if (previous === value) return { action: "unchanged", previous };
  await patchNodeLabel(cfg, name, key, value);
  return { action: value === null ? "removed" : "set", previous };
}
