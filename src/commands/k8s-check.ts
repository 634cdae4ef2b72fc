// `gvisor-doctor k8s check`: is gVisor usable in the cluster kubectl points at, and on
// which nodes not, and why (src/k8s/cluster-check.ts). Printed like `check`: one line
// per finding with cause and fix, or one JSON document.
import { summarize } from "../../checks/summary.ts";
import { onCommand, type RunResult } from "../../platform/os/spawn.ts";
import { secondsOption, type Command, type IO } from "../args.ts";
import { EXIT, UsageError } from "../../platform/os/errors.ts";
// The cluster check loads only when it runs (not on every start-up).
import type { ClusterReport } from "../k8s/cluster-check.ts";
import { DAEMONSET_NAME, DEFAULT_NAMESPACE, DEFAULT_RUNTIME_CLASS, NODE_LABEL_KEY } from "../k8s/contract.ts";
import { checkJson } from "../report/json.ts";
import { renderFindings, renderTrace, summaryLine } from "../report/human.ts";
import { startProgress } from "../ui/spinner.ts";
import { TOOL, VERSION } from "../version.ts";

export const DEFAULT_TEST_IMAGE = "busybox:1.36";
const DEFAULT_TIMEOUT_S = 90;

const HELP = `Usage: gvisor-doctor k8s check [options]

Check gVisor in the Kubernetes cluster kubectl points at (kubectl must be on PATH):
  k8s.cluster       kubectl reaches the cluster
  k8s.runtimeclass  the RuntimeClass exists, has handler runsc, and selects nodes by
                    ${NODE_LABEL_KEY} (without a nodeSelector, gVisor pods may land on nodes
                    without gVisor)
  k8s.daemonset     the ${DAEMONSET_NAME} DaemonSet runs, and how many of its pods are ready
  k8s.nodes         which nodes carry ${NODE_LABEL_KEY} (the agent sets it after the node's
                    check passed); node/<name>, one per node: for a node without the label,
                    its DaemonSet pod's state and its last check's failing checks and fixes
                    (the agent's last log line, or the check init container's report when the
                    pod is stuck in init), or why the DaemonSet does not run there (taints)
  k8s.pod           a test pod with runtimeClassName <rc> runs dmesg, and its log must show
                    gVisor's "Starting gVisor"; when it cannot start, its events say why
                    (RuntimeHandler "runsc" not supported, no node matches, image pull)
The test pod is deleted afterwards, whatever happened.

Options:
  -n, --namespace NS     The DaemonSet's namespace, where the test pod runs too (default ${DEFAULT_NAMESPACE})
  --runtime-class NAME   The RuntimeClass to check and use (default ${DEFAULT_RUNTIME_CLASS})
  --image IMG            The test pod's image; it needs dmesg (default ${DEFAULT_TEST_IMAGE}); use one
                         your nodes have or can pull
  --no-pod               Do not start the test pod
  --timeout SECONDS      How long to wait for the test pod (default ${DEFAULT_TIMEOUT_S})
  --context CTX          The kubeconfig context (default: the current one)
  --json                 Print one JSON document on stdout (schemaVersion 1)
  -v, --verbose          Show details of passing findings and every kubectl call

Exit codes: 0 gVisor works (warnings allowed) · 1 a finding failed, or no cluster
            (kubectl missing, no kubeconfig, unreachable) · 2 usage error

Examples:
  gvisor-doctor k8s check
  gvisor-doctor k8s check --no-pod --json
  gvisor-doctor k8s check --context prod --image registry.example.com/busybox:1.36`;

/** The --json document (schemaVersion 1; checks[] as in `check --json`). */
export function clusterReportJson(r: ClusterReport, ok: boolean): string {
  return JSON.stringify(
    {
      schemaVersion: 1,
      tool: TOOL,
      command: "k8s check",
      cluster: r.cluster,
      namespace: r.namespace,
      runtimeClass: r.runtimeClass,
      selector: r.selector,
      ok,
      summary: summarize(r.findings),
      checks: r.findings.map(checkJson),
      nodes: r.nodes,
      testPod: r.testPod,
    },
    null,
    2,
  );
}

function render(r: ClusterReport, io: IO, ms: number, trace: RunResult[]): void {
  const c = io.c;
  const where = r.cluster.context
    ? `context ${r.cluster.context}${r.cluster.server ? ` (${r.cluster.server})` : ""}`
    : r.cluster.server;
  io.stdout(
    c.bold(
      `gvisor-doctor ${VERSION} — ${["Kubernetes", r.cluster.version, where].filter(Boolean).join(" ")}, namespace ${r.namespace}, RuntimeClass ${r.runtimeClass}`,
    ),
  );
  io.stdout("");
  io.stdout(renderFindings(c, r.findings, io.verbose));
  io.stdout("");
  io.stdout(summaryLine(c, r.findings, ms));
  if (io.verbose) io.stderr(renderTrace(io.ce, trace));
}

export const k8sCheckCommand: Command = {
  name: "k8s check",
  summary: "Check gVisor in the cluster: RuntimeClass, node labels and why not, a test pod",
  help: HELP,
  options: {
    namespace: { type: "string", short: "n" },
    "runtime-class": { type: "string" },
    image: { type: "string" },
    "no-pod": { type: "boolean" },
    timeout: { type: "string" },
    context: { type: "string" },
  },
  async run(p, io) {
    const v = p.values;
    const nonEmpty = (flag: string) => {
      const s = v[flag] as string | undefined;
      if (s !== undefined && !s.trim()) throw new UsageError(`--${flag} needs a value`);
      return s;
    };
    const timeoutS = secondsOption("--timeout", v.timeout, DEFAULT_TIMEOUT_S);
    const started = performance.now();
    const trace: RunResult[] = [];
    const stopTrace = onCommand((r) => trace.push(r));
    const progress = startProgress("asking the cluster…", io.spinner && !io.json);
    // Ctrl-C while the test pod runs: stop waiting, delete the pod, report.
    const interrupt = new AbortController();
    const onSignal = () => interrupt.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let report: ClusterReport;
    try {
      const { checkCluster } = await import("../k8s/cluster-check.ts");
      report = await checkCluster({
        namespace: nonEmpty("namespace") ?? DEFAULT_NAMESPACE,
        runtimeClass: nonEmpty("runtime-class") ?? DEFAULT_RUNTIME_CLASS,
        image: nonEmpty("image") ?? DEFAULT_TEST_IMAGE,
        pod: !v["no-pod"],
        timeoutS,
        context: nonEmpty("context") ?? null,
        env: io.env,
        signal: interrupt.signal,
        onStep: (s) => progress.update(s),
      });
    } finally {
      progress.stop();
      stopTrace();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    const ok = summarize(report.findings).fail === 0;
    if (io.json) io.stdout(clusterReportJson(report, ok));
    else render(report, io, Math.round(performance.now() - started), trace);
    return ok ? EXIT.OK : EXIT.FAILED;
  },
};
