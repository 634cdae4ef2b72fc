// Host facts and check contexts for unit tests of checks and rules: a plain x86_64 Linux host (Yama 1, user
// namespaces allowed, /tmp a directory) with only the fields those read. `over` replaces whole fields; its keys
// are HostFacts' keys, its values as partial as the test needs (hence the cast).
import type { Check, CheckContext, Finding, Outcome } from "../../checks/types.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { inspectRunsc } from "../../platform/runsc/binaries.ts";

const PLAIN_HOST = {
  os: "linux",
  arch: "x86_64",
  wsl: false,
  cpu: { xsave: true, avx2: true },
  sysctl: { ptraceScope: 1, maxUserNamespaces: 1000 },
  tmp: { path: "/tmp", symlink: false, target: null },
};

export function fakeFacts(over: { [K in keyof HostFacts]?: unknown } = {}): HostFacts {
  return { ...PLAIN_HOST, ...over } as unknown as HostFacts;
}

/** A check's context on `facts`, offline and not quick; every finding it depends on passed, with `data`. */
export function checkContext(facts: HostFacts, env: NodeJS.ProcessEnv = process.env, data?: unknown): CheckContext {
  return {
    facts,
    options: { quick: false, offline: true, verbose: false, env },
    finding: (id: string) => ({ id, status: "pass", data }) as unknown as Finding,
    signal: new AbortController().signal,
  } as CheckContext;
}

/** `check` against the runsc at `path` (a binary or a wrapper), inspected as the host facts would. */
export async function runWithRunsc(
  check: Check,
  path: string,
  facts: HostFacts,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Outcome> {
  const bin = await inspectRunsc(path, true);
  return (await check.run(checkContext({ ...facts, runsc: [bin] }, env, bin))) as Outcome;
}
