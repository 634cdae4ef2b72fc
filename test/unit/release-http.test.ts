// The download client against a real HTTP server on 127.0.0.1: retries, Range resume,
// timeouts, and no byte of an error page ever reaching the sink.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DownloadError,
  httpGetText,
  httpStream,
  NotFoundError,
  type HttpOptions,
} from "../../platform/release/http.ts";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";

let bucket: FakeBucket;
// The first run builds the bucket (zstd, bzip2): allow it time.
beforeAll(async () => {
  bucket = await startFakeBucket();
}, 180_000);
afterAll(() => bucket.close());

const REL = `release/${RELEASES.current}/${process.arch === "arm64" ? "aarch64" : "x86_64"}/gvisor.tar.zstd`;
const opts = (o: Partial<HttpOptions> = {}): HttpOptions => ({
  timeoutMs: 1500,
  retries: 2,
  backoffMs: 20,
  userAgent: "gvisor-doctor/test",
  ...o,
});

async function download(url: string, o = opts()) {
  const h = createHash("sha512");
  let bytes = 0;
  const r = await httpStream(url, o, (c) => {
    h.update(c);
    bytes += c.length;
  });
  return { ...r, sha: h.digest("hex"), sunk: bytes };
}

describe("httpStream", () => {
  test("delivers the whole file once, in order", async () => {
    const r = await download(`${bucket.mirror()}/${REL}`);
    expect(r.sha).toBe(bucket.sha(REL));
    expect(r.sunk).toBe(readFileSync(join(bucket.dir, REL)).length);
    expect(r.attempts).toBe(1);
    expect(bucket.requests.at(-1)!.userAgent).toBe("gvisor-doctor/test");
  });
  test("a reset mid-body resumes with Range from where it broke off", async () => {
    const before = bucket.requests.length;
    const r = await download(`${bucket.mirror("reset-once")}/${REL}`);
    expect(r.sha).toBe(bucket.sha(REL));
    expect(r.resumes).toBe(1);
    const reqs = bucket.requests.slice(before);
    expect(reqs.map((q) => q.status)).toEqual([200, 206]);
    expect(reqs[1].range).toMatch(/^bytes=\d+-$/);
  });
  test("a server that ignores Range resends everything and the bytes already delivered are skipped", async () => {
    const r = await download(`${bucket.mirror("reset-once-no-range")}/${REL}`);
    expect(r.sha).toBe(bucket.sha(REL));
    expect(r.attempts).toBe(2);
  });
  test("500 then 200 and 429 then 200 are retried; the error bodies never reach the sink", async () => {
    for (const f of ["500-then-200", "429-then-200"] as const) {
      const r = await download(`${bucket.mirror(f)}/${REL}`);
      expect(r.sha).toBe(bucket.sha(REL));
      expect(r.attempts).toBe(2);
    }
  });
  test("404 is NotFoundError at once, without retries", async () => {
    const before = bucket.requests.length;
    const err = await download(`${bucket.mirror("404")}/${REL}`).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(bucket.requests.length - before).toBe(1);
  });
  test("a body cut short every time fails after the retries, saying how far it got", async () => {
    const err = await download(`${bucket.mirror("truncated")}/${REL}`).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/failed after [\d.]+ MB of [\d.]+ MB: .* \(3 attempts\)/);
  });
  test("no response, and a body that stalls, time out", async () => {
    const a = await download(`${bucket.mirror("no-response")}/${REL}`, opts({ timeoutMs: 300, retries: 1 })).catch(
      (e) => e,
    );
    expect(a.message).toContain("no response within 0.3 s (2 attempts)");
    const b = await download(`${bucket.mirror("stall")}/${REL}`, opts({ timeoutMs: 300, retries: 1 })).catch((e) => e);
    expect(b.message).toMatch(/no data for 0.3 s \(2 attempts\)/);
  });
  test("an error thrown by the sink stops the download and is not retried", async () => {
    const before = bucket.requests.length;
    const err = await httpStream(`${bucket.mirror()}/${REL}`, opts(), () => {
      throw new Error("disk full");
    }).catch((e) => e);
    expect(err.message).toBe("disk full");
    expect(bucket.requests.length - before).toBe(1);
  });
  test("a refused connection names the URL", async () => {
    const err = await download("http://127.0.0.1:9/nothing", opts({ retries: 0 })).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/^GET http:\/\/127\.0\.0\.1:9\/nothing failed: connection refused/);
  });
  test("httpGetText reads small files and refuses large ones", async () => {
    expect(await httpGetText(`${bucket.mirror()}/${REL}.sha512`, opts())).toMatch(
      /^[0-9a-f]{128}  gvisor\.tar\.zstd\n$/,
    );
    await expect(httpGetText(`${bucket.mirror()}/${REL}`, opts())).rejects.toThrow(/not a checksum file/);
  });
});

describe("redirects", () => {
  let server: import("node:http").Server;
  let base = "";
  let hits: string[] = [];
  beforeAll(async () => {
    const http = await import("node:http");
    server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      const targets: Record<string, string> = {
        "/to-file": "file:///etc/passwd",
        "/to-ftp": "ftp://127.0.0.1/x",
        "/to-ok": `${bucket.mirror()}/${REL}`,
      };
      const to = targets[req.url ?? ""];
      if (req.url === "/loop") return res.writeHead(302, { Location: "/loop" }).end();
      res.writeHead(to ? 302 : 404, to ? { Location: to } : {}).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  test.each(["/to-file", "/to-ftp"])("a redirect off http(s) (%s) is refused at once, not retried", async (path) => {
    hits = [];
    const err = await download(`${base}${path}`, opts({ retries: 4 })).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/redirected to (file|ftp):\/\/\S+, which is not http\(s\): refused/);
    expect(hits).toEqual([path]);
  });
  test("a redirect to another http(s) URL is followed", async () => {
    const r = await download(`${base}/to-ok`);
    expect(r.sha).toBe(bucket.sha(REL));
  });
  test("a redirect loop ends after 10 hops", async () => {
    hits = [];
    const err = await download(`${base}/loop`, opts({ retries: 0 })).catch((e) => e);
    expect(err.message).toContain("more than 10 redirects");
    expect(hits.length).toBe(11);
  });
});
