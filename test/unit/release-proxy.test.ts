// Which proxy a download goes through (reported with -v; on Node it also sets up undici).
import { describe, expect, test } from "bun:test";
import { noProxyMatches, proxyFor, redactProxy } from "../../platform/release/proxy.ts";

const URL_HTTPS = "https://storage.googleapis.com/gvisor/releases";

describe("proxy variables", () => {
  test("https URLs use https_proxy / HTTPS_PROXY, http URLs http_proxy / HTTP_PROXY", () => {
    expect(proxyFor(URL_HTTPS, { HTTPS_PROXY: "http://p:3128" })).toEqual({
      proxy: "http://p:3128",
      reason: "HTTPS_PROXY",
    });
    expect(proxyFor(URL_HTTPS, { https_proxy: "http://p:3128" })).toEqual({
      proxy: "http://p:3128",
      reason: "https_proxy",
    });
    expect(proxyFor(URL_HTTPS, { HTTP_PROXY: "http://p:3128" }).proxy).toBeNull();
    expect(proxyFor("http://mirror.local/x", { http_proxy: "http://p:3128" }).proxy).toBe("http://p:3128");
  });
  test("lower case wins over upper case (as curl, undici and Bun do)", () => {
    expect(proxyFor(URL_HTTPS, { https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:1" }).proxy).toBe(
      "http://lower:1",
    );
  });
  test("NO_PROXY / no_proxy: hosts, domain suffixes, ports and *", () => {
    expect(proxyFor(URL_HTTPS, { HTTPS_PROXY: "http://p:1", NO_PROXY: "googleapis.com" })).toEqual({
      proxy: null,
      reason: "storage.googleapis.com matches NO_PROXY",
    });
    expect(proxyFor(URL_HTTPS, { HTTPS_PROXY: "http://p:1", no_proxy: ".googleapis.com" }).proxy).toBeNull();
    expect(proxyFor(URL_HTTPS, { HTTPS_PROXY: "http://p:1", NO_PROXY: "*" }).proxy).toBeNull();
    expect(proxyFor(URL_HTTPS, { HTTPS_PROXY: "http://p:1", NO_PROXY: "example.com, oogleapis.com" }).proxy).toBe(
      "http://p:1",
    );
    expect(noProxyMatches("127.0.0.1:8080", "127.0.0.1", "8080")).toBe(true);
    expect(noProxyMatches("127.0.0.1:8080", "127.0.0.1", "9090")).toBe(false);
    expect(noProxyMatches("*.internal", "bucket.internal", "443")).toBe(true);
    expect(noProxyMatches("[::1]", "[::1]", "80")).toBe(true);
  });
  test("local directories need no proxy; passwords never reach messages", () => {
    expect(proxyFor("/srv/gvisor", { HTTPS_PROXY: "http://p:1" }).proxy).toBeNull();
    expect(redactProxy("http://user:secret@proxy:3128")).toBe("http://user:***@proxy:3128");
  });
});
