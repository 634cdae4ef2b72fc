// The engine registry: every adapter, in the order `configure all` handles them.
// Commands and checks reach engines only through here.
import { containerdAdapter } from "./containerd/adapter.ts";
import { crioAdapter } from "./crio/adapter.ts";
import { dockerAdapter } from "./docker/adapter.ts";
import { podmanAdapter } from "./podman/adapter.ts";
import { ENGINE_NAMES, type EngineAdapter, type EngineName } from "./types.ts";

export const ENGINES: Record<EngineName, EngineAdapter<any>> = {
  docker: dockerAdapter,
  containerd: containerdAdapter,
  podman: podmanAdapter,
  crio: crioAdapter,
};

export function adapterFor(name: EngineName): EngineAdapter<any> {
  return ENGINES[name];
}

export { ENGINE_NAMES };
export type { EngineAdapter, EngineName };
