// "Am I inside gVisor?" — informational for `check`, decisive for `preflight`.
import { GVISOR_MARKER_FILE } from "../platform/facts/self-sandbox.ts";
import { pass, type Check } from "./types.ts";

export const sandboxSelf: Check = {
  id: "sandbox.self",
  title: "This process runs inside gVisor",
  requires: { thisMachine: true },
  run({ facts }) {
    const g = facts.gvisor;
    const e = g.evidence;
    const details = [
      `${GVISOR_MARKER_FILE}: ${e.kernelIsGvisor ? "gvisor" : "absent"}`,
      `/proc/sentry-meminfo: ${e.sentryMeminfo ? "present" : "absent"}`,
      `dmesg: ${e.dmesgFirstLine ?? `unavailable (${e.dmesgError})`}`,
      `uname -r: ${e.kernelRelease}`,
    ];
    if (g.inside) return pass(`inside gVisor (${g.tells.join(", ")})`, details, g);
    return pass(
      `not inside gVisor${facts.container.inside ? ` (in a container: ${facts.container.tells.join(", ")})` : ""}`,
      details,
      g,
    );
  },
};
