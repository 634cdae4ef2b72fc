// Broken hosts, for real (containerd): a throwaway containerd with its CRI plugin,
// picked by the doctor through CONTAINERD_ADDRESS. Break → check → --fix → check.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { BED } from "../bed/bed.ts";
import { startContainerdBed, type ContainerdBed } from "../bed/containerd-bed.ts";
import { finding, gvd } from "../helpers/cli.ts";

const ONLY = ["--only", "containerd,runsc.shim"];

/** A CRI-enabled config of `version` for the bed, plus `extra` TOML. */
const config =
  (version: 2 | 3, extra: string) =>
  ({ dir, socket }: { dir: string; socket: string }) =>
    `version = ${version}\nroot = "${dir}/root"\nstate = "${dir}/state"\n\n[grpc]\n  address = "${socket}"\n\n[ttrpc]\n  address = "${socket}.ttrpc"\n\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_tcp_service = true\n  stream_server_address = "127.0.0.1"\n${extra}`;

describe.skipIf(!BED.ok)("broken containerd hosts: diagnosed, then fixed by --fix", () => {
  let bed: ContainerdBed | null = null;
  afterEach(async () => {
    await bed?.stop();
    bed = null;
  });
  // Wrapper scripts go into the bed, not the host's /usr/local/libexec.
  const envFor = (b: ContainerdBed) => ({
    ...process.env,
    NO_COLOR: "1",
    CONTAINERD_ADDRESS: b.socket,
    DOCKER_HOST: "unix:///nonexistent.sock",
    GVISOR_DOCTOR_WRAPPER_DIR: `${b.dir}/wrappers`,
  });

  test("shim missing: the runtime uses io.containerd.runsc.v1 without containerd-shim-runsc-v1 → runsc.shim fails (shim-missing) and ctr cannot start it → --fix --yes moves it to the runc shim, restarts containerd, and ctr runs under gVisor", async () => {
    bed = await startContainerdBed(
      config(
        2,
        `\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runsc.v1"\n`,
      ),
    );
    const env = envFor(bed);
    const before = gvd(["check", "--json", ...ONLY], { env });
    expect(finding(before.json, "containerd.daemon").status).toBe("pass");
    expect(finding(before.json, "runsc.shim")).toMatchObject({
      status: "fail",
      diagnosis: { rule: "shim-missing", fix: { id: "containerd.register-runtime", automatic: true } },
    });
    const hello = finding(before.json, "containerd.hello");
    expect(hello).toMatchObject({ status: "fail", diagnosis: { rule: "shim-missing" } });
    expect(hello.message).toContain('binary not installed "containerd-shim-runsc-v1"');
    const pidBefore = bed.pid();

    // Without --yes (no TTY) the restart is not done: the config is changed and exit 3 says a restart is pending.
    const pending = gvd(["--fix", "--json", ...ONLY], { env });
    expect(pending.json.fix.applied[0]).toMatchObject({ id: "containerd.register-runtime", status: "pending-restart" });
    expect(bed.pid()).toBe(pidBefore);
    expect(readFileSync(bed.configFile, "utf8")).toContain('runtime_type = "io.containerd.runc.v2"');
    expect([1, 3]).toContain(pending.code);

    const r = gvd(["--fix", "--yes", "--json", ...ONLY], { env });
    expect(r.code).toBe(0);
    expect(bed.pid()).not.toBe(pidBefore); // restarted with its original argv
    const after = gvd(["check", "--json", ...ONLY], { env });
    expect(finding(after.json, "runsc.shim")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("not needed"),
    });
    expect(finding(after.json, "containerd.runtime").message).toContain("io.containerd.runc.v2");
    expect(finding(after.json, "containerd.hello")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("Starting gVisor"),
    });
  });

  test("a v2-style section in a version = 3 file → containerd.config fails (the section is ignored) and containerd.runtime cannot find runsc; on containerd 1.6 --fix cannot rewrite a v3 file and says why", async () => {
    bed = await startContainerdBed(
      config(
        3,
        `\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runc.v2"\n  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]\n    BinaryName = "/usr/bin/runsc"\n`,
      ),
    );
    const env = envFor(bed);
    const before = gvd(["check", "--json", ...ONLY], { env });
    const cfg = finding(before.json, "containerd.config");
    expect(cfg.status).toBe("fail");
    expect(cfg.details.join("\n")).toMatch(
      /io\.containerd\.grpc\.v1\.cri[\s\S]*version = 3|version = 3[\s\S]*io\.containerd\.grpc\.v1\.cri/,
    );
    expect(cfg.diagnosis.fix.id).toBe("containerd.register-runtime");
    expect(cfg.diagnosis.rule).toBe("containerd-plugin-path");
    const text = readFileSync(bed.configFile, "utf8");
    const r = gvd(["--fix", "--yes", ...ONLY], { env });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/version = 3|containerd 1\.6|containerd 2/);
    expect(readFileSync(bed.configFile, "utf8")).toBe(text); // refused: nothing written
  });
  test("BinaryName names a gvisor-doctor wrapper that was deleted → containerd.runtime fails (runtime-path-missing) instead of passing → --fix --yes points the runtime at runsc, restarts containerd, and ctr runs under gVisor", async () => {
    let wrapper = "";
    bed = await startContainerdBed((b) => {
      wrapper = `${b.dir}/wrappers/containerd-runsc`;
      return config(
        2,
        `\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]\n  runtime_type = "io.containerd.runc.v2"\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]\n  BinaryName = "${wrapper}"\n`,
      )(b);
    });
    const env = envFor(bed);
    const before = gvd(["check", "--json", ...ONLY], { env });
    const rt = finding(before.json, "containerd.runtime");
    expect(rt).toMatchObject({
      status: "fail",
      diagnosis: { rule: "runtime-path-missing", fix: { id: "containerd.register-runtime", automatic: true } },
    });
    expect(rt.message).toContain(`${wrapper} does not exist`);
    const r = gvd(["--fix", "--yes", "--json", ...ONLY], { env });
    expect(r.code).toBe(0);
    // Round 1 repoints the runtime; on this kernel round 2 adds --network=none (netns-root).
    expect(r.json.fix.applied[0]).toMatchObject({
      id: "containerd.register-runtime",
      checks: ["containerd.runtime"],
      status: "applied",
      round: 1,
    });
    expect(r.json.fix.applied.every((a: any) => a.status === "applied")).toBe(true);
    // Whatever BinaryName names now exists (a wrapper again once round 2 added a flag).
    const binary = /BinaryName = "([^"]+)"/.exec(readFileSync(bed.configFile, "utf8"))![1];
    expect(existsSync(binary)).toBe(true);
    const after = gvd(["check", "--json", ...ONLY], { env });
    expect(finding(after.json, "containerd.runtime").status).toBe("pass");
    expect(finding(after.json, "containerd.hello")).toMatchObject({
      status: "pass",
      message: expect.stringContaining("Starting gVisor"),
    });
  });
});
