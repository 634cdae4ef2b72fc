// Hostile or careless inputs to configure: --config that is not a regular file of sane size,
// a dangling symlink as --config, daemon.json nested deeper than dockerd allows, runtime
// args with a newline, and many runs at once making different edits.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { configureEngines, type ConfigureRequest } from "../../src/commands/configure.ts";
import { quietIO } from "../helpers/configure.ts";
import { UsageError } from "../../platform/os/errors.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-inputs-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const docker = (configPath: string, extra: Partial<ConfigureRequest> = {}) =>
  configureEngines(
    { engines: ["docker"], configPath, runscPath: "/bin/sh", reload: false, verify: false, ...extra },
    quietIO(dir),
  );

describe("--config", () => {
  test("a device, a FIFO, /proc/self/mem or a directory is a usage error that names it (no hang, no huge read)", async () => {
    const fifo = join(dir, "fifo");
    spawnSync("mkfifo", [fifo]);
    const cases: [string, RegExp][] = [
      ["/dev/zero", /--config \/dev\/zero is a device, not a config file/],
      [fifo, /is a FIFO, not a config file/],
      ["/proc/self/mem", /--config cannot read \/proc\/self\/mem/],
      [dir, /is a directory: give docker's config file/],
    ];
    for (const [path, msg] of cases) {
      const err = await docker(path).catch((e) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(msg);
    }
  });
  test("a file larger than any engine config is refused before it is read whole", async () => {
    const big = join(dir, "big.json");
    writeFileSync(big, Buffer.alloc(9 << 20, 0x20));
    await expect(docker(big)).rejects.toThrow(/is larger than 8 MiB/);
  });
  test("a dangling symlink stays a link: the file it names is created", async () => {
    const link = join(dir, "daemon.json");
    symlinkSync("real/daemon.json", link);
    const r = await docker(link);
    expect(r.engines[0].status).toBe("changed");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("real/daemon.json");
    expect(JSON.parse(readFileSync(join(dir, "real", "daemon.json"), "utf8")).runtimes.runsc.path).toBe("/bin/sh");
  });
});

describe("programs a config names", () => {
  test("a runtime that names a binary larger than any config (runsc itself) is re-planned, not refused as a config", async () => {
    const big = join(dir, "runsc");
    writeFileSync(big, Buffer.alloc(9 << 20), { mode: 0o755 });
    const f = join(dir, "containers.conf");
    writeFileSync(f, `[engine.runtimes]\nrunsc = ["${big}"]\n`);
    const r = await configureEngines(
      {
        engines: ["podman"],
        configPath: f,
        runscPath: "/bin/sh",
        runtimeArgs: ["--network=none"],
        reload: false,
        verify: false,
      },
      quietIO(dir),
    );
    expect(r.engines[0]).toMatchObject({ status: "changed", error: null });
  });
});

describe("daemon.json and runtime args", () => {
  test("nesting deeper than dockerd's 10000 levels is refused the way dockerd says it (no stack overflow)", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, `{"a": ${"[".repeat(100_000)}${"]".repeat(100_000)}}\n`);
    const r = await docker(f);
    expect(r.engines[0].status).toBe("refused");
    expect(r.engines[0].message).toContain("invalid character '[' exceeded max depth");
    expect(r.exitCode).toBe(1);
  });
  test("a runtime arg with a newline is refused (it would split the wrapper's exec line)", async () => {
    const f = join(dir, "daemon.json");
    await expect(docker(f, { runtimeArgs: ["--debug-log=/tmp/x\nrm -rf /"] })).rejects.toThrow(
      /contains a newline or another control character/,
    );
  });
});

describe("20 runs at once", () => {
  test("each making a different edit to one daemon.json: all succeed, every edit is there", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, "{}\n");
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => docker(f, { runtimeName: `runsc-${i}` })));
    expect(runs.map((r) => r.engines[0].status)).toEqual(Array(20).fill("changed"));
    expect(Object.keys(JSON.parse(readFileSync(f, "utf8")).runtimes).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `runsc-${i}`).sort(),
    );
  });
});
