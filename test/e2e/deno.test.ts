// The source stays runnable under Deno (node: built-ins, no Bun-only API without a fallback).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gvd, ROOT } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";

const deno = join(ROOT, "node_modules", ".bin", "deno");
const runDeno = (args: string[]) =>
  spawnSync(deno, ["run", "-A", join(ROOT, "src/cli.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    timeout: 120_000,
  });

describe("under Deno", () => {
  test("deno run -A src/cli.ts --version", () => {
    const r = runDeno(["--version"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^gvisor-doctor \S+\n$/);
    expect(r.status).toBe(0);
  });

  test("deno run -A src/cli.ts check --json --quick prints a valid report", () => {
    const r = runDeno(["check", "--json", "--quick"]);
    const doc = JSON.parse(r.stdout);
    assertReportSchema(doc);
    expect(doc.checks.find((c: any) => c.id === "host.platform").status).toBe("pass");
  });

  // In a user namespace /dev/kmsg is refused (dmesg_restrict), and Deno has no bun:ffi for syslog(2).
  const kmsgRefused = spawnSync("unshare", ["-r", "sh", "-c", "exec 3</dev/kmsg"]).status === 2;
  const title = "deno run -A src/cli.ts preflight: where it cannot read the kernel log itself, dmesg's first line";
  test.skipIf(!kmsgRefused)(title, () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-deno-dmesg-"));
    try {
      writeFileSync(join(dir, "dmesg"), "#!/bin/sh\necho '[    0.000000] the dmesg program ran'\n");
      chmodSync(join(dir, "dmesg"), 0o755);
      const r = spawnSync("unshare", ["-r", deno, "run", "-A", join(ROOT, "src/cli.ts"), "preflight", "--json"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: "1", PATH: `${dir}:${process.env.PATH}` },
      });
      expect(r.status).toBe(0);
      const line = "[    0.000000] the dmesg program ran";
      expect(JSON.parse(r.stdout).evidence).toMatchObject({ dmesgFirstLine: line, dmesgError: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("deno run -A src/cli.ts k8s manifests prints what the compiled binary prints (the yaml package, no Bun YAML)", () => {
    const r = runDeno(["k8s", "manifests", "--version", "20260817.0", "--json"]);
    expect(r.status).toBe(0);
    // The header names the tool version (dev under Deno); the documents are the same.
    expect(JSON.parse(r.stdout).items).toEqual(
      gvd(["k8s", "manifests", "--version", "20260817.0", "--json"]).json.items.map((o: any) =>
        JSON.parse(JSON.stringify(o).replaceAll(gvdVersion(), "0.1.0-dev")),
      ),
    );
  });
});

/** The compiled binary's version as the manifests spell it (label-safe). */
function gvdVersion(): string {
  return gvd(["--version"]).stdout.trim().split(" ")[1].replace(/\+/g, "_");
}
