// --host-root: gvisor-doctor in a DaemonSet pod operates on the node mounted at /host.
// Here the "node" is a directory tree with a real containerd running chrooted into it
// on the tree's own config; the restart goes through --restart-command (a node's
// systemctl stand-in). Everything must happen inside the tree, name the node's paths,
// and uninstall must give the tree back byte for byte.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { BED } from "../bed/bed.ts";
import { finding, gvd } from "../helpers/cli.ts";
import { bucketDir, RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { makeHostTree, NODE_CONFIG, onNode, type HostTree } from "../helpers/host-tree.ts";

const sha = (p: string) => (existsSync(p) ? createHash("sha256").update(readFileSync(p)).digest("hex") : "absent");
// This machine's own files that a host-root run must never touch.
const OWN = ["/etc/containerd/config.toml", "/usr/local/bin/runsc", "/usr/local/bin/containerd-shim-runsc-v1"];

describe.skipIf(!BED.ok)("--host-root DIR: install, configure, check and uninstall a node mounted at DIR", () => {
  let node: HostTree;
  let bucket: FakeBucket;
  let pristine: Record<string, string>;
  let own: string[];
  const env = { ...process.env, NO_COLOR: "1", NO_PROXY: "127.0.0.1,localhost" };
  beforeAll(async () => {
    [node, bucket] = [makeHostTree(), await startFakeBucket()];
    await node.start();
    pristine = node.snapshot();
    own = OWN.map(sha);
  });
  afterAll(async () => {
    await node?.stop();
    await bucket?.close();
  });

  test("install --host-root puts the release under DIR, registers the node's path with the node's containerd and restarts it", () => {
    const before = node.containerdPid();
    const r = gvd(
      [
        "install",
        "--host-root",
        node.root,
        "--mirror",
        bucket.dir,
        "--version",
        RELEASES.current,
        "--restart",
        "--restart-command",
        node.restartScript,
        "--runtime-arg=--network=none",
        "--json",
      ],
      { env },
    );
    expect(r.code).toBe(0);
    // Every path in the report is the node's; DIR is said once.
    expect(r.json).toMatchObject({
      action: "installed",
      hostRoot: node.root,
      prefix: "/usr/local",
      links: { runsc: "/usr/local/bin/runsc" },
    });
    expect(existsSync(join(node.root, "usr/local/lib/gvisor", RELEASES.current, "runsc"))).toBe(true);
    const cd = r.json.configure.engines.find((e: any) => e.engine === "containerd");
    expect(cd).toMatchObject({ status: "changed", reload: { action: "restarted" }, verify: { ok: true } });
    expect(cd.files.map((f: any) => f.path)).toContain("/etc/containerd/config.toml");
    expect(JSON.stringify(r.json)).not.toContain(`${node.root}/etc`);
    // A new containerd of the node runs, and its merged config has runsc at the node's path.
    expect(node.containerdPid()).not.toBe(before);
    const dump = parse(node.configDump()) as any;
    expect(dump.plugins["io.containerd.grpc.v1.cri"].containerd.runtimes.runsc).toMatchObject({
      runtime_type: "io.containerd.runsc.v1",
      options: { ConfigPath: "/etc/containerd/runsc.toml" },
    });
    const shimCfg = readFileSync(join(node.root, "etc/containerd/runsc.toml"), "utf8");
    expect(shimCfg).toContain('binary_name = "/usr/local/bin/runsc"');
    expect(shimCfg).toContain('network = "none"');
    // Surgical: the node's comments and settings are still there.
    const cfg = readFileSync(join(node.root, "etc/containerd/config.toml"), "utf8");
    expect(cfg.startsWith(NODE_CONFIG.trimEnd())).toBe(true);
    // Nothing outside the tree moved.
    expect(OWN.map(sha)).toEqual(own);
  });

  test("a second configure --host-root is a no-op", () => {
    const pid = node.containerdPid();
    const r = gvd(["configure", ...onNode(node), "--json"], { env });
    expect(r.code).toBe(0);
    expect(r.json.engines.find((e: any) => e.engine === "containerd")).toMatchObject({
      status: "unchanged",
      reload: null,
      verify: { ok: true },
    });
    expect(node.containerdPid()).toBe(pid);
  });

  test("check --host-root proves the node's runsc and containerd, and skips what concerns this machine", () => {
    const r = gvd(["check", "--host-root", node.root, "--json"], { env });
    expect(r.json.host.hostRoot).toBe(node.root);
    expect(finding(r.json, "runsc.binary")).toMatchObject({ status: "pass" });
    expect(finding(r.json, "runsc.binary").message).toContain("/usr/local/bin/runsc");
    expect(finding(r.json, "containerd.daemon")).toMatchObject({ status: "pass" });
    expect(finding(r.json, "containerd.daemon").message).toContain(`pid ${node.containerdPid()}`);
    expect(finding(r.json, "containerd.runtime")).toMatchObject({ status: "pass" });
    for (const id of ["docker.daemon", "podman.runtime", "containerd.hello", "sandbox.self"])
      expect(finding(r.json, id).message).toContain("--host-root");
    expect(r.json.checks.filter((c: any) => c.status === "fail")).toEqual([]);
    // Without --host-root the node's containerd (another root, same default config path) is not this machine's.
    const own = gvd(["check", "--json", "--only", "containerd.daemon"], { env });
    expect(JSON.stringify(finding(own.json, "containerd.daemon"))).not.toContain(`pid ${node.containerdPid()}`);
  });

  test("a failing node check names the fix with the same --host-root", () => {
    const r = gvd(["check", "--host-root", node.root, "--json", "--only", "runsc.binary"], { env: { ...env } });
    expect(r.code).toBe(0);
    // Break it: a node whose containerd lost the runtime is diagnosed with a node command.
    const broken = gvd(["configure", "containerd", "--host-root", node.root, "--remove", "--no-reload", "--json"], {
      env,
    });
    expect(broken.code).toBe(3); // written, restart pending: containerd still runs the old config
    expect(broken.json.engines[0].reload).toMatchObject({ action: "pending" });
    const c = gvd(["check", "--host-root", node.root, "--json", "--only", "containerd"], { env });
    const f = finding(c.json, "containerd.runtime");
    expect(f.status).toBe("fail");
    expect(f.diagnosis.fix.command).toBe(`gvisor-doctor configure containerd --restart --host-root ${node.root}`);
    const fixed = gvd(["configure", "containerd", ...onNode(node), "--json"], { env });
    expect(fixed.json.engines[0]).toMatchObject({
      status: "changed",
      reload: { action: "restarted" },
      verify: { ok: true },
    });
  });

  test("uninstall --host-root unregisters, restarts and gives the tree back byte for byte", () => {
    const r = gvd(["uninstall", ...onNode(node), "--json"], { env });
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ action: "uninstalled", hostRoot: node.root, prefix: "/usr/local" });
    expect(r.json.removed).toContain("/usr/local/bin/runsc");
    expect(r.json.configure.engines[0]).toMatchObject({
      engine: "containerd",
      status: "changed",
      reload: { action: "restarted" },
      verify: { ok: true },
    });
    expect(
      (parse(node.configDump()) as any).plugins["io.containerd.grpc.v1.cri"].containerd.runtimes.runsc,
    ).toBeUndefined();
    expect(node.snapshot()).toEqual(pristine);
    expect(OWN.map(sha)).toEqual(own);
  });
});

describe("--host-root: usage", () => {
  test("DIR must exist and look like a root file system", () => {
    const r = gvd(["check", "--host-root", "/nonexistent-gvd-root"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--host-root /nonexistent-gvd-root: no such directory");
    const notRoot = gvd(["configure", "--host-root", "/usr/share"]);
    expect(notRoot.code).toBe(2);
    expect(notRoot.stderr).toContain("is not a host's root file system");
  });
  test("host-root mode configures the node's Kubernetes runtimes only", () => {
    const r = gvd(["configure", "docker", "--host-root", "/"]);
    expect(r.code).not.toBe(2); // "/" is this machine itself: nothing special
    const dir = makeHostTreeless();
    const d = gvd(["configure", "docker", "--host-root", dir]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain("--host-root configures the Kubernetes node runtimes (containerd, crio), not docker");
  });
  test("--restart-command only makes sense with --host-root", () => {
    const r = gvd(["configure", "containerd", "--restart-command", "systemctl restart containerd"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--restart-command applies to --host-root");
  });
});

/** A directory with an etc/ (enough to be accepted as a root), for usage tests. */
function makeHostTreeless(): string {
  const { mkdtempSync, mkdirSync } = require("node:fs") as typeof import("node:fs");
  const d = mkdtempSync("/tmp/gvd-test-hostroot-usage-");
  mkdirSync(join(d, "etc"));
  return d;
}

describe("--host-root on a node where neither containerd nor CRI-O runs", () => {
  test("install says nothing was registered (exit 1), and check fails node.runtime, so the agent never labels it", () => {
    const dir = makeHostTreeless();
    const { chmodSync } = require("node:fs") as typeof import("node:fs");
    chmodSync(dir, 0o755);
    const r = gvd(["install", "--host-root", dir, "--mirror", bucketDir(), "--version", RELEASES.current]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `gVisor is installed in ${dir}, but neither containerd nor CRI-O was found on the node to register it with`,
    );
    const c = gvd(["check", "--host-root", dir, "--json"]);
    expect(c.code).toBe(1);
    expect(finding(c.json, "node.runtime")).toMatchObject({ status: "fail" });
    expect(finding(c.json, "runsc.binary")).toMatchObject({ status: "pass" });
    // On this machine itself the node check does not apply.
    expect(finding(gvd(["check", "--json", "--quick", "--only", "node"]).json, "node.runtime").message).toContain(
      "only with --host-root",
    );
  });
});

describe("--host-root on a node whose containerd binary is gone but whose config names our runsc", () => {
  test("uninstall unregisters what configure registered: the config is back byte for byte, no dangling runtime", () => {
    const dir = makeHostTreeless();
    const { chmodSync, mkdirSync, writeFileSync, readdirSync } = require("node:fs") as typeof import("node:fs");
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "etc/containerd"));
    const cfg = join(dir, "etc/containerd/config.toml");
    writeFileSync(cfg, NODE_CONFIG);
    expect(gvd(["install", "--host-root", dir, "--mirror", bucketDir(), "--version", RELEASES.current]).code).toBe(1);
    const reg = gvd(["configure", "containerd", "--host-root", dir, "--json"]);
    expect(reg.json.engines[0]).toMatchObject({ engine: "containerd", status: "changed" });
    expect(readFileSync(cfg, "utf8")).toContain("runtimes.runsc");
    const r = gvd(["uninstall", "--host-root", dir, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.removed).toContain("/usr/local/bin/containerd-shim-runsc-v1");
    expect(r.json.configure?.engines?.[0]).toMatchObject({ engine: "containerd", action: "remove", status: "changed" });
    expect(readFileSync(cfg, "utf8")).toBe(NODE_CONFIG);
    expect(readdirSync(join(dir, "etc/containerd"))).toEqual(["config.toml"]);
  });
});

describe("--host-root with CRI-O (files only: CRI-O is not installed here)", () => {
  test("the drop-in goes under DIR, names the node's runsc, and --remove takes it back", () => {
    const { mkdtempSync, mkdirSync, writeFileSync, chmodSync } = require("node:fs") as typeof import("node:fs");
    const dir = mkdtempSync("/tmp/gvd-test-hostroot-crio-");
    mkdirSync(join(dir, "etc/crio/crio.conf.d"), { recursive: true });
    mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
    writeFileSync(join(dir, "etc/crio/crio.conf"), '[crio.runtime]\ndefault_runtime = "crun"\n');
    writeFileSync(join(dir, "usr/local/bin/runsc"), "#!/bin/sh\n");
    chmodSync(join(dir, "usr/local/bin/runsc"), 0o755);
    const r = gvd(["configure", "crio", "--host-root", dir, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.engines[0]).toMatchObject({
      engine: "crio",
      status: "changed",
      files: [{ path: "/etc/crio/crio.conf.d/99-gvisor.conf", action: "create" }],
    });
    const dropIn = readFileSync(join(dir, "etc/crio/crio.conf.d/99-gvisor.conf"), "utf8");
    expect(dropIn).toContain('runtime_path = "/usr/local/bin/runsc"');
    expect(existsSync("/etc/crio/crio.conf.d/99-gvisor.conf")).toBe(false);
    const gone = gvd(["configure", "crio", "--host-root", dir, "--remove", "--json"]);
    expect(gone.json.engines[0]).toMatchObject({
      status: "changed",
      files: [{ path: "/etc/crio/crio.conf.d/99-gvisor.conf", action: "delete" }],
    });
    expect(existsSync(join(dir, "etc/crio/crio.conf.d/99-gvisor.conf"))).toBe(false);
  });
});
