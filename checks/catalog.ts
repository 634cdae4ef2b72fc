// The check catalog, in the order findings are printed. A check must come after
// every check it needs (the engine relies on it; a unit test enforces it).
import { dockerDaemon, dockerHello, dockerRuntime } from "./docker.ts";
import { hostKernel, hostPlatform } from "./host.ts";
import { runscBinary, runscPermissions } from "./runsc.ts";
import { sandboxSelf } from "./sandbox.ts";
import type { Check } from "./types.ts";

export const CATALOG: Check[] = [
  hostPlatform,
  hostKernel,
  runscBinary,
  runscPermissions,
  dockerDaemon,
  dockerRuntime,
  dockerHello,
  sandboxSelf,
];
