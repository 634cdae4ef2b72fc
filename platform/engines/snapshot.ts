// What an adapter may know of the daemons running here before it looks itself: the daemon snapshot. Declared
// in the engine layer and built by the caller (platform/facts/ gathers it once; HostFacts is one), so the
// engines never import the facts. A field left out was not gathered: the adapter finds it on its own.
import type { DaemonProcess } from "../os/processes.ts";
import type { DockerDaemonFacts } from "./docker/client.ts";

export interface DaemonSnapshot {
  /** The dockerd processes of this machine. */
  dockerd?: DaemonProcess[];
  /** The containerd processes of the root being configured (the node's with --host-root). */
  containerd?: DaemonProcess[];
  /** The CRI-O processes of the root being configured. */
  crio?: DaemonProcess[];
  /** The dockerd behind DOCKER_HOST and what it said (`docker info`). */
  docker?: DockerDaemonFacts;
}
