// The library (src/lib.ts): the same runIsolated the CLI uses, in-process under Bun,
// from the Node bundle `npm run build:lib` makes, and under Deno.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BED } from "../bed/bed.ts";
import { ROOT } from "../helpers/cli.ts";
import { TSC_FLAGS } from "../../scripts/build-lib.ts";
import { detectSandbox, isGvisorAvailable, runIsolated, SandboxUnavailableError, UsageError } from "../../src/lib.ts";

const GVISOR = "Starting gVisor";
// Sandboxes on a busy 2-core machine: a slow run must fail on its own assertions, not on bun's 5 s default
// (whose timeout also kills the test bed's daemons as "dangling processes").
setDefaultTimeout(180_000);

describe.skipIf(!BED.ok)("library: runIsolated, detectSandbox, isGvisorAvailable (Bun, in-process)", () => {
  test("detectSandbox lists every method with a reason; as root with runsc, gVisor is available", async () => {
    const d = await detectSandbox({ env: { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    expect(d.methods.map((m) => m.method).sort()).toEqual(["docker", "none", "podman", "runsc"]);
    for (const m of d.methods) expect(m.reason.length).toBeGreaterThan(0);
    expect(d.methods.find((m) => m.method === "docker")).toMatchObject({
      available: false,
      reason: expect.stringContaining("cannot reach dockerd at unix:///nonexistent/docker.sock"),
    });
    expect(d.methods.find((m) => m.method === "runsc")).toMatchObject({
      available: true,
      reason: expect.stringContaining("runsc version"),
    });
    expect(d.gvisor).toBe(true);
    expect(await isGvisorAvailable()).toBe(true);
  });

  test("runIsolated streams chunks as they come and returns the same result object as exec --json", async () => {
    const chunks: string[] = [];
    const r = await runIsolated({
      command: ["sh", "-c", "dmesg | head -1; echo err >&2; exit 5"],
      via: "runsc",
      onStdout: (c) => chunks.push(Buffer.from(c).toString()),
    });
    expect(r).toMatchObject({
      method: "runsc",
      sandboxed: true,
      exitCode: 5,
      signal: null,
      timedOut: false,
      stderr: "err\n",
      truncated: false,
    });
    expect(r.stdout).toContain(GVISOR);
    expect(chunks.join("")).toBe(r.stdout);
  });

  test("stdin as bytes, a capture cap with its truncation flag", async () => {
    const r = await runIsolated({ command: ["cat"], via: "runsc", stdin: "0123456789", maxOutputBytes: 4 });
    expect(r).toMatchObject({ exitCode: 0, stdout: "0123", truncated: true });
  });

  test("an AbortSignal forwards SIGTERM to the command", async () => {
    const ac = new AbortController();
    const r = await runIsolated({
      command: ["sh", "-c", 'trap "echo bye; exit 4" TERM; echo up; sleep 60 & wait'],
      via: "runsc",
      signal: ac.signal,
      onStdout: (c) => Buffer.from(c).toString().includes("up") && ac.abort(),
    });
    expect(r).toMatchObject({ exitCode: 4, stdout: "up\nbye\n", timedOut: false });
  });

  test("a method that is not there rejects with SandboxUnavailableError (nothing runs); bad options with UsageError", async () => {
    const p = runIsolated({
      command: ["true"],
      via: "docker",
      hostEnv: { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    });
    await expect(p).rejects.toBeInstanceOf(SandboxUnavailableError);
    await p.catch((e: SandboxUnavailableError) => {
      expect(e.message).toStartWith("--via docker is not available here");
      expect(e.detection.methods.length).toBe(4);
      expect(e.code).toBe(1);
    });
    await expect(runIsolated({ command: [] })).rejects.toBeInstanceOf(UsageError);
  });
});

describe.skipIf(!BED.ok)("library under Node and Deno", () => {
  let out: string;
  beforeAll(() => {
    // Inside the checkout so the bundle's imports (tar, …) resolve from its node_modules, like an installed package.
    out = mkdtempSync(join(ROOT, ".gvd-test-lib-"));
    const b = spawnSync(process.execPath, [join(ROOT, "scripts/build-lib.ts"), "--outdir", out], {
      cwd: ROOT,
      encoding: "utf8",
    });
    if (b.status !== 0) throw new Error(`build:lib failed: ${b.stdout}\n${b.stderr}`);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test("package.json exports the library: Bun gets the source, Node the bundle, TypeScript the declarations", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.exports["."]).toEqual({ types: "./dist/lib.d.ts", bun: "./src/lib.ts", import: "./dist/lib.js" });
    expect(pkg.scripts["build:lib"]).toBe("bun scripts/build-lib.ts");
  });

  test("Node (no .ts support) imports the bundle and runs a command under gVisor", () => {
    const script = `import { runIsolated, isGvisorAvailable } from ${JSON.stringify(join(out, "lib.js"))};
      const r = await runIsolated({ command: ["dmesg"], via: "runsc" });
      console.log(JSON.stringify({ available: await isGvisorAvailable(), ...r }));`;
    const r = spawnSync("node", ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ available: true, method: "runsc", sandboxed: true, exitCode: 0 });
    expect(doc.stdout).toContain(GVISOR);
  });

  test("the declarations type-check a consumer (and catch a wrong option)", () => {
    writeFileSync(
      join(out, "consumer.ts"),
      `import { runIsolated, type ExecResult } from "./lib.js";
const r: ExecResult = await runIsolated({ command: ["true"], via: "runsc", mounts: ["/tmp:/work:rw"], timeoutMs: 1000 });
const code: number = r.exitCode;
export { code };
`,
    );
    writeFileSync(
      join(out, "bad.ts"),
      `import { runIsolated } from "./lib.js";\nawait runIsolated({ command: "true", via: "kata" });\n`,
    );
    const tsc = (file: string) =>
      spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", ...TSC_FLAGS, file], {
        cwd: out,
        encoding: "utf8",
      });
    const good = tsc("consumer.ts");
    expect(good.stdout + good.stderr).toBe("");
    const bad = tsc("bad.ts");
    expect(bad.stdout).toContain("bad.ts(2,");
    expect(bad.status).not.toBe(0);
  });

  test("Deno imports src/lib.ts directly", () => {
    const deno = join(ROOT, "node_modules", ".bin", "deno");
    const code = `const { runIsolated } = await import(${JSON.stringify(join(ROOT, "src/lib.ts"))}); console.log(JSON.stringify(await runIsolated({ command: ["dmesg"], via: "runsc" })));`;
    const r = spawnSync(deno, ["eval", code], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ method: "runsc", sandboxed: true, exitCode: 0 });
    expect(doc.stdout).toContain(GVISOR);
  });
});
