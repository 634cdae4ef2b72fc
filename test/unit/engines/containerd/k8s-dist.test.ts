// Kubernetes distributions in node mode: which one a node runs (from its containerd's
// config flag or its files), and where runsc goes for each — k3s/RKE2's template after
// `{{ template "base" . }}`, k0s's drop-in, microk8s's containerd-template.toml — planned
// surgically and taken out byte for byte. The real containerd loads the results in
// test/e2e/k8s-dist.test.ts.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import type { ConfigReader } from "../../../../platform/engines/containerd/config.ts";
import {
  BASE_ACTION,
  detectDistribution,
  DISTRIBUTIONS,
  distUnit,
  findBlock,
  MICROK8S_TEMPLATE,
  planDistribution,
  renderBaseTemplate,
  renderMicrok8s,
  type DistributionId,
} from "../../../../platform/engines/containerd/k8s-dist.ts";
import { CONTAINERD_VALUE_FLAGS, parseFlags, type DaemonProcess } from "../../../../platform/os/processes.ts";
import { hostRootAt } from "../../../../platform/os/host-root.ts";
import type { RuntimeRequest } from "../../../../platform/engines/types.ts";

const FIX = join(import.meta.dir, "../../../fixtures/k8s-dist");
const fixture = (p: string) => readFileSync(join(FIX, p), "utf8");

function readerOf(files: Record<string, string>): ConfigReader & { files: Record<string, string> } {
  return {
    files,
    read: (p) => files[p] ?? null,
    list: (d) =>
      Object.keys(files)
        .filter((f) => f.startsWith(`${d}/`))
        .map((f) => f.slice(d.length + 1)),
  };
}

const REQ: RuntimeRequest = {
  name: "runsc",
  runscPath: "/usr/local/bin/runsc",
  runtimeArgs: null,
  makeDefault: false,
  remove: false,
};
const REMOVE: RuntimeRequest = { ...REQ, remove: true };

function plan(
  id: DistributionId,
  files: Record<string, string>,
  req = REQ,
  version = "1.7.27",
  shim: string | null = null,
) {
  return planDistribution({
    dist: DISTRIBUTIONS[id],
    reader: readerOf(files),
    containerdVersion: version,
    shim,
    wrapperDir: "/usr/local/lib/gvisor-doctor/wrappers",
    request: req,
    force: false,
  });
}

/** Apply a plan's changes to the in-memory files. */
function applied(
  files: Record<string, string>,
  changes: { path: string; after: string | null }[],
): Record<string, string> {
  const out = { ...files };
  for (const c of changes) {
    if (c.after === null) delete out[c.path];
    else out[c.path] = c.after;
  }
  return out;
}

const daemon = (pid: number, config: string, argv = ["containerd", "-c", config]): DaemonProcess => ({
  pid,
  exe: "/usr/bin/containerd",
  argv,
  flags: parseFlags(argv, CONTAINERD_VALUE_FLAGS),
  uid: 0,
});
const K3S = "/var/lib/rancher/k3s/agent/etc/containerd";
const RKE2 = "/var/lib/rancher/rke2/agent/etc/containerd";
const CRI = (doc: any) => doc.plugins["io.containerd.grpc.v1.cri"].containerd.runtimes;

describe("which distribution a node runs", () => {
  test("its containerd's -c names the distribution's config", () => {
    const none = () => false;
    expect(detectDistribution([daemon(7, `${K3S}/config.toml`)], undefined, none)).toMatchObject({
      dist: { id: "k3s" },
      why: `containerd pid 7 reads ${K3S}/config.toml`,
    });
    expect(detectDistribution([daemon(8, `${RKE2}/config.toml`)], undefined, none)?.dist.id).toBe("rke2");
    // k0s names its flags with '=' (--config=…).
    const k0s = [
      "/var/lib/k0s/bin/containerd",
      "--root=/var/lib/k0s/containerd",
      "--state=/run/k0s/containerd",
      "--address=/run/k0s/containerd.sock",
      "--config=/etc/k0s/containerd.toml",
    ];
    expect(detectDistribution([daemon(9, "", k0s)], undefined, none)?.dist.id).toBe("k0s");
    // The snap names its revision's directory ($SNAP_DATA), not "current".
    const snap = detectDistribution([daemon(10, "/var/snap/microk8s/7394/args/containerd.toml")], undefined, none);
    expect(snap?.dist).toMatchObject({ id: "microk8s", editDir: "/var/snap/microk8s/7394/args" });
    expect(detectDistribution([daemon(11, "/etc/containerd/config.toml")], undefined, none)).toBeNull();
  });

  test("with no containerd running, its files say it", () => {
    const has =
      (...files: string[]) =>
      (p: string) =>
        files.includes(p);
    expect(detectDistribution([], undefined, has(`${RKE2}/config.toml`))).toMatchObject({
      dist: { id: "rke2" },
      daemon: null,
      why: `${RKE2}/config.toml exists (its containerd is not running)`,
    });
    expect(detectDistribution([], undefined, has(MICROK8S_TEMPLATE))?.dist.id).toBe("microk8s");
    expect(detectDistribution([], undefined, has("/etc/containerd/config.toml"))).toBeNull();
  });
});

describe("k3s and RKE2: the template k3s renders config.toml from", () => {
  const dir = "/var/lib/rancher/k3s/agent/etc/containerd";
  const base = fixture("k3s/config.toml");

  test("a node without a template gets one: the base template, then runsc's tables", () => {
    const files = { [`${dir}/config.toml`]: base };
    const r = plan("k3s", files);
    expect(r.target).toBe(`${dir}/config.toml.tmpl`);
    expect(r.changes.map((c) => [c.path, c.action])).toEqual([[`${dir}/config.toml.tmpl`, "create"]]);
    const tmpl = r.changes[0]!.after!;
    expect(tmpl.startsWith(`${BASE_ACTION}\n`)).toBe(true);
    // Never the generated file.
    expect(r.changes.some((c) => c.path === `${dir}/config.toml`)).toBe(false);
    // Rendered the way k3s renders it, it is k3s's config plus runsc, and valid TOML.
    const rendered = renderBaseTemplate(tmpl, base);
    // What the plan loads with containerd config dump is the same config.
    expect(parse(r.rendered!)).toEqual(parse(rendered));
    const doc = parse(rendered) as any;
    const runtimes = doc.plugins["io.containerd.grpc.v1.cri"].containerd.runtimes;
    expect(runtimes.runsc).toEqual({
      runtime_type: "io.containerd.runc.v2",
      options: { BinaryName: "/usr/local/bin/runsc" },
    });
    expect(runtimes.runc.options.SystemdCgroup).toBe(false);
    expect(r.notes[0]).toContain(`k3s regenerates ${dir}/config.toml from ${dir}/config.toml.tmpl at every start`);
  });

  test("with the runsc shim, runsc.toml goes beside the template", () => {
    const r = plan(
      "k3s",
      { [`${dir}/config.toml`]: base },
      { ...REQ, runtimeArgs: ["--network=none"] },
      "1.7.27",
      "/usr/local/bin/containerd-shim-runsc-v1",
    );
    expect(r.changes.map((c) => c.path)).toEqual([`${dir}/config.toml.tmpl`, `${dir}/runsc.toml`]);
    const doc = parse(r.rendered!) as any;
    expect(CRI(doc).runsc).toEqual({
      runtime_type: "io.containerd.runsc.v1",
      options: { TypeUrl: "io.containerd.runsc.v1.options", ConfigPath: `${dir}/runsc.toml` },
    });
    expect(r.changes[1]!.after).toContain('network = "none"');
  });

  test("a custom template is extended at its end, and --remove gives it back byte for byte", () => {
    const custom = fixture("k3s/custom.toml.tmpl");
    const files = { [`${dir}/config.toml`]: renderBaseTemplate(custom, base), [`${dir}/config.toml.tmpl`]: custom };
    const r = plan("k3s", files);
    expect(r.changes.map((c) => [c.path, c.action])).toEqual([[`${dir}/config.toml.tmpl`, "modify"]]);
    const after = r.changes[0]!.after!;
    expect(after.startsWith(custom)).toBe(true);
    expect(findBlock(after, "runsc")?.body).toContain(
      '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]',
    );
    const runtimes = (parse(r.rendered!) as any).plugins["io.containerd.grpc.v1.cri"].containerd.runtimes;
    expect(Object.keys(runtimes).sort()).toEqual(["crun", "runc", "runsc"]);
    // k3s restarted: config.toml is rendered from the new template.
    const started = applied(files, r.changes);
    started[`${dir}/config.toml`] = renderBaseTemplate(started[`${dir}/config.toml.tmpl`]!, base);
    expect(plan("k3s", started).changes).toEqual([]);
    const back = plan("k3s", started, REMOVE);
    expect(back.changes.map((c) => [c.path, c.action])).toEqual([[`${dir}/config.toml.tmpl`, "modify"]]);
    expect(back.changes[0]!.after).toBe(custom);
  });

  test("a template without a final newline, or ending in blank lines, is given back byte for byte", () => {
    for (const custom of [`${BASE_ACTION}`, `${BASE_ACTION}\n# mine`, `${BASE_ACTION}\n\n\n`, `${BASE_ACTION}\n`]) {
      const files = { [`${dir}/config.toml`]: base, [`${dir}/config.toml.tmpl`]: custom };
      const r = plan("k3s", files);
      const started = applied(files, r.changes);
      expect(parse(renderBaseTemplate(started[`${dir}/config.toml.tmpl`]!, base))).toEqual(parse(r.rendered!));
      started[`${dir}/config.toml`] = renderBaseTemplate(started[`${dir}/config.toml.tmpl`]!, base);
      expect(plan("k3s", started).changes).toEqual([]);
      const back = plan("k3s", started, REMOVE);
      expect(back.changes.map((c) => [c.action, c.after])).toEqual([["modify", custom]]);
    }
  });

  test("--remove deletes a template gvisor-doctor created, and changes nothing when runsc is not there", () => {
    const files = { [`${dir}/config.toml`]: base };
    const r = plan("k3s", files);
    const started = applied(files, r.changes);
    started[`${dir}/config.toml`] = renderBaseTemplate(started[`${dir}/config.toml.tmpl`]!, base);
    const back = plan("k3s", started, REMOVE);
    expect(back.changes.map((c) => [c.path, c.action])).toEqual([[`${dir}/config.toml.tmpl`, "delete"]]);
    expect(plan("k3s", files, REMOVE).changes).toEqual([]);
  });

  test("containerd 2.x: config-v3.toml.tmpl, version 3 tables; an existing config.toml.tmpl is extended", () => {
    const v3 = fixture("k3s/config-v3.toml");
    const r = plan("k3s", { [`${dir}/config.toml`]: v3 }, REQ, "2.1.5");
    expect(r.target).toBe(`${dir}/config-v3.toml.tmpl`);
    const v3runtimes = (parse(r.rendered!) as any).plugins["io.containerd.cri.v1.runtime"].containerd.runtimes;
    expect(v3runtimes.runsc).toMatchObject({ runtime_type: "io.containerd.runc.v2" });
    const custom = fixture("k3s/custom.toml.tmpl");
    const withV2 = plan("k3s", { [`${dir}/config.toml`]: v3, [`${dir}/config.toml.tmpl`]: custom }, REQ, "2.1.5");
    expect(withV2.target).toBe(`${dir}/config.toml.tmpl`);
  });

  test("a runsc the distribution already writes (not ours) is refused, with where to change it", () => {
    const hand =
      `${base}\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n` +
      '  runtime_type = "io.containerd.runsc.v1"\n';
    expect(() => plan("k3s", { [`${dir}/config.toml`]: hand })).toThrow(
      /already has runtime "runsc", not from gvisor-doctor/,
    );
  });

  test("RKE2: its own directory, and SystemdCgroup carried over from its runc", () => {
    const rdir = "/var/lib/rancher/rke2/agent/etc/containerd";
    const r = plan("rke2", { [`${rdir}/config.toml`]: fixture("rke2/config.toml") });
    expect(r.target).toBe(`${rdir}/config.toml.tmpl`);
    expect(CRI(parse(r.rendered!)).runsc.options).toEqual({ BinaryName: "/usr/local/bin/runsc", SystemdCgroup: true });
  });
});

test("the unit to restart: the distribution's server or agent, by the unit file its installer wrote", () => {
  const dir = mkdtempSync("/tmp/gvd-test-k8s-dist-unit-");
  try {
    mkdirSync(join(dir, "etc"));
    const root = hostRootAt(dir);
    expect(distUnit(DISTRIBUTIONS.rke2, root)).toBe("rke2-server");
    mkdirSync(join(dir, "usr/local/lib/systemd/system"), { recursive: true });
    writeFileSync(join(dir, "usr/local/lib/systemd/system/rke2-agent.service"), "[Service]\n");
    expect(distUnit(DISTRIBUTIONS.rke2, root)).toBe("rke2-agent");
    mkdirSync(join(dir, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(dir, "etc/systemd/system/k0sworker.service"), "[Service]\n");
    expect(distUnit(DISTRIBUTIONS.k0s, root)).toBe("k0sworker");
    expect(distUnit(DISTRIBUTIONS.k3s, root)).toBe("k3s");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("k0s: a drop-in in /etc/k0s/containerd.d", () => {
  const files = {
    "/etc/k0s/containerd.toml": fixture("k0s/containerd.toml"),
    "/run/k0s/containerd-cri.toml": fixture("k0s/containerd-cri.toml"),
  };
  const DROP_IN = "/etc/k0s/containerd.d/gvisor.toml";

  test("runsc's tables in their own file, runsc.toml outside the directory k0s imports", () => {
    const r = plan("k0s", files, REQ, "1.7.27", "/var/lib/k0s/bin/containerd-shim-runsc-v1");
    expect(r.changes.map((c) => [c.path, c.action])).toEqual([
      [DROP_IN, "create"],
      ["/etc/k0s/runsc.toml", "create"],
    ]);
    const dropIn = parse(r.changes[0]!.after!) as any;
    expect(dropIn.version).toBe(2);
    expect(Object.keys(dropIn.plugins["io.containerd.grpc.v1.cri"].containerd.runtimes)).toEqual(["runsc"]);
    expect(CRI(parse(r.rendered!)).runsc.options.ConfigPath).toBe("/etc/k0s/runsc.toml");
    // k0s merged it (re-serialized, no markers): a second run changes nothing, --remove deletes both files.
    const merged = applied(files, r.changes);
    merged["/run/k0s/containerd-cri.toml"] = r.rendered!.replace(/^# gvisor-doctor.*\n/gm, "");
    const shim = "/var/lib/k0s/bin/containerd-shim-runsc-v1";
    expect(plan("k0s", merged, REQ, "1.7.27", shim).changes).toEqual([]);
    const back = plan("k0s", merged, REMOVE, "1.7.27", shim);
    expect(back.changes.map((c) => [c.path, c.action])).toEqual([
      [DROP_IN, "delete"],
      ["/etc/k0s/runsc.toml", "delete"],
    ]);
  });
});

describe("microk8s: args/containerd-template.toml", () => {
  const tmpl = fixture("microk8s/containerd-template.toml");

  test("edited like a config.toml (its ${VARS} kept), rendered the way the snap renders it", () => {
    const r = plan("microk8s", { [MICROK8S_TEMPLATE]: tmpl });
    expect(r.changes.map((c) => [c.path, c.action])).toEqual([[MICROK8S_TEMPLATE, "modify"]]);
    const after = r.changes[0]!.after!;
    expect(after.startsWith(tmpl.trimEnd())).toBe(false); // surgical: inserted after the other runtimes
    expect(after).toContain('snapshotter = "${SNAPSHOTTER}"');
    expect(r.rendered).toBe(renderMicrok8s(after));
    const doc = parse(r.rendered!) as any;
    expect(doc.plugins["io.containerd.grpc.v1.cri"].containerd.snapshotter).toBe("overlayfs");
    expect(CRI(doc).runsc).toMatchObject({ runtime_type: "io.containerd.runc.v2" });
    const back = plan("microk8s", { [MICROK8S_TEMPLATE]: after }, REMOVE);
    expect(back.changes[0]!.after).toBe(tmpl);
  });
});
