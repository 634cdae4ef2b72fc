// HTTP downloads for the installer: global fetch (Bun and Deno honour the proxy
// variables; on Node, undici's EnvHttpProxyAgent is installed on first use), a
// timeout for the response and for every silent stretch of the body, retries with
// backoff on resets, timeouts, 5xx and 429, and Range resume when a body breaks off.
// Bytes reach the sink in order, exactly once; a non-2xx body is never kept.
import { sleep } from "../os/sleep.ts";

export interface HttpOptions {
  /** No response, or no body bytes, for this long → the attempt fails. */
  timeoutMs: number;
  /** Extra attempts after the first for transient failures. */
  retries: number;
  /** First backoff delay; doubles each retry (capped at 8 s), ±20% jitter. */
  backoffMs: number;
  userAgent: string;
  signal?: AbortSignal;
  /** Told before each retry (progress and -v). */
  onRetry?: (info: { url: string; attempt: number; reason: string; delayMs: number; offset: number }) => void;
}

export interface StreamStart {
  /** Total size when the server says (Content-Length / Content-Range), else null. */
  total: number | null;
  contentType: string | null;
}

export interface StreamResult {
  bytes: number;
  attempts: number;
  /** How many times the body was resumed with a Range request. */
  resumes: number;
  ms: number;
}

/** 404/410: the file is not there (callers fall back to another layout). */
export class NotFoundError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`${url}: not found (HTTP ${status})`);
  }
}

/** A download that failed for good; the message names the URL, what happened and how far it got. */
export class DownloadError extends Error {
  constructor(
    readonly url: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** An error thrown by the sink (hash, decoder, disk): never retried, passed through as is. */
class SinkFailure extends Error {
  constructor(readonly inner: unknown) {
    super("sink failed");
  }
}

class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export function httpOptionsFromEnv(env: NodeJS.ProcessEnv, userAgent: string, signal?: AbortSignal): HttpOptions {
  const num = (name: string, def: number) => {
    const v = env[name];
    const n = v === undefined || v === "" ? NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : def;
  };
  return {
    timeoutMs: num("GVISOR_DOCTOR_HTTP_TIMEOUT", 30) * 1000,
    retries: Math.floor(num("GVISOR_DOCTOR_HTTP_RETRIES", 4)),
    backoffMs: 500,
    userAgent,
    signal,
  };
}

let proxySetup: Promise<void> | null = null;
/** Node's fetch ignores the proxy variables; undici's EnvHttpProxyAgent reads them. Bun and Deno need nothing. */
export function ensureProxySupport(): Promise<void> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined || g.Deno !== undefined) return Promise.resolve();
  proxySetup ??= (async () => {
    try {
      const undici = await import("undici");
      undici.setGlobalDispatcher(new undici.EnvHttpProxyAgent());
    } catch {
      // undici missing: direct connections only.
    }
  })();
  return proxySetup;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** Why a fetch failed, in words (Bun, Deno and Node word these differently). */
function describeNetworkError(e: unknown): { text: string; retryable: boolean } {
  const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = err?.code ?? err?.cause?.code ?? "";
  // Bun appends advice about its own fetch options; it means nothing to our users.
  const msg = `${err?.message ?? String(e)}${err?.cause?.message ? ` (${err.cause.message})` : ""}`.replace(
    /\s*For more information, pass `verbose: true`[^.]*\.?/,
    "",
  );
  if (err?.name === "TimeoutError") return { text: msg, retryable: true };
  if (/ENOTFOUND|EAI_NONAME|getaddrinfo|dns error|failed to lookup/i.test(`${code} ${msg}`))
    return { text: `cannot resolve the host name (${msg})`, retryable: false };
  if (/ECONNREFUSED|ConnectionRefused|Unable to connect|connection refused/i.test(`${code} ${msg}`))
    return { text: `connection refused (${msg})`, retryable: true };
  if (
    /ECONNRESET|ConnectionClosed|closed unexpectedly|socket hang up|reset|EPIPE|terminated|other side closed/i.test(
      `${code} ${msg}`,
    )
  )
    return { text: `connection reset (${msg})`, retryable: true };
  if (/CERT|SSL|TLS|certificate/i.test(`${code} ${msg}`)) return { text: `TLS error (${msg})`, retryable: false };
  return { text: msg, retryable: true };
}

function retryAfterMs(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.min(30_000, Math.max(0, s * 1000));
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.min(30_000, Math.max(0, t - Date.now())) : undefined;
}

/**
 * GET `url` and hand every body byte to `sink`, in order, exactly once. Transient
 * failures are retried; a body that breaks off resumes with `Range: bytes=N-` (and
 * `If-Range`, so a file that changed meanwhile is noticed); a server that ignores
 * Range resends from the start and the bytes already delivered are skipped.
 */
export async function httpStream(
  url: string,
  opts: HttpOptions,
  sink: (chunk: Uint8Array) => void | Promise<void>,
  onStart?: (s: StreamStart) => void,
): Promise<StreamResult> {
  await ensureProxySupport();
  const started = performance.now();
  let offset = 0;
  let total: number | null = null;
  let validator: string | null = null;
  let resumes = 0;
  let lastError = "";
  let startedOnce = false;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchOnce();
      return { bytes: offset, attempts: attempt, resumes, ms: Math.round(performance.now() - started) };
    } catch (e) {
      if (e instanceof SinkFailure) throw e.inner;
      if (e instanceof NotFoundError || e instanceof DownloadError) throw e;
      if (opts.signal?.aborted) throw opts.signal.reason;
      const ae =
        e instanceof AttemptError
          ? e
          : new AttemptError(describeNetworkError(e).text, describeNetworkError(e).retryable);
      lastError = ae.message;
      if (!ae.retryable || attempt > opts.retries) {
        const where = offset > 0 ? ` after ${formatBytes(offset)}${total ? ` of ${formatBytes(total)}` : ""}` : "";
        throw new DownloadError(
          url,
          `GET ${url} failed${where}: ${lastError} (${attempt} attempt${attempt > 1 ? "s" : ""})`,
          ae.retryable
            ? "check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) or the mirror, then run the command again"
            : undefined,
        );
      }
      const base = Math.min(8_000, opts.backoffMs * 2 ** (attempt - 1));
      const delayMs = ae.retryAfterMs ?? Math.round(base * (0.8 + Math.random() * 0.4));
      opts.onRetry?.({ url, attempt, reason: lastError, delayMs, offset });
      await sleep(delayMs, { signal: opts.signal, onAbort: "reject" });
    }
  }

  async function fetchOnce(): Promise<void> {
    const ctl = new AbortController();
    const onOuterAbort = () => ctl.abort(opts.signal!.reason);
    opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = "";
    const arm = (what: string) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = what;
        ctl.abort(new AttemptError(what, true));
      }, opts.timeoutMs);
    };
    try {
      const headers: Record<string, string> = { "User-Agent": opts.userAgent, "Accept-Encoding": "identity" };
      if (offset > 0) {
        headers.Range = `bytes=${offset}-`;
        if (validator) headers["If-Range"] = validator;
      }
      arm(`no response within ${opts.timeoutMs / 1000} s`);
      let res: Response;
      // Redirects are followed here, not by fetch: one to another scheme (file://, ftp://) is refused
      // at once instead of failing as a network error, retried.
      let at = url;
      for (let hops = 0; ; hops++) {
        try {
          res = await fetch(at, { headers, signal: ctl.signal, redirect: "manual" });
        } catch (e) {
          if (timedOut) throw new AttemptError(timedOut, true);
          throw e;
        }
        if (![301, 302, 303, 307, 308].includes(res.status)) break;
        await res.body?.cancel().catch(() => {});
        const loc = res.headers.get("location");
        let next: URL | null = null;
        try {
          next = loc ? new URL(loc, at) : null;
        } catch {}
        const shown = (loc ?? "").slice(0, 200);
        if (!next) {
          const why = `HTTP ${res.status} redirect without a usable Location (${JSON.stringify(shown)})`;
          throw new DownloadError(url, `GET ${at}: ${why}`);
        }
        if (next.protocol !== "http:" && next.protocol !== "https:") {
          throw new DownloadError(
            url,
            `GET ${at}: redirected to ${shown}, which is not http(s): refused`,
            "check --mirror: a mirror redirects only to http:// or https:// URLs",
          );
        }
        if (hops >= 10) throw new DownloadError(url, `GET ${url}: more than 10 redirects`, "check --mirror");
        at = next.href;
      }
      let skip = 0;
      if (res.status === 206 && offset > 0) {
        const m = res.headers.get("content-range")?.match(/bytes (\d+)-(\d+)\/(\d+|\*)/);
        if (!m || Number(m[1]) !== offset) {
          await res.body?.cancel().catch(() => {});
          throw new AttemptError(
            `server answered the resume at byte ${offset} with ${res.headers.get("content-range") ?? "no Content-Range"}`,
            true,
          );
        }
        if (m[3] !== "*") total = Number(m[3]);
        resumes++;
      } else if (res.status === 416 && offset > 0 && total !== null && offset >= total) {
        await res.body?.cancel().catch(() => {});
        return;
      } else if (res.ok) {
        // 200: the whole file (first attempt, or a server that ignores Range).
        const v = res.headers.get("etag") ?? res.headers.get("last-modified");
        if (offset > 0 && validator && v && v !== validator) {
          await res.body?.cancel().catch(() => {});
          throw new DownloadError(
            url,
            `GET ${url}: the file changed on the server during the download (${validator} → ${v})`,
            "run the command again",
          );
        }
        validator = v;
        const len = res.headers.get("content-length");
        if (len !== null && !res.headers.get("content-encoding")) total = Number(len);
        skip = offset;
      } else {
        await res.body?.cancel().catch(() => {});
        if (res.status === 404 || res.status === 410) throw new NotFoundError(url, res.status);
        const transient = res.status >= 500 || res.status === 429 || res.status === 408;
        if (!transient)
          throw new DownloadError(
            url,
            `GET ${url}: HTTP ${res.status} ${res.statusText}`.trim(),
            res.status === 401 || res.status === 403
              ? "the mirror refused access: check the URL and any proxy in between"
              : undefined,
          );
        throw new AttemptError(
          `HTTP ${res.status} ${res.statusText}`.trim(),
          true,
          res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get("retry-after")) : undefined,
        );
      }
      if (!startedOnce) {
        startedOnce = true;
        try {
          onStart?.({ total, contentType: res.headers.get("content-type") });
        } catch (e) {
          // The caller refused what it saw (e.g. a size): not a network failure, never retried.
          await res.body?.cancel().catch(() => {});
          throw new SinkFailure(e);
        }
      }
      if (!res.body) throw new AttemptError("empty response body", true);
      const reader = res.body.getReader();
      try {
        for (;;) {
          arm(`no data for ${opts.timeoutMs / 1000} s`);
          let r: Awaited<ReturnType<typeof reader.read>>;
          try {
            r = await reader.read();
          } catch (e) {
            if (timedOut) throw new AttemptError(timedOut, true);
            throw e;
          }
          if (r.done) break;
          let chunk = r.value;
          if (skip > 0) {
            const drop = Math.min(skip, chunk.length);
            skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.length === 0) continue;
          }
          try {
            await sink(chunk);
          } catch (e) {
            throw new SinkFailure(e);
          }
          offset += chunk.length;
        }
      } finally {
        reader.releaseLock?.();
      }
      if (total !== null && offset < total)
        throw new AttemptError(`connection closed after ${formatBytes(offset)} of ${formatBytes(total)}`, true);
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onOuterAbort);
      if (!ctl.signal.aborted) ctl.abort();
    }
  }
}

/** GET a small text file (a .sha512) with the same retries; refuses bodies over `maxBytes`. */
export async function httpGetText(url: string, opts: HttpOptions, maxBytes = 64 * 1024): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  await httpStream(url, opts, (c) => {
    size += c.length;
    if (size > maxBytes)
      throw new DownloadError(
        url,
        `${url} is larger than ${formatBytes(maxBytes)}: not a checksum file`,
        "check --mirror: it should point at the release bucket's layout",
      );
    parts.push(c);
  });
  return Buffer.concat(parts).toString("utf8");
}
