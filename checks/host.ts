// Host checks: can this machine run gVisor at all?
import { gvisorArch } from "../platform/arch.ts";
import semver from "semver";
import { fail, pass, warn, type Check } from "./types.ts";

const VM_HELP =
  "gVisor runs only on Linux. Docker Desktop, Colima and OrbStack run dockerd inside a Linux VM: install runsc inside that VM " +
  "(colima ssh / orb / Docker Desktop's VM) and register it in the VM's daemon.json (Docker Desktop: Settings → Docker Engine).";

export const hostPlatform: Check = {
  id: "host.platform",
  title: "Operating system and CPU architecture",
  run({ facts }) {
    if (facts.os !== "linux") {
      const where = facts.os === "darwin" ? "macOS" : facts.os === "win32" ? "Windows" : facts.os;
      return fail(`${where} is not supported: gVisor needs a Linux kernel`, {
        cause: VM_HELP,
        fix: { id: "host.use-linux-vm", summary: "Run gvisor-doctor inside the Linux VM that runs your containers", command: facts.os === "darwin" ? "colima ssh -- sh -c 'curl -fsSL <gvisor-doctor install.sh> | sh'" : null, automatic: false },
      });
    }
    const arch = gvisorArch(facts.arch);
    if (!arch) {
      return fail(`Linux ${facts.arch} is not supported`, { cause: "gVisor publishes runsc for x86_64 and aarch64 only.", fix: { id: "host.unsupported-arch", summary: "Use an x86_64 or aarch64 machine", command: null, automatic: false } });
    }
    return pass(`Linux ${arch} (${facts.libc})`, [`kernel ${facts.kernel.release}`, `uid ${facts.user.uid}${facts.user.root ? " (root)" : ""}`, `init: ${facts.systemd ? "systemd" : "not systemd"}`]);
  },
};

/** Kernels with the memlock bug that breaks gofer mounts (gVisor FAQ #memlock). */
export function memlockBug(v: string): boolean {
  return semver.satisfies(v, ">=5.1.0 <=5.3.15 || 5.4.2 || >=5.5.0 <5.6.0");
}

export const hostKernel: Check = {
  id: "host.kernel",
  title: "Linux kernel version",
  needs: ["host.platform"],
  run({ facts }) {
    const v = facts.kernel.version;
    if (!v) return warn(`cannot parse kernel release "${facts.kernel.release}"`);
    if (semver.lt(v, "4.14.77")) {
      return fail(`kernel ${facts.kernel.release} is too old`, { cause: "gVisor needs Linux 4.14.77 or newer (5.6+ for releases after 20260817).", fix: { id: "host.upgrade-kernel", summary: "Upgrade the kernel to 5.6 or newer", command: null, automatic: false } });
    }
    if (memlockBug(v)) {
      return warn(`kernel ${facts.kernel.release} has the memlock bug (5.1–5.3.15, 5.4.2, 5.5)`, {
        cause: "Mounts fail with \"mount submount ... input/output error\" on these kernels.",
        fix: { id: "host.memlock", summary: "Upgrade the kernel, or set LimitMEMLOCK=infinity for containerd/dockerd", command: "systemctl edit containerd  # [Service] LimitMEMLOCK=infinity", automatic: false },
      });
    }
    if (semver.lt(v, "5.6.0")) {
      return warn(`kernel ${facts.kernel.release} is older than 5.6`, { cause: "gVisor releases after 20260817 need Linux 5.6+ (openat2); older releases still run on 4.14.77+.", fix: { id: "host.upgrade-kernel", summary: "Upgrade the kernel to 5.6 or newer, or pin gVisor to release 20260817.0", command: "gvisor-doctor install --version 20260817.0", automatic: false } });
    }
    return pass(`${facts.kernel.release} (5.6+ required)`);
  },
};
