// Labels through the Kubernetes API from inside a pod (no kubectl): label syntax, the
// merge patch, reading before writing, and errors that name the cause and the fix,
// against a fake API server on 127.0.0.1 (HTTP, and HTTPS with the service account's CA).
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { runArgv } from "../../src/dispatch.ts";
import { ApiError, ensureNodeLabel, inClusterConfig, tokenSubject } from "../../src/k8s/in-cluster.ts";
import { labelKeyProblem, labelValueFor, labelValueProblem } from "../../src/k8s/labels.ts";
import { fakeApi, fakeToken, podEnv, SUBJECT, type FakeApi } from "../fixtures/k8s/kubectl/fake-api.ts";
import { recordingIO } from "../helpers/io.ts";

const captureIO = (env: NodeJS.ProcessEnv, json = false) => recordingIO(env, { json });

let api: FakeApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

describe("label syntax (Kubernetes rules)", () => {
  test("keys: [DNS-subdomain prefix/]name, name up to 63", () => {
    expect(labelKeyProblem("gvisor.dev/runsc")).toBeNull();
    expect(labelKeyProblem("runsc")).toBeNull();
    expect(labelKeyProblem("a.b-c/x_y.z")).toBeNull();
    expect(labelKeyProblem("Gvisor.dev/runsc")).toContain("not a DNS subdomain");
    expect(labelKeyProblem("/runsc")).toContain('prefix before "/" is empty');
    expect(labelKeyProblem("gvisor.dev/")).toContain("name is empty");
    expect(labelKeyProblem(`x/${"a".repeat(64)}`)).toContain("longer than 63");
    expect(labelKeyProblem("gvisor.dev/-runsc")).toContain("starting and ending with a letter or digit");
    expect(labelKeyProblem("a/b/c")).not.toBeNull();
  });
  test("values: empty, or up to 63 of [A-Za-z0-9._-] starting and ending alphanumeric", () => {
    expect(labelValueProblem("20260817.0")).toBeNull();
    expect(labelValueProblem("")).toBeNull();
    expect(labelValueProblem("0.0~20221219.0")).toContain("must be letters");
    expect(labelValueProblem("a".repeat(64))).toContain("longer than 63");
    expect(labelValueProblem("x.")).not.toBeNull();
  });
  test("an installed version directory becomes a valid value", () => {
    expect(labelValueFor("20260817.0")).toBe("20260817.0");
    expect(labelValueFor("0.0~20221219.0")).toBe("0.0_20221219.0");
    expect(labelValueFor("latest-3f1a9c0e7b2d")).toBe("latest-3f1a9c0e7b2d");
    expect(labelValueProblem(labelValueFor(`_${"9".repeat(80)}+`))).toBeNull();
  });
});

describe("in-cluster config", () => {
  test("the API from KUBERNETES_SERVICE_HOST/PORT (IPv6 in brackets), the token and CA from the service account directory", () => {
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" })).toEqual({
      base: "https://10.96.0.1:443",
      saDir: "/var/run/secrets/kubernetes.io/serviceaccount",
    });
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "443" }).base).toBe(
      "https://[fd00:10:96::1]:443",
    );
    expect(
      inClusterConfig({ GVISOR_DOCTOR_K8S_API: "http://127.0.0.1:8001/", GVISOR_DOCTOR_K8S_SA_DIR: "/tmp/sa" }),
    ).toEqual({ base: "http://127.0.0.1:8001", saDir: "/tmp/sa" });
  });
  test("outside a pod: says so, and what to use instead", () => {
    expect(() => inClusterConfig({})).toThrow(/not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set/);
  });
  test("the token names its ServiceAccount (for RBAC messages)", () => {
    expect(tokenSubject(fakeToken())).toBe(SUBJECT);
    expect(tokenSubject("not-a-jwt")).toBeNull();
  });
});

describe("ensureNodeLabel against the API", () => {
  test("sets a label with a JSON merge patch after reading the node; a second time reads only", async () => {
    api = await fakeApi({ nodes: { "worker-a": { "kubernetes.io/hostname": "worker-a" } } });
    const cfg = inClusterConfig(podEnv(api));
    expect(await ensureNodeLabel(cfg, "worker-a", "gvisor.dev/runsc", "20260817.0")).toEqual({
      action: "set",
      previous: null,
    });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/nodes/worker-a",
      "PATCH /api/v1/nodes/worker-a",
    ]);
    expect(api.requests[1]).toMatchObject({
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { "gvisor.dev/runsc": "20260817.0" } } },
      authorization: `Bearer ${fakeToken()}`,
    });
    expect(api.nodes["worker-a"]["gvisor.dev/runsc"]).toBe("20260817.0");
    expect(await ensureNodeLabel(cfg, "worker-a", "gvisor.dev/runsc", "20260817.0")).toEqual({
      action: "unchanged",
      previous: "20260817.0",
    });
    expect(api.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
  });

  test("removes a label with null in the merge patch", async () => {
    api = await fakeApi({ nodes: { "worker-a": { "gvisor.dev/runsc": "20260801.0" } } });
    const cfg = inClusterConfig(podEnv(api));
    expect(await ensureNodeLabel(cfg, "worker-a", "gvisor.dev/runsc", null)).toEqual({
      action: "removed",
      previous: "20260801.0",
    });
    expect(api.requests[1].body).toEqual({ metadata: { labels: { "gvisor.dev/runsc": null } } });
    expect(api.nodes["worker-a"]).toEqual({});
  });

  test("403: RBAC, naming the ServiceAccount and the rule it needs", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    api.failWith = {
      status: 403,
      reason: "Forbidden",
      message: `nodes "{name}" is forbidden: User "${SUBJECT}" cannot {verb} resource "nodes" in API group "" at the cluster scope`,
    };
    const e = (await ensureNodeLabel(inClusterConfig(podEnv(api)), "worker-a", "gvisor.dev/runsc", "1").catch(
      (x) => x,
    )) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(403);
    expect(e.message).toStartWith(`RBAC: ${SUBJECT} may not get nodes (403 Forbidden): nodes "worker-a" is forbidden`);
    expect(e.hint).toContain('verbs: ["get", "patch"]');
  });

  test("404: no such node, and where the node name comes from", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const e = (await ensureNodeLabel(inClusterConfig(podEnv(api)), "worker-z", "gvisor.dev/runsc", "1").catch(
      (x) => x,
    )) as ApiError;
    expect(e.message).toBe('no node named "worker-z" (404 Not Found)');
    expect(e.hint).toContain("spec.nodeName");
  });

  test("401: the token was rejected", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    await Bun.write(`${api.saDir}/token`, fakeToken("system:serviceaccount:other:gone"));
    const e = (await ensureNodeLabel(inClusterConfig(podEnv(api)), "worker-a", "k", "v").catch((x) => x)) as ApiError;
    expect(e.message).toContain("401 Unauthorized");
  });

  test("no token: not in a pod (or the token is not mounted)", async () => {
    const e = (await ensureNodeLabel({ base: "http://127.0.0.1:9", saDir: "/nonexistent/sa" }, "n", "k", "v").catch(
      (x) => x,
    )) as Error;
    expect(e.message).toBe(
      "no service account token at /nonexistent/sa/token: not running in a pod, or the pod does not mount its token",
    );
  });

  test("an API server that does not answer: names the URL", async () => {
    api = await fakeApi({ nodes: {} });
    const url = api.url;
    const saDir = api.saDir;
    await api.close();
    api = null;
    // The token directory is gone with the fake; make another.
    const dir = `${saDir}-2`;
    await Bun.write(`${dir}/token`, fakeToken());
    const e = (await ensureNodeLabel({ base: url, saDir: dir }, "n", "k", "v").catch((x) => x)) as ApiError;
    rmSync(dir, { recursive: true, force: true });
    expect(e.message).toStartWith(`cannot reach the Kubernetes API at ${url}:`);
  });

  test("HTTPS: the API server's certificate is verified with the service account's ca.crt", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} }, tls: true });
    expect(api.url).toStartWith("https://127.0.0.1:");
    expect(
      await ensureNodeLabel(inClusterConfig(podEnv(api)), "worker-a", "gvisor.dev/runsc", "20260817.0"),
    ).toMatchObject({ action: "set" });
  });

  test("HTTPS with a CA that did not sign the server's certificate: refused, and says which CA", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} }, tls: true });
    const other = await fakeApi({ nodes: {}, tls: true }); // another self-signed CA
    await Bun.write(`${api.saDir}/ca.crt`, Bun.file(`${other.saDir}/ca.crt`));
    await other.close();
    const e = (await ensureNodeLabel(inClusterConfig(podEnv(api)), "worker-a", "k", "v").catch((x) => x)) as ApiError;
    expect(e.message).toStartWith(`cannot reach the Kubernetes API at ${api.url}:`);
    expect(e.hint).toContain(`not signed by ${api.saDir}/ca.crt`);
    expect(api.requests).toHaveLength(0);
  });
});

describe("gvisor-doctor k8s label-node", () => {
  test("--label KEY=VALUE sets it; --json says what happened", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    const io = captureIO(podEnv(api), true);
    expect(await runArgv(["k8s", "label-node", "--label", "gvisor.dev/runsc=20260817.0", "--json"], io)).toBe(0);
    expect(JSON.parse(io.out.join(""))).toEqual({
      schemaVersion: 1,
      command: "k8s label-node",
      node: "worker-a",
      label: { key: "gvisor.dev/runsc", value: "20260817.0" },
      ok: true,
      action: "set",
      previous: null,
    });
  });

  test("--remove KEY on a node without it: nothing to do, exit 0", async () => {
    api = await fakeApi({ nodes: { "worker-b": {} } });
    const io = captureIO(podEnv(api, "worker-b"));
    expect(await runArgv(["k8s", "label-node", "--remove", "gvisor.dev/runsc"], io)).toBe(0);
    expect(io.out).toEqual(["node worker-b: has no gvisor.dev/runsc (nothing to do)"]);
    expect(api.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  test("403 → exit 1 with the RBAC cause and fix; --json has ok:false and the error", async () => {
    api = await fakeApi({ nodes: { "worker-a": {} } });
    api.failWith = {
      status: 403,
      reason: "Forbidden",
      message: `nodes "{name}" is forbidden: User "${SUBJECT}" cannot {verb} resource "nodes" in API group "" at the cluster scope`,
    };
    const io = captureIO(podEnv(api), true);
    expect(await runArgv(["k8s", "label-node", "--label", "gvisor.dev/runsc=1", "--json"], io)).toBe(1);
    const doc = JSON.parse(io.out.join(""));
    expect(doc).toMatchObject({ ok: false, node: "worker-a", error: { status: 403 } });
    expect(doc.error.message).toStartWith("RBAC:");
    expect(io.err.join("\n")).toContain("give the ServiceAccount get and patch on nodes");
  });

  test("usage errors (exit 2): neither or both of --label/--remove, no =, bad key, bad value, no node", async () => {
    const env = { PATH: process.env.PATH, NODE_NAME: "worker-a" };
    const run = async (args: string[], e: NodeJS.ProcessEnv = env) => {
      const io = captureIO(e);
      const code = await runArgv(["k8s", "label-node", ...args], io);
      return { code, err: io.err.join("\n") };
    };
    expect(await run([])).toMatchObject({
      code: 2,
      err: expect.stringContaining("exactly one of --label KEY=VALUE and --remove KEY"),
    });
    expect(await run(["--label", "a=b", "--remove", "a"])).toMatchObject({ code: 2 });
    expect(await run(["--label", "gvisor.dev/runsc"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("expected KEY=VALUE"),
    });
    expect(await run(["--label", "Bad_Prefix.dev/x=1"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("not a DNS subdomain"),
    });
    expect(await run(["--label", "gvisor.dev/runsc=0.0~1"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("must be letters"),
    });
    expect(await run(["--remove", "gvisor.dev/runsc"], { PATH: process.env.PATH })).toMatchObject({
      code: 2,
      err: expect.stringContaining("NODE_NAME is not set"),
    });
  });

  test("outside a pod: exit 1, not in a pod", async () => {
    const io = captureIO({ PATH: process.env.PATH, NODE_NAME: "worker-a" });
    expect(await runArgv(["k8s", "label-node", "--remove", "gvisor.dev/runsc"], io)).toBe(1);
    expect(io.err.join("\n")).toContain("not running in a Kubernetes pod");
  });
});
