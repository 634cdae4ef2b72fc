// `gvisor-doctor k8s agent` and `k8s label-node`: what runs on each node in the
// DaemonSet pod. The agent keeps the node's gvisor.dev/runsc label true to the node's
// last check; label-node is the same label write by hand. Both talk to the API with the
// pod's service account (src/k8s/in-cluster.ts): the image has no kubectl.
import { isAbsolute } from "node:path";
import { hostRootAt } from "../../platform/os/host-root.ts";
import { secondsOption, type Command, type IO, type Parsed } from "../args.ts";
import { echoInput } from "../../platform/os/echo-input.ts";
import { ActionError, EXIT, UsageError } from "../../platform/os/errors.ts";
// The agent and the API client load only when a subcommand runs (not on every start-up).
import type { AgentDeps, AgentOptions } from "../k8s/agent.ts";
import { CONTAINERS, DAEMONSET_NAME, HOST_ROOT, NODE_LABEL_KEY, SA_DIR, STALE_INTERVALS } from "../k8s/contract.ts";
import { labelKeyProblem, labelValueProblem } from "../k8s/labels.ts";

const DEFAULT_INTERVAL_S = 300;

const LABEL_NODE_HELP = `Usage: gvisor-doctor k8s label-node [--node NAME] (--label KEY=VALUE | --remove KEY) [--json]

Set or remove one label on a node through the Kubernetes API, as this pod's service
account: the token and ca.crt in ${SA_DIR}/, the API at
https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT. Made for the DaemonSet pod,
which has no kubectl. Reads the node first and patches (a JSON merge patch) only when
the label changes.

Options:
  --node NAME        The node to label (default: $NODE_NAME, which the DaemonSet sets from
                     the downward API, spec.nodeName)
  --label KEY=VALUE  Set KEY to VALUE (Kubernetes label syntax: [prefix/]name, value up to
                     63 letters, digits, '-', '_', '.')
  --remove KEY       Remove KEY (nothing to do when the node does not have it)
  --json             Print the result as one JSON document

The ServiceAccount needs get and patch on nodes (gvisor-doctor k8s manifests grants them).
From a workstation, use kubectl instead: kubectl label node NAME KEY=VALUE

Exit codes: 0 the node carries (or lacks) the label · 1 the API refused or could not be
            reached (the message says why: RBAC, no such node, not in a pod) · 2 usage error

Examples:
  gvisor-doctor k8s label-node --label ${NODE_LABEL_KEY}=20260817.0
  gvisor-doctor k8s label-node --node worker-2 --remove ${NODE_LABEL_KEY}`;

const AGENT_HELP = `Usage: gvisor-doctor k8s agent --host-root DIR [options] [-- CHECK-ARGS...]
       gvisor-doctor k8s agent --probe

The node agent: the long-running '${CONTAINERS.agent}' container of the ${DAEMONSET_NAME} DaemonSet.
Every interval it runs 'gvisor-doctor check --host-root DIR --json --offline' (in this process;
--offline: the manifests pin the release, so no node asks the bucket for a newer one) and
  - when the check passed: labels the node ${NODE_LABEL_KEY}=<installed version> (the
    release live under --prefix on the node), so the RuntimeClass schedules gVisor pods here;
  - when it failed: removes the label, so gVisor pods stop landing on a broken node;
  - prints one JSON line (what 'gvisor-doctor k8s check' reads from 'kubectl logs');
  - writes a readiness marker when the round passed (removes it otherwise), which
    'k8s agent --probe' (the readinessProbe) reads.
The label is read first and patched only when it changes. SIGTERM ends the loop at once;
the label stays (a rolling update must not take gVisor away from a healthy node).

Options:
  --host-root DIR     Where the node's / is mounted (the DaemonSet uses ${HOST_ROOT})
  --interval SECONDS  Time between rounds (default ${DEFAULT_INTERVAL_S})
  --label-key KEY     The label to manage (default ${NODE_LABEL_KEY})
  --prefix PATH       The install prefix on the node (default /usr/local); the version is
                      the release <prefix>/lib/gvisor/current points at
  --node NAME         This node (default: $NODE_NAME, from the downward API spec.nodeName)
  --once              One round, then exit: 0 when it passed and the label is right, 1 otherwise
  --probe             Readiness probe: exit 0 iff the last round passed (check ok, a release
                      live, the label right) less than ${STALE_INTERVALS} intervals ago (reads the
                      marker; talks to nobody)
  -- CHECK-ARGS       Passed on to check, e.g. -- --skip docker.hello

Output (one line per round):
  {"schemaVersion":1,"kind":"gvisor-doctor.agent","time":"…","node":"worker-1","ok":true,
   "version":"20260817.0","label":{"key":"${NODE_LABEL_KEY}","value":"20260817.0",
   "action":"set|removed|unchanged|failed","error":null},"failing":[{"id","message","fix","command"}],
   "check":{…the check --json document…}}

Environment: NODE_NAME; GVISOR_DOCTOR_AGENT_READY (marker path, default /tmp/gvisor-doctor-agent.ready);
KUBERNETES_SERVICE_HOST/PORT and the service account (see: gvisor-doctor k8s label-node --help).

Exit codes: 0 stopped by SIGTERM (or --once/--probe: passed) · 1 --once/--probe: not passed,
            or not in a pod (no API, no token) · 2 usage error

Examples (in the DaemonSet's agent container):
  gvisor-doctor k8s agent --host-root ${HOST_ROOT} --interval 300
  gvisor-doctor k8s agent --probe
  gvisor-doctor k8s agent --host-root ${HOST_ROOT} --once -- --skip docker.hello   # one round by hand`;

/** --node, else $NODE_NAME: a usage error when neither says which node this is. */
function nodeName(p: Parsed, io: IO, cmd: string): string {
  const node = (p.values.node as string | undefined) ?? io.env.NODE_NAME;
  if (!node)
    throw new UsageError(
      `${cmd}: which node? --node is not given and NODE_NAME is not set`,
      "the DaemonSet sets NODE_NAME from the downward API (fieldRef: spec.nodeName); or pass --node NAME",
    );
  return node;
}

function checkedKey(key: string): string {
  const problem = labelKeyProblem(key);
  if (problem) throw new UsageError(problem, "a label key is [prefix/]name, e.g. gvisor.dev/runsc");
  return key;
}

export const k8sLabelNodeCommand: Command = {
  name: "k8s label-node",
  summary: "Set or remove a label on this node (in-cluster, no kubectl)",
  help: LABEL_NODE_HELP,
  options: { node: { type: "string" }, label: { type: "string" }, remove: { type: "string" } },
  async run(p, io) {
    const set = p.values.label as string | undefined;
    const remove = p.values.remove as string | undefined;
    if ((set === undefined) === (remove === undefined))
      throw new UsageError(
        "give exactly one of --label KEY=VALUE and --remove KEY",
        "see: gvisor-doctor k8s label-node --help",
      );
    let key: string;
    let value: string | null;
    if (set !== undefined) {
      const eq = set.indexOf("=");
      if (eq < 0)
        throw new UsageError(
          `--label ${echoInput(set)}: expected KEY=VALUE`,
          `e.g. --label ${NODE_LABEL_KEY}=20260817.0`,
        );
      key = checkedKey(set.slice(0, eq));
      value = set.slice(eq + 1);
      const problem = labelValueProblem(value);
      if (problem) throw new UsageError(problem);
    } else {
      key = checkedKey(remove!);
      value = null;
    }
    const node = nodeName(p, io, "k8s label-node");
    const doc = { schemaVersion: 1, command: "k8s label-node", node, label: { key, value } };
    const { ApiError, ensureNodeLabel, inClusterConfig } = await import("../k8s/in-cluster.ts");
    try {
      const r = await ensureNodeLabel(inClusterConfig(io.env), node, key, value);
      if (io.json) io.stdout(JSON.stringify({ ...doc, ok: true, action: r.action, previous: r.previous }, null, 2));
      else {
        const what = value === null ? `${key} removed` : `${key}=${value} set`;
        io.stdout(
          r.action === "unchanged"
            ? `node ${node}: ${value === null ? `has no ${key}` : `already has ${key}=${value}`} (nothing to do)`
            : `node ${node}: ${io.c.green(what)}${r.previous !== null && value !== null ? ` (was ${r.previous})` : ""}`,
        );
      }
      return EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError)
        io.stdout(
          JSON.stringify(
            {
              ...doc,
              ok: false,
              error: { message: e.message, hint: e.hint ?? null, status: e instanceof ApiError ? e.status : null },
            },
            null,
            2,
          ),
        );
      throw e;
    }
  },
};

export const k8sAgentCommand: Command = {
  name: "k8s agent",
  summary: "Node agent: check the node, keep its gvisor.dev/runsc label true",
  help: AGENT_HELP,
  acceptsRest: true,
  options: {
    "host-root": { type: "string" },
    interval: { type: "string" },
    "label-key": { type: "string" },
    prefix: { type: "string" },
    node: { type: "string" },
    once: { type: "boolean" },
    probe: { type: "boolean" },
  },
  async run(p, io) {
    const v = p.values;
    const [{ checkInProcess, markerPath, probeMarker }, { ensureNodeLabel, inClusterConfig, readToken }] =
      await Promise.all([import("../k8s/agent.ts"), import("../k8s/in-cluster.ts")]);
    const marker = markerPath(io.env);
    if (v.probe) {
      const others = Object.keys(v).filter(
        (k) => k !== "probe" && v[k] !== undefined && !["json", "verbose", "no-color"].includes(k),
      );
      if (others.length || p.rest)
        throw new UsageError(
          `--probe takes no other options (got --${others[0] ?? "--"})`,
          "the readinessProbe runs: gvisor-doctor k8s agent --probe",
        );
      const r = probeMarker(marker, new Date());
      if (io.json)
        io.stdout(
          JSON.stringify({
            schemaVersion: 1,
            command: "k8s agent --probe",
            ready: r.ready,
            message: r.message,
            marker,
          }),
        );
      else (r.ready ? io.stdout : io.stderr)(r.message);
      return r.ready ? EXIT.OK : EXIT.FAILED;
    }
    if (!v["host-root"])
      throw new UsageError(
        "k8s agent needs --host-root DIR (where the node's / is mounted)",
        `the DaemonSet runs: gvisor-doctor k8s agent --host-root ${HOST_ROOT}`,
      );
    const prefix = (v.prefix as string | undefined) ?? "/usr/local";
    if (!isAbsolute(prefix))
      throw new UsageError(`--prefix ${echoInput(prefix)}: give the node's absolute path (e.g. /usr/local)`);
    const o: AgentOptions = {
      root: hostRootAt(v["host-root"] as string),
      prefix,
      node: nodeName(p, io, "k8s agent"),
      labelKey: checkedKey((v["label-key"] as string | undefined) ?? NODE_LABEL_KEY),
      intervalS: secondsOption("--interval", v.interval, DEFAULT_INTERVAL_S),
      marker,
      // --offline: the manifests pin the version, so asking the release bucket for a newer one
      // from every node every round would only be load (the init container's check still asks).
      checkArgs: ["--offline", ...(p.rest ?? [])],
    };
    // Not in a pod: stop now, not with a failed label in every round.
    const api = inClusterConfig(io.env);
    readToken(api);
    const deps: AgentDeps = {
      runCheck: (dir, extra) => checkInProcess(io.env, dir, extra),
      ensureLabel: (node, key, value) => ensureNodeLabel(api, node, key, value),
      now: () => new Date(),
    };
    return runAgentCommand(o, deps, io, !!v.once);
  },
};

/** The loop with SIGTERM/SIGINT wired to stop it (separate so tests can drive it with fakes). */
export async function runAgentCommand(o: AgentOptions, deps: AgentDeps, io: IO, once: boolean): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    const { runAgent } = await import("../k8s/agent.ts");
    const ready = await runAgent(o, deps, io.stdout, stop.signal, once);
    if (once) return ready ? EXIT.OK : EXIT.FAILED;
    return EXIT.OK;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}
