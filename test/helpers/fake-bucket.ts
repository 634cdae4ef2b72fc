// A stand-in for gVisor's release bucket: a real HTTP(S) server on 127.0.0.1 with the
// bucket's URL layout (<base>/<channel dir>/<arch>/<file>), serving both layouts built
// from real binaries (Debian's /usr/bin/runsc as runsc, busybox copies as the shim and
// sidecars), plus releases that are broken on purpose and faults chosen by URL:
//   <url>/ok/release/…            served as is
//   <url>/f/<fault>/release/…     with a fault (see FAULTS)
// and a small HTTP/CONNECT proxy that records what went through it.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  createReadStream,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import { Header } from "tar";

export const RUNSC = "/usr/bin/runsc";
export const BUSYBOX = "/bin/busybox";
export const ARCH = process.arch === "arm64" ? "aarch64" : "x86_64";
export const SIDECARS = ["checkpointgofer", "gvisor-sentry-prewarmer", "gvisor_sentry", "runsc-metric-server"];

/** Releases in the fake bucket, by the directory a --version names. */
export const RELEASES = {
  /** Legacy layout: loose runsc + shim, each with .sha512. */
  legacy: "20260817.0",
  /** New layout: gvisor.tar.zstd + gvisor.tar.bz2. Also served as release/latest. */
  current: "20260907.0",
  /** New layout with only gvisor.tar.bz2 (no zstd). */
  bz2only: "20260721.0",
  /** A nightly with the new layout. */
  nightly: "nightly/2026-09-10",
  /** Tarballs whose hash matches but whose content must be refused. */
  wrongArch: "20991201.0",
  dotdot: "20991202.0",
  absolute: "20991203.0",
  symlinkEscape: "20991204.0",
  device: "20991205.0",
  unexpected: "20991206.0",
} as const;

export const FAULTS = [
  "404", // every request: 404
  "500-then-200", // first request of each file: 500, then served
  "429-then-200", // first request of each file: 429 with Retry-After: 0
  "reset-once", // first request of each tarball/binary: connection reset after 40% of the body
  "reset-once-no-range", // same, and the server ignores Range (resends the whole file)
  "truncated", // tarballs/binaries: full Content-Length, only the first half, then close; always
  "wrong-hash", // every .sha512 holds a different (valid-looking) hash
  "html", // every request: 200 with an HTML login page
  "no-response", // accept the connection, never answer
  "stall", // headers and the body up to 40% of the file, then silence; always
  "throttle", // body at ~4 MB/s (for killing an install mid-download)
  "split-magic", // tarballs/binaries: the first 2 bytes alone, the rest 200 ms later (a magic split across chunks)
] as const;
export type Fault = (typeof FAULTS)[number];

export interface RequestRecord {
  method: string;
  /** Path below the fault prefix, e.g. "release/20260907.0/x86_64/gvisor.tar.zstd". */
  path: string;
  fault: Fault | null;
  range: string | null;
  status: number;
  userAgent: string | null;
}

export interface FakeBucket {
  /** http(s)://127.0.0.1:PORT (or the host name given). */
  url: string;
  /** The bucket's files on disk (usable as a local --mirror directory). */
  dir: string;
  /** --mirror value for a fault (or none). */
  mirror(fault?: Fault): string;
  requests: RequestRecord[];
  /** sha512 of a file in the bucket, e.g. sha("release/20260907.0/x86_64/gvisor.tar.zstd"). */
  sha(rel: string): string;
  close(): Promise<void>;
}

// --- building the bucket ---------------------------------------------------------------------

function sha512File(p: string): string {
  return createHash("sha512").update(readFileSync(p)).digest("hex");
}

function writeSha(dir: string, name: string): void {
  writeFileSync(join(dir, `${name}.sha512`), `${sha512File(join(dir, name))}  ${name}\n`);
}

/** A copy of `src` with `tag` appended: same program, different bytes (and hash) per release. */
function tagged(src: string, dest: string, tag: string): void {
  copyFileSync(src, dest);
  writeFileSync(dest, `\n${tag}\n`, { flag: "a" });
  chmodSync(dest, 0o755);
}

interface TarMember {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice";
  data?: Buffer;
  linkpath?: string;
  mode?: number;
}

/** A tar stream built header by header, so members can be as hostile as a test needs. */
export function buildTar(members: TarMember[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const type = m.type ?? "File";
    const data = type === "File" ? (m.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const h = new Header({
      path: m.path,
      type,
      size: data.length,
      mode: m.mode ?? (type === "Directory" ? 0o755 : 0o755),
      mtime: new Date(0),
      linkpath: m.linkpath,
      uid: 0,
      gid: 0,
      devmaj: 0,
      devmin: 0,
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function compress(tarPath: string, format: "zstd" | "bz2"): void {
  const [bin, args, out] =
    format === "zstd"
      ? ["zstd", ["-q", "-f", "-3", "-T0", tarPath, "-o", `${tarPath}.zstd`], `${tarPath}.zstd`]
      : ["bzip2", ["-k", "-f", "-1", tarPath], `${tarPath}.bz2`];
  const r = spawnSync(bin as string, args as string[], { encoding: "utf8" });
  if (r.status !== 0 || !existsSync(out as string)) throw new Error(`${bin} failed: ${r.stderr}`);
}

/** The members of a well-formed new-layout release (runsc tagged with the release name). */
function releaseMembers(tag: string): TarMember[] {
  const runsc = readFileSync(RUNSC);
  const bb = readFileSync(BUSYBOX);
  const mark = (b: Buffer, t: string) => Buffer.concat([b, Buffer.from(`\n${t}\n`)]);
  return [
    { path: "./", type: "Directory" },
    { path: "./runsc", data: mark(runsc, tag) },
    { path: "./containerd-shim-runsc-v1", data: mark(bb, `${tag} shim`) },
    { path: "./gvisor-bin/", type: "Directory" },
    ...SIDECARS.map((s) => ({ path: `./gvisor-bin/${s}`, data: mark(bb, `${tag} ${s}`) })),
  ];
}

function writeTarRelease(dir: string, members: TarMember[], formats: ("zstd" | "bz2")[]): void {
  mkdirSync(dir, { recursive: true });
  const tar = join(dir, "gvisor.tar");
  writeFileSync(tar, buildTar(members));
  for (const f of formats) {
    compress(tar, f);
    writeSha(dir, `gvisor.tar.${f}`);
  }
  rmSync(tar);
}

function buildBucket(root: string): void {
  const rel = (v: string) => join(root, v.startsWith("nightly/") ? v : `release/${v}`, ARCH);
  // Legacy: loose files.
  for (const v of [RELEASES.legacy, "20260817"]) {
    const d = rel(v);
    mkdirSync(d, { recursive: true });
    tagged(RUNSC, join(d, "runsc"), `release ${RELEASES.legacy}`);
    tagged(BUSYBOX, join(d, "containerd-shim-runsc-v1"), `release ${RELEASES.legacy} shim`);
    writeSha(d, "runsc");
    writeSha(d, "containerd-shim-runsc-v1");
  }
  // New layout, also as release/latest.
  for (const v of [RELEASES.current, "20260907", "latest"])
    writeTarRelease(rel(v), releaseMembers(`release ${RELEASES.current}`), ["zstd", "bz2"]);
  writeTarRelease(rel(RELEASES.bz2only), releaseMembers(`release ${RELEASES.bz2only}`), ["bz2"]);
  writeTarRelease(rel(RELEASES.nightly), releaseMembers("nightly 2026-09-10"), ["zstd"]);
  writeTarRelease(join(root, "nightly/latest", ARCH), releaseMembers("nightly 2026-09-10"), ["zstd"]);
  // Hostile or broken releases whose .sha512 matches: the content must be refused.
  const good = releaseMembers("evil");
  const wrongArch = Buffer.from(good[1].data!);
  wrongArch.writeUInt16LE(ARCH === "x86_64" ? 0xb7 : 0x3e, 18); // e_machine: the other architecture
  writeTarRelease(rel(RELEASES.wrongArch), [good[0], { path: "./runsc", data: wrongArch }, ...good.slice(2)], ["zstd"]);
  writeTarRelease(rel(RELEASES.dotdot), [...good, { path: "../gvd-escaped", data: Buffer.from("pwned\n") }], ["zstd"]);
  writeTarRelease(
    rel(RELEASES.absolute),
    [{ path: "/tmp/gvd-absolute-member", data: Buffer.from("pwned\n") }, ...good],
    ["zstd"],
  );
  writeTarRelease(
    rel(RELEASES.symlinkEscape),
    [
      ...good.slice(0, 4),
      { path: "./gvisor-bin/gvisor_sentry", type: "SymbolicLink", linkpath: "../../../../../etc/passwd" },
    ],
    ["zstd"],
  );
  writeTarRelease(rel(RELEASES.device), [...good, { path: "./gvisor-bin/console", type: "CharacterDevice" }], ["zstd"]);
  writeTarRelease(
    rel(RELEASES.unexpected),
    [...good, { path: "./etc/cron.d/gvd", data: Buffer.from("* * * * * root true\n") }],
    ["zstd"],
  );
}

/** Inputs that define the bucket: rebuilt when runsc, busybox or this builder change. */
function bucketKey(): string {
  const h = createHash("sha256");
  for (const p of [RUNSC, BUSYBOX]) {
    const st = statSync(p);
    h.update(`${p}:${st.size}:${st.mtimeMs}`);
  }
  h.update(readFileSync(import.meta.filename));
  return h.digest("hex").slice(0, 12);
}

/** A bucket nobody used for this long (no run touched its .used) is stale. */
export const STALE_BUCKET_MS = 24 * 3600_000;

/**
 * Remove what no run needs any more: half-built buckets of processes that are gone, and buckets of
 * other inputs unused for a day. A bucket of other inputs may be another checkout's, in use right now
 * (parallel runs from several worktrees): it stays.
 */
export function removeStaleBuckets(keep: string, tmpDir = "/tmp", now = Date.now()): string[] {
  const removed: string[] = [];
  for (const n of readdirSync(tmpDir)) {
    const p = join(tmpDir, n);
    if (p === keep) continue;
    const build = n.match(/^gvd-fake-bucket-[0-9a-f]{12}\.build-(\d+)-[0-9a-f]+$/);
    let stale = false;
    if (build) stale = !pidAlive(Number(build[1]));
    else if (/^gvd-fake-bucket-[0-9a-f]{12}$/.test(n)) {
      try {
        stale = now - statSync(join(p, existsSync(join(p, ".used")) ? ".used" : ".complete")).mtimeMs > STALE_BUCKET_MS;
      } catch {}
    }
    if (!stale) continue;
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function markUsed(dir: string): void {
  try {
    writeFileSync(join(dir, ".used"), "");
  } catch {}
}

/** Build the bucket once per machine state (concurrent test files share it). */
export function bucketDir(): string {
  const dir = `/tmp/gvd-fake-bucket-${bucketKey()}`;
  if (existsSync(join(dir, ".complete"))) {
    markUsed(dir);
    return dir;
  }
  removeStaleBuckets(dir);
  const tmp = `${dir}.build-${process.pid}-${randomBytes(3).toString("hex")}`;
  mkdirSync(tmp, { recursive: true });
  buildBucket(tmp);
  writeFileSync(join(tmp, ".complete"), "");
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process published it first
  }
  markUsed(dir);
  return dir;
}

// --- serving ---------------------------------------------------------------------------------

const HTML = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in to the hotel Wi-Fi</body></html>\n";

function isPayload(path: string): boolean {
  return !path.endsWith(".sha512");
}

export interface BucketOptions {
  /** Serve over TLS with this key/cert (PEM). */
  tls?: { key: string; cert: string };
  /** Host name to put in `url` (e.g. a name only the proxy can resolve). */
  hostname?: string;
  /** Bytes per second for the "throttle" fault. */
  throttleBps?: number;
  /** Serve this directory instead of the built bucket (e.g. the benchmark's release). */
  dir?: string;
}

export async function startFakeBucket(opts: BucketOptions = {}): Promise<FakeBucket> {
  const dir = opts.dir ?? bucketDir();
  const requests: RequestRecord[] = [];
  const seen = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const m = url.pathname.match(/^\/(?:ok|f\/([^/]+))\/(.*)$/);
    const fault = (m?.[1] ?? null) as Fault | null;
    const path = decodeURIComponent(m?.[2] ?? url.pathname.slice(1));
    const rec: RequestRecord = {
      method: req.method ?? "GET",
      path,
      fault,
      range: (req.headers.range as string) ?? null,
      status: 0,
      userAgent: (req.headers["user-agent"] as string) ?? null,
    };
    requests.push(rec);
    const key = `${fault}:${path}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    const send = (status: number, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}) => {
      rec.status = status;
      res.writeHead(status, { "Content-Length": Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    if (fault === "no-response") return; // the socket stays open; the client must time out
    if (fault === "404" || !m)
      return send(404, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>", {
        "Content-Type": "application/xml",
      });
    if (fault === "html") return send(200, HTML, { "Content-Type": "text/html; charset=utf-8" });
    if (fault === "500-then-200" && n === 1) return send(500, "Internal Server Error\n");
    if (fault === "429-then-200" && n === 1) return send(429, "Too Many Requests\n", { "Retry-After": "0" });
    const file = join(dir, path);
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      return send(404, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>", {
        "Content-Type": "application/xml",
      });
    }
    if (path.endsWith(".sha512") && fault === "wrong-hash") {
      const text = readFileSync(file, "utf8");
      return send(200, `${createHash("sha512").update("something else").digest("hex")}${text.slice(128)}`, {
        "Content-Type": "text/plain",
      });
    }
    const etag = `"${statSync(file).mtimeMs.toString(16)}-${size.toString(16)}"`;
    const ignoreRange = fault === "reset-once-no-range";
    let start = 0;
    const range =
      typeof req.headers.range === "string" && !ignoreRange ? req.headers.range.match(/^bytes=(\d+)-$/) : null;
    const ifRange = req.headers["if-range"];
    if (range && (!ifRange || ifRange === etag)) start = Number(range[1]);
    if (start > size) return send(416, "", { "Content-Range": `bytes */${size}` });
    const headers: http.OutgoingHttpHeaders = {
      "Content-Type": path.endsWith(".sha512") ? "text/plain" : "application/octet-stream",
      "Accept-Ranges": ignoreRange ? "none" : "bytes",
      ETag: etag,
      "Content-Length": size - start,
    };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${size - 1}/${size}`;
    rec.status = start > 0 ? 206 : 200;
    res.writeHead(rec.status, headers);
    res.flushHeaders(); // headers go out even when no body byte follows (stall, truncated)
    // How much of the requested range to send before misbehaving.
    let cut: number | null = null;
    let then: "reset" | "close" | "stall" = "reset";
    if (isPayload(path)) {
      if ((fault === "reset-once" || fault === "reset-once-no-range") && n === 1) cut = Math.floor(size * 0.4);
      if (fault === "truncated") {
        cut = Math.max(0, Math.floor(size / 2) - start);
        then = "close";
      }
      if (fault === "stall") {
        cut = Math.max(0, Math.floor(size * 0.4) - start);
        then = "stall";
      }
    }
    const end = cut === null ? size : Math.min(size, start + cut);
    const finish = () => {
      if (cut === null) return res.end();
      if (then === "stall") return; // keep the socket open, say nothing
      if (then === "close") return res.socket?.end();
      res.socket?.resetAndDestroy?.() ?? res.socket?.destroy();
    };
    if (end <= start) return finish();
    if (fault === "split-magic" && isPayload(path) && start === 0 && end > 2) {
      res.write(readFileSync(file).subarray(0, 2));
      const t = setTimeout(() => {
        timers.delete(t);
        const rest = createReadStream(file, { start: 2, end: end - 1, highWaterMark: 1 << 20 });
        rest.on("data", (c) => {
          if (!res.write(c)) {
            rest.pause();
            res.once("drain", () => rest.resume());
          }
        });
        rest.on("end", finish);
      }, 200);
      timers.add(t);
      return;
    }
    const stream = createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 });
    if (fault === "throttle" && isPayload(path)) {
      const bps = opts.throttleBps ?? 4 << 20;
      stream.on("data", (c) => {
        stream.pause();
        res.write(c);
        const t = setTimeout(
          () => {
            timers.delete(t);
            stream.resume();
          },
          Math.ceil((c.length / bps) * 1000),
        );
        timers.add(t);
      });
      stream.on("end", finish);
      return;
    }
    stream.on("data", (c) => {
      if (!res.write(c)) {
        stream.pause();
        res.once("drain", () => stream.resume());
      }
    });
    stream.on("end", finish);
    stream.on("error", () => res.socket?.destroy());
  };

  const server = opts.tls
    ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler)
    : http.createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const url = `${opts.tls ? "https" : "http"}://${opts.hostname ?? "127.0.0.1"}:${port}`;
  return {
    url,
    dir,
    requests,
    mirror: (fault) => (fault ? `${url}/f/${fault}` : `${url}/ok`),
    sha: (rel) => sha512File(join(dir, rel)),
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// --- a proxy that keeps a record -----------------------------------------------------------

export interface ProxyRecord {
  method: "GET" | "CONNECT" | string;
  /** Absolute URL (plain HTTP) or host:port (CONNECT). */
  target: string;
}

export interface RecordingProxy {
  url: string;
  records: ProxyRecord[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy (absolute-URI requests and CONNECT tunnels) on 127.0.0.1 that sends every
 * host name in `hosts` to 127.0.0.1, so a URL with a name nothing else resolves can only
 * be fetched through it.
 */
export async function startProxy(hosts: string[] = []): Promise<RecordingProxy> {
  const records: ProxyRecord[] = [];
  const sockets = new Set<net.Socket>();
  const resolveHost = (h: string) => (hosts.includes(h) ? "127.0.0.1" : h);
  const server = http.createServer((req, res) => {
    records.push({ method: req.method ?? "?", target: req.url ?? "" });
    let u: URL;
    try {
      u = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("proxy: absolute URL expected\n");
      return;
    }
    const up = http.request(
      {
        host: resolveHost(u.hostname),
        port: u.port || 80,
        path: `${u.pathname}${u.search}`,
        method: req.method,
        headers: { ...req.headers, host: u.host },
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        ur.on("error", () => res.socket?.destroy());
      },
    );
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end("proxy: upstream failed\n");
      else res.socket?.destroy();
    });
    req.pipe(up);
  });
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    records.push({ method: "CONNECT", target: req.url ?? "" });
    const [host, port] = (req.url ?? "").split(":");
    const up = net.connect(Number(port), resolveHost(host), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
    sockets.add(up);
    up.on("close", () => sockets.delete(up));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    records,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A self-signed certificate for `host` (openssl; PEM files in `dir`), for the TLS bucket and the served
 * release: a host name is its DNS subjectAltName, an address its IP one.
 */
export function selfSignedCert(dir: string, host = "127.0.0.1"): { key: string; cert: string; certFile: string } {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  const san = `${net.isIP(host) ? "IP" : "DNS"}:${host}`;
  const r = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      `/CN=${host}`,
      "-addext",
      `subjectAltName=${san}`,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), certFile };
}

/** First bytes of a file (for checks on what got installed). */
export function head(path: string, n = 4): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}
