// The Docker Engine API over dockerd's unix socket, for hosts without the docker CLI (Debian 13's
// docker.io ships dockerd alone) and where it is the faster path (bench/docker-api.ts).
// node:http with socketPath works in Bun and Deno alike. Every request has a deadline and a
// cap on the body it reads; JSON is validated before use (a socket can answer anything).
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { traceCommand, type RunResult } from "../../os/spawn.ts";

/** The newest API version we speak; older daemons are spoken to in their own version. */
export const API_MAX_VERSION = "1.47";
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BYTES = 4 << 20;

export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ApiRequest {
  method?: string;
  body?: Buffer | string | object;
  contentType?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

/** The unix socket behind a DOCKER_HOST value; null for any other scheme (tcp, ssh, npipe). */
export function unixSocketOf(host: string): string | null {
  if (!host.startsWith("unix://")) return null;
  const path = host.slice("unix://".length);
  return path.startsWith("/") ? path : null;
}

/** A request that ran out of time (told apart from errors whose text merely says "timed out"). */
export class ApiTimeout extends Error {}

/** One HTTP request to the socket. Rejects on connection errors, timeouts and oversized bodies. */
export function apiRequest(socketPath: string, path: string, opts: ApiRequest = {}): Promise<ApiResponse> {
  const method = opts.method ?? "GET";
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const raw = opts.body;
  const text = raw === undefined || Buffer.isBuffer(raw) ? null : typeof raw === "string" ? raw : JSON.stringify(raw);
  const body = Buffer.isBuffer(raw) ? raw : text === null ? null : Buffer.from(text);
  const type = opts.contentType ?? (text !== null ? "application/json" : "application/octet-stream");
  const headers: Record<string, string> = { Host: "docker" };
  if (body) Object.assign(headers, { "Content-Type": type, "Content-Length": String(body.length) });
  return new Promise((resolve, reject) => {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (e: Error | null, r?: ApiResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        req.destroy();
        reject(e);
      } else resolve(r!);
    };
    const req = httpRequest({ socketPath, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let len = 0;
      res.on("data", (c: Buffer) => {
        len += c.length;
        if (len > maxBytes) finish(new Error(`${method} ${path}: the answer exceeds ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on("end", () => {
        finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on("error", (e) => finish(e));
    });
    timer = setTimeout(() => finish(new ApiTimeout(`${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (e) => finish(new Error(connectError(socketPath, e as NodeJS.ErrnoException))));
    req.end(body ?? undefined);
  });
}

/** The docker CLI's words for the same failures, so the same rules and fixes apply. */
function connectError(socketPath: string, e: NodeJS.ErrnoException): string {
  const at = `unix://${socketPath}`;
  if (e.code === "EACCES" || e.code === "EPERM") {
    return `permission denied while trying to connect to the Docker daemon socket at ${at}`;
  }
  if (e.code === "ENOENT" || e.code === "ECONNREFUSED") {
    return `Cannot connect to the Docker daemon at ${at}. Is the docker daemon running?`;
  }
  return `${at}: ${e.message}`;
}

/** A JSON object from a body, or an error naming what came instead. */
export function jsonObject(body: Buffer, what: string): Record<string, any> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(`${what}: the answer is not JSON: ${JSON.stringify(body.subarray(0, 120).toString("utf8"))}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error(`${what}: the answer is not a JSON object`);
  return v as Record<string, any>;
}

/** dockerd's own words for a failed request ({"message": …}), else the status and body. */
export function apiErrorText(r: ApiResponse): string {
  try {
    const m = JSON.parse(r.body.toString("utf8"))?.message;
    if (typeof m === "string" && m) return m;
  } catch {}
  return `HTTP ${r.status}${r.body.length ? `: ${r.body.subarray(0, 300).toString("utf8").trim()}` : ""}`;
}

const versionParts = (v: string) => v.split(".").map((n) => Number.parseInt(n, 10));
const VERSION_RE = /^\d{1,3}\.\d{1,3}$/;

/** The API version to speak: the daemon's, capped at ours (what the docker CLI negotiates). */
export function negotiateVersion(server: string | null | undefined, ours = API_MAX_VERSION): string {
  if (!server || !VERSION_RE.test(server)) return ours;
  const [a, b] = versionParts(server);
  const [c, d] = versionParts(ours);
  return a < c || (a === c && b < d) ? server : ours;
}

/**
 * Split a non-TTY container's log stream: frames of an 8-byte header (stream 1 stdout,
 * 2 stderr; 3 bytes zero; big-endian length) and the payload. A truncated last frame
 * keeps what arrived; bytes that are not a frame header end the parse (no TTY here).
 */
export function demuxStream(buf: Buffer): { stdout: string; stderr: string; malformed: boolean } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  let malformed = false;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if (kind > 2 || buf[i + 1] || buf[i + 2] || buf[i + 3]) {
      malformed = true;
      break;
    }
    const size = buf.readUInt32BE(i + 4);
    const payload = buf.subarray(i + 8, Math.min(buf.length, i + 8 + size));
    (kind === 2 ? err : out).push(payload);
    i += 8 + size;
  }
  if (!malformed && i < buf.length && i + 8 > buf.length) malformed = true;
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), malformed };
}

/** A client for one daemon: the version is negotiated on first use and kept. */
export class DockerApi {
  version: string | null = null;
  constructor(
    readonly socketPath: string,
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /** A request, recorded for `-v` like a command (`GET /v1.47/info`). */
  async call(path: string, opts: ApiRequest = {}): Promise<ApiResponse> {
    const started = performance.now();
    const cmd = [opts.method ?? "GET", path];
    try {
      const r = await apiRequest(this.socketPath, path, { timeoutMs: this.timeoutMs, ...opts });
      traceCommand({ ...traced(cmd, r.status < 400 ? 0 : 1, started), httpStatus: r.status });
      return r;
    } catch (e) {
      traceCommand({ ...traced(cmd, null, started), spawnError: (e as Error).message });
      throw e;
    }
  }

  /** GET /_ping names the daemon's API version in a header; /version says it when the header is absent. */
  async negotiate(): Promise<string> {
    if (this.version) return this.version;
    const ping = await this.call("/_ping");
    if (ping.status !== 200) throw new Error(`GET /_ping: ${apiErrorText(ping)}`);
    let server = ping.headers["api-version"];
    if (typeof server !== "string" || !VERSION_RE.test(server)) {
      const v = await this.call("/version");
      server = v.status === 200 ? jsonObject(v.body, "GET /version").ApiVersion : undefined;
    }
    this.version = negotiateVersion(typeof server === "string" ? server : null);
    return this.version;
  }

  /** A versioned request: `/info` becomes `/v1.47/info`. */
  async v(path: string, opts: ApiRequest = {}): Promise<ApiResponse> {
    return this.call(`/v${await this.negotiate()}${path}`, opts);
  }

  /** GET /info as an object (what `docker info --format '{{json .}}'` prints). */
  async info(): Promise<Record<string, any>> {
    const r = await this.v("/info");
    if (r.status !== 200) throw new Error(`GET /info: ${apiErrorText(r)}`);
    return jsonObject(r.body, "GET /info");
  }
}

export interface ApiRunSpec {
  image: string;
  cmd: string[];
  runtime: string;
  /** HostConfig.NetworkMode "none": no network namespace set up for a runtime that ignores it. */
  networkNone: boolean;
  timeoutMs: number;
  /** The image archive for POST /images/load, built only when create says the image is missing. */
  imageArchive: () => Promise<Buffer>;
  /** Called with the container id when a start failed (a shim may be stranded). */
  onStartFailure?: (id: string) => Promise<unknown>;
}

export interface ApiRun {
  /** Shaped like the CLI's `docker run`: exit code, output, dockerd's words on stderr. */
  result: RunResult;
  /** The image was loaded now. */
  loaded: boolean;
}

const LOG_MAX_BYTES = 1 << 20;

/**
 * `docker run --rm` as API calls: create (loading the image when it is missing), start, wait,
 * logs, remove. Daemon errors end it with exit 125 and "Error response from daemon: …" on
 * stderr, as the CLI reports them, so the same rules diagnose both paths.
 */
export async function runContainer(api: DockerApi, spec: ApiRunSpec): Promise<ApiRun> {
  const started = performance.now();
  const deadline = started + spec.timeoutMs;
  const left = () => Math.max(1, Math.round(deadline - performance.now()));
  let step = ["POST", "/containers/create"];
  const end = (code: number | null, stdout: string, stderr: string, timedOut = false): RunResult => ({
    cmd: step,
    code,
    signal: null,
    stdout,
    stderr,
    timedOut,
    truncated: false,
    durationMs: Math.round(performance.now() - started),
  });
  const daemonSaid = (r: ApiResponse) => end(125, "", `Error response from daemon: ${apiErrorText(r)}`);
  const hostConfig = {
    Runtime: spec.runtime,
    LogConfig: { Type: "json-file", Config: {} }, // readable back through /logs whatever the daemon's default
    ...(spec.networkNone ? { NetworkMode: "none" } : {}),
  };
  const body = { Image: spec.image, Cmd: spec.cmd, Labels: { "gvisor-doctor.probe": "1" }, HostConfig: hostConfig };
  let loaded = false;
  let id = "";
  try {
    let created = await api.v("/containers/create", { method: "POST", body, timeoutMs: left() });
    if (created.status === 404) {
      step = ["POST", "/images/load"];
      await loadImage(api, await spec.imageArchive(), left());
      loaded = true;
      step = ["POST", "/containers/create"];
      created = await api.v("/containers/create", { method: "POST", body, timeoutMs: left() });
    }
    if (created.status !== 201) return { result: daemonSaid(created), loaded };
    const newId = String(jsonObject(created.body, "POST /containers/create").Id ?? "");
    // Checked before it is kept: the id goes into URLs (and the final DELETE).
    if (!/^[0-9a-f]{64}$/.test(newId)) throw new Error(`POST /containers/create: no container id in the answer`);
    id = newId;
    step = ["POST", `/containers/${id.slice(0, 12)}/start`];
    const start = await api.v(`/containers/${id}/start`, { method: "POST", timeoutMs: left() });
    if (start.status !== 204 && start.status !== 304) {
      await spec.onStartFailure?.(id);
      return { result: daemonSaid(start), loaded };
    }
    step = ["POST", `/containers/${id.slice(0, 12)}/wait`];
    const wait = await api.v(`/containers/${id}/wait`, { method: "POST", timeoutMs: left() });
    if (wait.status !== 200) return { result: daemonSaid(wait), loaded };
    const waited = jsonObject(wait.body, "POST /containers/wait");
    const code = Number.isInteger(waited.StatusCode) ? waited.StatusCode : null;
    step = ["GET", `/containers/${id.slice(0, 12)}/logs`];
    const logsPath = `/containers/${id}/logs?stdout=1&stderr=1`;
    const logs = await api.v(logsPath, { timeoutMs: left(), maxBytes: LOG_MAX_BYTES });
    if (logs.status !== 200) return { result: daemonSaid(logs), loaded };
    const out = demuxStream(logs.body);
    const said = waited.Error?.Message;
    const waitError = typeof said === "string" && said ? `\n${said}` : "";
    return { result: end(code, out.stdout, out.stderr + waitError), loaded };
  } catch (e) {
    const msg = (e as Error).message;
    return { result: end(null, "", msg, e instanceof ApiTimeout), loaded };
  } finally {
    if (id) await api.v(`/containers/${id}?force=1&v=1`, { method: "DELETE", timeoutMs: 10_000 }).catch(() => {});
  }
}

/** POST /images/load answers 200 and then streams JSON lines, an error among them. */
async function loadImage(api: DockerApi, archive: Buffer, timeoutMs: number): Promise<void> {
  const opts = { method: "POST", body: archive, contentType: "application/x-tar", timeoutMs };
  const r = await api.v("/images/load?quiet=1", opts);
  if (r.status !== 200) throw new Error(`could not load the probe image: ${apiErrorText(r)}`);
  for (const line of r.body.toString("utf8").split("\n")) {
    if (!line.trim()) continue;
    let m: any;
    try {
      m = JSON.parse(line);
    } catch {
      continue;
    }
    const err = m?.errorDetail?.message ?? m?.error;
    if (typeof err === "string" && err) throw new Error(`could not load the probe image: ${err}`);
  }
}

function traced(cmd: string[], code: number | null, started: number): RunResult {
  const durationMs = Math.round(performance.now() - started);
  return { cmd, code, signal: null, stdout: "", stderr: "", durationMs, timedOut: false, truncated: false };
}
