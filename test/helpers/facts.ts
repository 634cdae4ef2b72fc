// Host facts for unit tests of checks and rules: a plain x86_64 Linux host (Yama 1, user namespaces allowed,
// /tmp a directory) with only the fields those read. `over` replaces whole fields; its keys are HostFacts'
// keys, its values as partial as the test needs (hence the cast).
import type { HostFacts } from "../../platform/facts/host-facts.ts";

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
