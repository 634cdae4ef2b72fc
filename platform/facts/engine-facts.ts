// Engine facts: what each container engine's adapter detects and reads from its
// config (the read side only), plus containerd's merged config. Gathered once with
// the other host facts; checks read them and never re-read or re-run.
import { existsSync } from "node:fs";
import { configDump } from "../engines/containerd/dump.ts";
import { ENGINES, ENGINE_NAMES, type EngineName } from "../engines/index.ts";
import { HOST_ROOT_ENGINES } from "../engines/types.ts";
import { DEFAULT_WRAPPER_DIR } from "../engines/edit/runtime-args.ts";
import type { EngineContext, EngineDetection, EngineInspection } from "../engines/types.ts";
import type { DaemonSnapshot } from "../engines/snapshot.ts";
import { SELF_ROOT, type HostRoot } from "../os/host-root.ts";

export interface EngineFacts {
  detection: EngineDetection | null;
  /** The engine's config as it declares runtimes (null when not installed or unreadable). */
  inspection: EngineInspection | null;
  /** Why detection or inspection failed, verbatim. */
  error: string | null;
}

export interface EnginesFacts extends Record<EngineName, EngineFacts> {
  /** `containerd config dump` of the config the detected containerd reads. */
  containerdDump: { doc: Record<string, any> | null; error: string | null } | null;
}

function engineContext(env: NodeJS.ProcessEnv, daemons: DaemonSnapshot, root: HostRoot): EngineContext {
  return {
    env,
    daemons,
    wrapperDir: DEFAULT_WRAPPER_DIR,
    force: false,
    now: () => new Date(),
    log: () => {},
    lightDetect: true,
    root,
  };
}

export interface EngineFactsOptions {
  /**
   * Read the engine's config even when the engine is not installed (uninstall: a config
   * that names our runsc must not be left behind because the engine's binary is gone).
   */
  configWithoutEngine?: boolean;
}

export async function engineFacts(
  name: EngineName,
  env: NodeJS.ProcessEnv,
  daemons: DaemonSnapshot,
  root: HostRoot = SELF_ROOT,
  opts: EngineFactsOptions = {},
): Promise<EngineFacts> {
  const adapter = ENGINES[name];
  const ctx = engineContext(env, daemons, root);
  let detection: EngineDetection | null = null;
  try {
    const d = await adapter.detect(ctx);
    detection = d;
    const configOnly = opts.configWithoutEngine && existsSync(root.local(d.configPath));
    if (!d.installed && !d.running && !configOnly) return { detection: d, inspection: null, error: null };
    return { detection: d, inspection: await adapter.inspect(d, ctx), error: null };
  } catch (e) {
    return { detection, inspection: null, error: (e as Error).message };
  }
}

export async function containerdDump(
  f: EngineFacts,
  root: HostRoot = SELF_ROOT,
): Promise<EnginesFacts["containerdDump"]> {
  const d = f.detection;
  // Only a running containerd's merged config matters to the checks.
  if (!d?.installed || !d.binary || !d.running) return null;
  // Without a file containerd runs on its defaults; `-c` of a missing file would fail.
  if (!existsSync(root.local(d.configPath)))
    return { doc: null, error: `${d.configPath} does not exist (containerd runs on its built-in defaults)` };
  return configDump(d.binary, d.configPath, root);
}

/**
 * Detect and inspect every engine. Docker's detection reads `docker info` from the
 * snapshot, so it runs after `dockerReady`; the others start at once.
 */
export async function gatherEngineFacts(
  env: NodeJS.ProcessEnv,
  early: DaemonSnapshot,
  dockerReady: Promise<DaemonSnapshot>,
  root: HostRoot = SELF_ROOT,
): Promise<EnginesFacts> {
  const none: EngineFacts = { detection: null, inspection: null, error: null };
  const facts = Object.fromEntries(
    ENGINE_NAMES.map((n) => [
      n,
      root.foreign && !HOST_ROOT_ENGINES.includes(n)
        ? Promise.resolve(none)
        : n === "docker"
          ? dockerReady.then((full) => engineFacts(n, env, full, root))
          : engineFacts(n, env, early, root),
    ]),
  ) as Record<EngineName, Promise<EngineFacts>>;
  const dump = facts.containerd.then((f) => containerdDump(f, root));
  const each = await Promise.all(ENGINE_NAMES.map(async (n) => [n, await facts[n]] as const));
  return { ...(Object.fromEntries(each) as Record<EngineName, EngineFacts>), containerdDump: await dump };
}
