// The check catalog, in the order findings are printed. A check must come after
// every check it needs (the engine relies on it; a unit test enforces it).
// Ids are part of the JSON contract.
import { dockerDaemon, dockerHello, dockerNetwork, dockerRuntime, dockerRuntimePath, dockerSignature } from "./docker.ts";
import { k8sRuntimeClass } from "./k8s.ts";
import { hostCgroups, hostContainer, hostCpu, hostKernel, hostKvm, hostPlatform, hostPtrace, hostTmp, hostUserns, hostWsl } from "./host.ts";
import { runscBinary, runscPermissions, runscShim, runscSidecars, runscSmoke, runscVersion } from "./runsc.ts";
import { sandboxSelf } from "./sandbox.ts";
import type { Check } from "./types.ts";

export const CATALOG: Check[] = [
  hostPlatform,
  hostWsl,
  hostKernel,
  hostCpu,
  hostKvm,
  hostPtrace,
  hostUserns,
  hostCgroups,
  hostTmp,
  hostContainer,
  runscBinary,
  runscPermissions,
  runscVersion,
  runscSidecars,
  runscShim,
  runscSmoke,
  dockerDaemon,
  dockerRuntime,
  dockerRuntimePath,
  dockerHello,
  dockerSignature,
  dockerNetwork,
  k8sRuntimeClass,
  sandboxSelf,
];
