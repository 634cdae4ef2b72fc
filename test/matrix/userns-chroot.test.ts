// Issue 15: "user namespaces refused … a chroot" for real. runsc needs a user namespace for its gofer
// and sandbox, and the kernel refuses one to a chrooted process. Debian bookworm's runsc (20221219) then
// says only "fork/exec /proc/self/exe: operation not permitted", which once read as a file-permission
// problem (sandbox-permissions: "chmod a+rx"). The doctor tries `unshare --user` itself (host fact
// userns.refused) and names the chroot. The chroot is the matrix's bookworm tree, bound read-only in a
// private mount namespace (the cached tree is never written).
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BINARY } from "../helpers/cli.ts";
import { ensureTree, treeAvailability } from "../hosts/trees.ts";

const avail = treeAvailability("bookworm");

function inChroot(tree: string, argv: string[], opts: { sys: boolean } = { sys: true }) {
  const script = [
    "set -e",
    "m=$(mktemp -d /tmp/gvd-chroot-XXXXXX)",
    `mount --bind -o ro "$1" "$m"`,
    `mount -t proc proc "$m/proc"`,
    ...(opts.sys ? [`mount --rbind /sys "$m/sys"`] : []),
    `mount -t tmpfs tmpfs "$m/tmp"`,
    `cp "$2" "$m/tmp/gvisor-doctor"`,
    "shift 2",
    `exec chroot "$m" /tmp/gvisor-doctor "$@"`,
  ].join("\n");
  return spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", tree, BINARY, ...argv], {
    encoding: "utf8",
    timeout: 120_000,
  });
}
const smokeOf = (stdout: string) => {
  const doc = JSON.parse(stdout);
  return { userns: doc.host.userns, smoke: doc.checks.find((c: { id: string }) => c.id === "runsc.smoke") };
};

test.skipIf(!avail.ok)(
  `runsc in a chroot: runsc.smoke fails with userns-denied, naming the chroot${avail.ok ? "" : ` (skipped: ${avail.reason})`}`,
  async () => {
    const tree = await ensureTree("bookworm");
    const r = inChroot(tree, ["check", "--json", "--offline", "--only", "runsc.smoke"]);
    const { userns, smoke } = smokeOf(r.stdout);
    expect(userns).toMatchObject({ refused: true });
    expect({ status: smoke.status, rule: smoke.diagnosis?.rule }).toEqual({ status: "fail", rule: "userns-denied" });
    expect(smoke.message).toContain("fork/exec /proc/self/exe: operation not permitted");
    expect(smoke.diagnosis.cause).toContain("chroot");
    expect(smoke.diagnosis.fix.id).toBe("host.userns");
    // The same binary outside the chroot: user namespaces are allowed here, runsc starts.
    const here = smokeOf(
      spawnSync(BINARY, ["check", "--json", "--offline", "--only", "runsc.smoke"], { encoding: "utf8" }).stdout,
    );
    expect(here.userns).toEqual({ refused: false, error: null });
    expect(here.smoke.status).not.toBe("fail");
  },
  300_000,
);

test.skipIf(!avail.ok)(
  "runsc in a chroot without /sys: runsc.smoke fails with cgroupfs-missing, fixed by --ignore-cgroups",
  async () => {
    const tree = await ensureTree("bookworm");
    const r = inChroot(tree, ["check", "--json", "--offline", "--only", "runsc.smoke"], { sys: false });
    const { smoke } = smokeOf(r.stdout);
    expect({ status: smoke.status, rule: smoke.diagnosis?.rule }).toEqual({ status: "fail", rule: "cgroupfs-missing" });
    // Which controller's hierarchy runsc stats first varies from run to run (a Go map): any of them.
    expect(smoke.diagnosis.cause).toMatch(/^\/sys\/fs\/cgroup\/[\w,]+ does not exist where runsc runs/);
    expect(smoke.diagnosis.fix.argv).toContain("--runtime-arg=--ignore-cgroups");
  },
  300_000,
);
