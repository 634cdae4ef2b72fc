// Node mode on the Kubernetes distributions that run their own containerd: k3s, RKE2, k0s and
// microk8s. Each node is a tree with the distribution's layout and default config files
// (test/fixtures/k8s-dist), served by a real containerd — this machine's 1.6 and the host
// matrix's 2.1 — started the way the distribution starts it (its config path, socket, root and
// state), after rendering its config as the distribution renders it. The compiled binary
// registers runsc with --host-root, restarts through the distribution's start, proves it with
// containerd config dump, reports the distribution in check, and --remove gives every file back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { BED } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { assertReportSchema } from "../helpers/schema.ts";
import { makeDistTree, type DistTree } from "../helpers/dist-tree.ts";
import { onNode } from "../helpers/host-tree.ts";
import { treePath } from "../hosts/trees.ts";
import { which } from "../../platform/os/which.ts";
import { DISTRIBUTIONS, type DistributionId } from "../../platform/engines/containerd/k8s-dist.ts";
import { DIST_RESULTS } from "../../scripts/tested-on.ts";

const SID_CONTAINERD = join(treePath("sid"), "usr/bin/containerd");
const CONTAINERDS = [
  { label: "containerd 1.6 (this machine)", bin: which("containerd"), v3: false },
  { label: "containerd 2.1 (sid)", bin: existsSync(SID_CONTAINERD) ? SID_CONTAINERD : null, v3: true },
];

const env = { ...process.env, NO_COLOR: "1" };
const JOURNEYS = ["configure", "check", "remove"] as const;
/** The runtime tables of a config dump, whichever version it is. */
function runtimes(dump: string): Record<string, any> {
  const d = parse(dump) as any;
  const cri = d.version === 3 ? d.plugins["io.containerd.cri.v1.runtime"] : d.plugins["io.containerd.grpc.v1.cri"];
  return cri.containerd.runtimes;
}

const TEMPLATE = (v3: boolean) => (v3 ? "config-v3.toml.tmpl" : "config.toml.tmpl");
const CASES: { id: DistributionId; target: (v3: boolean) => string }[] = [
  { id: "k3s", target: (v3) => `/var/lib/rancher/k3s/agent/etc/containerd/${TEMPLATE(v3)}` },
  { id: "rke2", target: (v3) => `/var/lib/rancher/rke2/agent/etc/containerd/${TEMPLATE(v3)}` },
  { id: "k0s", target: () => "/etc/k0s/containerd.d/gvisor.toml" },
  // The snap's containerd reads $SNAP_DATA/args (a revision's directory; "current" links to it).
  { id: "microk8s", target: () => "/var/snap/microk8s/7394/args/containerd-template.toml" },
];

for (const cd of CONTAINERDS) {
  for (const c of CASES) {
    const dist = DISTRIBUTIONS[c.id];
    describe.skipIf(!BED.ok || !cd.bin)(`${dist.title} with ${cd.label}`, () => {
      let node: DistTree;
      let pristine: Record<string, string>;
      const target = c.target(cd.v3 && (c.id === "k3s" || c.id === "rke2"));
      // Which journeys ran and which got to their end (a failed expect stops a test before it).
      const started = new Set<string>();
      const passed = new Set<string>();
      const journey = (j: (typeof JOURNEYS)[number], name: string, body: () => void) =>
        test(name, () => {
          started.add(j);
          body();
          passed.add(j);
        });
      beforeAll(async () => {
        node = makeDistTree(c.id, cd.bin!, { v3: cd.v3 });
        await node.start();
        pristine = node.snapshot();
      });
      afterAll(async () => {
        await node?.stop();
        if (started.size < JOURNEYS.length) return; // a filtered run says nothing about the others
        const version = spawnSync(cd.bin!, ["--version"], { encoding: "utf8" }).stdout.trim().split(/\s+/)[2] ?? "?";
        const result = {
          distribution: c.id,
          title: dist.title,
          containerd: version,
          file: target,
          journeys: Object.fromEntries(JOURNEYS.map((j) => [j, passed.has(j) ? "pass" : "fail"])),
        };
        mkdirSync(DIST_RESULTS, { recursive: true });
        const major = version.split(".").slice(0, 2).join(".");
        const file = join(DIST_RESULTS, `${c.id}-containerd-${major}.json`);
        writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      });

      const configure = (...extra: string[]) =>
        gvd(["configure", "containerd", ...onNode(node), "--json", ...extra], { env });
      const changed = { status: "changed", reload: { action: "restarted" }, verify: { ok: true } };
      journey("configure", `configure --host-root registers runsc in ${target}, restarts, proves it`, () => {
        const before = node.containerdPid();
        const generatedAt = join(node.root, dist.config);
        const generated = existsSync(generatedAt) ? readFileSync(generatedAt, "utf8") : null;
        const r = configure();
        expect(r.json?.engines?.[0] ?? r.stderr).toMatchObject({ engine: "containerd", ...changed });
        expect(r.code).toBe(0);
        const files = r.json.engines[0].files.map((f: any) => f.path);
        expect(files).toContain(target);
        // Never the generated config: the distribution rewrote it from the template at its start.
        expect(files).not.toContain(dist.config);
        if (c.id === "k3s" || c.id === "rke2") {
          const tmpl = readFileSync(join(node.root, target), "utf8");
          expect(tmpl.startsWith('{{ template "base" . }}\n')).toBe(true);
          expect(readFileSync(join(node.root, dist.config), "utf8").startsWith(generated!)).toBe(true);
        }
        expect(node.containerdPid()).not.toBe(before);
        const rt = runtimes(node.configDump());
        expect(rt.runsc).toMatchObject({ options: { BinaryName: "/usr/local/bin/runsc" } });
        expect(rt.runc).toBeDefined();
      });

      test("a second configure changes nothing", () => {
        const pid = node.containerdPid();
        const r = configure();
        expect(r.json.engines[0]).toMatchObject({ status: "unchanged", reload: null, verify: { ok: true } });
        expect(node.containerdPid()).toBe(pid);
      });

      journey("check", "check --host-root names the distribution and the file runsc is registered in", () => {
        const r = gvd(["check", "--host-root", node.root, "--json", "--only", "node.runtime,containerd"], { env });
        const n = finding(r.json, "node.runtime");
        expect(n.status).toBe("pass");
        expect(n.message).toContain(`${dist.title}'s containerd (pid ${node.containerdPid()}`);
        expect(n.message).toContain(`runsc is registered in ${target}`);
        expect(r.json.host.distribution).toMatchObject({ id: c.id, title: dist.title, target });
        assertReportSchema(r.json);
        expect(finding(r.json, "containerd.runtime").status).toBe("pass");
        const human = gvd(["check", "--host-root", node.root, "--only", "node.runtime"], { env });
        expect(human.stdout).toContain(`runsc is registered in ${target}`);
        expect(human.stdout).toContain(`(--host-root, ${dist.title})`);
      });

      journey("remove", "--remove takes runsc out, restarts, and gives the node's files back byte for byte", () => {
        const r = configure("--remove");
        expect(r.json.engines[0]).toMatchObject(changed);
        expect(runtimes(node.configDump()).runsc).toBeUndefined();
        // Every node file as it was; the only additions are configure's backups (uninstall prunes them).
        const now = node.snapshot();
        const backups = Object.keys(now).filter((p) => /\.gvisor-doctor-\d{8}T\d{6}Z(\.\d+)?\.bak$/.test(p));
        for (const b of backups) delete now[b];
        expect(now).toEqual(pristine);
      });
    });
  }
}

// A node whose k3s already has a template of its own: it is extended at its end, never replaced.
describe.skipIf(!BED.ok || !CONTAINERDS[0]!.bin)("k3s with a custom config.toml.tmpl (containerd 1.6)", () => {
  const custom = readFileSync(join(import.meta.dir, "../fixtures/k8s-dist/k3s/custom.toml.tmpl"), "utf8");
  const tmpl = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl";
  let node: DistTree;
  let pristine: Record<string, string>;
  beforeAll(async () => {
    node = makeDistTree("k3s", CONTAINERDS[0]!.bin!, { template: custom });
    await node.start();
    pristine = node.snapshot();
  });
  afterAll(async () => {
    await node?.stop();
  });
  const configure = (...extra: string[]) =>
    gvd(["configure", "containerd", ...onNode(node), "--json", ...extra], { env });

  test("runsc's tables go after the node's own; both runtimes are in containerd's config; --remove restores it", () => {
    expect(runtimes(node.configDump()).crun).toMatchObject({ options: { BinaryName: "/usr/bin/crun" } });
    const r = configure();
    expect(r.json.engines[0]).toMatchObject({
      status: "changed",
      files: [{ path: tmpl, action: "modify" }],
      verify: { ok: true },
    });
    const text = readFileSync(join(node.root, tmpl), "utf8");
    expect(text.startsWith(custom)).toBe(true);
    expect(text.slice(custom.length)).toMatch(/^\n# gvisor-doctor: runtime "runsc" \(begin;/);
    const rt = runtimes(node.configDump());
    expect(Object.keys(rt).sort()).toEqual(["crun", "runc", "runsc"]);
    const back = configure("--remove");
    expect(back.json.engines[0]).toMatchObject({ status: "changed", verify: { ok: true } });
    expect(readFileSync(join(node.root, tmpl), "utf8")).toBe(custom);
    const now = node.snapshot();
    for (const p of Object.keys(now)) if (/\.gvisor-doctor-\d{8}T\d{6}Z(\.\d+)?\.bak$/.test(p)) delete now[p];
    expect(now).toEqual(pristine);
  });
});

// k3s stopped (its containerd with it): the node's files still say k3s, and k3s's own containerd
// binary (not a system one) checks the plan; nothing can be proven until it runs again.
describe.skipIf(!BED.ok || !CONTAINERDS[0]!.bin)("k3s whose containerd is not running (containerd 1.6)", () => {
  let node: DistTree;
  beforeAll(async () => {
    node = makeDistTree("k3s", CONTAINERDS[0]!.bin!);
    await node.start();
    const pid = node.containerdPid()!;
    process.kill(pid, "SIGTERM");
    while (node.containerdPid() === pid) await Bun.sleep(50);
  });
  afterAll(async () => {
    await node?.stop();
  });

  test("check and configure --dry-run find k3s by its files and use its containerd binary", () => {
    const r = gvd(["check", "--host-root", node.root, "--json", "--only", "node.runtime,containerd.daemon"], { env });
    const config = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml";
    expect(r.json.host.distribution).toMatchObject({
      id: "k3s",
      why: `${config} exists (its containerd is not running)`,
    });
    expect(finding(r.json, "containerd.daemon").details).toContain(
      "binary: /var/lib/rancher/k3s/data/current/bin/containerd",
    );
    expect(finding(r.json, "node.runtime").status).toBe("fail");
    const dry = gvd(["configure", "containerd", "--host-root", node.root, "--dry-run", "--json"], { env });
    const e = dry.json.engines[0];
    expect(e.files.map((f: any) => f.path)).toEqual([`${config}.tmpl`]);
    expect(e.notes.join("\n")).toMatch(/checked .*config\.toml as k3s will render it with containerd 1\.6/);
    expect(existsSync(join(node.root, `${config}.tmpl`))).toBe(false);
    // --config naming the generated file still means k3s's template: k3s would overwrite config.toml.
    const named = gvd(
      ["configure", "containerd", "--config", config, "--host-root", node.root, "--dry-run", "--json"],
      { env },
    );
    expect(named.json.engines[0].files.map((f: any) => f.path)).toEqual([`${config}.tmpl`]);
  });
});

// What the DaemonSet's init container runs on a k3s node (containerd 2.x): install from the
// release bucket registers the release with k3s's template and restarts k3s; uninstall takes
// everything back, backups included.
const SID = CONTAINERDS[1]!;
describe.skipIf(!BED.ok || !SID.bin)("install, uninstall --host-root on a k3s node (containerd 2.1)", () => {
  let node: DistTree;
  let bucket: FakeBucket;
  let pristine: Record<string, string>;
  const tmpl = "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl";
  const benv = { ...env, NO_PROXY: "127.0.0.1,localhost" };
  beforeAll(async () => {
    [node, bucket] = [makeDistTree("k3s", SID.bin!, { v3: true, runsc: false }), await startFakeBucket()];
    await node.start();
    pristine = node.snapshot();
  });
  afterAll(async () => {
    await node?.stop();
    await bucket?.close();
  });

  test("install registers the release in k3s's template, uninstall gives the node back byte for byte", () => {
    const how = [...onNode(node), "--json"];
    const r = gvd(["install", "--mirror", bucket.dir, "--version", RELEASES.current, ...how], { env: benv });
    const cd = r.json?.configure?.engines?.find((e: any) => e.engine === "containerd");
    expect(cd ?? r.stderr).toMatchObject({ status: "changed", reload: { action: "restarted" }, verify: { ok: true } });
    expect(r.code).toBe(0);
    expect(cd.files.map((f: any) => f.path)).toContain(tmpl);
    const rt = runtimes(node.configDump()).runsc;
    // The release's runsc, directly or through runsc.toml beside the template.
    const path = rt.options.BinaryName ?? rt.options.ConfigPath;
    expect(path).toMatch(/^\/(usr\/local\/bin\/runsc|var\/lib\/rancher\/k3s\/agent\/etc\/containerd\/runsc\.toml)$/);
    const u = gvd(["uninstall", ...how], { env: benv });
    expect(u.code).toBe(0);
    expect(u.json.configure.engines[0]).toMatchObject({
      engine: "containerd",
      status: "changed",
      verify: { ok: true },
    });
    expect(runtimes(node.configDump()).runsc).toBeUndefined();
    expect(node.snapshot()).toEqual(pristine);
  });
});
