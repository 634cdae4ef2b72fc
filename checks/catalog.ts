// The check catalog, in the order findings are printed. Ids are part of the JSON
// contract. `needs` may point anywhere in the list, but never in a cycle (a unit test checks).
import {
  dockerConfig,
  dockerDaemon,
  dockerHello,
  dockerNetwork,
  dockerRuntime,
  dockerRuntimePath,
  dockerSignature,
} from "./docker.ts";
import { k8sRuntimeClass } from "./k8s.ts";
import { nodeRuntime } from "./node.ts";
import { containerdConfig, containerdDaemon, containerdHello, containerdRuntime } from "./containerd.ts";
import { crioRuntime } from "./crio.ts";
import { podmanHello, podmanRuntime } from "./podman.ts";
import {
  hostCgroups,
  hostContainer,
  hostCpu,
  hostKernel,
  hostKvm,
  hostMemlock,
  hostMmapMinAddr,
  hostPlatform,
  hostPtrace,
  hostSeccomp,
  hostTmp,
  hostUserns,
  hostWsl,
} from "./host.ts";
import { runscBinary, runscPermissions, runscShim, runscSidecars, runscSmoke, runscVersion } from "./runsc.ts";
import { sandboxSelf } from "./sandbox.ts";
import type { Check } from "./types.ts";

export const CATALOG: Check[] = [
  hostPlatform,
  hostWsl,
  hostKernel,
  hostMemlock,
  hostSeccomp,
  hostMmapMinAddr,
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
  dockerConfig,
  dockerRuntime,
  dockerRuntimePath,
  dockerHello,
  dockerSignature,
  dockerNetwork,
  containerdDaemon,
  containerdConfig,
  containerdRuntime,
  containerdHello,
  podmanRuntime,
  podmanHello,
  crioRuntime,
  nodeRuntime,
  k8sRuntimeClass,
  sandboxSelf,
];
