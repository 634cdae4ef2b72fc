// Validating an exec request: one place for the rules the CLI flags and the library
// options share (mount syntax, env names, sizes, limits). Bad input is a UsageError
// naming the value and the fix; nothing starts.
import { statSync } from "node:fs";
import { isAbsolute, normalize, posix, resolve } from "node:path";
import { echoInput } from "../os/echo-input.ts";
import { UsageError } from "../os/errors.ts";
import { MAX_SECONDS, MAX_TIMER_MS, parseDecimal } from "../os/numbers.ts";
import { METHODS, type ExecRequest, type Mount, type Network, type RunIsolatedOptions, type Via } from "./types.ts";

export const DEFAULT_PIDS = 1024;
const HINT = "see: gvisor-doctor exec --help";

/** "SRC:DST[:ro|rw]" → a mount; SRC relative to `cwd`, must exist; read-only unless ":rw". */
export function parseMount(spec: string, cwd: string = process.cwd()): Mount {
  const parts = spec.split(":");
  let writable = false;
  if (parts.length === 3 && (parts[2] === "ro" || parts[2] === "rw")) writable = parts.pop() === "rw";
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(
      `--mount '${echoInput(spec)}': expected SRC:DST, SRC:DST:ro or SRC:DST:rw (paths cannot contain ':')`,
      HINT,
    );
  }
  return checkMount({ source: resolve(cwd, parts[0]), target: parts[1], writable }, echoInput(spec));
}

function checkMount(m: Mount, spec: string): Mount {
  if (m.source.includes(":") || m.target.includes(":"))
    throw new UsageError(`mount '${spec}': paths cannot contain ':'`, HINT);
  if (!isAbsolute(m.target))
    throw new UsageError(
      `mount '${spec}': the target '${echoInput(m.target)}' must be an absolute path inside the sandbox`,
      HINT,
    );
  const target = posix.normalize(m.target).replace(/(.)\/+$/, "$1");
  if (target === "/") throw new UsageError(`mount '${spec}': cannot mount over the sandbox's root`, HINT);
  try {
    statSync(m.source);
  } catch {
    const src = echoInput(m.source);
    throw new UsageError(
      `mount '${spec}': the source ${src} does not exist`,
      `create it first (mkdir -p ${src}), or fix the path`,
    );
  }
  return { source: normalize(m.source), target, writable: m.writable };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** "K=V" → [K, V]; a bare "K" takes the host's value (skipped when unset), like `docker run -e K`. */
export function parseEnv(spec: string, hostEnv: NodeJS.ProcessEnv = process.env): [string, string] | null {
  const eq = spec.indexOf("=");
  const name = eq >= 0 ? spec.slice(0, eq) : spec;
  if (!ENV_NAME.test(name))
    throw new UsageError(
      `--env '${echoInput(spec)}': '${echoInput(name)}' is not a variable name (letters, digits, _; not starting with a digit)`,
      HINT,
    );
  if (eq >= 0) return [name, spec.slice(eq + 1)];
  const v = hostEnv[name];
  return v === undefined ? null : [name, v];
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Limits past these are not limits: the kernel's PID_MAX_LIMIT (2^22 tasks), and the largest exact byte count. */
export const MAX_PIDS = 4_194_304;
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** "536870912", "512m", "1g" (binary units, like docker) → bytes. */
export function parseBytes(spec: string, flag = "--memory"): number {
  const m = spec.toLowerCase().match(/^(\d+(?:\.\d+)?)([bkmg]?)i?b?$/);
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2]]) : NaN;
  if (!(n >= 1 && n <= MAX_BYTES)) {
    const want = `a size from 1 byte to ${MAX_BYTES} (8 PiB), e.g. 536870912, 512m or 1g`;
    throw new UsageError(`${flag} ${echoInput(spec)}: expected ${want}`, HINT);
  }
  return n;
}

/** Seconds (fractions allowed, 0.001 to MAX_SECONDS: a longer timer would fire at once) → milliseconds. */
export function parseSeconds(spec: string, flag = "--timeout"): number {
  const seconds = parseDecimal(flag, spec, { min: 0.001, max: MAX_SECONDS, what: "a number of seconds" }, HINT);
  return Math.round(seconds * 1000);
}

export function parsePositiveInt(spec: string, flag: string, max = MAX_PIDS): number {
  return parseDecimal(flag, spec, { min: 1, max, integer: true, what: "a whole number" }, HINT);
}

export function parseVia(spec: string): Via {
  if (spec === "auto" || (METHODS as readonly string[]).includes(spec)) return spec as Via;
  throw new UsageError(`--via '${echoInput(spec)}': expected auto, runsc, docker, podman or none`, HINT);
}

export function parseNetwork(spec: string): Network {
  if (spec === "none" || spec === "host") return spec;
  throw new UsageError(`--network '${echoInput(spec)}': expected none or host`, HINT);
}

/** Library options → a validated request (throws UsageError on bad input). */
export function normalizeRequest(o: RunIsolatedOptions, cwd: string = process.cwd()): ExecRequest {
  if (!Array.isArray(o.command) || o.command.length === 0 || typeof o.command[0] !== "string" || o.command[0] === "") {
    throw new UsageError("nothing to run: give the command after --, e.g. gvisor-doctor exec -- echo hi", HINT);
  }
  if (o.command.some((a) => typeof a !== "string" || a.includes("\0")))
    throw new UsageError("the command's arguments must be strings without NUL bytes", HINT);
  const via = parseVia(o.via ?? "auto");
  if (via === "none" && o.requireSandbox)
    throw new UsageError("--via none contradicts --require-sandbox: a plain subprocess is not sandboxed", HINT);
  const mounts = (o.mounts ?? []).map((m) =>
    typeof m === "string"
      ? parseMount(m, cwd)
      : checkMount({ ...m, source: resolve(cwd, m.source) }, echoInput(`${m.source}:${m.target}`)),
  );
  const targets = new Set<string>();
  for (const m of mounts) {
    if (targets.has(m.target)) throw new UsageError(`two mounts target ${echoInput(m.target)}`, HINT);
    targets.add(m.target);
  }
  if (o.workdir !== undefined && !isAbsolute(o.workdir))
    throw new UsageError(`--workdir '${echoInput(o.workdir)}': must be an absolute path inside the sandbox`, HINT);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!ENV_NAME.test(k)) throw new UsageError(`env '${echoInput(k)}' is not a variable name`, HINT);
    if (typeof v !== "string" || v.includes("\0"))
      throw new UsageError(`env ${echoInput(k)}: the value must be a string without NUL bytes`, HINT);
    env[k] = v;
  }
  const inRange = (v: number | undefined, name: string, max: number) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0 && v <= max)) {
      throw new UsageError(`${name} must be a positive number up to ${max} (got ${v})`, HINT);
    }
    return v ?? null;
  };
  const pids = o.pids ?? DEFAULT_PIDS;
  if (!Number.isInteger(pids) || pids < 1 || pids > MAX_PIDS) {
    throw new UsageError(`pids must be a whole number from 1 to ${MAX_PIDS} (got ${pids})`, HINT);
  }
  return {
    command: [...o.command],
    via,
    image: o.image ?? null,
    mounts,
    workdir: o.workdir ? posix.normalize(o.workdir) : null,
    network: parseNetwork(o.network ?? "none"),
    env,
    timeoutMs: inRange(o.timeoutMs, "timeoutMs", MAX_TIMER_MS),
    memoryBytes: inRange(o.memoryBytes, "memoryBytes", MAX_BYTES),
    pids,
    requireSandbox: !!o.requireSandbox,
  };
}
