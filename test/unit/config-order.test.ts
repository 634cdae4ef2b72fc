// A change that spans files writes what is referenced (the wrapper, runsc.toml) before the
// config that names it, and on --remove deletes it only after that config no longer names it:
// a crash between two writes never leaves an engine pointing at a file that does not exist.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configureEngines } from "../../src/commands/configure.ts";
import { quietIO } from "../helpers/configure.ts";
import { referencedFirst } from "../../platform/engines/edit/plan.ts";
import type { EngineName, FileChange } from "../../platform/engines/types.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-order-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("write order across files", () => {
  test("referencedFirst: created/modified referenced files first, the config, then deleted referenced files", () => {
    const ch = (path: string, before: string | null, after: string | null): FileChange => ({
      path,
      before,
      after,
      action: after === null ? "delete" : before === null ? "create" : "modify",
      reason: "",
    });
    const cfg = ch("/etc/c.toml", 'BinaryName = "/w/old"', 'BinaryName = "/w/new"\nConfigPath = "/etc/runsc.toml"');
    const neu = ch("/w/new", null, "#!/bin/sh");
    const old = ch("/w/old", "#!/bin/sh", null);
    const toml = ch("/etc/runsc.toml", "a", "b");
    expect(referencedFirst([cfg, old, neu, toml]).map((c) => c.path)).toEqual([
      "/w/new",
      "/etc/runsc.toml",
      "/etc/c.toml",
      "/w/old",
    ]);
  });

  for (const [engine, name, text] of [
    ["containerd", "config.toml", "version = 2\n"],
    ["podman", "containers.conf", "[engine]\n"],
    ["crio", "crio.conf", "[crio.runtime]\n"],
  ] as const) {
    test(`${engine}: register writes the runtime's own file before ${name}; --remove deletes it after`, async () => {
      const f = join(dir, name);
      writeFileSync(f, text);
      const common = {
        engines: [engine as EngineName],
        configPath: f,
        runscPath: "/bin/sh",
        reload: false,
        verify: false,
      };
      const add = await configureEngines({ ...common, runtimeArgs: ["--network=none"] }, quietIO(dir));
      const files = add.engines[0].files;
      expect(files.length).toBeGreaterThan(1);
      expect(files.at(-1)).toMatchObject({ path: f });
      const rm = await configureEngines({ ...common, remove: true }, quietIO(dir));
      const gone = rm.engines[0].files;
      expect(gone[0]).toMatchObject({ path: f });
      expect(gone.slice(1).every((x) => x.action === "delete")).toBe(true);
      expect(gone.length).toBeGreaterThan(1);
    });
  }
});
