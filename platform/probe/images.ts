// Local probe images: imported from a host-built rootfs, tagged by content hash,
// so they are built once per daemon and never pulled from a registry.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { reapStrayShims } from "../runsc/stray-shims.ts";
import { run, failureText, type RunResult } from "../os/spawn.ts";
import { helloRootfs, identityKey, imageArchive, imageTag, rootfsTar, writeRootfs, type Rootfs } from "./rootfs.ts";
import { DockerApi, runContainer } from "../engines/docker/api.ts";
import type { DockerEndpoint } from "../engines/docker/client.ts";
import { sleep } from "../os/sleep.ts";

export interface EnsuredImage {
  tag: string;
  built: boolean;
  source: string;
}

/**
 * Make sure the probe image exists in the engine behind `cli` (docker or podman,
 * both accept `image inspect` and `import -`).
 */
export async function ensureProbeImage(cli: string, env: NodeJS.ProcessEnv = process.env): Promise<EnsuredImage> {
  const fs = await helloRootfs();
  const tag = imageTag(fs);
  const inspect = await run(cli, ["image", "inspect", "--format", "{{.Id}}", tag], { timeoutMs: 15_000, env });
  if (inspect.code === 0) return { tag, built: false, source: fs.source };
  await importProbeImage(cli, tag, fs, env);
  return { tag, built: true, source: fs.source };
}

/** `CLI import` the probe rootfs as `tag`; throws with the engine's words when it fails. */
async function importProbeImage(cli: string, tag: string, fs: Rootfs, env: NodeJS.ProcessEnv | undefined) {
  const imp = await run(cli, ["import", "--message", "gvisor-doctor probe image", "-", tag], {
    input: await rootfsTar(fs),
    timeoutMs: 60_000,
    env,
  });
  if (imp.code !== 0) throw new Error(`could not import the probe image ${tag}: ${failureText(imp)}`);
}

export const DEFAULT_CACHE_DIR = "/var/cache/gvisor-doctor";

/**
 * The probe rootfs as a directory (for `runsc run`), built once per content hash
 * under `<cacheDir>/rootfs/<hash>`: written to a temp dir beside it and renamed, so
 * a concurrent or interrupted build never leaves a half-written tree under the real
 * name. `rootfs/by-source/<identity key>` links to it, so later runs find it without
 * reading and hashing the source files.
 */
export async function ensureProbeRootfsDir(
  cacheDir: string = DEFAULT_CACHE_DIR,
): Promise<{ dir: string; rootfs: Rootfs; built: boolean }> {
  const fs = await helloRootfs();
  const parent = join(cacheDir, "rootfs");
  const index = join(parent, "by-source", identityKey(fs).slice(0, 16));
  try {
    const dir = join(parent, "by-source", readlinkSync(index));
    if (statSync(dir).isDirectory()) return { dir, rootfs: fs, built: false };
  } catch {}
  const name = fs.hash.slice(0, 16);
  const dir = join(parent, name);
  let built = false;
  if (!existsSync(dir)) {
    mkdirSync(parent, { recursive: true, mode: 0o755 });
    const tmp = mkdtempSync(`${dir}.tmp-`);
    try {
      chmodSync(tmp, 0o755); // mkdtemp makes 0700; this becomes the sandbox's /
      writeRootfs(fs, tmp);
      renameSync(tmp, dir);
      built = true;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      // Another process finished the same build first: theirs is identical.
      if (!existsSync(dir)) throw e;
    }
  }
  mkdirSync(dirname(index), { recursive: true, mode: 0o755 });
  const link = `${index}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  symlinkSync(`../${name}`, link);
  renameSync(link, index); // atomic replace
  return { dir, rootfs: fs, built };
}

/** What `docker run --pull=never` / `podman run --pull=never` say when the image is absent. */
const MISSING_IMAGE = /No such image|Unable to find image|image not known|not found locally|does not exist locally/i;

/**
 * `<cli> run --pull=never <runArgs> <probe image> <cmd>`, importing the probe image only
 * when the engine says it is missing (one process on the common path instead of an
 * `image inspect` first). --pull=never: a registry must never answer for our tag.
 */
export interface ProbeRun {
  result: RunResult;
  image: EnsuredImage;
  args: string[];
  /** A first attempt that failed without a word and was retried (kept for the report). */
  silentFirst?: RunResult;
}

/** Did the run fail without printing anything (no stderr, no stdout, a plain exit code)? */
export function failedSilently(r: RunResult): boolean {
  return r.code !== 0 && r.code !== null && !r.spawnError && !r.timedOut && !r.stdout.trim() && !r.stderr.trim();
}

export async function runInProbeImage(
  cli: string,
  runArgs: string[],
  cmd: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProbeRun> {
  const fs = await helloRootfs();
  const tag = imageTag(fs);
  // The engine writes the container id here, so a shim stranded by a failed start can be reaped.
  const cidfile = join(tmpdir(), `gvd-probe-${process.pid}-${randomBytes(4).toString("hex")}.cid`);
  const args = (withCid: boolean) => [
    "run",
    "--pull=never",
    ...(withCid ? ["--cidfile", cidfile] : []),
    ...runArgs,
    tag,
    ...cmd,
  ];
  const attempt = async () => {
    rmSync(cidfile, { force: true });
    const r = await run(cli, args(true), { env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000 });
    if (r.code === null || (r.code >= 125 && r.code <= 127)) {
      let id = "";
      try {
        id = readFileSync(cidfile, "utf8").trim();
      } catch {}
      if (id) await reapStrayShims(id);
    }
    return r;
  };
  try {
    let result = await attempt();
    let built = false;
    if (result.code !== 0 && MISSING_IMAGE.test(result.stderr)) {
      await importProbeImage(cli, tag, fs, opts.env);
      built = true;
      result = await attempt();
    }
    // Seen on systemd hosts (sid: dockerd 28.5, podman 5.8) in the check right after an engine was
    // reloaded or restarted: a start that exits 2 with no output at all, once, then never again.
    // Retry such a start once; the first attempt stays in the report (silentFirst), never hidden.
    let silentFirst: RunResult | undefined;
    if (failedSilently(result)) {
      silentFirst = result;
      await sleep(1000);
      result = await attempt();
    }
    return { result, image: { tag, built, source: fs.source }, args: args(false), silentFirst };
  } finally {
    rmSync(cidfile, { force: true });
  }
}

export interface DockerProbeSpec {
  runtime: string;
  /** No network namespace (`--network none`): for a runtime that runs with --network=none anyway. */
  networkNone: boolean;
  cmd: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** A Docker probe run, whichever path ran it; `command` shows how, for the details. */
export interface DockerProbeRun extends ProbeRun {
  command: string;
}

/**
 * `docker run --rm --runtime=R [--network none] <probe image> <cmd>` through the endpoint's
 * path: the CLI (runInProbeImage), or the Engine API (create, start, wait, logs, remove;
 * the image loaded with POST /images/load when missing), with the same one retry of a start
 * that failed without a word.
 */
export async function runDockerProbe(
  ep: Pick<DockerEndpoint, "probe" | "cli" | "api">,
  spec: DockerProbeSpec,
): Promise<DockerProbeRun> {
  const net = spec.networkNone ? ["--network", "none"] : [];
  if (ep.probe === "cli") {
    const runArgs = ["--rm", `--runtime=${spec.runtime}`, "--log-driver=none", ...net];
    const r = await runInProbeImage(ep.cli!, runArgs, spec.cmd, { env: spec.env, timeoutMs: spec.timeoutMs });
    return { ...r, command: `$ docker ${r.args.slice(0, -spec.cmd.length).join(" ")} ${quoteArgs(spec.cmd)}` };
  }
  if (!ep.api) throw new Error("neither the docker CLI nor a unix socket reaches dockerd");
  const fs = await helloRootfs();
  const tag = imageTag(fs);
  const api = new DockerApi(ep.api);
  const attempt = () =>
    runContainer(api, {
      image: tag,
      cmd: spec.cmd,
      runtime: spec.runtime,
      networkNone: spec.networkNone,
      timeoutMs: spec.timeoutMs ?? 60_000,
      imageArchive: () => imageArchive(fs, tag),
      onStartFailure: reapStrayShims,
    });
  let run = await attempt();
  let built = run.loaded;
  // As with the CLI: a start that failed without a word right after a reload is retried once.
  let silentFirst: RunResult | undefined;
  if (failedSilently(run.result)) {
    silentFirst = run.result;
    await sleep(1000);
    run = await attempt();
    built ||= run.loaded;
  }
  const how = `Runtime=${spec.runtime}${spec.networkNone ? ", NetworkMode=none" : ""}`;
  const command =
    `via the Engine API at ${ep.api}: create (${how}), start, wait, logs, remove; ` + `cmd ${quoteArgs(spec.cmd)}`;
  const args = ["run", "--rm", `--runtime=${spec.runtime}`, ...net, tag];
  return { result: run.result, image: { tag, built, source: fs.source }, args, silentFirst, command };
}

/** Arguments as a shell would need them, for the command shown in the details. */
const quoteArgs = (a: string[]) =>
  a.map((x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(" ");
