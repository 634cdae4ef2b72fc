// Proxies, proven through the compiled binary: the bucket is reachable only under a
// host name that nothing but the test proxy resolves, so a successful install went
// through the proxy — plain HTTP (absolute-URI GET) and HTTPS (CONNECT tunnel).
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  ARCH,
  RELEASES,
  selfSignedCert,
  startFakeBucket,
  startProxy,
  type FakeBucket,
  type RecordingProxy,
} from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, makePrefix, removePrefix } from "../helpers/install-env.ts";

setDefaultTimeout(120_000);

const HOST = "gvisor-bucket.test";
let plain: FakeBucket;
let tls: FakeBucket;
let proxy: RecordingProxy;
let certDir: string;
let certPath: string;
let prefix: string;

beforeAll(async () => {
  certDir = mkdtempSync("/tmp/gvd-test-cert-");
  const cert = selfSignedCert(certDir, HOST);
  certPath = cert.certFile;
  plain = await startFakeBucket({ hostname: HOST });
  tls = await startFakeBucket({ hostname: HOST, tls: cert });
  proxy = await startProxy([HOST]);
}, 180_000);
afterAll(async () => {
  await Promise.all([plain?.close(), tls?.close(), proxy?.close()]);
  rmSync(certDir, { recursive: true, force: true });
});
beforeEach(() => {
  prefix = makePrefix();
});
afterEach(() => removePrefix(prefix));

const tarball = `release/${RELEASES.current}/${ARCH}/gvisor.tar.zstd`;
const install = (mirror: string, env: NodeJS.ProcessEnv, ...extra: string[]) =>
  gvd(
    [
      "install",
      "--mirror",
      mirror,
      "--prefix",
      prefix,
      "--version",
      RELEASES.current,
      "--no-configure",
      "--json",
      ...extra,
    ],
    env,
  );
const runs = () => spawnSync(join(prefix, "bin/runsc"), ["--version"]).status === 0;

describe("through a proxy", () => {
  test("without a proxy the bucket's name does not resolve (so the tests below prove the proxy path)", async () => {
    const r = await install(plain.mirror(), cleanEnv({ GVISOR_DOCTOR_HTTP_RETRIES: "0" }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot resolve the host name|connection refused|ENOTFOUND/);
  });

  test.each(["http_proxy", "HTTP_PROXY"])("plain HTTP via %s", async (name) => {
    const n = proxy.records.length;
    const r = await install(plain.mirror(), cleanEnv({ [name]: proxy.url }), "-v");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`via proxy ${proxy.url} (${name})`);
    expect(proxy.records.slice(n)).toContainEqual({ method: "GET", target: `${plain.mirror()}/${tarball}` });
    expect(r.json.sha512).toBe(plain.sha(tarball));
    expect(runs()).toBe(true);
  });

  test.each(["https_proxy", "HTTPS_PROXY"])("HTTPS via a CONNECT tunnel from %s", async (name) => {
    const n = proxy.records.length;
    const r = await install(tls.mirror(), cleanEnv({ [name]: proxy.url, NODE_EXTRA_CA_CERTS: certPath }), "-v");
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(proxy.records.slice(n)).toContainEqual({ method: "CONNECT", target: `${HOST}:${new URL(tls.url).port}` });
    expect(r.json.url).toBe(`${tls.mirror()}/${tarball}`);
    expect(runs()).toBe(true);
  });

  test("NO_PROXY sends matching hosts direct", async () => {
    const direct = plain.mirror().replace(HOST, "127.0.0.1");
    const n = proxy.records.length;
    const r = await install(direct, cleanEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" }), "-v");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("direct connection (127.0.0.1 matches NO_PROXY)");
    expect(proxy.records.length).toBe(n);
  });

  test("a proxy that refuses is a clear error naming the URL", async () => {
    const r = await install(
      plain.mirror(),
      cleanEnv({ HTTP_PROXY: "http://127.0.0.1:9", GVISOR_DOCTOR_HTTP_RETRIES: "0" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `GET ${plain.mirror()}/release/${RELEASES.current}/${ARCH}/gvisor.tar.zstd.sha512 failed`,
    );
    expect(r.stderr).toContain("HTTPS_PROXY, NO_PROXY");
  });
});
