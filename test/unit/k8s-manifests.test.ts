// `gvisor-doctor k8s manifests`: what it prints, checked three ways — byte for byte against
// golden files, structurally against what Kubernetes requires and what the contract says,
// and against the upstream OpenAPI schemas (kubernetes-models). The flags go through the
// command's own option table and validation, as on the command line.
// After a deliberate change, regenerate with GVD_UPDATE_GOLDEN=1 and review the diff
// (that also rewrites examples/k8s/gvisor-doctor.yaml for the flags in its header).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { evaluate } from "@marcbachmann/cel-js";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1/RuntimeClass";
import { ValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import { ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";
import { parseCommandArgs } from "../../src/args.ts";
import { resolveCommand } from "../../src/dispatch.ts";
import { k8sManifestsCommand } from "../../src/commands/k8s-manifests.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { manifestOptions } from "../../src/k8s/manifest-options.ts";
import { renderManifests } from "../../src/k8s/manifests.ts";
import { dns1123LabelError, dns1123SubdomainError } from "../../src/k8s/names.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "k8s");
const EXAMPLE = join(ROOT, "examples", "k8s", "gvisor-doctor.yaml");
const UPDATE = process.env.GVD_UPDATE_GOLDEN === "1";
/** The tool version the golden files and the example carry: the package's. */
const TOOL = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;

const V = "20260817.0";
const DEFAULT = ["--version", V];
const FLAGS = [
  "--version",
  V,
  "--namespace",
  "kube-system",
  "--no-namespace",
  "--image",
  "registry.example.com/gvisor-doctor:1.2.3",
  "--mirror",
  "https://mirror.example.com/gvisor/releases",
  "--node-selector",
  "pool=sandbox",
  "--node-selector",
  "kubernetes.io/arch=amd64",
  "--runtime-class",
  "gvisor-sandbox",
  "--runtime-arg=--network=none",
  "--runtime-arg",
  "platform=kvm",
  "--admission-policy",
];

/** Exactly what `gvisor-doctor k8s manifests ARGV` prints, for a given tool version. */
function print(argv: string[], format: "yaml" | "json" = "yaml", tool = TOOL): string {
  return renderManifests(manifestOptions(parseCommandArgs(k8sManifestsCommand, argv).values, tool), format);
}
/** The printed documents, parsed. */
function objects(argv: string[]): any[] {
  const docs = parseAllDocuments(print(argv));
  for (const d of docs) expect(d.errors).toEqual([]);
  return docs.map((d) => d.toJS());
}
const usageError = (argv: string[]): UsageError => {
  try {
    print(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`no usage error for ${argv.join(" ")}`);
};
const byKind = (objs: any[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: any[], kind: string) => {
  const found = byKind(objs, kind);
  expect(found).toHaveLength(1);
  return found[0];
};

function golden(path: string, actual: string): void {
  if (UPDATE) {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, actual);
  }
  expect(existsSync(path)).toBe(true); // a missing golden file is a failure: GVD_UPDATE_GOLDEN=1 writes it
  expect(actual).toBe(readFileSync(path, "utf8"));
}

/** Split a header command line the way a POSIX shell would (shellQuote's output: words and '…'). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2],
  );
}

describe("golden output (GVD_UPDATE_GOLDEN=1 regenerates)", () => {
  test("default flags: k8s manifests --version 20260817.0", () =>
    golden(join(FIXTURES, "default.yaml"), print(DEFAULT)));
  test("every flag: another namespace, image, mirror, node selectors, RuntimeClass name, runtime args, admission policy", () =>
    golden(join(FIXTURES, "flags.yaml"), print(FLAGS)));
  test("--json: one List document", () => golden(join(FIXTURES, "default.json"), print(DEFAULT, "json")));

  test("examples/k8s/gvisor-doctor.yaml is exactly what the command in its header prints", () => {
    if (UPDATE) writeFileSync(EXAMPLE, print(existsSync(EXAMPLE) ? exampleArgv() : DEFAULT));
    const text = readFileSync(EXAMPLE, "utf8");
    expect(text.split("\n")[0]).toBe(`# Generated by gvisor-doctor ${TOOL}; regenerate with:`);
    expect(text).toBe(print(exampleArgv()));
  });
  function exampleArgv(): string[] {
    const words = shellWords(readFileSync(EXAMPLE, "utf8").split("\n")[1].replace(/^#\s+/, ""));
    expect(words.slice(0, 3)).toEqual(["gvisor-doctor", "k8s", "manifests"]);
    return words.slice(3);
  }

  test("the header's command reproduces the output, shell quoting included", () => {
    for (const argv of [
      DEFAULT,
      FLAGS,
      ["--version", V, "--node-selector", "note=", "--runtime-arg=--debug-log=/tmp/runsc dir/"],
    ]) {
      const header = print(argv).split("\n")[1].replace(/^#\s+/, "");
      expect(print(shellWords(header).slice(3))).toBe(print(argv));
    }
  });

  test("the output is deterministic and keeps --node-selector order", () => {
    expect(print(FLAGS)).toBe(print(FLAGS));
    const ds = one(objects(["--version", V, "--node-selector", "z=1", "--node-selector", "a=2"]), "DaemonSet");
    expect(Object.keys(ds.spec.template.spec.nodeSelector)).toEqual(["z", "a"]);
  });
});

describe.each([
  ["default", DEFAULT],
  ["every flag", FLAGS],
  ["--distribution k3s", [...DEFAULT, "--distribution", "k3s"]],
  ["--distribution microk8s", [...FLAGS, "--distribution", "microk8s"]],
])("what Kubernetes requires of every document (%s)", (_name, argv) => {
  const objs = objects(argv);
  const ns = argv.includes("--namespace") ? argv[argv.indexOf("--namespace") + 1] : "gvisor-system";

  test("each document has apiVersion, kind, metadata.name and the managed-by and version labels", () => {
    for (const o of objs) {
      expect(o.apiVersion).toBeString();
      expect(o.kind).toBeString();
      expect(o.metadata.name).toBeString();
      expect(o.metadata.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "gvisor-doctor",
        "app.kubernetes.io/version": TOOL,
      });
    }
  });

  test("each document validates against the upstream OpenAPI schema of its kind", () => {
    const models: Record<string, new (o: any) => { validate(): void }> = {
      Namespace,
      ServiceAccount,
      ClusterRole,
      ClusterRoleBinding,
      DaemonSet,
      RuntimeClass,
      ValidatingAdmissionPolicy,
      ValidatingAdmissionPolicyBinding,
    };
    for (const o of objs) {
      expect(models[o.kind]).toBeDefined();
      expect(`${o.apiVersion}`).toBe((models[o.kind] as any).apiVersion);
      expect(() => new models[o.kind](o).validate()).not.toThrow();
    }
  });

  test("namespaced objects are all in the one namespace; cluster-scoped ones name none", () => {
    const namespaced = new Set(["ServiceAccount", "DaemonSet"]);
    for (const o of objs) expect(o.metadata.namespace).toBe(namespaced.has(o.kind) ? ns : undefined);
    const created = byKind(objs, "Namespace");
    expect(created.map((n) => n.metadata.name)).toEqual(argv.includes("--no-namespace") ? [] : [ns]);
    if (created.length) {
      expect(objs[0].kind).toBe("Namespace"); // kubectl apply creates it before what lives in it
      // Pod Security Admission would refuse privileged, hostPID, hostPath pods under a baseline/restricted default.
      expect(created[0].metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    }
  });

  test("the DaemonSet's selector matches its pod template's labels", () => {
    const ds = one(objs, "DaemonSet");
    expect(ds.spec.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "gvisor-doctor",
      "app.kubernetes.io/component": "node-installer",
    });
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
  });

  test("every container has a name, an image and the command gvisor-doctor; names are unique", () => {
    const spec = one(objs, "DaemonSet").spec.template.spec;
    const all = [...spec.initContainers, ...spec.containers];
    for (const c of all) {
      expect(c.name).toMatch(/^[a-z0-9-]+$/);
      expect(c.image).toBe(
        argv.includes("--image") ? argv[argv.indexOf("--image") + 1] : `ghcr.io/gvisor-doctor/gvisor-doctor:${TOOL}`,
      );
      expect(c.command).toEqual(["gvisor-doctor"]);
    }
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
  });

  test("every volume mount names a volume of the pod", () => {
    const spec = one(objs, "DaemonSet").spec.template.spec;
    const volumes = new Set(spec.volumes.map((v: any) => v.name));
    for (const c of [...spec.initContainers, ...spec.containers])
      for (const m of c.volumeMounts) expect(volumes.has(m.name)).toBe(true);
  });

  test("RBAC: the binding grants the ClusterRole to the DaemonSet's ServiceAccount", () => {
    const sa = one(objs, "ServiceAccount");
    const role = one(objs, "ClusterRole");
    const binding = one(objs, "ClusterRoleBinding");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(one(objs, "DaemonSet").spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  test("the RuntimeClass selects exactly the label value the install container installs", () => {
    const rc = one(objs, "RuntimeClass");
    const install = one(objs, "DaemonSet").spec.template.spec.initContainers[0];
    const installed = install.args[install.args.indexOf("--version") + 1];
    expect(installed).toBe(V);
    expect(rc.scheduling).toEqual({ nodeSelector: { "gvisor.dev/runsc": installed } });
    expect(rc.handler).toBe("runsc");
  });

  test("--json prints the same objects as one List", () => {
    const list = JSON.parse(print(argv, "json"));
    expect(list).toMatchObject({ schemaVersion: 1, apiVersion: "v1", kind: "List" });
    expect(list.items).toEqual(objs);
  });

  test("a second YAML reader (Bun's) reads the same objects", () => {
    const docs = Bun.YAML.parse(print(argv)) as any[];
    expect(docs).toEqual(objs);
  });
});

describe("the manifests say what the contract says", () => {
  const objs = objects(DEFAULT);
  const ds = one(objs, "DaemonSet");
  const pod = ds.spec.template.spec;

  test("objects in apply order: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, DaemonSet, RuntimeClass", () => {
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/gvisor-system",
      "ServiceAccount/gvisor-doctor",
      "ClusterRole/gvisor-doctor-node-labeler",
      "ClusterRoleBinding/gvisor-doctor-node-labeler",
      "DaemonSet/gvisor-doctor",
      "RuntimeClass/gvisor",
    ]);
  });

  test("least RBAC: get and patch on nodes, nothing else", () => {
    expect(one(objs, "ClusterRole").rules).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
    ]);
  });

  test("the pod runs on every node (all taints tolerated), as system-node-critical, with the host's PIDs and / at /host", () => {
    expect(pod).toMatchObject({
      serviceAccountName: "gvisor-doctor",
      hostPID: true,
      priorityClassName: "system-node-critical",
      tolerations: [{ operator: "Exists" }],
    });
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.volumes).toEqual([{ name: "host", hostPath: { path: "/", type: "Directory" } }]);
    expect(ds.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } });
  });

  test("init containers install, then check; both privileged, with the host at /host", () => {
    expect(pod.initContainers.map((c: any) => [c.name, c.args])).toEqual([
      ["install", ["install", "--host-root", "/host", "--version", V, "--restart"]],
      ["check", ["check", "--host-root", "/host", "--json"]],
    ]);
    for (const c of pod.initContainers) {
      expect(c.securityContext).toEqual({ privileged: true });
      expect(c.volumeMounts).toEqual([{ name: "host", mountPath: "/host" }]);
    }
  });

  test("the agent re-checks every 300 s, is ready while the checks pass, and has small resources", () => {
    expect(pod.containers).toHaveLength(1);
    const agent = pod.containers[0];
    expect(agent.name).toBe("agent");
    expect(agent.args).toEqual(["k8s", "agent", "--host-root", "/host", "--interval", "300"]);
    expect(agent.readinessProbe).toMatchObject({
      exec: { command: ["gvisor-doctor", "k8s", "agent", "--probe"] },
      periodSeconds: 30,
    });
    expect(agent.resources).toEqual({ requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } });
    expect(agent.securityContext).toEqual({ privileged: true });
    expect(agent.volumeMounts).toEqual([{ name: "host", mountPath: "/host", mountPropagation: "HostToContainer" }]);
    expect(ds.spec.template.metadata.annotations).toEqual({ "kubectl.kubernetes.io/default-container": "agent" });
  });

  test("every container knows its node's name (NODE_NAME from spec.nodeName)", () => {
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.env).toEqual([{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }]);
    }
  });

  test("the RuntimeClass gvisor: handler runsc, scheduled onto nodes labelled with the release", () => {
    expect(one(objs, "RuntimeClass")).toMatchObject({
      apiVersion: "node.k8s.io/v1",
      metadata: { name: "gvisor" },
      handler: "runsc",
      scheduling: { nodeSelector: { "gvisor.dev/runsc": V } },
    });
  });

  test("flags reach the pod: mirror and runtime args to install, node selectors to the pod, the RuntimeClass name", () => {
    const f = objects(FLAGS);
    const p = one(f, "DaemonSet").spec.template.spec;
    expect(p.initContainers[0].args).toEqual([
      "install",
      "--host-root",
      "/host",
      "--version",
      V,
      "--restart",
      "--mirror",
      "https://mirror.example.com/gvisor/releases",
      // One argument each: parseArgs refuses a separate value that starts with '-'.
      "--runtime-arg=--network=none",
      "--runtime-arg=--platform=kvm",
    ]);
    expect(p.nodeSelector).toEqual({ pool: "sandbox", "kubernetes.io/arch": "amd64" });
    expect(one(f, "RuntimeClass").metadata.name).toBe("gvisor-sandbox");
  });

  test("each container's args and the readiness probe are command lines gvisor-doctor accepts (install, check, k8s agent)", () => {
    for (const variant of [DEFAULT, FLAGS]) {
      const p = one(objects(variant), "DaemonSet").spec.template.spec;
      const lines = [...p.initContainers, ...p.containers].map((c: any) => c.args);
      lines.push(p.containers[0].readinessProbe.exec.command.slice(1));
      for (const argv of lines) {
        const { cmd, args } = resolveCommand(argv);
        expect(cmd.name).toBe(argv[0] === "k8s" ? `k8s ${argv[1]}` : argv[0]);
        expect(() => parseCommandArgs(cmd, args)).not.toThrow();
      }
    }
  });

  test("the header says how the file was made and how pods opt in", () => {
    const lines = print(DEFAULT).split("\n");
    expect(lines.slice(0, 3)).toEqual([
      `# Generated by gvisor-doctor ${TOOL}; regenerate with:`,
      "#   gvisor-doctor k8s manifests --version 20260817.0",
      "# Apply with: kubectl apply -f <this file>. Pods opt in with spec.runtimeClassName: gvisor.",
    ]);
    expect(print(FLAGS).split("\n")[1]).toBe(
      "#   gvisor-doctor k8s manifests --version 20260817.0 --namespace kube-system --no-namespace --image registry.example.com/gvisor-doctor:1.2.3 --mirror https://mirror.example.com/gvisor/releases --node-selector pool=sandbox --node-selector kubernetes.io/arch=amd64 --runtime-class gvisor-sandbox --runtime-arg=--network=none --runtime-arg=--platform=kvm --admission-policy",
    );
  });

  test("strings YAML 1.1 readers (kubectl's go-yaml) would take for numbers or booleans are quoted", () => {
    const text = print(["--version", V, "--node-selector", "sandbox=yes", "--node-selector", "x=0755"]);
    expect(text).toContain('sandbox: "yes"');
    expect(text).toContain('x: "0755"');
    expect(text).toContain(`gvisor.dev/runsc: "${V}"`);
    expect(text).toContain('args: [k8s, agent, --host-root, /host, --interval, "300"]');
  });

  test("a development build's version (0.1.0+g1a2b3c4-dirty) becomes a valid label value and image tag", () => {
    const objsDev = JSON.parse(print(DEFAULT, "json", "0.1.0+g1a2b3c4-dirty")).items;
    expect(objsDev[0].metadata.labels["app.kubernetes.io/version"]).toBe("0.1.0_g1a2b3c4-dirty");
    expect(one(objsDev, "DaemonSet").spec.template.spec.containers[0].image).toBe(
      "ghcr.io/gvisor-doctor/gvisor-doctor:0.1.0_g1a2b3c4-dirty",
    );
  });
});

describe("--admission-policy: the agent may change only its own node's gVisor label", () => {
  const objs = objects(["--version", V, "--admission-policy"]);
  const policy = one(objs, "ValidatingAdmissionPolicy");
  const binding = one(objs, "ValidatingAdmissionPolicyBinding");

  test("without the flag there is no policy", () => {
    expect(objects(DEFAULT).filter((o) => o.apiVersion.startsWith("admissionregistration"))).toEqual([]);
  });

  test("it matches node UPDATEs (a PATCH is one) by the agent's ServiceAccount only, and denies", () => {
    expect(policy.spec.matchConstraints).toEqual({
      resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["nodes"] }],
    });
    expect(policy.spec.matchConditions).toEqual([
      {
        name: "gvisor-doctor-service-account",
        expression: "request.userInfo.username == 'system:serviceaccount:gvisor-system:gvisor-doctor'",
      },
    ]);
    expect(policy.spec.failurePolicy).toBe("Fail");
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ["Deny"] });
  });

  test("its rules compare the node to the token's node-name claim and leave only gvisor.dev/runsc changeable", () => {
    const [own, label, rest] = policy.spec.validations.map((v: any) => v.expression as string);
    expect(own).toContain("request.userInfo.extra['authentication.kubernetes.io/node-name'] == [object.metadata.name]");
    expect(label).toContain("k == 'gvisor.dev/runsc'");
    expect(rest).toContain("object.spec == oldObject.spec");
    expect(rest).toContain("object.metadata.annotations == oldObject.metadata.annotations");
  });

  test("the policy names the ServiceAccount of the chosen namespace", () => {
    const p = one(
      objects(["--version", V, "--admission-policy", "--namespace", "kube-system", "--no-namespace"]),
      "ValidatingAdmissionPolicy",
    );
    expect(p.spec.matchConditions[0].expression).toContain("'system:serviceaccount:kube-system:gvisor-doctor'");
  });

  test("policy objects come before the DaemonSet (the agent is confined from its first patch)", () => {
    const kinds = objs.map((o) => o.kind);
    expect(kinds.indexOf("ValidatingAdmissionPolicyBinding")).toBeLessThan(kinds.indexOf("DaemonSet"));
  });
});

describe("--admission-policy, evaluated: its CEL rules admit the agent's own label change and nothing else", () => {
  // No API server here: a CEL evaluator runs the policy's expressions on the admission
  // request the API server would build for the agent's PATCH of a node.
  const policy = one(objects(["--version", V, "--admission-policy"]), "ValidatingAdmissionPolicy");
  const AGENT = "system:serviceaccount:gvisor-system:gvisor-doctor";
  const node = (
    labels: Record<string, string>,
    spec: object = { podCIDR: "10.0.0.0/24" },
    annotations?: Record<string, string>,
  ) => ({ metadata: { name: "node-a", labels, ...(annotations ? { annotations } : {}) }, spec });
  const base = { "kubernetes.io/hostname": "node-a", "kubernetes.io/os": "linux" };
  const OLD = node(base);
  /** null when admitted; else the messages of the failed validations. null too when the policy does not match the user. */
  const admit = (
    object: object,
    oldObject: object,
    user = AGENT,
    nodeName: string | null = "node-a",
  ): string[] | null => {
    const request = {
      userInfo: {
        username: user,
        ...(nodeName ? { extra: { "authentication.kubernetes.io/node-name": [nodeName] } } : {}),
      },
    };
    const ctx = { object, oldObject, request };
    if (!policy.spec.matchConditions.every((c: any) => evaluate(c.expression, ctx) === true)) return null;
    const failed = policy.spec.validations
      .filter((v: any) => evaluate(v.expression, ctx) !== true)
      .map((v: any) => v.message);
    return failed.length ? failed : null;
  };

  test("the agent sets, changes and removes gvisor.dev/runsc on its own node", () => {
    expect(admit(node({ ...base, "gvisor.dev/runsc": V }), OLD)).toBeNull();
    expect(
      admit(node({ ...base, "gvisor.dev/runsc": "20260901.0" }), node({ ...base, "gvisor.dev/runsc": V })),
    ).toBeNull();
    expect(admit(node(base), node({ ...base, "gvisor.dev/runsc": V }))).toBeNull();
  });
  test("another node: denied, even for the same label", () => {
    expect(admit(node({ ...base, "gvisor.dev/runsc": V }), OLD, AGENT, "node-b")).toEqual([
      "gvisor-doctor may change only the node its own pod runs on",
    ]);
  });
  test("a token without the node-name claim (not bound to a pod, or Kubernetes < 1.30): denied", () => {
    expect(admit(node({ ...base, "gvisor.dev/runsc": V }), OLD, AGENT, null)).toEqual([
      "gvisor-doctor may change only the node its own pod runs on",
    ]);
  });
  test("any other label, added, changed or removed: denied", () => {
    const denied = ["gvisor-doctor may change only the gvisor.dev/runsc label of a node"];
    expect(admit(node({ ...base, "node-role.kubernetes.io/control-plane": "" }), OLD)).toEqual(denied);
    expect(admit(node({ ...base, "kubernetes.io/os": "windows" }), OLD)).toEqual(denied);
    expect(admit(node({ "kubernetes.io/hostname": "node-a" }), OLD)).toEqual(denied);
  });
  test("taints, unschedulable, annotations: denied", () => {
    const denied = ["gvisor-doctor may not change a node's spec (taints, unschedulable) or annotations"];
    expect(admit(node(base, { podCIDR: "10.0.0.0/24", taints: [{ key: "x", effect: "NoSchedule" }] }), OLD)).toEqual(
      denied,
    );
    expect(admit(node(base, { podCIDR: "10.0.0.0/24", unschedulable: true }), OLD)).toEqual(denied);
    expect(admit(node(base, undefined, { note: "x" }), OLD)).toEqual(denied);
  });
  test("other users are not matched: the policy leaves them to RBAC", () => {
    expect(admit(node({ ...base, role: "x" }), OLD, "system:serviceaccount:kube-system:other", "node-b")).toBeNull();
  });
});

describe("the schema validation can fail (so passing means something)", () => {
  const ds = () => JSON.parse(JSON.stringify(one(objects(DEFAULT), "DaemonSet")));
  test("a DaemonSet without a selector", () => {
    const o = ds();
    delete o.spec.selector;
    expect(() => new DaemonSet(o).validate()).toThrow(/required property selector/);
  });
  test("a container without a name", () => {
    const o = ds();
    delete o.spec.template.spec.containers[0].name;
    expect(() => new DaemonSet(o).validate()).toThrow(/required property name/);
  });
  test("a memory limit that is not a quantity", () => {
    const o = ds();
    o.spec.template.spec.containers[0].resources.limits.memory = "lots";
    expect(() => new DaemonSet(o).validate()).toThrow(/quantity/);
  });
  test("an unknown mount propagation", () => {
    const o = ds();
    o.spec.template.spec.containers[0].volumeMounts[0].mountPropagation = "Sideways";
    expect(() => new DaemonSet(o).validate()).toThrow(/mountPropagation/);
  });
  test("hostPID as a string (what an unquoted YAML 1.1 'yes' would not be, but a quoted one is)", () => {
    const o = ds();
    o.spec.template.spec.hostPID = "true";
    expect(() => new DaemonSet(o).validate()).toThrow(/hostPID must be boolean/);
  });
  test("a RuntimeClass without a handler, or of another API version", () => {
    expect(() => new RuntimeClass({ metadata: { name: "gvisor" } } as any).validate()).toThrow(/handler/);
    expect(() =>
      new RuntimeClass({
        apiVersion: "node.k8s.io/v1beta1",
        metadata: { name: "gvisor" },
        handler: "runsc",
      } as any).validate(),
    ).toThrow(/apiVersion/);
  });
  test("a ClusterRoleBinding without a roleRef", () => {
    const o = one(objects(DEFAULT), "ClusterRoleBinding");
    delete o.roleRef;
    expect(() => new ClusterRoleBinding(o).validate()).toThrow(/roleRef/);
  });
});

test("the objects type-check against the Kubernetes API types (the schemas accept unknown fields; a typo is a compile error)", () => {
  const tsc = join(ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(
    tsc,
    [
      "--noEmit",
      "--strict",
      "--skipLibCheck",
      "--target",
      "ES2022",
      "--module",
      "ESNext",
      "--moduleResolution",
      "bundler",
      "--allowImportingTsExtensions",
      "--lib",
      "ES2023",
      "--types",
      "node",
      join(ROOT, "src/k8s/manifests.ts"),
      join(ROOT, "src/k8s/manifest-options.ts"),
    ],
    { encoding: "utf8", cwd: ROOT },
  );
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
}, 60_000);

describe("flags are refused with a usage error that says why and what to do", () => {
  test("no --version: it is required", () => {
    const e = usageError([]);
    expect(e.message).toContain("needs --version YYYYMMDD[.N]");
    expect(e.hint).toContain("--version 20260817.0");
  });
  test.each(["latest", "nightly", "release/latest"])("--version %s moves", (v) => {
    const e = usageError(["--version", v]);
    expect(e.message).toBe(
      `--version ${v} moves: every node must install the same release, and the node label and the RuntimeClass selector must name it`,
    );
    expect(e.hint).toContain("https://github.com/google/gvisor/releases/latest");
  });
  test("a nightly has no stable release name", () => {
    expect(usageError(["--version", "nightly/2026-09-10"]).message).toContain("nightlies have no stable name");
  });
  test("a date that does not exist, or no version at all", () => {
    expect(usageError(["--version", "20261340"]).message).toContain("not a calendar date");
    expect(usageError(["--version", "v1"]).message).toContain("is not a gVisor release");
  });
  test("the tag spelling is accepted and normalised: release-20260817.0 → 20260817.0", () => {
    expect(
      one(objects(["--version", "release-20260817.0"]), "RuntimeClass").scheduling.nodeSelector["gvisor.dev/runsc"],
    ).toBe(V);
    expect(print(["--version", "release-20260817.0"])).toBe(print(DEFAULT));
  });
  test("a namespace or RuntimeClass name Kubernetes would refuse", () => {
    expect(usageError(["--version", V, "--namespace", "Gvisor"]).message).toBe(
      "--namespace \"Gvisor\" must be lowercase letters, digits and '-', starting and ending with a letter or digit",
    );
    expect(usageError(["--version", V, "--namespace", "a".repeat(64)]).message).toContain("at most 63");
    expect(usageError(["--version", V, "--runtime-class", "g_visor"]).message).toContain('--runtime-class "g_visor"');
  });
  test("node selectors: KEY=VALUE with a valid key and value, each key once, never the label the agent sets", () => {
    expect(usageError(["--version", V, "--node-selector", "pool"]).message).toContain("is not KEY=VALUE");
    expect(usageError(["--version", V, "--node-selector", "bad key=x"]).message).toBe(
      `--node-selector bad key=x: label key "bad key": the name must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
    expect(usageError(["--version", V, "--node-selector", "pool=a/b"]).message).toContain('label value "a/b" must be');
    expect(usageError(["--version", V, "--node-selector", `pool=${"x".repeat(64)}`]).message).toContain(
      "longer than 63 characters",
    );
    expect(usageError(["--version", V, "--node-selector", "Example.com/pool=x"]).message).toContain("prefix");
    expect(usageError(["--version", V, "--node-selector", "pool=a", "--node-selector", "pool=b"]).message).toContain(
      "given twice",
    );
    const e = usageError(["--version", V, "--node-selector", `gvisor.dev/runsc=${V}`]);
    expect(e.message).toContain("would keep the installer off every node");
  });
  test("a runtime argument that is not a runsc flag, a mirror that is not a URL, an image with spaces", () => {
    expect(usageError(["--version", V, "--runtime-arg", "not a flag"]).message).toContain("is not a runsc flag");
    expect(usageError(["--version", V, "--mirror", "/srv/gvisor"]).message).toContain("is not an http(s) URL");
    expect(usageError(["--version", V, "--image", "my image"]).message).toContain("is not an image reference");
  });
  test("a runtime argument written as a separate word starting with '-' needs '=' (the parser says so)", () => {
    expect(() => parseCommandArgs(k8sManifestsCommand, ["--version", V, "--runtime-arg", "--network=none"])).toThrow(
      UsageError,
    );
  });
});

test("Kubernetes object names: DNS-1123 labels (namespaces) and subdomains (RuntimeClass)", () => {
  expect(dns1123LabelError("gvisor-system")).toBeNull();
  expect(dns1123LabelError("-a")).not.toBeNull();
  expect(dns1123LabelError("a.b")).not.toBeNull();
  expect(dns1123SubdomainError("a.b-c.d")).toBeNull();
  expect(dns1123SubdomainError("a..b")).not.toBeNull();
  expect(dns1123SubdomainError("x".repeat(254))).toContain("at most 253");
});

describe("--distribution: the Kubernetes distribution's containerd directories are mounted too", () => {
  const pod = (argv: string[]) => one(objects(argv), "DaemonSet").spec.template.spec;
  test.each([
    ["k3s", "/var/lib/rancher/k3s/agent/etc/containerd", "/run/k3s/containerd"],
    ["rke2", "/var/lib/rancher/rke2/agent/etc/containerd", "/run/k3s/containerd"],
    ["k0s", "/etc/k0s/containerd.d", "/run/k0s"],
    ["microk8s", "/var/snap/microk8s/current/args", "/var/snap/microk8s/common/run"],
  ])("%s: its config directory %s and socket directory %s, under /host in every container", (id, config, socket) => {
    const spec = pod([...DEFAULT, "--distribution", id]);
    expect(spec.volumes).toEqual([
      { name: "host", hostPath: { path: "/", type: "Directory" } },
      { name: `${id}-containerd-config`, hostPath: { path: config, type: "DirectoryOrCreate" } },
      { name: `${id}-containerd-socket`, hostPath: { path: socket, type: "DirectoryOrCreate" } },
    ]);
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.volumeMounts.map((m: any) => m.mountPath)).toEqual(["/host", `/host${config}`, `/host${socket}`]);
    }
    // The header's command reproduces it.
    expect(
      print([...DEFAULT, "--distribution", id])
        .split("\n")
        .slice(0, 5)
        .join("\n"),
    ).toContain(`--distribution ${id}`);
  });
  test("auto (the default) mounts the node's / only: each node's distribution is found when the pod runs", () => {
    expect(print([...DEFAULT, "--distribution", "auto"])).toBe(print(DEFAULT));
  });
  test("another name is a usage error that lists the known ones", () => {
    expect(usageError([...DEFAULT, "--distribution", "kind"]).message).toBe(
      "--distribution kind: not one of k3s, rke2, k0s, microk8s, auto",
    );
  });
});
