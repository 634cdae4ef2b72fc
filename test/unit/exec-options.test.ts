// exec's option rules: the CLI flags and the library options validate the same way.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCommandArgs, secondsOption } from "../../src/args.ts";
import { MAX_SECONDS, MAX_TIMER_MS } from "../../platform/os/numbers.ts";
import { runArgv } from "../../src/dispatch.ts";
import { execCommand } from "../../src/commands/exec.ts";
import { UsageError } from "../../platform/os/errors.ts";
import {
  DEFAULT_PIDS,
  normalizeRequest,
  parseBytes,
  parseEnv,
  parseMount,
  parsePositiveInt,
  parseSeconds,
  parseVia,
} from "../../platform/exec/options.ts";
import { recordingIO } from "../helpers/io.ts";

const dir = mkdtempSync("/tmp/gvd-test-exec-opts-");
mkdirSync(join(dir, "src"));
writeFileSync(join(dir, "file.txt"), "x");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const usage = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("expected a UsageError");
};

describe("exec flags", () => {
  test("the command is everything after --, flags before it are exec's", () => {
    const p = parseCommandArgs(execCommand, [
      "--via",
      "docker",
      "--mount",
      "/a:/b",
      "--mount",
      "/c:/d:rw",
      "--env",
      "A=1",
      "--require-sandbox",
      "--json",
      "--",
      "sh",
      "-c",
      "echo --via",
    ]);
    expect(p.rest).toEqual(["sh", "-c", "echo --via"]);
    expect(p.values).toMatchObject({
      via: "docker",
      mount: ["/a:/b", "/c:/d:rw"],
      env: ["A=1"],
      "require-sandbox": true,
      json: true,
    });
  });
  test("exactly the flags the issue lists, and no others", () => {
    expect(Object.keys(execCommand.options).sort()).toEqual([
      "env",
      "image",
      "memory",
      "mount",
      "network",
      "pids",
      "require-sandbox",
      "timeout",
      "via",
      "workdir",
    ]);
    expect(() => parseCommandArgs(execCommand, ["--privileged", "--", "true"])).toThrow(
      /unknown option --privileged for 'exec'/,
    );
  });
  test("a command given without -- is a usage error that shows where it goes", async () => {
    const p = parseCommandArgs(execCommand, ["echo", "hi"]);
    const io = { env: {}, json: false, verbose: false } as any;
    await expect(execCommand.run(p, io)).rejects.toThrow(
      "put the command after --: gvisor-doctor exec [options] -- echo hi",
    );
  });
});

describe("mounts", () => {
  test("read-only unless :rw; :ro says so explicitly", () => {
    expect(parseMount(`${dir}/src:/work`)).toEqual({ source: `${dir}/src`, target: "/work", writable: false });
    expect(parseMount(`${dir}/src:/work:ro`).writable).toBe(false);
    expect(parseMount(`${dir}/src:/work:rw`).writable).toBe(true);
  });
  test("a relative source is resolved from the current directory; the target is normalised", () => {
    expect(parseMount("src:/data/in/", dir)).toEqual({ source: `${dir}/src`, target: "/data/in", writable: false });
    expect(parseMount("file.txt:/etc/app.conf", dir).source).toBe(`${dir}/file.txt`);
  });
  test("bad specs name the problem", () => {
    expect(usage(() => parseMount("/only-one-part")).message).toContain("expected SRC:DST, SRC:DST:ro or SRC:DST:rw");
    expect(usage(() => parseMount(`${dir}/src:/a:/b`)).message).toContain("paths cannot contain ':'");
    expect(usage(() => parseMount(`${dir}/src:/a:rx`)).message).toContain("expected SRC:DST");
    expect(usage(() => parseMount(`${dir}/src:relative`)).message).toContain(
      "must be an absolute path inside the sandbox",
    );
    expect(usage(() => parseMount(`${dir}/src:/`)).message).toContain("cannot mount over the sandbox's root");
    const missing = usage(() => parseMount(`${dir}/nope:/x`));
    expect(missing.message).toContain(`the source ${dir}/nope does not exist`);
    expect(missing.hint).toContain(`mkdir -p ${dir}/nope`);
  });
  test("two mounts on one target are refused", () => {
    expect(() => normalizeRequest({ command: ["true"], mounts: [`${dir}/src:/w`, `${dir}/src:/w/:rw`] })).toThrow(
      "two mounts target /w",
    );
  });
});

describe("env, sizes, durations", () => {
  test("K=V sets, K alone copies the host's value, an unset K is skipped", () => {
    expect(parseEnv("A=b=c")).toEqual(["A", "b=c"]);
    expect(parseEnv("EMPTY=")).toEqual(["EMPTY", ""]);
    expect(parseEnv("HOME_X", { HOME_X: "/h" })).toEqual(["HOME_X", "/h"]);
    expect(parseEnv("UNSET_X", {})).toBeNull();
    expect(usage(() => parseEnv("1A=x")).message).toContain("'1A' is not a variable name");
    expect(usage(() => parseEnv("=x")).message).toContain("is not a variable name");
  });
  test("memory sizes use binary units like docker", () => {
    expect(parseBytes("536870912")).toBe(536870912);
    expect(parseBytes("512m")).toBe(512 * 1024 ** 2);
    expect(parseBytes("1G")).toBe(1024 ** 3);
    expect(parseBytes("64k")).toBe(65536);
    for (const bad of ["", "0", "-1", "12x", "m"]) expect(() => parseBytes(bad)).toThrow(UsageError);
  });
  test("timeouts are positive seconds, fractions allowed", () => {
    expect(parseSeconds("30")).toBe(30_000);
    expect(parseSeconds("0.25")).toBe(250);
    for (const bad of ["", "0", "-3", "soon", "Infinity"]) expect(() => parseSeconds(bad)).toThrow(UsageError);
  });
  test("pids are whole numbers ≥ 1; via is one of the methods", () => {
    expect(parsePositiveInt("64", "--pids")).toBe(64);
    for (const bad of ["0", "1.5", "-2", "x"]) expect(() => parsePositiveInt(bad, "--pids")).toThrow("--pids");
    expect(parseVia("podman")).toBe("podman");
    expect(usage(() => parseVia("kata")).message).toBe("--via 'kata': expected auto, runsc, docker, podman or none");
  });
});

describe("numbers are strict decimals within a range (issue 14)", () => {
  const io = () => {
    const io = recordingIO(process.env);
    return { io, out: io.out, err: io.err };
  };
  test("no hex, sign, exponent, spaces or Infinity", () => {
    for (const bad of ["0x10", "+5", "1e3", " 5", "5 ", "Infinity", "NaN", "1_000", ".5", "5."]) {
      expect(() => parseSeconds(bad)).toThrow(UsageError);
      expect(() => parsePositiveInt(bad, "--pids")).toThrow(UsageError);
    }
    for (const bad of ["0x10", "+5m", "1e3", " 5m", "-5m"]) expect(() => parseBytes(bad)).toThrow(UsageError);
  });
  test("--timeout stops where a timer stops: 2147483 s (24.8 days); beyond, it would fire after 1 ms", () => {
    expect(MAX_SECONDS).toBe(2147483);
    expect(parseSeconds("2147483")).toBe(2147483000);
    expect(parseSeconds("0.001")).toBe(1);
    expect(usage(() => parseSeconds("2147484")).message).toBe(
      "--timeout 2147484: expected a number of seconds from 0.001 to 2147483",
    );
    expect(() => parseSeconds("0.0001")).toThrow(UsageError); // would round to 0 ms: no timeout at all
    expect(() => normalizeRequest({ command: ["true"], timeoutMs: MAX_TIMER_MS + 1 })).toThrow(
      "timeoutMs must be a positive number up to 2147483647",
    );
  });
  test("--pids is at most the kernel's PID_MAX_LIMIT, --memory at most 2^53-1 bytes", () => {
    expect(parsePositiveInt("4194304", "--pids")).toBe(4194304);
    expect(usage(() => parsePositiveInt("99999999999999999999", "--pids")).message).toBe(
      "--pids 99999999999999999999: expected a whole number from 1 to 4194304",
    );
    expect(() => normalizeRequest({ command: ["true"], pids: 1e20 })).toThrow(
      "pids must be a whole number from 1 to 4194304",
    );
    expect(() => parseBytes("99999999999999999999")).toThrow("expected a size from 1 byte");
    expect(() => parseBytes("9999999999g")).toThrow(UsageError);
    expect(() => normalizeRequest({ command: ["true"], memoryBytes: 2 ** 60 })).toThrow(
      "memoryBytes must be a positive number",
    );
  });
  test("k8s check --timeout and k8s agent --interval use the same rule", () => {
    for (const bad of ["0x10", "1e3", "2147484", "-1"]) {
      expect(() => secondsOption("--timeout", bad, 300)).toThrow(UsageError);
    }
    expect(secondsOption("--interval", "2147483", 300)).toBe(2147483);
    expect(secondsOption("--interval", "0.5", 300)).toBe(0.5);
  });
  test("through the CLI: --pids 99999999999999999999 and --timeout 0x10 exit 2 before anything runs", async () => {
    for (const flags of [
      ["--pids", "99999999999999999999"],
      ["--timeout", "0x10"],
      ["--timeout", "2147484"],
    ]) {
      const { io: o, out, err } = io();
      expect(await runArgv(["exec", "--via", "none", ...flags, "--", "echo", "ran"], o)).toBe(2);
      expect(out).toEqual([]);
      expect(err.join("\n")).toContain(`${flags[0]} ${flags[1]}: expected`);
    }
  });
});

describe("requests", () => {
  test("defaults: auto, no network, no mounts, the default pids limit, no timeout", () => {
    expect(normalizeRequest({ command: ["id"] })).toEqual({
      command: ["id"],
      via: "auto",
      image: null,
      mounts: [],
      workdir: null,
      network: "none",
      env: {},
      timeoutMs: null,
      memoryBytes: null,
      pids: DEFAULT_PIDS,
      requireSandbox: false,
    });
  });
  test("nothing to run is a usage error", () => {
    expect(usage(() => normalizeRequest({ command: [] })).message).toContain("nothing to run");
  });
  test("--via none with --require-sandbox contradicts itself", () => {
    expect(usage(() => normalizeRequest({ command: ["true"], via: "none", requireSandbox: true })).message).toContain(
      "contradicts --require-sandbox",
    );
  });
  test("library mounts may be objects; their sources must exist too", () => {
    const r = normalizeRequest({ command: ["true"], mounts: [{ source: "src", target: "/in", writable: true }] }, dir);
    expect(r.mounts).toEqual([{ source: `${dir}/src`, target: "/in", writable: true }]);
    expect(() =>
      normalizeRequest({ command: ["true"], mounts: [{ source: "/no/such/dir", target: "/in", writable: false }] }),
    ).toThrow("does not exist");
  });
  test("bad library values are refused before anything runs", () => {
    expect(() => normalizeRequest({ command: ["true"], workdir: "work" })).toThrow("must be an absolute path");
    expect(() => normalizeRequest({ command: ["true"], timeoutMs: 0 })).toThrow("timeoutMs must be a positive number");
    expect(() => normalizeRequest({ command: ["true"], pids: 2.5 })).toThrow("pids must be a whole number");
    expect(() => normalizeRequest({ command: ["true"], env: { "A-B": "1" } })).toThrow("not a variable name");
    expect(() => normalizeRequest({ command: ["true"], network: "bridge" as any })).toThrow("expected none or host");
  });
});
