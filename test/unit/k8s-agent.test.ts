// The node agent, one round at a time and as a loop, with the check injected (a recorded
// check --json document) and the label written to a fake API server: what it labels,
// what it prints, the readiness marker and the probe, and how it stops.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { hostRootAt } from "../../platform/os/host-root.ts";
import { runAgentCommand } from "../../src/commands/k8s-node.ts";
import { runArgv } from "../../src/dispatch.ts";
import {
  agentRound,
  failingChecks,
  probeMarker,
  runAgent,
  type AgentDeps,
  type AgentOptions,
  type CheckRunResult,
} from "../../src/k8s/agent.ts";
import { ensureNodeLabel, inClusterConfig } from "../../src/k8s/in-cluster.ts";
import { fakeApi, podEnv, SUBJECT, type FakeApi } from "../fixtures/k8s/kubectl/fake-api.ts";
import { KUBECTL_FIXTURES } from "../fixtures/k8s/kubectl/stub.ts";
import { assertAgentLineSchema } from "../helpers/schema.ts";
import { recordingIO } from "../helpers/io.ts";

/** The check init container's report on worker-b: containerd.runtime fails. */
const FAILING_DOC = readFileSync(join(KUBECTL_FIXTURES, "logs-check-worker-b.txt"), "utf8");
/** The passing report inside worker-a's agent log. */
const PASSING_DOC = JSON.stringify(
  JSON.parse(readFileSync(join(KUBECTL_FIXTURES, "logs-agent-worker-a.txt"), "utf8").split("\n")[1]).check,
);
const checkSays =
  (stdout: string, code = 0, stderr = ""): AgentDeps["runCheck"] =>
  async () => ({ code, stdout, stderr });

/** One round; its line, as printed, must match docs/k8s-agent-line.schema.json. */
async function round(...args: Parameters<typeof agentRound>): ReturnType<typeof agentRound> {
  const r = await agentRound(...args);
  if (r) assertAgentLineSchema(JSON.parse(JSON.stringify(r.line)));
  return r;
}

let dir: string;
let host: string;
let api: FakeApi;

/** A node's / with a release live under /usr/local, as install --host-root leaves it. */
function hostTree(version: string | null): string {
  const root = join(dir, "host");
  mkdirSync(join(root, "etc"), { recursive: true });
  if (version) {
    mkdirSync(join(root, "usr/local/lib/gvisor", version), { recursive: true });
    writeFileSync(join(root, "usr/local/lib/gvisor", version, "runsc"), "");
    symlinkSync(version, join(root, "usr/local/lib/gvisor/current"));
  }
  return root;
}

function options(over: Partial<AgentOptions> = {}): AgentOptions {
  return {
    root: hostRootAt(host),
    prefix: "/usr/local",
    node: "worker-a",
    labelKey: "gvisor.dev/runsc",
    intervalS: 300,
    marker: join(dir, "ready"),
    checkArgs: [],
    ...over,
  };
}

function deps(runCheck: AgentDeps["runCheck"]): AgentDeps {
  const cfg = inClusterConfig(podEnv(api));
  return {
    runCheck,
    ensureLabel: (n, k, v) => ensureNodeLabel(cfg, n, k, v),
    now: () => new Date("2026-08-20T09:15:02.331Z"),
  };
}

beforeEach(async () => {
  dir = mkdtempSync("/tmp/gvd-test-agent-");
  host = hostTree("20260817.0");
  api = await fakeApi({ nodes: { "worker-a": { "kubernetes.io/hostname": "worker-a" } } });
});
afterEach(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("one agent round", () => {
  test("check passed: the node is labelled with the live release, the line says so, the marker is written", async () => {
    const { line, ready } = (await round(options(), deps(checkSays(PASSING_DOC))))!;
    expect(ready).toBe(true);
    expect(line).toMatchObject({
      schemaVersion: 1,
      kind: "gvisor-doctor.agent",
      time: "2026-08-20T09:15:02.331Z",
      node: "worker-a",
      ok: true,
      version: "20260817.0",
      label: { key: "gvisor.dev/runsc", value: "20260817.0", action: "set", error: null },
      failing: [],
    });
    expect(line.check!.ok).toBe(true);
    expect(api.nodes["worker-a"]["gvisor.dev/runsc"]).toBe("20260817.0");
    expect(JSON.parse(readFileSync(join(dir, "ready"), "utf8"))).toEqual({
      time: "2026-08-20T09:15:02.331Z",
      node: "worker-a",
      version: "20260817.0",
      intervalS: 300,
    });
  });

  test("the next passing round changes nothing: it reads the label and does not patch", async () => {
    await round(options(), deps(checkSays(PASSING_DOC)));
    const { line } = (await round(options(), deps(checkSays(PASSING_DOC))))!;
    expect(line.label.action).toBe("unchanged");
    expect(api.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
  });

  test("check failed: the label is removed (no gVisor pods on a broken node), failing checks with their fixes, no marker", async () => {
    api.nodes["worker-a"]["gvisor.dev/runsc"] = "20260817.0";
    writeFileSync(join(dir, "ready"), "{}");
    const { line, ready } = (await round(options(), deps(checkSays(FAILING_DOC, 1))))!;
    expect(ready).toBe(false);
    expect(line).toMatchObject({
      ok: false,
      version: "20260817.0",
      label: { value: null, action: "removed", error: null },
    });
    expect(line.failing).toEqual([
      {
        id: "containerd.runtime",
        message: 'containerd\'s merged config has no "runsc" runtime',
        fix: "Register runsc with containerd and restart it",
        command: "sudo gvisor-doctor configure containerd --restart",
      },
    ]);
    expect(api.nodes["worker-a"]).not.toHaveProperty("gvisor.dev/runsc");
    expect(api.requests.at(-1)!.body).toEqual({ metadata: { labels: { "gvisor.dev/runsc": null } } });
    expect(existsSync(join(dir, "ready"))).toBe(false);
  });

  test("check passed but no release is live under the prefix: no label, and the line says why", async () => {
    rmSync(host, { recursive: true });
    host = hostTree(null);
    const { line, ready } = (await round(options(), deps(checkSays(PASSING_DOC))))!;
    expect(ready).toBe(false);
    expect(line).toMatchObject({
      ok: true,
      version: null,
      label: {
        value: null,
        action: "unchanged",
        error: "no gVisor release is live under /usr/local on the node (install --host-root puts it there)",
      },
    });
  });

  test("the API refuses (RBAC): action failed with the cause and the fix; not ready", async () => {
    api.failWith = {
      status: 403,
      reason: "Forbidden",
      message: `nodes "{name}" is forbidden: User "${SUBJECT}" cannot {verb} resource "nodes" in API group "" at the cluster scope`,
    };
    const { line, ready } = (await round(options(), deps(checkSays(PASSING_DOC))))!;
    expect(ready).toBe(false);
    expect(line.label.action).toBe("failed");
    expect(line.label.error).toStartWith(`RBAC: ${SUBJECT} may not get nodes (403 Forbidden)`);
    expect(line.label.error).toContain("(fix: give the ServiceAccount get and patch on nodes");
  });

  test("check printed no report (e.g. a usage error): one failing entry says what check said", async () => {
    const { line } = (await round(
      options(),
      deps(checkSays("", 2, "gvisor-doctor: unknown option --frob for 'check'\nsee: gvisor-doctor check --help")),
    ))!;
    expect(line.ok).toBe(false);
    expect(line.check).toBeNull();
    expect(line.failing).toEqual([
      {
        id: "agent.check",
        message:
          "gvisor-doctor check printed no report (exit 2): gvisor-doctor: unknown option --frob for 'check' | see: gvisor-doctor check --help",
        fix: expect.stringContaining("gvisor-doctor check --host-root"),
        command: null,
      },
    ]);
  });

  test("check is asked about the host root, with the extra arguments after --", async () => {
    const seen: string[][] = [];
    await round(
      options({ checkArgs: ["--skip", "docker.hello"] }),
      deps(async (d, extra): Promise<CheckRunResult> => {
        seen.push([d, ...extra]);
        return { code: 0, stdout: PASSING_DOC, stderr: "" };
      }),
    );
    expect(seen).toEqual([[host, "--skip", "docker.hello"]]);
  });

  test("a custom --label-key is the one managed", async () => {
    const { line } = (await round(options({ labelKey: "example.com/gvisor" }), deps(checkSays(PASSING_DOC))))!;
    expect(line.label.key).toBe("example.com/gvisor");
    expect(api.nodes["worker-a"]["example.com/gvisor"]).toBe("20260817.0");
  });

  test("failingChecks: only failed checks, with fix summary and command", () => {
    expect(failingChecks(JSON.parse(FAILING_DOC)).map((f) => f.id)).toEqual(["containerd.runtime"]);
    expect(failingChecks(null)).toEqual([]);
  });
});

describe("the line (docs/k8s-agent-line.schema.json)", () => {
  test("a round's line matches the schema; a wrong field type, an unknown field or a check that is no report does not", async () => {
    const { line } = (await round(options(), deps(checkSays(FAILING_DOC, 1))))!;
    const doc = JSON.parse(JSON.stringify(line));
    assertAgentLineSchema(doc);
    const broken = (change: (d: any) => void) => {
      const d = structuredClone(doc);
      change(d);
      return () => assertAgentLineSchema(d);
    };
    expect(broken((d) => (d.ok = "false"))).toThrow("k8s-agent-line.schema.json");
    expect(broken((d) => (d.label.action = "patched"))).toThrow("must be equal to one of the allowed values");
    expect(broken((d) => (d.failing[0].fix = undefined))).toThrow("must have required property 'fix'");
    expect(broken((d) => (d.marker = "/tmp/x"))).toThrow("must NOT have additional properties");
    expect(broken((d) => (d.label.previous = null))).toThrow("must NOT have additional properties");
    expect(broken((d) => (d.check = { ok: false }))).toThrow("must have required property 'schemaVersion'");
    expect(broken((d) => Object.assign(d, { check: null, ok: true }))).toThrow("must be equal to constant");
  });
});

describe("readiness", () => {
  test("--probe: ready while the marker is younger than 3 intervals, stuck after, not ready without it", () => {
    const m = join(dir, "ready");
    expect(probeMarker(m, new Date())).toMatchObject({
      ready: false,
      message: expect.stringContaining("did not pass, or none finished yet"),
    });
    writeFileSync(m, JSON.stringify({ time: "t", node: "worker-a", version: "20260817.0", intervalS: 10 }));
    expect(probeMarker(m, new Date())).toMatchObject({
      ready: true,
      message: "ready: node worker-a passed at t (gVisor 20260817.0)",
    });
    const old = (Date.now() - 31_000) / 1000;
    utimesSync(m, old, old);
    expect(probeMarker(m, new Date())).toMatchObject({
      ready: false,
      message: expect.stringContaining("more than 3 × the 10 s interval"),
    });
  });

  test("k8s agent --probe exits 0 iff ready (GVISOR_DOCTOR_AGENT_READY picks the marker)", async () => {
    const io = recordingIO({ GVISOR_DOCTOR_AGENT_READY: join(dir, "ready") });
    const err = io.err;
    expect(await runArgv(["k8s", "agent", "--probe"], io)).toBe(1);
    expect(err[0]).toStartWith("not ready:");
    writeFileSync(join(dir, "ready"), JSON.stringify({ time: "t", node: "n", version: "v", intervalS: 300 }));
    expect(await runArgv(["k8s", "agent", "--probe"], io)).toBe(0);
    expect(await runArgv(["k8s", "agent", "--probe", "--interval", "5"], io)).toBe(2);
  });
});

describe("the loop", () => {
  test("one JSON line per round until stopped; a stale marker from before is removed first; stopping removes it", async () => {
    writeFileSync(join(dir, "ready"), "{}"); // from a previous container
    let rounds = 0;
    const stop = new AbortController();
    const printed: string[] = [];
    const markerSeen: boolean[] = [];
    const d = deps(async () => {
      rounds++;
      markerSeen.push(existsSync(join(dir, "ready")));
      if (rounds === 3) stop.abort();
      return { code: rounds === 2 ? 1 : 0, stdout: rounds === 2 ? FAILING_DOC : PASSING_DOC, stderr: "" };
    });
    const t0 = Date.now();
    await runAgent(options({ intervalS: 0.05 }), d, (l) => printed.push(l), stop.signal);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(markerSeen).toEqual([false, true, false]);
    // Round 3 was in flight when the stop came: dropped, not printed.
    expect(printed.map((l) => JSON.parse(l)).map((l) => [l.ok, l.label.action])).toEqual([
      [true, "set"],
      [false, "removed"],
    ]);
    for (const l of printed) assertAgentLineSchema(JSON.parse(l));
    expect(existsSync(join(dir, "ready"))).toBe(false);
  });

  test("SIGTERM ends the loop promptly during the wait; --once returns whether the round passed", async () => {
    const io = recordingIO();
    const out = io.out;
    expect(await runAgentCommand(options(), deps(checkSays(PASSING_DOC)), io, true)).toBe(0);
    expect(await runAgentCommand(options(), deps(checkSays(FAILING_DOC, 1)), io, true)).toBe(1);
    expect(out).toHaveLength(2);
    const running = runAgentCommand(options({ intervalS: 3600 }), deps(checkSays(PASSING_DOC)), io, false);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    process.kill(process.pid, "SIGTERM");
    expect(await running).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(out).toHaveLength(3);
    for (const l of out) assertAgentLineSchema(JSON.parse(l));
  });
});

describe("k8s agent usage", () => {
  const run = async (args: string[], env: NodeJS.ProcessEnv) => {
    const io = recordingIO(env);
    const code = await runArgv(["k8s", "agent", ...args], io);
    return { code, err: io.err.join("\n") };
  };
  test("needs --host-root, a node name, a valid interval and label key; a host root must look like one", async () => {
    const env = podEnv(api);
    expect(await run([], env)).toMatchObject({ code: 2, err: expect.stringContaining("needs --host-root DIR") });
    expect(await run(["--host-root", host], { ...env, NODE_NAME: "" })).toMatchObject({
      code: 2,
      err: expect.stringContaining("NODE_NAME is not set"),
    });
    expect(await run(["--host-root", host, "--interval", "0"], env)).toMatchObject({
      code: 2,
      err: expect.stringContaining("--interval 0"),
    });
    expect(await run(["--host-root", host, "--label-key", "Bad/"], env)).toMatchObject({ code: 2 });
    expect(await run(["--host-root", host, "--prefix", "usr/local"], env)).toMatchObject({
      code: 2,
      err: expect.stringContaining("absolute"),
    });
    expect(await run(["--host-root", join(dir, "nope")], env)).toMatchObject({
      code: 2,
      err: expect.stringContaining("no such directory"),
    });
  });
  test("outside a pod it stops at once (exit 1) rather than failing every round", async () => {
    expect(await run(["--host-root", host, "--once"], { NODE_NAME: "worker-a" })).toMatchObject({
      code: 1,
      err: expect.stringContaining("not running in a Kubernetes pod"),
    });
  });
});
