// `k8s manifests` flags → ManifestOptions, refusing (exit 2, with the rule and a way
// out) anything the API server would refuse or that would leave the cluster
// inconsistent — above all a moving --version.
import { echoInput } from "../../platform/os/echo-input.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { parseVersionSpec } from "../../platform/release/channels.ts";
import { normalizeRuntimeArgs } from "../../platform/engines/edit/runtime-args.ts";
import { labelKeyProblem, labelValueProblem } from "./labels.ts";
import { dns1123LabelError, dns1123SubdomainError, requireValid } from "./names.ts";
import { DEFAULT_NAMESPACE, DEFAULT_RUNTIME_CLASS, NODE_LABEL_KEY } from "./contract.ts";
import { defaultImage, type ManifestOptions } from "./manifests.ts";
import { DISTRIBUTION_IDS, type DistributionId } from "../../platform/engines/containerd/distributions.ts";

const HELP = "see: gvisor-doctor k8s manifests --help";
type Values = Record<string, string | boolean | string[] | undefined>;

export function manifestOptions(v: Values, toolVersion: string): ManifestOptions {
  const str = (k: string) => v[k] as string | undefined;
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];

  const gvisorVersion = releaseVersion(str("version")); // first: it is the one required flag
  const namespace = str("namespace") ?? DEFAULT_NAMESPACE;
  requireValid(
    "--namespace",
    namespace,
    dns1123LabelError(namespace),
    "a namespace is a DNS-1123 label, e.g. gvisor-system or kube-system",
  );
  const runtimeClass = str("runtime-class") ?? DEFAULT_RUNTIME_CLASS;
  requireValid("--runtime-class", runtimeClass, dns1123SubdomainError(runtimeClass), "e.g. --runtime-class gvisor");

  const image = str("image") ?? defaultImage(toolVersion);
  if (image === "" || /[\s]/.test(image))
    throw new UsageError(
      `--image "${echoInput(image)}" is not an image reference`,
      "e.g. --image registry.example.com/gvisor-doctor:0.1.0",
    );

  const mirror = str("mirror") ?? null;
  if (mirror !== null && !/^https?:\/\/[^\s/]+/.test(mirror)) {
    // A directory would be looked up inside the installer image, which has none.
    throw new UsageError(
      `--mirror "${echoInput(mirror)}" is not an http(s) URL`,
      "the pods download from it, e.g. --mirror https://mirror.example.com/gvisor/releases",
    );
  }

  const nodeSelector: [string, string][] = [];
  for (const kv of list("node-selector")) {
    const eq = kv.indexOf("=");
    if (eq < 0)
      throw new UsageError(
        `--node-selector "${echoInput(kv)}" is not KEY=VALUE`,
        "e.g. --node-selector kubernetes.io/arch=amd64 (repeat the flag for more)",
      );
    const [key, value] = [kv.slice(0, eq), kv.slice(eq + 1)];
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem)
      throw new UsageError(
        `--node-selector ${echoInput(kv)}: ${problem}`,
        "a label key is [prefix/]name (name up to 63 of A-Z a-z 0-9 - _ ., prefix a DNS subdomain); a value up to 63 of the same",
      );
    if (key === NODE_LABEL_KEY)
      throw new UsageError(
        `--node-selector ${echoInput(key)} would keep the installer off every node: the agent sets that label only after installing`,
        "select nodes by another label, e.g. a node pool's",
      );
    if (nodeSelector.some(([k]) => k === key))
      throw new UsageError(
        `--node-selector ${echoInput(key)} is given twice`,
        "a node selector holds one value per key",
      );
    nodeSelector.push([key, value]);
  }

  const rt = normalizeRuntimeArgs(list("runtime-arg"));
  if (rt.error) throw new UsageError(rt.error, HELP);

  const d = str("distribution") ?? "auto";
  if (d !== "auto" && !DISTRIBUTION_IDS.includes(d as DistributionId)) {
    throw new UsageError(
      `--distribution ${echoInput(d)}: not one of ${DISTRIBUTION_IDS.join(", ")}, auto`,
      "auto (the default) finds the distribution on each node; naming it also mounts its containerd directories",
    );
  }
  const distribution = d === "auto" ? null : (d as DistributionId);

  return {
    namespace,
    createNamespace: !v["no-namespace"],
    image,
    gvisorVersion,
    mirror,
    nodeSelector,
    runtimeClass,
    runtimeArgs: rt.args,
    admissionPolicy: !!v["admission-policy"],
    toolVersion,
    distribution,
  };
}

/**
 * `--version` must name one release: it is the install version, the node label value and
 * the RuntimeClass selector at once. A moving name (latest, nightly) could install one
 * release today and another on the next node tomorrow, while the selector stays put.
 */
export function releaseVersion(input: string | undefined): string {
  const pick =
    "pick a release: the newest is the tag at https://github.com/google/gvisor/releases/latest (release-20260817.0 → --version 20260817.0)";
  if (input === undefined)
    throw new UsageError(
      "k8s manifests needs --version YYYYMMDD[.N]: the release every node installs and the RuntimeClass selects",
      pick,
    );
  const spec = parseVersionSpec(input);
  if (spec.moving) {
    throw new UsageError(
      `--version ${echoInput(input)} moves: every node must install the same release, and the node label and the RuntimeClass selector must name it`,
      pick,
    );
  }
  if (!/^\d{8}(\.\d+)?$/.test(spec.requested)) {
    throw new UsageError(
      `--version ${echoInput(input)} is not a release: nightlies have no stable name to label nodes with`,
      "use a release, YYYYMMDD or YYYYMMDD.N (e.g. --version 20260817.0)",
    );
  }
  const problem = labelValueProblem(spec.requested);
  if (problem)
    throw new UsageError(
      `--version ${echoInput(input)}: ${problem} (it becomes the ${NODE_LABEL_KEY} label value)`,
      pick,
    );
  return spec.requested;
}
