// The Engine API client (platform/engines/docker/api.ts) against a fake dockerd: a node:http
// server on a unix socket that answers the way dockerd does, or the way a hostile socket might.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  DockerApi,
  apiRequest,
  demuxStream,
  negotiateVersion,
  runContainer,
  unixSocketOf,
  API_MAX_VERSION,
} from "../../../../platform/engines/docker/api.ts";
import {
  contextSelected,
  dockerEndpoint,
  dockerInfoVia,
  dockerInfoOf,
} from "../../../../platform/engines/docker/client.ts";
import { imageArchive, type Rootfs } from "../../../../platform/probe/rootfs.ts";
import { onCommand, type RunResult } from "../../../../platform/os/spawn.ts";

const dir = mkdtempSync("/tmp/gvd-api-test-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
interface Fake {
  sock: string;
  seen: { method: string; url: string; body: Buffer }[];
  close(): Promise<void>;
}
let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function fakeDockerd(handler: Handler): Promise<Fake> {
  const sock = join(dir, `d${servers.length}-${Math.random().toString(36).slice(2)}.sock`);
  const seen: Fake["seen"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, body });
      handler(req, body, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(sock, r));
  return { sock, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const json = (res: ServerResponse, status: number, v: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(v));
};
/** One frame of dockerd's multiplexed log stream. */
const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
};
const INFO = {
  ServerVersion: "28.5.1",
  DefaultRuntime: "runc",
  Runtimes: { runc: { path: "runc" }, runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } },
};
const DOCKER = "/usr/bin/docker";

describe("log stream demux (8-byte headers)", () => {
  test("stdout and stderr frames are split by their stream byte, in order", () => {
    const sig = "[   0.000000] Starting gVisor...\n";
    const buf = Buffer.concat([frame(1, sig), frame(2, "warn\n"), frame(1, "eth0:\n")]);
    expect(demuxStream(buf)).toEqual({ stdout: `${sig}eth0:\n`, stderr: "warn\n", malformed: false });
  });
  test("a frame cut short keeps what arrived and says so", () => {
    const whole = frame(1, "hello world");
    expect(demuxStream(whole.subarray(0, whole.length - 6))).toEqual({ stdout: "hello", stderr: "", malformed: false });
    expect(demuxStream(Buffer.concat([whole, Buffer.from([1, 0, 0])])).malformed).toBe(true);
  });
  test("bytes that are no frame header (a TTY stream, garbage) end the parse instead of being misread", () => {
    const r = demuxStream(Buffer.concat([frame(1, "ok\n"), Buffer.from("plain text, not a header")]));
    expect(r).toEqual({ stdout: "ok\n", stderr: "", malformed: true });
    expect(demuxStream(Buffer.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])).stdout).toBe("");
  });
});

describe("API version negotiation", () => {
  test("the daemon's version when older than ours, ours when it is newer or unreadable", () => {
    expect(negotiateVersion("1.41")).toBe("1.41");
    expect(negotiateVersion("1.52")).toBe(API_MAX_VERSION);
    expect(negotiateVersion("2.0", "1.47")).toBe("1.47");
    expect(negotiateVersion("1.9", "1.47")).toBe("1.9");
    expect(negotiateVersion("../../x")).toBe(API_MAX_VERSION);
    expect(negotiateVersion(null)).toBe(API_MAX_VERSION);
  });
  test("GET /_ping's API-Version header sets the path prefix of every later request", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      if (req.url === "/_ping") return (res.writeHead(200, { "API-Version": "1.41" }), res.end("OK"));
      json(res, 200, INFO);
    });
    const info = dockerInfoOf(await new DockerApi(d.sock).info());
    expect(info.runtimes.runsc).toEqual({ path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] });
    expect(d.seen.map((s) => s.url)).toEqual(["/_ping", "/v1.41/info"]);
  });
  test("without the header, GET /version's ApiVersion decides", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      if (req.url === "/_ping") return res.end("OK");
      if (req.url === "/version") return json(res, 200, { ApiVersion: "1.40", Version: "19.03.15" });
      json(res, 200, INFO);
    });
    await new DockerApi(d.sock).info();
    expect(d.seen.map((s) => s.url)).toEqual(["/_ping", "/version", "/v1.40/info"]);
  });
});

describe("the -v trace", () => {
  test("every request is recorded like a command: method, path, HTTP status, or why it failed", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      if (req.url === "/_ping") return res.end("OK");
      json(res, 404, { message: "no" });
    });
    const seen: RunResult[] = [];
    const off = onCommand((r) => seen.push(r));
    try {
      await new DockerApi(d.sock).call("/_ping");
      await new DockerApi(d.sock).call("/containers/x/json");
      await new DockerApi(join(dir, "absent.sock")).call("/_ping").catch(() => {});
    } finally {
      off();
    }
    expect(seen.map((r) => [r.cmd.join(" "), r.httpStatus, r.code])).toEqual([
      ["GET /_ping", 200, 0],
      ["GET /containers/x/json", 404, 1],
      ["GET /_ping", undefined, null],
    ]);
    expect(seen[2].spawnError).toStartWith("Cannot connect to the Docker daemon at unix://");
  });
});

describe("hostile or broken answers", () => {
  test("a body over the cap is refused, not buffered", async () => {
    const d = await fakeDockerd((_r, _b, res) => res.end(Buffer.alloc(2 << 20, 0x61)));
    await expect(apiRequest(d.sock, "/info", { maxBytes: 1 << 20 })).rejects.toThrow(/exceeds 1048576 bytes/);
  });
  test("a daemon that never answers times out", async () => {
    const d = await fakeDockerd(() => {});
    await expect(apiRequest(d.sock, "/_ping", { timeoutMs: 200 })).rejects.toThrow("GET /_ping timed out after 200 ms");
  });
  test("/info that is not a JSON object is an error naming what came; wrong field types count as absent", async () => {
    const ping = (res: ServerResponse) => (res.writeHead(200, { "Api-Version": "1.45" }), res.end("OK"));
    const d = await fakeDockerd((req, _b, res) => (req.url === "/_ping" ? ping(res) : res.end("<html>proxy</html>")));
    const r = await dockerInfoVia({ via: "api", probe: "api", cli: null, api: d.sock, why: null });
    expect(r).toMatchObject({ info: null, error: expect.stringContaining("GET /info: the answer is not JSON") });
    const runtimes = { runsc: { path: ["x"], runtimeArgs: "--network=none" } };
    const odd = dockerInfoOf({ ServerVersion: 28, Runtimes: runtimes, SecurityOptions: "rootless" });
    expect(odd).toMatchObject({ serverVersion: "", runtimes: { runsc: { path: "" } }, rootless: false });
  });
  test("no socket and a refused socket read as the CLI says them (the rules and fixes match)", async () => {
    const r = await dockerInfoVia({ via: "api", probe: "api", cli: null, api: join(dir, "absent.sock"), why: null });
    const at = `unix://${join(dir, "absent.sock")}`;
    expect(r.error).toBe(`Cannot connect to the Docker daemon at ${at}. Is the docker daemon running?`);
  });
});

describe("which path: the API on a unix socket, the CLI for other schemes and contexts", () => {
  const env = (e: Record<string, string>) => ({ HOME: dir, ...e });
  test("DOCKER_HOST unix:// (or unset): info through the API; the hello through the CLI when there is one", () => {
    const unix = env({ DOCKER_HOST: "unix:///run/x.sock" });
    expect(dockerEndpoint(unix, "/usr/bin/docker")).toMatchObject({ via: "api", probe: "cli", api: "/run/x.sock" });
    expect(dockerEndpoint(env({}), null)).toMatchObject({ via: "api", probe: "api", api: "/var/run/docker.sock" });
  });
  test("GVISOR_DOCTOR_DOCKER_VIA=cli|api: one path for both where both serve; a missing one is not conjured", () => {
    const forced = (via: string) => env({ DOCKER_HOST: "unix:///run/x.sock", GVISOR_DOCTOR_DOCKER_VIA: via });
    expect(dockerEndpoint(forced("cli"), DOCKER)).toMatchObject({ via: "cli", probe: "cli", api: "/run/x.sock" });
    expect(dockerEndpoint(forced("api"), DOCKER)).toMatchObject({ via: "api", probe: "api" });
    expect(dockerEndpoint(forced("cli"), null)).toMatchObject({ via: "api", probe: "api" });
    const tcpApi = env({ DOCKER_HOST: "tcp://h:2375", GVISOR_DOCTOR_DOCKER_VIA: "api" });
    expect(dockerEndpoint(tcpApi, DOCKER).via).toBe("cli");
  });
  test("tcp:// and ssh:// need the CLI; without it the endpoint says why", () => {
    const tcp = env({ DOCKER_HOST: "tcp://10.0.0.1:2376" });
    expect(dockerEndpoint(tcp, DOCKER)).toMatchObject({ via: "cli", probe: "cli", api: null });
    const none = dockerEndpoint(env({ DOCKER_HOST: "ssh://me@box" }), null);
    expect(none).toMatchObject({ via: null, probe: null });
    expect(none.why).toContain("DOCKER_HOST=ssh://me@box is not a unix socket");
    expect(unixSocketOf("unix://relative.sock")).toBeNull();
  });
  test("a docker context (DOCKER_CONTEXT, or currentContext without DOCKER_HOST) keeps the CLI", async () => {
    expect(dockerEndpoint(env({ DOCKER_CONTEXT: "remote" }), DOCKER)).toMatchObject({ via: "cli", probe: "cli" });
    expect(contextSelected(env({ DOCKER_CONTEXT: "default" }))).toBe(false);
    const cfg = join(dir, "cfg");
    await Bun.write(join(cfg, "config.json"), JSON.stringify({ currentContext: "rootless" }));
    expect(contextSelected(env({ DOCKER_CONFIG: cfg }))).toBe(true);
    expect(contextSelected(env({ DOCKER_CONFIG: cfg, DOCKER_HOST: "unix:///x.sock" }))).toBe(false);
  });
});

describe("the probe container through the API", () => {
  const ID = "a".repeat(64);
  const REFUSED = "failed to create task for container: unknown runtime";
  const spec = (_sock: string, extra: Partial<Parameters<typeof runContainer>[1]> = {}) => ({
    image: "gvisor-doctor/hello:0123456789abcdef",
    cmd: ["sh", "-c", "dmesg"],
    runtime: "runsc",
    networkNone: true,
    timeoutMs: 5000,
    imageArchive: async () => Buffer.from("ARCHIVE"),
    ...extra,
  });
  test("missing image: load, create (Runtime, NetworkMode none), start, wait, logs demuxed, remove", async () => {
    let haveImage = false;
    const d = await fakeDockerd((req, body, res) => {
      const u = req.url!;
      if (u === "/_ping") return (res.writeHead(200, { "Api-Version": "1.47" }), res.end("OK"));
      if (u.endsWith("/containers/create")) {
        return haveImage ? json(res, 201, { Id: ID }) : json(res, 404, { message: "No such image: x" });
      }
      if (u.includes("/images/load")) {
        haveImage = body.toString() === "ARCHIVE";
        return json(res, 200, { stream: "Loaded image: x\n" });
      }
      if (u.endsWith("/start")) return (res.writeHead(204), res.end());
      if (u.endsWith("/wait")) return json(res, 200, { StatusCode: 0 });
      if (u.includes("/logs")) return res.end(Buffer.concat([frame(1, "Starting gVisor...\n"), frame(2, "note\n")]));
      if (req.method === "DELETE") return (res.writeHead(204), res.end());
      json(res, 500, { message: `unexpected ${u}` });
    });
    const r = await runContainer(new DockerApi(d.sock), spec(d.sock));
    expect(r.loaded).toBe(true);
    expect(r.result).toMatchObject({ code: 0, stdout: "Starting gVisor...\n", stderr: "note\n", timedOut: false });
    expect(d.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "GET /_ping",
      "POST /v1.47/containers/create",
      "POST /v1.47/images/load?quiet=1",
      "POST /v1.47/containers/create",
      `POST /v1.47/containers/${ID}/start`,
      `POST /v1.47/containers/${ID}/wait`,
      `GET /v1.47/containers/${ID}/logs?stdout=1&stderr=1`,
      `DELETE /v1.47/containers/${ID}?force=1&v=1`,
    ]);
    const created = JSON.parse(d.seen[3].body.toString());
    const hostConfig = { Runtime: "runsc", NetworkMode: "none" };
    expect(created).toMatchObject({ Image: spec("").image, Cmd: ["sh", "-c", "dmesg"], HostConfig: hostConfig });
  });
  test("a start dockerd refuses: exit 125 with its words, the shim hook runs, the container is removed", async () => {
    const failed: string[] = [];
    const d = await fakeDockerd((req, _b, res) => {
      const u = req.url!;
      if (u === "/_ping") return res.end("OK");
      if (u.endsWith("/containers/create")) return json(res, 201, { Id: ID });
      if (u.endsWith("/start")) return json(res, 500, { message: REFUSED });
      res.writeHead(204), res.end();
    });
    const onStartFailure = async (id: string) => void failed.push(id);
    const r = await runContainer(new DockerApi(d.sock), spec(d.sock, { networkNone: false, onStartFailure }));
    expect(r.result).toMatchObject({ code: 125, stdout: "", stderr: `Error response from daemon: ${REFUSED}` });
    expect(failed).toEqual([ID]);
    expect(d.seen.at(-1)).toMatchObject({ method: "DELETE" });
    const create = d.seen.find((s) => s.url.endsWith("/containers/create"))!;
    expect(JSON.parse(create.body.toString()).HostConfig.NetworkMode).toBeUndefined();
  });
  test("a container that never exits: the deadline ends the wait (timed out), the container is removed", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      const u = req.url!;
      if (u === "/_ping") return (res.writeHead(200, { "Api-Version": "1.47" }), res.end("OK"));
      if (u.endsWith("/containers/create")) return json(res, 201, { Id: ID });
      if (u.endsWith("/start") || req.method === "DELETE") return (res.writeHead(204), res.end());
      // /wait: never answers
    });
    const r = await runContainer(new DockerApi(d.sock), spec(d.sock, { timeoutMs: 300 }));
    const cmd = ["POST", `/containers/${ID.slice(0, 12)}/wait`];
    expect(r.result).toMatchObject({ code: null, timedOut: true, cmd });
    expect(d.seen.at(-1)).toMatchObject({ method: "DELETE", url: `/v1.47/containers/${ID}?force=1&v=1` });
  });
  test("an answer without a well-formed container id is refused before any id reaches a URL", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      if (req.url === "/_ping") return (res.writeHead(200, { "Api-Version": "1.47" }), res.end("OK"));
      json(res, 201, { Id: "../../images/x" });
    });
    const r = await runContainer(new DockerApi(d.sock), spec(d.sock));
    expect(r.result).toMatchObject({ code: null, stderr: "POST /containers/create: no container id in the answer" });
    expect(d.seen.map((s) => s.method)).toEqual(["GET", "POST"]);
  });
  test("an error inside the load stream (HTTP 200) is an error, not a loaded image", async () => {
    const d = await fakeDockerd((req, _b, res) => {
      if (req.url === "/_ping") return res.end("OK");
      const said = '{"errorDetail":{"message":"invalid tar header"},"error":"invalid tar header"}\n';
      if (req.url!.includes("/images/load")) return res.end(said);
      json(res, 404, { message: "No such image" });
    });
    const r = await runContainer(new DockerApi(d.sock), spec(d.sock));
    expect(r.result).toMatchObject({ code: null, stderr: "could not load the probe image: invalid tar header" });
  });
});

describe("the probe image archive for POST /images/load", () => {
  const fs: Rootfs = {
    hash: "f".repeat(64),
    source: "test",
    entries: [
      { type: "dir", path: "bin", mode: 0o755 },
      { type: "file", path: "bin/sh", mode: 0o755, data: Buffer.from("#!x") },
    ],
  };
  /** name → bytes of a plain ustar archive. */
  const untar = (b: Buffer) => {
    const files = new Map<string, Buffer>();
    for (let i = 0; i + 512 <= b.length; ) {
      const name = b
        .subarray(i, i + 100)
        .toString()
        .replace(/\0.*$/s, "");
      if (!name) break;
      const size = Number.parseInt(
        b
          .subarray(i + 124, i + 136)
          .toString()
          .replace(/\0.*$/s, "")
          .trim() || "0",
        8,
      );
      files.set(name, b.subarray(i + 512, i + 512 + size));
      i += 512 + Math.ceil(size / 512) * 512;
    }
    return files;
  };
  test("docker save layout: manifest names the tag, diff_id is the layer's sha256, same bytes each time", async () => {
    const a = await imageArchive(fs, "gvisor-doctor/hello:ffffffffffffffff", "x64");
    expect((await imageArchive(fs, "gvisor-doctor/hello:ffffffffffffffff", "x64")).equals(a)).toBe(true);
    const files = untar(a);
    const [m] = JSON.parse(files.get("manifest.json")!.toString());
    expect(m.RepoTags).toEqual(["gvisor-doctor/hello:ffffffffffffffff"]);
    const layer = files.get(m.Layers[0])!;
    const config = JSON.parse(files.get(m.Config)!.toString());
    expect(config).toMatchObject({ architecture: "amd64", os: "linux" });
    expect(config.rootfs.diff_ids).toEqual([`sha256:${createHash("sha256").update(layer).digest("hex")}`]);
    expect(untar(layer).get("bin/sh")?.toString()).toBe("#!x");
  });
});
