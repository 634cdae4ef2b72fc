// Test fixtures for the distribution: a gvisor-doctor release laid out exactly like the real one
// (built by scripts/build.ts assembleRelease), served over real HTTP on 127.0.0.1, a small
// HTTP/CONNECT proxy, PATH toolboxes (a machine without curl, without a SHA-512 tool, with only
// busybox…) and a runner for shell pipelines such as `curl … | sh`.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { assembleRelease } from "../../scripts/build.ts";

const ROOT = join(import.meta.dirname, "..", "..");

export const INSTALL_SH = join(ROOT, "dist", "install.sh");
/** The project's GitHub repository, as install.sh spells it (its one GVD_REPO line). */
export const GVD_REPO = readFileSync(INSTALL_SH, "utf8").match(/^\s*GVD_REPO=(\S+)$/m)![1];
export const DEFAULT_BASE = `https://github.com/${GVD_REPO}/releases/latest/download`;
export const NOBODY = 65534;

// --- release directories -------------------------------------------------------------------

/** The release file install.sh picks on this machine, from its own print mode. */
export function hostAsset(): string {
  const r = spawnSync("sh", [INSTALL_SH], {
    env: { PATH: process.env.PATH, GVISOR_DOCTOR_PRINT: "target" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`install.sh cannot pick a target here: ${r.stderr}`);
  return r.stdout.trim();
}

export const FAKE_VERSION = "9.9.9-fake";

/**
 * A stand-in for gvisor-doctor (a shell script): appends "uid|stdin|args" to $GVD_FAKE_LOG for
 * every call, answers --version, and reads its stdin to the end, as a careless child would.
 */
export function fakeDoctor(opts: { version?: string; versionExit?: number; exit?: number } = {}): string {
  return `#!/bin/sh
printf '%s|%s|%s\\n' "$(id -u)" "$(readlink /proc/$$/fd/0)" "$*" >>"\${GVD_FAKE_LOG:-/dev/null}"
cat >/dev/null
if [ "\${1:-}" = --version ]; then
  echo "gvisor-doctor ${opts.version ?? FAKE_VERSION}"
  exit ${opts.versionExit ?? 0}
fi
echo "fake gvisor-doctor ran: $*"
exit ${opts.exit ?? 0}
`;
}

/**
 * A release directory: `binary` (a file path, or script text) under each asset name, then the
 * .gz copies, install.sh, VERSION and SHA512SUMS exactly as `npm run release` makes them.
 */
export async function makeRelease(
  dir: string,
  opts: {
    assets: string[];
    binary: { path: string } | { script: string };
    version?: string;
    gzipLevel?: number;
    pubkey?: string;
  },
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const a of opts.assets) {
    const dest = join(dir, a);
    if ("script" in opts.binary) writeFileSync(dest, opts.binary.script, { mode: 0o755 });
    else {
      try {
        linkSync(opts.binary.path, dest); // the ~110 MB binary: a hard link when on the same filesystem
      } catch {
        copyFileSync(opts.binary.path, dest);
      }
    }
  }
  await assembleRelease(dir, opts.assets, opts.version ?? FAKE_VERSION, {
    gzipLevel: opts.gzipLevel ?? 1,
    xzLevel: 0,
    pubkey: opts.pubkey,
  });
}

// --- HTTP ----------------------------------------------------------------------------------

export interface Served {
  url: string;
  /** Every request, in order: "GET /SHA512SUMS". */
  requests: string[];
  /** Answer `path` with `handler` instead of the file. */
  override(path: string, handler: (req: Request) => Response | Promise<Response>): void;
  reset(): void;
  close(): void;
}

/** Serve `dir` on 127.0.0.1 (HTTPS when given a certificate). */
export function serveDir(dir: string, tls?: { cert: string; key: string }): Served {
  const overrides = new Map<string, (req: Request) => Response | Promise<Response>>();
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls } : {}),
    async fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(`${req.method} ${path}`);
      const o = overrides.get(path);
      if (o) return o(req);
      const file = join(dir, decodeURIComponent(path));
      if (!file.startsWith(dir) || !existsSync(file)) return new Response("not found\n", { status: 404 });
      return new Response(Bun.file(file));
    },
  });
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    requests,
    override: (p, h) => void overrides.set(p, h),
    reset() {
      overrides.clear();
      requests.length = 0;
    },
    close: () => void server.stop(true),
  };
}

/** A forward proxy on 127.0.0.1: CONNECT tunnels and absolute-URI requests, each logged by its first line. */
export async function startProxy(): Promise<{ url: string; log: string[]; close(): void }> {
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    client.once("data", (first: Buffer) => {
      const line = first.toString("latin1").split("\r\n")[0];
      log.push(line);
      const [method, target] = line.split(" ");
      const hostPort = method === "CONNECT" ? target : new URL(target).host;
      const [host, port] = hostPort.split(":");
      const upstream = createConnection({ host, port: Number(port) }, () => {
        if (method === "CONNECT") client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        else upstream.write(first); // absolute-form request line: the origin server accepts it
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// --- shells and PATHs ----------------------------------------------------------------------

/**
 * The environment a child gets: nothing inherited but PATH, no proxy variables, and loopback
 * exempt from any proxy (corporate CI would route 127.0.0.1 through one otherwise).
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
    NO_COLOR: "1",
    LANG: "C",
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * A directory to use as the whole PATH: every command of /usr/bin and /usr/sbin except
 * `exclude`, plus `scripts` (name → script text). With `busybox: true`, busybox applets only.
 */
export function toolbox(
  dir: string,
  opts: { exclude?: string[]; scripts?: Record<string, string>; busybox?: boolean } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const exclude = new Set(opts.exclude ?? []);
  const add = (name: string, target: string) => {
    if (exclude.has(name) || existsSync(join(dir, name))) return;
    symlinkSync(target, join(dir, name));
  };
  if (opts.busybox) {
    const list = spawnSync("busybox", ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    const bb = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
    for (const a of ["busybox", ...list]) add(a, bb);
  } else {
    for (const d of ["/usr/bin", "/usr/sbin"]) for (const n of readdirSync(d)) add(n, join(d, n));
  }
  for (const [name, text] of Object.entries(opts.scripts ?? {})) {
    const p = join(dir, name);
    rmSync(p, { force: true });
    writeFileSync(p, text, { mode: 0o755 });
  }
  chmodSync(dir, 0o755);
  return dir;
}

/** A wrapper that logs "name|<its stdin>" to $GVD_FAKE_LOG, then runs the real command. */
export function stdinLoggingWrapper(name: string, real: string): string {
  return `#!/bin/sh\nprintf '%s|%s|\\n' "${name}" "$(readlink /proc/$$/fd/0)" >>"\${GVD_FAKE_LOG:-/dev/null}"\nexec ${real} "$@"\n`;
}

/** A command's absolute path on this host (the child's PATH may be a toolbox with other versions). */
export function hostCommand(name: string): string {
  const r = spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${name} is not installed`);
  return r.stdout.trim();
}

export interface ShellResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `/bin/sh -c script sh args...` (as nobody with `user: "nobody"`), asynchronously so the
 * in-process HTTP server keeps answering. `detached` puts it in its own process group.
 */
export function runShell(
  script: string,
  args: string[] = [],
  opts: {
    env?: Record<string, string>;
    user?: "nobody";
    wrap?: string[];
    input?: string | Buffer;
    cwd?: string;
    detached?: boolean;
    onSpawn?: (pid: number) => void;
    timeoutMs?: number;
  } = {},
): Promise<ShellResult> {
  const argv = ["/bin/sh", "-c", script, "sh", ...args];
  const asUser =
    opts.user === "nobody"
      ? [hostCommand("setpriv"), `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", ...argv]
      : argv;
  // `wrap` runs first, as root: e.g. `unshare -m` for a private mount namespace.
  const cmd = opts.wrap ? [hostCommand(opts.wrap[0]), ...opts.wrap.slice(1), ...asUser] : asUser;
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), {
      env: opts.env ?? cleanEnv(),
      cwd: opts.cwd ?? "/",
      detached: opts.detached,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    // A guard against a hung child, not an assertion: the test then fails on its output.
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** The shell command line of the documented one-liner, for `runShell` (URL in $GVD_URL). */
export function oneLiner(fetcher: "curl" | "wget", shell: "sh" | "dash" | "busybox sh"): string {
  const get = fetcher === "curl" ? 'curl -fsSL "$GVD_URL/install.sh"' : 'wget -qO- "$GVD_URL/install.sh"';
  return `${get} | ${shell} -s -- "$@"`;
}
