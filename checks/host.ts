// Host checks: can this machine run gVisor at all, and what about it matters?
import semver from "semver";
import { gvisorArch } from "../platform/os/arch.ts";
import { ALLOW_USERNS, diagnoseState, finiteMemlock, type RuleContext } from "./rules.ts";
import { fail, pass, skip, warn, type Check, type CheckContext } from "./types.ts";

const rc = (ctx: CheckContext): Omit<RuleContext, "match"> => ({ facts: ctx.facts, engine: "runsc", runtime: "runsc" });

export const hostPlatform: Check = {
  id: "host.platform",
  title: "Operating system and CPU architecture",
  run(ctx) {
    const { facts } = ctx;
    if (facts.os !== "linux") {
      const where = facts.os === "darwin" ? "macOS" : facts.os === "win32" ? "Windows" : facts.os;
      return fail(`${where} is not supported: gVisor needs a Linux kernel`, diagnoseState("not-linux", rc(ctx)));
    }
    const arch = gvisorArch(facts.arch);
    if (!arch) {
      return fail(`Linux ${facts.arch} is not supported`, {
        cause: "gVisor publishes runsc for x86_64 and aarch64 only.",
        fix: {
          id: "host.unsupported-arch",
          summary: "Use an x86_64 or aarch64 machine",
          command: null,
          automatic: false,
        },
      });
    }
    return pass(`Linux ${arch} (${facts.libc})`, [
      `kernel ${facts.kernel.release}`,
      `uid ${facts.user.uid}${facts.user.root ? " (root)" : ""}`,
      `init: ${facts.systemd ? "systemd" : "not systemd"}`,
    ]);
  },
};

export const hostWsl: Check = {
  id: "host.wsl",
  title: "Not Windows Subsystem for Linux",
  needs: ["host.platform"],
  run(ctx) {
    if (ctx.facts.wsl)
      return warn("this is WSL2: gVisor under WSL is very much unsupported", diagnoseState("wsl", rc(ctx)));
    return pass("not WSL");
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
  run(ctx) {
    const { facts } = ctx;
    const v = facts.kernel.version;
    if (!v) return warn(`cannot parse kernel release "${facts.kernel.release}"`);
    const old = () => diagnoseState("kernel-too-old", rc(ctx));
    if (semver.lt(v, "4.14.77")) return fail(`kernel ${facts.kernel.release} is too old`, old());
    if (semver.lt(v, "5.6.0")) return warn(`kernel ${facts.kernel.release} is older than 5.6`, old());
    return pass(`${facts.kernel.release} (5.6+ required)`);
  },
};

export const hostMemlock: Check = {
  id: "host.memlock",
  title: "Memlock limits on kernels with the memlock bug",
  needs: ["host.platform"],
  run(ctx) {
    const { facts } = ctx;
    const v = facts.kernel.version;
    const shown = (facts.memlock ?? []).map(
      (m) => `${m.who}${m.pid ? ` (pid ${m.pid})` : ""}: memlock ${m.soft ?? "unlimited"}`,
    );
    if (!v || !memlockBug(v)) return pass(`kernel ${facts.kernel.release} has no memlock bug`, shown);
    const finite = finiteMemlock(facts).filter((m) => m.who !== "self");
    const bug = `kernel ${facts.kernel.release} has the memlock bug (5.1–5.3.15, 5.4.2, 5.5)`;
    if (finite.length) {
      const which = finite.map((m) => `${m.who} ${m.soft} bytes`).join(", ");
      return fail(`${bug} and a finite memlock limit: ${which}`, diagnoseState("memlock-kernel", rc(ctx)), shown);
    }
    const daemons = (facts.memlock ?? []).filter((m) => m.who !== "self");
    if (daemons.length) return pass(`${bug}, worked around: the engines' memlock is unlimited`, shown);
    const unseen = `${bug}; no engine daemon seen to check its memlock limit`;
    return warn(unseen, diagnoseState("memlock-kernel", rc(ctx)), shown);
  },
};

export const hostSeccomp: Check = {
  id: "host.seccomp",
  title: "The kernel has seccomp",
  needs: ["host.platform"],
  run(ctx) {
    const s = ctx.facts.seccomp;
    if (!s || s.available === null) return warn("cannot read /proc/self/status");
    if (!s.available) {
      const msg = "no Seccomp line in /proc/self/status: the kernel lacks CONFIG_SECCOMP";
      return fail(msg, diagnoseState("seccomp-unavailable", rc(ctx)));
    }
    const mode = s.mode === 2 ? `, this process runs under ${s.filters ?? "a"} seccomp filter(s)` : "";
    return pass(`seccomp available (mode ${s.mode}${mode})`);
  },
};

export const hostMmapMinAddr: Check = {
  id: "host.mmap-min-addr",
  title: "/proc/sys/vm/mmap_min_addr is readable (runsc reads it at start)",
  needs: ["host.platform"],
  run(ctx) {
    const m = ctx.facts.mmapMinAddr;
    if (!m) return skip("not gathered");
    if (m.error !== null) {
      const d = diagnoseState("mmap-min-addr-unreadable", rc(ctx));
      return fail(`cannot read /proc/sys/vm/mmap_min_addr: ${m.error}`, d);
    }
    return pass(`vm.mmap_min_addr = ${m.value}`);
  },
};

export const hostCpu: Check = {
  id: "host.cpu",
  title: "CPU features gVisor needs (XSAVE on x86)",
  needs: ["host.platform"],
  run(ctx) {
    const { facts } = ctx;
    if (facts.arch !== "x86_64") return pass(`${facts.arch}: no extra CPU feature needed`);
    if (facts.cpu.xsave === null) return warn("cannot read CPU flags from /proc/cpuinfo");
    if (!facts.cpu.xsave) return fail("the CPU lacks XSAVE", diagnoseState("no-xsave", rc(ctx)));
    return pass(`XSAVE present${facts.cpu.avx2 ? ", AVX2 present" : ""}`);
  },
};

export const hostKvm: Check = {
  id: "host.kvm",
  title: "KVM platform availability (informational)",
  needs: ["host.platform"],
  run({ facts }) {
    if (facts.kvm.usable)
      return pass(
        "/dev/kvm is usable: --platform=kvm is possible (best on bare metal; systrap is usually faster in VMs)",
      );
    if (facts.kvm.present)
      return pass("/dev/kvm exists but is not accessible to this user: runsc uses systrap (the default)", [
        "add the user to the kvm group to use --platform=kvm",
      ]);
    return pass("no /dev/kvm: runsc uses systrap (the default platform)");
  },
};

export const hostPtrace: Check = {
  id: "host.ptrace",
  title: "ptrace is allowed (Yama ptrace_scope ≤ 2)",
  needs: ["host.platform"],
  run(ctx) {
    const s = ctx.facts.sysctl.ptraceScope;
    if (s === null) return pass("Yama is not enabled");
    if (s <= 2) return pass(`kernel.yama.ptrace_scope = ${s}`);
    return fail(`kernel.yama.ptrace_scope = ${s}: no process may ptrace`, diagnoseState("ptrace-blocked", rc(ctx)));
  },
};

export const hostUserns: Check = {
  id: "host.userns",
  title: "User namespaces (user.max_user_namespaces)",
  needs: ["host.platform"],
  run({ facts }) {
    const n = facts.sysctl.maxUserNamespaces;
    if (n === null) return pass("not limited (no user.max_user_namespaces)");
    const fix = {
      id: "host.userns",
      summary: "Allow at least 256 user namespaces",
      command: ALLOW_USERNS,
      automatic: false,
    };
    if (n < 2)
      return fail(`user.max_user_namespaces = ${n}: the gofer and the sandbox each need one`, {
        cause: "runsc creates a user namespace for the sandbox and one for the gofer.",
        fix,
      });
    if (n < 256)
      return warn(`user.max_user_namespaces = ${n} (256+ recommended)`, {
        cause: "Each sandbox uses user namespaces; a low limit caps how many containers can run.",
        fix,
      });
    return pass(`user.max_user_namespaces = ${n}`);
  },
};

export const hostCgroups: Check = {
  id: "host.cgroups",
  title: "cgroups",
  needs: ["host.platform"],
  run({ facts }) {
    const v = facts.cgroup.version;
    if (v === null)
      return warn("no /sys/fs/cgroup: runsc cannot apply resource limits", {
        cause: "cgroupfs is not mounted.",
        fix: {
          id: "host.mount-cgroups",
          summary: "Mount cgroup2 at /sys/fs/cgroup",
          command: "sudo mount -t cgroup2 none /sys/fs/cgroup",
          automatic: false,
        },
      });
    const details =
      facts.container.inside && v === 2
        ? [
            'inside a container on cgroup v2: if runsc fails with "cgroup.subtree_control: device or resource busy", run it with --ignore-cgroups',
          ]
        : [];
    return pass(`cgroup v${v}${facts.systemd ? ", managed by systemd" : ""}`, details);
  },
};

export const hostTmp: Check = {
  id: "host.tmp",
  title: "The sandbox's temp directory is a real directory",
  needs: ["host.platform"],
  run(ctx) {
    const t = ctx.facts.tmp;
    if (t.symlink) return fail(`${t.path} is a symlink to ${t.target}`, diagnoseState("tmp-symlink", rc(ctx)));
    return pass(`${t.path} is a directory`);
  },
};

export const hostContainer: Check = {
  id: "host.container",
  title: "Running inside a container?",
  requires: { thisMachine: true },
  needs: ["host.platform"],
  run({ facts }) {
    const c = facts.container;
    if (!c.inside) return pass("not inside a container");
    const details = [
      "engine configs edited here belong to this container, not to the host's engines",
      "runsc inside a container needs privileges (CAP_SYS_ADMIN, ptrace) and often --ignore-cgroups; use `gvisor-doctor exec` or run on the host",
    ];
    return pass(`inside a container (${c.tells.join(", ")}${c.kubernetes ? ", Kubernetes pod" : ""})`, details);
  },
};
