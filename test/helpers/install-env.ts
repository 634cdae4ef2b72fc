// Shared pieces of the installer's end-to-end tests: a clean environment (no proxy
// variables from the host), throwaway prefixes, and a snapshot of a prefix's tree
// to prove that a failed install changed nothing and left nothing behind.
import { spawn } from "node:child_process";
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "./cli.ts";

const PROXY_VARS = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "all_proxy",
  "GVISOR_MIRROR",
];

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const k of PROXY_VARS) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith("GVISOR_DOCTOR_")) delete env[k];
  return { ...env, ...extra };
}

/** A fresh prefix the sandbox user could reach (mkdtemp makes 0700). */
export function makePrefix(): string {
  const p = mkdtempSync("/tmp/gvd-test-prefix-");
  chmodSync(p, 0o755);
  return p;
}

export function removePrefix(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** Every path under `dir` with its kind (and link target), sorted: equal snapshots = nothing changed. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r} ${st.size} ${(st.mode & 0o777).toString(8)}`);
    }
  };
  walk(dir, "");
  return out;
}

/** Temp files, staging or trash directories that an install might leave behind. */
export function leftovers(dir: string): string[] {
  return tree(dir).filter((p) => /(^|\/)\.(staging|trash)-|\.gvd-(tmp|link)-|\.lock\b/.test(p));
}

export interface Running {
  pid: number;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit code (or the signal name). */
  exit: Promise<number | string>;
  /** Resolves when stderr matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** Start the compiled binary without waiting for it (for kills and concurrency). */
export function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on("data", (b) => (out += b));
  child.stderr.on("data", (b) => {
    err += b;
    for (const w of [...waiters])
      if (w.re.test(err)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  });
  const exit = new Promise<number | string>((resolve) => child.on("close", (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    pid: child.pid!,
    stderr: () => err,
    stdout: () => out,
    exit,
    waitFor(re, timeoutMs = 60_000) {
      if (re.test(err)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in stderr:\n${err}`)), timeoutMs);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
        void exit.then(() => setTimeout(() => reject(new Error(`exited before ${re}; stderr:\n${err}`)), 50));
      });
    },
  };
}

export interface AsyncResult {
  code: number;
  stdout: string;
  stderr: string;
  json?: any;
}

/**
 * Run the compiled binary and wait for it without blocking this process: the fake
 * bucket and the proxy live in the test process and must keep serving meanwhile.
 */
export async function gvdAsync(args: string[], env: NodeJS.ProcessEnv): Promise<AsyncResult> {
  const r = start(args, env);
  const code = await r.exit;
  const res: AsyncResult = { code: typeof code === "number" ? code : -1, stdout: r.stdout(), stderr: r.stderr() };
  if (args.includes("--json")) {
    try {
      res.json = JSON.parse(res.stdout);
    } catch {}
  }
  return res;
}
