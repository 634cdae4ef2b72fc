// install.sh against a server that stops sending mid-file: curl, GNU wget and busybox wget give up
// after GVISOR_DOCTOR_HTTP_TIMEOUT instead of hanging, and a SIGTERM ends the installer (and its
// download) at once, leaving no temporary directory behind.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  cleanEnv,
  fakeDoctor,
  hostAsset,
  INSTALL_SH,
  makeRelease,
  runShell,
  serveDir,
  toolbox,
  type Served,
} from "../helpers/release.ts";

setDefaultTimeout(60_000);

const has = (cmd: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd]).status === 0;
const MISSING = ["dash", "busybox", "curl", "wget", "sha512sum"].filter((c) => !has(c));

describe.skipIf(MISSING.length > 0)("install.sh and a server that stalls", () => {
  let tmp: string;
  let served: Served;
  let asset: string;
  let n = 0;
  const fresh = (name: string) => {
    const d = join(tmp, `${name}-${++n}`);
    mkdirSync(d, { recursive: true });
    return d;
  };

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/gvd-installsh-stall-");
    chmodSync(tmp, 0o755);
    asset = hostAsset();
    await makeRelease(join(tmp, "release"), { assets: [asset], binary: { script: fakeDoctor() } });
    served = serveDir(join(tmp, "release"));
    stall();
  }, 60_000);
  /**
   * The binary (raw, .gz and .xz: whichever format install.sh picks): 100 bytes, then one byte every 5 s, for ever: a stalled transfer that
   * keeps the connection open (the server's own idle timeout never fires).
   */
  const stall = () => {
    served.reset();
    for (const path of [`/${asset}`, `/${asset}.gz`, `/${asset}.xz`]) {
      served.override(path, () => {
        let first = true;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!first) await new Promise((r) => setTimeout(r, 5_000));
              c.enqueue(new Uint8Array(first ? 100 : 1));
              first = false;
            },
          }),
          { headers: { "Content-Length": "10000000" } },
        );
      });
    }
  };
  afterAll(() => {
    served?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const run = (path: string, dir: string, timeout: string, onSpawn?: (pid: number) => void, shell = "dash") =>
    runShell(`exec ${shell} -s`, [], {
      input: readFileSync(INSTALL_SH),
      env: cleanEnv({
        PATH: path,
        GVISOR_DOCTOR_BASE: served.url,
        GVISOR_DOCTOR_INSTALL_DIR: dir,
        GVISOR_DOCTOR_HTTP_TIMEOUT: timeout,
      }),
      onSpawn,
      timeoutMs: 40_000, // a guard: without time limits the installer never ends here
    });

  test.each([
    ["curl under dash", () => process.env.PATH!, "dash"],
    ["GNU wget under dash", () => toolbox(fresh("no-curl"), { exclude: ["curl"] }), "dash"],
    ["busybox wget under busybox sh", () => toolbox(fresh("busybox-bin"), { busybox: true }), "busybox sh"],
  ])("%s: gives up after the stall timeout, with a message, and leaves nothing", async (_name, path, shell) => {
    const dir = fresh("bin");
    const t0 = Date.now();
    const r = await run(path(), dir, "2", undefined, shell);
    const s = (Date.now() - t0) / 1000;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`error: could not download ${served.url}/${asset}(\\.gz|\\.xz)? with (curl|wget)`),
    );
    expect(r.stderr).toMatch(/timed out: no (connection or no )?data for 2 s|no data for 2 s \(GVISOR_DOCTOR_HTTP/);
    expect(s).toBeLessThan(20); // 2 s per stall, a retry or two; before: no limit at all
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a timeout that is not a whole number of seconds is refused", async () => {
    const r = await run(process.env.PATH!, fresh("bin"), "1.5");
    expect(r.stderr).toContain("error: GVISOR_DOCTOR_HTTP_TIMEOUT=1.5 is not a whole number of seconds");
    expect(r.code).toBe(1);
  });

  test.each(["dash", "busybox sh"])(
    "SIGTERM during a stalled curl under %s: exit 143 at once, curl gone, no temporary directory",
    async (shell) => {
      const dir = fresh("bin");
      let pid = 0;
      stall();
      const done = run(process.env.PATH!, dir, "60", (p) => (pid = p), shell);
      const end = Date.now() + 20_000;
      while (!served.requests.some((q) => q.includes(asset)) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300)); // curl is now waiting on the stalled body
      const curls = () => spawnSync("pgrep", ["-f", `${served.url}/${asset}`], { encoding: "utf8" }).stdout.trim();
      expect(curls()).not.toBe("");
      const t0 = Date.now();
      process.kill(pid, "SIGTERM");
      const r = await done;
      expect(r.code).toBe(143);
      expect(Date.now() - t0).toBeLessThan(3_000); // before: it waited for curl (60 s here)
      expect(curls()).toBe("");
      expect(readdirSync(dir)).toEqual([]);
      expect(existsSync(join(dir, "gvisor-doctor"))).toBe(false);
    },
  );
});
