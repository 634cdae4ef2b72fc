// Engines accept config bytes that are not UTF-8 (a Latin-1 comment in containerd's
// config.toml, raw bytes inside daemon.json strings): configure edits bytes, so every
// byte outside its change stays exactly as it was (never rewritten to U+FFFD).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configureEngines } from "../../src/commands/configure.ts";
import { quietIO } from "../helpers/configure.ts";
import { decodeBytes, encodeBytes } from "../../platform/engines/edit/text.ts";
import type { EngineName } from "../../platform/engines/types.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-bytes-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const latin1 = (s: string) => Buffer.from(s, "latin1");
const FFFD = Buffer.from("\ufffd", "utf8");

describe("config bytes that are not UTF-8", () => {
  test("decode/encode is lossless for any bytes, and valid UTF-8 (emoji, BOM) decodes as usual", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const b of [
      all,
      latin1("caf\xe9 \xff\xfe"),
      Buffer.from([0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xe2, 0x82]),
      Buffer.from('\ufeff{"a": "💀 é"}', "utf8"),
    ]) {
      expect(encodeBytes(decodeBytes(b)).equals(b)).toBe(true);
    }
    expect(decodeBytes(Buffer.from("\ufeff💀é", "utf8"))).toBe("\ufeff💀é");
    expect(encodeBytes("a💀b").equals(Buffer.from("a💀b", "utf8"))).toBe(true);
  });

  const engines = [
    ["docker", "daemon.json", latin1('{\n  "log-opts": { "tag": "caf\xe9\xff" },\n  "labels": ["\xe0 la carte"]\n}\n')],
    [
      "containerd",
      "config.toml",
      latin1("# Konfiguration f\xfcr den Knoten (Latin-1)\nversion = 2\n\n[plugins]\n  # r\xe9seau\n"),
    ],
    ["podman", "containers.conf", latin1("# Ma\xf1ana\n[engine]\n# \xe9t\xe9\n")],
    ["crio", "crio.conf", latin1("# Ma\xf1ana\n[crio.runtime]\n# \xe9t\xe9\n")],
  ] as const;
  for (const [engine, name, bytes] of engines) {
    test(`${engine}: registering and removing the runtime keeps every other byte of ${name}`, async () => {
      const f = join(dir, name);
      writeFileSync(f, bytes);
      const common = {
        engines: [engine as EngineName],
        configPath: f,
        runscPath: "/bin/sh",
        reload: false,
        verify: false,
      };
      const add = await configureEngines({ ...common, runtimeArgs: ["--network=none"] }, quietIO(dir));
      expect(add.engines[0]).toMatchObject({ status: "changed" });
      const after = readFileSync(f);
      expect(after.includes(FFFD)).toBe(false);
      // The original bytes are still there, each non-UTF-8 line unchanged.
      for (const line of bytes
        .toString("latin1")
        .split("\n")
        .filter((l) => /[\x80-\xff]/.test(l)))
        expect(after.includes(latin1(line))).toBe(true);
      expect(readFileSync(add.engines[0].files.find((x) => x.path === f)!.backup!).equals(bytes)).toBe(true);
      const rm = await configureEngines({ ...common, remove: true }, quietIO(dir));
      expect(rm.engines[0]).toMatchObject({ status: "changed" });
      expect(readFileSync(f).includes(FFFD)).toBe(false);
    });
  }
});
