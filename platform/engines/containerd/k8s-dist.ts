// Kubernetes distributions that run their own containerd with its config somewhere else,
// and (k3s, RKE2, microk8s) regenerate that config at every start. runsc is registered
// where each distribution wants it, never in the generated file:
//   k3s / RKE2  config.toml.tmpl (containerd 2.x: config-v3.toml.tmpl) beside the generated
//               config.toml: `{{ template "base" . }}` (the distribution's own config) and
//               then the runtime tables; an existing template gets a marked block at its end.
//   k0s         a drop-in in /etc/k0s/containerd.d/, whose CRI tables k0s merges into the
//               config it generates (/run/k0s/containerd-cri.toml).
//   microk8s    args/containerd-template.toml (plain TOML with ${SNAP_DATA}-style variables),
//               which the snap renders into args/containerd.toml: edited like a config.toml.
// Pure over a ConfigReader, like containerd/plan.ts, whose planning this reuses.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { SELF_ROOT, type HostRoot } from "../../os/host-root.ts";
import type { DaemonProcess } from "../../os/processes.ts";
import { CREATED_MARKER } from "../edit/text.ts";
import { getPath, parseTomlStrict } from "../edit/toml-check.ts";
import { TomlDoc } from "../edit/toml-edit.ts";
import { EngineConfigError, type FileChange } from "../types.ts";
import {
  majorMinor,
  RUNC_SHIM_TYPE,
  runtimesPath,
  schemaOf,
  type ConfigReader,
  type ContainerdSchema,
} from "./config.ts";
import { planContainerd, type ContainerdPlanInput, type ContainerdPlanResult } from "./plan.ts";
import {
  DISTRIBUTION_IDS,
  DISTRIBUTIONS,
  distributionAt,
  K0S_DROP_IN,
  MICROK8S_CONFIG,
  MICROK8S_TEMPLATE,
  type Distribution,
} from "./distributions.ts";

export {
  DISTRIBUTION_IDS,
  DISTRIBUTIONS,
  distributionAt,
  distributionOf,
  K0S_DROP_IN,
  MICROK8S_TEMPLATE,
  type Distribution,
  type DistributionFact,
  type DistributionId,
} from "./distributions.ts";

export const BASE_ACTION = '{{ template "base" . }}';

/** A distribution containerd was found to be part of, and how it was told. */
export interface DetectedDistribution {
  dist: Distribution;
  /** "containerd pid 42 reads …" or "… exists". */
  why: string;
  /** The distribution's running containerd, if any. */
  daemon: DaemonProcess | null;
}

/** The config a containerd process reads, as it names it (-c/--config), or null. */
export const configFlag = (d: DaemonProcess) => d.flags["-c"]?.at(-1) ?? d.flags["--config"]?.at(-1) ?? null;

function matches(dist: Distribution, config: string): boolean {
  if (config === dist.config) return true;
  return dist.id === "microk8s" && MICROK8S_CONFIG.test(config);
}

/**
 * Which distribution the node runs: the one whose containerd runs (by the config it reads),
 * else the first whose files are there (the generated config or the file we edit).
 */
export function detectDistribution(
  daemons: DaemonProcess[],
  root: HostRoot = SELF_ROOT,
  exists: (hostPath: string) => boolean = (p) => readerExists(root, p),
): DetectedDistribution | null {
  for (const d of daemons) {
    const c = configFlag(d);
    const dist = c ? DISTRIBUTION_IDS.map((id) => DISTRIBUTIONS[id]).find((x) => matches(x, c)) : undefined;
    if (dist) return { dist: distributionAt(dist.id, c), why: `containerd pid ${d.pid} reads ${c}`, daemon: d };
  }
  for (const id of DISTRIBUTION_IDS) {
    const dist = DISTRIBUTIONS[id];
    const files = [dist.config, ...(id === "microk8s" ? [MICROK8S_TEMPLATE] : [])];
    const found = files.find(exists);
    if (found) return { dist, why: `${found} exists (its containerd is not running)`, daemon: null };
  }
  return null;
}

/**
 * --config naming a distribution's own config (k3s's generated config.toml, k0s's
 * containerd.toml): the distribution's, so runsc still goes where the distribution takes it from.
 */
export function distributionForConfig(config: string, daemon: DaemonProcess | null): DetectedDistribution | null {
  const dist = DISTRIBUTION_IDS.map((id) => DISTRIBUTIONS[id]).find((x) => matches(x, config));
  return dist ? { dist: distributionAt(dist.id, config), why: `--config ${config} is ${dist.title}'s`, daemon } : null;
}

function readerExists(root: HostRoot, p: string): boolean {
  try {
    return existsSync(root.local(p));
  } catch {
    return false;
  }
}

const UNIT_DIRS = [
  "/etc/systemd/system",
  "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
];

/**
 * The systemd unit that runs the distribution on this node: a server or an agent (k3s /
 * k3s-agent, rke2-server / rke2-agent, k0scontroller / k0sworker), by the unit file its
 * installer wrote; the first one when none is found.
 */
export function distUnit(dist: Distribution, root: HostRoot = SELF_ROOT): string {
  return dist.units.find((u) => UNIT_DIRS.some((d) => readerExists(root, `${d}/${u}.service`))) ?? dist.units[0]!;
}

/** The config version the distribution's containerd reads: its generated config's, else by containerd's version. */
export function distSchema(
  dist: Distribution,
  reader: ConfigReader,
  containerdVersion: string | null,
): ContainerdSchema {
  const text = reader.read(dist.config);
  if (text !== null) {
    try {
      const v = schemaOf(parseTomlStrict(text, dist.config), dist.config);
      if (v.declared) return v.version;
    } catch {}
  }
  const mm = majorMinor(containerdVersion);
  return mm && mm.major >= 2 ? 3 : 2;
}

/**
 * The file runsc goes into. k3s and RKE2 with containerd 2.x render config-v3.toml.tmpl, and
 * fall back to config.toml.tmpl when only that one exists: an existing template is extended.
 */
export function distTarget(dist: Distribution, reader: ConfigReader, version: ContainerdSchema, name: string): string {
  if (dist.style === "drop-in") return K0S_DROP_IN(name);
  if (dist.style === "toml-template") return join(dist.editDir, "containerd-template.toml");
  const v3 = join(dist.editDir, "config-v3.toml.tmpl");
  const v2 = join(dist.editDir, "config.toml.tmpl");
  if (version === 3) return reader.read(v3) !== null || reader.read(v2) === null ? v3 : v2;
  return v2;
}

const BEGIN = (name: string, noEol = false) =>
  `# gvisor-doctor: runtime "${name}" (begin; \`gvisor-doctor configure containerd --remove\` takes it out` +
  `${noEol ? "; the line before had no newline" : ""})`;
const END = (name: string) => `# gvisor-doctor: runtime "${name}" (end)`;

/**
 * Our marked block in a template or drop-in: `start` includes what was put before it (a blank
 * line, or the newline a file without a final one lacked), so taking it out gives the file back
 * byte for byte; `at` is its first line, `end` is exclusive; null when the text has none.
 */
export function findBlock(
  text: string,
  name: string,
): { start: number; at: number; end: number; body: string; noEol: boolean } | null {
  for (const noEol of [false, true]) {
    const begin = BEGIN(name, noEol);
    const at = text.startsWith(`${begin}\n`) ? 0 : text.indexOf(`\n${begin}\n`) + 1;
    if (at <= 0 && !text.startsWith(`${begin}\n`)) continue;
    const e = text.indexOf(`\n${END(name)}\n`, at);
    if (e < 0) return null;
    const blank = text.slice(0, at).endsWith("\n\n");
    const start = blank ? at - (noEol ? 2 : 1) : at;
    return { start, at, end: e + END(name).length + 2, body: text.slice(at + begin.length + 1, e + 1), noEol };
  }
  return null;
}

/** The text with our block (and what was put before it) taken out. */
export function stripBlock(text: string, name: string): string {
  const b = findBlock(text, name);
  return b ? text.slice(0, b.start) + text.slice(b.end) : text;
}

/** A file gvisor-doctor creates starts with this; one that holds nothing else after --remove is deleted. */
export function createdText(dist: Distribution, version: ContainerdSchema): string {
  if (dist.style === "template") {
    return (
      `${BASE_ACTION}\n# ${CREATED_MARKER} configure containerd: ${dist.title} renders this template into ` +
      `${dist.config}\n`
    );
  }
  return (
    `# ${CREATED_MARKER} configure containerd: runtime tables ${dist.title} merges into ${dist.rendered}.\n` +
    `version = ${version}\n`
  );
}

/** `text` with the block holding `body`: in place of the old one, or at the end after a blank line. */
export function withBlock(text: string, name: string, body: string, created: boolean): string {
  const wrapped = (noEol: boolean) =>
    `${BEGIN(name, noEol)}\n${body}${body.endsWith("\n") || body === "" ? "" : "\n"}${END(name)}\n`;
  const old = findBlock(text, name);
  if (old) return text.slice(0, old.at) + wrapped(old.noEol) + text.slice(old.end);
  // One blank line before the block, which --remove takes out with it (none after our own header).
  if (text === "" || created) return `${text}${wrapped(false)}`;
  return text.endsWith("\n") ? `${text}\n${wrapped(false)}` : `${text}\n\n${wrapped(true)}`;
}

/** What planContainerd takes, with the distribution in place of one config path. */
export interface DistPlanInput extends Omit<ContainerdPlanInput, "configPath"> {
  dist: Distribution;
}

export interface DistPlanResult extends ContainerdPlanResult {
  /** The file runsc is registered in. */
  target: string;
  /** dist.rendered as the distribution will render it after the change (null: not there yet), for config dump. */
  rendered: string | null;
}

/** `text` without runtime `name`'s tables (a distribution re-serialized our block: k0s). */
function withoutRuntime(text: string, file: string, R: string[], name: string): string {
  try {
    if (getPath(parseTomlStrict(text, file), [...R, name]) === undefined) return text;
    const doc = new TomlDoc(text);
    doc.removeTable([...R, name, "options"]);
    doc.removeTable([...R, name]);
    return doc.text;
  } catch {
    return text;
  }
}

/**
 * The plan for a distribution: microk8s's template is a config.toml (planned as one); for
 * k3s, RKE2 and k0s the runtime tables are planned in a stand-in file (version + runc, so
 * containerd-plan writes only this runtime's tables) and go into a marked block of the target.
 */
export function planDistribution(input: DistPlanInput): DistPlanResult {
  const { dist, reader, request: req } = input;
  const version = distSchema(dist, reader, input.containerdVersion);
  const target = distTarget(dist, reader, version, req.name);
  if (dist.style === "toml-template") {
    const r = planContainerd({ ...input, configPath: target });
    const text = r.changes.find((c) => c.path === target)?.after ?? reader.read(target);
    r.notes.unshift(
      `${dist.title} renders ${target} into ${dist.config} at every start: ` + "the runtime goes into the template",
    );
    return { ...r, target, rendered: text === null ? null : renderMicrok8s(text) };
  }
  const R = runtimesPath(version);
  const before = reader.read(target);
  const block = before === null ? null : findBlock(before, req.name);
  const generated = reader.read(dist.rendered);
  // What the distribution renders by itself: its generated config without our runtime.
  const own =
    generated === null
      ? null
      : block
        ? withoutRuntime(stripBlock(generated, req.name), dist.rendered, R, req.name)
        : generated;
  const parsedOwn = (() => {
    try {
      return own === null ? null : parseTomlStrict(own, dist.rendered);
    } catch {
      return null;
    }
  })();
  if (!block && !req.remove && parsedOwn && getPath(parsedOwn, [...R, req.name]) !== undefined) {
    throw new EngineConfigError(
      `${dist.rendered} already has runtime "${req.name}", not from gvisor-doctor: ` +
        `${dist.title} writes it from its own settings or from ${target}`,
      { file: target },
      "change it where it is written, or register under another name (--runtime-name)",
      null,
      "dist-runtime-exists",
    );
  }
  if (req.remove && !block) {
    const expect = { version, runtime: null };
    return { changes: [], existed: false, notes: [], effective: null, expect, target, rendered: null };
  }

  // The stand-in: a runtimes table exists (so no runc is written out), SystemdCgroup as the distribution sets it.
  const standInDir = dist.style === "drop-in" ? dirname(dist.editDir) : dist.editDir;
  const standIn = join(standInDir, `gvisor-doctor-${req.name}.toml`);
  const style = { quote: version === 3 ? "'" : '"', step: 2, blankBetweenTables: true } as const;
  const doc = new TomlDoc(`version = ${version}\n`, style);
  doc.addTable([...R, "runc"], [["runtime_type", RUNC_SHIM_TYPE]]);
  if (parsedOwn && getPath(parsedOwn, [...R, "runc", "options", "SystemdCgroup"]) === true) {
    doc.addTable([...R, "runc", "options"], [["SystemdCgroup", true]]);
  }
  const stub = `${doc.text.trimEnd()}\n`;
  const standInText = block ? `${stub}\n${block.body}` : stub;
  const virtual: ConfigReader = { read: (p) => (p === standIn ? standInText : reader.read(p)), list: reader.list };
  const r = planContainerd({ ...input, configPath: standIn, reader: virtual });
  const main = r.changes.find((c) => c.path === standIn);
  const body = main ? cutStub(main.after ?? stub, stub, standIn) : (block?.body ?? "");
  const created = createdText(dist, version);
  let after: string | null;
  if (req.remove) {
    after = stripBlock(before!, req.name);
    if (after === created) after = null;
  } else after = withBlock(before ?? created, req.name, body, before === null || before === created);
  const changes: FileChange[] = [];
  if (after !== before) {
    const action = after === null ? "delete" : before === null ? "create" : "modify";
    const how = dist.style === "template" ? "renders this template into" : "merges this file into";
    changes.push({
      path: target,
      before,
      after,
      action,
      ...(after === null ? { backup: false } : {}),
      reason: `${req.remove ? "unregister" : "register"} runtime "${req.name}" (${dist.title} ${how} ${dist.rendered})`,
    });
  }
  changes.push(...r.changes.filter((c) => c.path !== standIn));
  const notes = r.notes.filter((n) => !n.includes(standIn));
  notes.unshift(
    dist.style === "template"
      ? `${dist.title} regenerates ${dist.config} from ${target} at every start: ` +
          `the runtime goes there, after ${BASE_ACTION}`
      : `${dist.title} merges the CRI tables of ${dist.editDir}/*.toml into ${dist.rendered}: ` +
          `the runtime goes into ${target}`,
  );
  const rendered = own === null ? null : req.remove ? own : `${own}${own.endsWith("\n") ? "" : "\n"}${body}`;
  return { ...r, changes, notes, target, rendered };
}

function cutStub(text: string, stub: string, file: string): string {
  if (!text.startsWith(stub)) throw new Error(`internal: the stand-in ${file} changed outside the runtime's tables`);
  return text.slice(stub.length).replace(/^\n+/, "");
}

/** microk8s's variables, as the snap sets them (args/containerd-env may add more). */
export const MICROK8S_VARS: Record<string, string> = {
  SNAP: "/snap/microk8s/current",
  SNAP_DATA: "/var/snap/microk8s/current",
  SNAP_COMMON: "/var/snap/microk8s/common",
  RUNTIME: "runc",
  RUNTIME_TYPE: "io.containerd.runc.v2",
  SNAPSHOTTER: "overlayfs",
};

/** The template as the snap renders it into args/containerd.toml (each ${VAR} replaced). */
export function renderMicrok8s(text: string, vars: Record<string, string> = MICROK8S_VARS): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (m, k: string) => vars[k] ?? m);
}

/** A k3s/RKE2 template rendered the way they render it, for a template whose only action is the base. */
export function renderBaseTemplate(template: string, base: string): string {
  return template.split(BASE_ACTION).join(base);
}
