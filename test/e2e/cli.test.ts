// The compiled binary's contract: exit codes, help, JSON on stdout only, colors, config autoload off.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gvd } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";

const noDocker = { ...process.env, NO_COLOR: "1", DOCKER_HOST: "unix:///nonexistent/docker.sock" };

describe("the gvisor-doctor binary", () => {
  test("--version prints the stamped version", () => {
    const r = gvd(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gvisor-doctor \d+\.\d+\.\d+\S*\n$/);
  });

  test("--help lists commands and exit codes; <command> --help shows that command's options", () => {
    const r = gvd(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("check");
    expect(r.stdout).toContain("Exit codes");
    const c = gvd(["check", "--help"]);
    expect(c.code).toBe(0);
    for (const flag of [
      "--json",
      "--quick",
      "--only",
      "--skip",
      "--list",
      "--strict",
      "--offline",
      "--verbose",
      "--no-color",
    ])
      expect(c.stdout).toContain(flag);
  });

  test("unknown commands and flags exit 2 with a one-line hint on stderr", () => {
    const a = gvd(["frobnicate"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("unknown command 'frobnicate'");
    expect(a.stdout).toBe("");
    const b = gvd(["check", "--frobnicate"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("unknown option --frobnicate for 'check'");
    const c = gvd(["check", "--only", "nosuch.check"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("unknown check id: nosuch.check");
  });

  test("--list prints the catalog with root and network needs", () => {
    const r = gvd(["check", "--list"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID +ROOT +NET +TITLE/);
    for (const id of [
      "host.platform",
      "host.kernel",
      "runsc.binary",
      "docker.daemon",
      "docker.runtime",
      "docker.hello",
      "sandbox.self",
    ])
      expect(r.stdout).toContain(id);
    const j = gvd(["check", "--list", "--json"]);
    expect(j.json.checks.find((c: any) => c.id === "docker.hello").startsContainers).toBe(true);
  });

  test("--json prints exactly one document on stdout that matches the schema", () => {
    const r = gvd(["check", "--json", "--quick"], { env: noDocker });
    expect(r.json).toBeDefined();
    assertReportSchema(r.json);
    expect(r.json.tool.name).toBe("gvisor-doctor");
    expect(r.json.checks.map((c: any) => c.id)).toContain("sandbox.self");
  });

  test("an unreachable daemon is a failed check with a fix, not a crash", () => {
    const r = gvd(["check", "--json", "--quick"], { env: noDocker });
    const d = r.json.checks.find((c: any) => c.id === "docker.daemon");
    expect(d.status).toBe("fail");
    expect(d.diagnosis.fix.summary).toContain("Start the Docker daemon");
    expect(r.code).toBe(1);
  });

  test("--strict turns warnings into exit 1; without it warnings exit 0", () => {
    // Only sandbox.self and host checks: all pass here, so exit 0 both ways.
    expect(gvd(["check", "--only", "host,sandbox", "--strict"], { env: noDocker }).code).toBe(0);
  });

  test("NO_COLOR and pipes get plain text; FORCE_COLOR gets ANSI colors", () => {
    const plain = gvd(["check", "--quick", "--only", "host"], { env: { ...noDocker, NO_COLOR: "1" } });
    expect(plain.stdout).not.toContain("\x1b[");
    const forced = gvd(["check", "--quick", "--only", "host"], {
      env: { ...noDocker, NO_COLOR: "", FORCE_COLOR: "1" },
    });
    expect(forced.stdout).toContain("\x1b[");
    const flag = gvd(["check", "--quick", "--only", "host", "--no-color"], {
      env: { ...noDocker, NO_COLOR: "", FORCE_COLOR: "1" },
    });
    expect(flag.stdout).not.toContain("\x1b[");
  });

  describe("run from a directory with a hostile .env and bunfig.toml", () => {
    const dir = mkdtempSync("/tmp/gvd-test-");
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    test("neither is loaded by the compiled binary", () => {
      writeFileSync(join(dir, ".env"), "DOCKER_HOST=tcp://203.0.113.1:1\nGVD_HOSTILE=1\n");
      writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
      writeFileSync(join(dir, "evil.ts"), 'console.log("EVIL PRELOAD RAN");\n');
      const env = { ...noDocker };
      const r = gvd(["check", "--json", "--quick", "--only", "docker.daemon"], { cwd: dir, env });
      expect(r.stdout).not.toContain("EVIL");
      expect(r.json.host.docker.host).toBe("unix:///nonexistent/docker.sock");
    });
  });
});
