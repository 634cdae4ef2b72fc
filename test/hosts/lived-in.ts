// A matrix host "lived in" (issue 13): in the state gvisor-doctor leaves a host it served. A
// release installed from the fake bucket into /usr/local, runsc registered with every engine
// (wrappers in /usr/local/libexec/gvisor-doctor), containerd restarted and dockerd reloaded by it.
// Journeys must hold there too, not only on a blank host.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { putBucket, RELEASES } from "./bucket.ts";
import type { Host } from "./host.ts";

export function liveIn(host: Host): void {
  const mirror = putBucket(host);
  // The older release (legacy layout): journey 2 then upgrades it, as a user would.
  // These hosts' cgroup2 has no controllers: --ignore-cgroups, as --fix would add (journey 1 proves it).
  const r = host.run([
    host.doctor,
    "install",
    "--mirror",
    mirror,
    "--version",
    RELEASES.legacy,
    "--restart",
    "--runtime-arg=--ignore-cgroups",
    "--runtime-arg=--network=none",
    "--json",
  ]);
  if (r.code !== 0) throw new Error(`making ${host.name} lived in: install exited ${r.code}\n${r.stderr.slice(-3000)}`);
  // The fake bucket's containerd-shim-runsc-v1 is a busybox stand-in (test/helpers/fake-bucket.ts) and Debian
  // ships no real one: drop the link to it, and let configure register runsc through the runc shim, as it
  // does where no shim is (the state it leaves such a host in; test/hosts/lived-in.sh does the same).
  rmSync(join(host.root, "usr/local/bin/containerd-shim-runsc-v1"), { force: true });
  const c = host.run([host.doctor, "configure", "containerd", "--restart", "--json"]);
  if (c.code !== 0) {
    throw new Error(`making ${host.name} lived in: configure exited ${c.code}\n${c.stderr.slice(-3000)}`);
  }
}
