// The programmatic entry point install, uninstall and --fix call: configureEngines(req, io)
// returns the report (never prints it) and throws only for usage errors.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { configureEngines, renderConfigureReport } from "../../src/commands/configure.ts";
import { UsageError } from "../../platform/os/errors.ts";
import { inspectCrioConf } from "../../platform/engines/crio/adapter.ts";
import { FIXTURES } from "../helpers/engines.ts";
import { recordingIO, type RecordingIO } from "../helpers/io.ts";

function fakeIO(): RecordingIO {
  return recordingIO({ ...process.env });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-configure-api-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("configureEngines(req, io)", () => {
  test("registers, reports the files and backups, prints nothing itself; renderConfigureReport prints", async () => {
    const f = join(dir, "daemon.json");
    copyFileSync(join(FIXTURES, "docker", "registry-and-logs.json"), f);
    const io = fakeIO();
    const r = await configureEngines(
      { engines: ["docker"], configPath: f, runscPath: "/bin/sh", runtimeArgs: ["network=none"] },
      io,
    );
    expect(io.out).toEqual([]);
    expect(r).toMatchObject({
      schemaVersion: 1,
      ok: true,
      exitCode: 0,
      runtime: { name: "runsc", runscPath: "/bin/sh", runtimeArgs: ["--network=none"] },
    });
    expect(r.engines).toHaveLength(1);
    expect(r.engines[0]).toMatchObject({
      engine: "docker",
      status: "changed",
      action: "add",
      files: [{ path: f, action: "modify" }],
    });
    expect(existsSync(r.engines[0].files[0].backup!)).toBe(true);
    expect(JSON.parse(readFileSync(f, "utf8")).runtimes.runsc).toEqual({
      path: "/bin/sh",
      runtimeArgs: ["--network=none"],
    });
    await renderConfigureReport(r, io);
    expect(io.out.join("\n")).toContain(`${f}: modified (backup ${r.engines[0].files[0].backup})`);
  });
  test("--remove needs no runsc; a runtime that is not there is 'unchanged'", async () => {
    const f = join(dir, "daemon.json");
    copyFileSync(join(FIXTURES, "docker", "tabs.json"), f);
    const r = await configureEngines({ engines: ["docker"], configPath: f, remove: true }, fakeIO());
    expect(r.engines[0]).toMatchObject({ status: "unchanged", files: [] });
    expect(r.runtime.runscPath).toBeNull();
  });
  test("refusals are in the report (exit code 1), not thrown", async () => {
    const f = join(dir, "daemon.json");
    copyFileSync(join(FIXTURES, "docker", "trailing-comma.json"), f);
    const r = await configureEngines({ engines: ["docker"], configPath: f, runscPath: "/bin/sh" }, fakeIO());
    expect(r).toMatchObject({ ok: false, exitCode: 1 });
    expect(r.engines[0]).toMatchObject({
      status: "refused",
      error: { code: "invalid-json", file: f, line: 3, column: 1 },
    });
  });
  test("usage errors throw UsageError", async () => {
    const io = fakeIO();
    await expect(configureEngines({ engines: ["docker", "podman"], configPath: "/x" }, io)).rejects.toBeInstanceOf(
      UsageError,
    );
    await expect(
      configureEngines({ engines: ["docker"], runtimeName: "runc", runscPath: "/bin/sh" }, io),
    ).rejects.toThrow("'runc' would replace");
    await expect(configureEngines({ engines: ["docker"], runscPath: "/nonexistent/runsc" }, io)).rejects.toThrow(
      "not an executable file",
    );
    await expect(
      configureEngines({ engines: ["docker"], runscPath: "/bin/sh", runtimeArgs: ["-- x"] }, io),
    ).rejects.toThrow("is not a runsc flag");
  });
});

describe("inspectCrioConf", () => {
  test("runtimes with their type, config path and line; the default runtime", () => {
    const text = readFileSync(join(FIXTURES, "crio", "crio.conf"), "utf8");
    expect(inspectCrioConf(text, "f")).toMatchObject({
      defaultRuntime: "runc",
      runtimes: { runc: { path: "/usr/bin/runc", type: "oci", configPath: null, line: 4 } },
    });
    expect(inspectCrioConf("[crio\n", "f").parseError).toContain("not valid TOML");
  });
});
