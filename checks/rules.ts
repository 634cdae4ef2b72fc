// Diagnosis rules: real failure signatures (gvisor-facts §7) as data. A rule says
// where it applies, what it matches (error text and/or host facts), the cause in the
// user's terms, and the fix. Checks never hand-write these explanations: they ask
// `diagnose()` (error text) or `diagnoseState()` (a known broken state).
import semver from "semver";
import type { HostFacts } from "../platform/facts/host-facts.ts";
import { installedReleaseOf } from "../platform/release/layout.ts";
import { GOID_OFFSET_CHANGE, primaryRunsc, readsWrongGoroutineId } from "../platform/runsc/binaries.ts";
import { unknownFlags } from "../platform/runsc/features.ts";
import { ENGINES } from "../platform/engines/index.ts";
import type { EngineName } from "../platform/engines/types.ts";
import { actionFix } from "./fix-actions.ts";
import { matchesId } from "./runner.ts";
import type { ConfigureTarget, Diagnosis, Fix } from "./types.ts";

/** An engine, or runsc itself (rules about the binary, whatever engine runs it). */
export type Engine = EngineName | "runsc";

export interface RuleContext {
  facts: HostFacts;
  engine: Engine;
  /** Runtime name as registered (default "runsc"). */
  runtime: string;
  /** The engine's config file, when known. */
  configPath?: string;
  /** Values captured by the rule's pattern (e.g. a path from the error). */
  match?: RegExpMatchArray | null;
}

export interface Rule {
  id: string;
  /** Row in gvisor-facts §7 (documentation cross-reference). */
  ref: number;
  title: string;
  /** Check ids (or prefixes) whose errors this rule reads. */
  scope: string[];
  /** The error text signature; absent for rules that match host state only. */
  pattern?: RegExp;
  /** Extra condition on host facts (and the match); a state rule matches on this alone. */
  when?: (facts: HostFacts, match?: RegExpMatchArray) => boolean;
  /** A sample of the real error text (tests feed it; docs quote it). */
  sample?: string;
  cause: (c: RuleContext) => string;
  fix: (c: RuleContext) => Fix;
}

const engineOf = (c: RuleContext): ConfigureTarget => (c.engine === "runsc" ? "all" : c.engine);
/** Register (or update) the runtime with the engine; `args` are runsc flags to add. */
export const registerFix = (c: RuleContext, summary?: string, args: string[] = []): Fix => {
  // Never register a flag the installed runsc rejects ("flag provided but not defined"): upgrade instead.
  const r = primaryRunsc(c.facts.runsc ?? []);
  const unknown = unknownFlags(r?.features, args).map((a) => `--${a.replace(/^--?/, "")}`);
  if (unknown.length) {
    const what = `${r!.path} (${r!.version?.raw ?? r!.versionText}) does not know ${unknown.join(", ")}`;
    return installFix(c, `Install a current gVisor release: ${what}, which the fix needs`);
  }
  // An engine without live reload (containerd, CRI-O) takes a config change only with a restart.
  const engine = c.engine === "runsc" ? null : ENGINES[c.engine];
  const restart = !!engine && !engine.liveReload;
  const where = c.configPath ? ` in ${c.configPath}` : "";
  return actionFix(
    `${c.engine}.register-runtime`,
    summary ?? `Register ${c.runtime} with ${c.engine}${where} and ${restart ? "restart" : "reload"} it`,
    {
      kind: "configure",
      engines: [engineOf(c)],
      ...(args.length ? { runtimeArgs: args } : {}),
      ...(restart ? { restart } : {}),
    },
    restart ? { confirm: `restarts ${engine!.title}` } : {},
  );
};
/**
 * Install (or reinstall) gVisor. When the runsc in use was installed by gvisor-doctor
 * (<prefix>/lib/gvisor/<version>/runsc), reinstall into that prefix; `sameRelease` pins
 * the live version (a repair, not an upgrade).
 */
export function installFix(
  c: Pick<RuleContext, "facts">,
  summary: string,
  opts: { force?: boolean; sameRelease?: boolean } = {},
): Fix {
  const r = primaryRunsc(c.facts.runsc ?? []);
  const ours = r ? installedReleaseOf(r.realPath) : null;
  return actionFix("runsc.install", summary, {
    kind: "install",
    ...(opts.force ? { force: true } : {}),
    ...(ours && ours.prefix !== "/usr/local" ? { prefix: ours.prefix } : {}),
    ...(ours && opts.sameRelease ? { version: ours.version } : {}),
  });
}
/** A runsc flag as the engine's fixes spell it (Podman: without the dashes, as --runtime-flag takes it). */
const flag = (c: RuleContext, f: string) => (c.engine === "runsc" ? `--${f}` : ENGINES[c.engine].runtimeFlag(f));

/** The engine daemon's Seccomp line: whether a filter around it denies what runsc needs (ptrace, seccomp). */
const ENGINE_SECCOMP_LINE = "grep -H Seccomp /proc/$(pidof -s dockerd || pidof -s containerd)/status";
/** Raise user.max_user_namespaces for good (host.userns and the userns-denied rule). */
export const ALLOW_USERNS =
  "echo 'user.max_user_namespaces = 15000' | sudo tee /etc/sysctl.d/10-gvisor-userns.conf && sudo sysctl --system";
/** The fix for a runsc built with a Go its release does not know (the panic and the warning ahead of it). */
const GVISOR_OWN_BUILD = "Install gVisor's own build of a current release (built with the Go it was written for)";

/** Why a runsc reads a wrong goroutine id (rules runsc-goroutine-panic, runsc-go-toolchain). */
function goroutineIdCause(facts: HostFacts, what: string): string {
  const r = primaryRunsc(facts.runsc ?? []);
  const build = r
    ? `${r.path} (${r.version?.raw ?? r.versionText}${r.goVersion ? `, built with ${r.goVersion}` : ""})`
    : "runsc";
  const [maj, min] = GOID_OFFSET_CHANGE.go;
  return (
    `${what}: ${build} reads the Go runtime's goroutine id at the offset of the Go versions its release ` +
    `knew; Go ${maj}.${min} moved it, and gVisor releases before ${GOID_OFFSET_CHANGE.knownSince.slice(0, 4)}-` +
    `${GOID_OFFSET_CHANGE.knownSince.slice(4, 6)} do not know that. A distribution that builds such a release with ` +
    `a newer Go (Debian sid: runsc 20240729 with go1.26) ships a runsc whose sandboxes panic at random, most often ` +
    "when a container starts several processes: an exit status 2 with nothing on stderr."
  );
}
/** Whether the primary runsc, its sidecars and every parent directory are world-executable (facts). */
const runscWorldExecutable = (f: HostFacts) => {
  const r = primaryRunsc(f.runsc ?? []);
  return !!r?.permissions?.length && r.permissions.every((p) => p.worldOk);
};
const kernelBelow = (f: HostFacts, v: string) => !!f.kernel?.version && semver.lt(f.kernel.version, v);
/** Memlock limits that are finite (what the memlock kernel bug needs lifted). */
export const finiteMemlock = (f: HostFacts) => (f.memlock ?? []).filter((m) => m.soft !== null);

export const RULES: Rule[] = [
  {
    id: "runtime-unknown",
    ref: 1,
    title: "Docker does not know the runsc runtime",
    scope: ["docker."],
    pattern: /unknown or invalid runtime name: (\S+)|Unknown runtime specified (\S+)/,
    sample: "docker: Error response from daemon: unknown or invalid runtime name: runsc.",
    cause: (c) =>
      `dockerd has no "${c.runtime}" runtime: it is missing from ${c.configPath ?? "daemon.json"}, the file was edited but dockerd not reloaded, the file is invalid JSON, or dockerd reads another file (rootless: ~/.config/docker/daemon.json; snap: /var/snap/docker/current/config/daemon.json).`,
    fix: (c) => registerFix(c),
  },
  {
    id: "runtime-path-missing",
    ref: 2,
    title: "The runtime path in the engine config does not exist",
    scope: ["docker.", "containerd.", "podman.", "crio."],
    // Docker says it at `docker run`; containerd's runc shim only when it starts the binary (a deleted wrapper).
    pattern: new RegExp(
      [
        String.raw`error while looking up the specified runtime path: exec: "([^"]+)": stat [^:]+: ` +
          "no such file or directory",
        String.raw`fork/exec (/[^:\s]+): no such file or directory`,
      ].join("|"),
    ),
    sample:
      'docker: Error response from daemon: error while looking up the specified runtime path: exec: "/usr/local/bin/runsc": stat /usr/local/bin/runsc: no such file or directory.',
    cause: (c) =>
      `The engine points the ${c.runtime} runtime at ${c.match?.[1] ?? c.match?.[2] ?? "a path"} that does not ` +
      "exist in the daemon's file system or is not executable (runsc or its gvisor-doctor wrapper moved or " +
      "deleted, installed from a temp dir, or the daemon runs in another VM).",
    fix: (c) => registerFix(c, `Point the ${c.runtime} runtime at an existing runsc`),
  },
  {
    id: "exec-format",
    ref: 3,
    title: "runsc or its shim is not a program for this CPU",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /exec format error/,
    sample: "fork/exec /usr/bin/containerd-shim-runsc-v1: exec format error",
    cause: () => "The binary is for another architecture, or is an HTTP error page saved under the binary's name.",
    fix: (c) => installFix(c, "Reinstall runsc for this architecture from a verified download", { force: true }),
  },
  {
    id: "download-404",
    ref: 4,
    title: "The release file is not in the bucket",
    scope: ["install", "runsc."],
    pattern: /curl: \(22\).*\b404\b|HTTP 404|NoSuchKey/,
    sample: "curl: (22) The requested URL returned error: 404 (…/release/latest/x86_64/runsc)",
    cause: () =>
      "gVisor stopped publishing loose runsc binaries after release 20260817.0 (only gvisor.tar.zstd/.bz2 now), the release is missing from the bucket, or the URL uses amd64/arm64 instead of x86_64/aarch64.",
    fix: (c) => installFix(c, "Install from the release tarball (gvisor-doctor tries zstd, bz2, then loose files)"),
  },
  {
    id: "sidecar-missing",
    ref: 5,
    title: "gVisor sidecar binaries are missing",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /sidecar binary "([^"]+)" not found|Executing embedded copy of sidecar/,
    sample: 'sidecar binary "gvisor_sentry" not found (expected at /usr/local/bin/gvisor-bin/gvisor_sentry)',
    cause: () => "Only runsc was copied: gvisor-bin/ must sit next to the real (symlink-resolved) runsc file.",
    fix: (c) =>
      installFix(c, "Install the whole release tarball so gvisor-bin/ sits next to runsc", {
        force: true,
        sameRelease: true,
      }),
  },
  {
    id: "sidecar-mismatch",
    ref: 6,
    title: "Sidecars come from another gVisor release",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /build label .* does not match the expected release|all gVisor binaries must come from the same release/,
    sample:
      "panic: this binary's build label release-20260720.0 does not match the expected release release-20260817.0; all gVisor binaries must come from the same release",
    cause: () => "runsc and the binaries in gvisor-bin/ were installed from different releases.",
    fix: (c) =>
      installFix(c, "Reinstall every gVisor file from one release tarball", { force: true, sameRelease: true }),
  },
  {
    id: "ptrace-blocked",
    ref: 7,
    title: "ptrace is blocked (Yama ptrace_scope = 3, or a filter around the engine)",
    scope: ["host.ptrace", "runsc.", "docker.", "containerd.", "podman."],
    pattern: /unable to attach: operation not permitted|unable to initialize systrap source/,
    // The same words mean "runsc not executable by nobody" (sandbox-permissions) unless the facts
    // rule that out: Yama 3, or runsc and every parent directory world-executable.
    when: (f) => f.sysctl.ptraceScope === 3 || runscWorldExecutable(f),
    sample: "panic: unable to initialize systrap source: unable to attach: operation not permitted",
    cause: (c) =>
      c.facts.sysctl.ptraceScope === 3
        ? "kernel.yama.ptrace_scope is 3: no process may ptrace, so the systrap platform cannot attach to its " +
          "stub processes."
        : "The sandbox may not ptrace its own stub processes, and it is not file permissions (runsc and its " +
          `directories are world-executable${c.facts.sysctl.ptraceScope === null ? "; Yama is off" : ""}): ` +
          "ptrace(2) is denied around the engine — a seccomp profile (a container's, systemd SystemCallFilter=) " +
          "or an LSM policy (AppArmor, SELinux).",
    fix: (c) =>
      c.facts.sysctl.ptraceScope === 3
        ? {
            id: "host.ptrace-scope",
            automatic: false,
            summary: "Allow ptrace (scope ≤ 2); 3 cannot be lowered without a reboot",
            command:
              "echo 'kernel.yama.ptrace_scope = 1' | sudo tee /etc/sysctl.d/10-gvisor-ptrace.conf  # then reboot",
          }
        : {
            id: "host.ptrace-filter",
            automatic: false,
            summary: "Run the engine without a seccomp/LSM policy that denies ptrace(2) (check its Seccomp line)",
            command: ENGINE_SECCOMP_LINE,
          },
  },
  {
    // runsc reads it in an init function: every runsc command, even --version, panics without it.
    id: "mmap-min-addr-unreadable",
    ref: 16,
    title: "runsc cannot read /proc/sys/vm/mmap_min_addr",
    scope: ["host.mmap-min-addr", "runsc.", "docker.", "containerd.", "podman."],
    pattern: /couldn't (?:open|parse) [^\n]*?\/proc\/sys\/vm\/mmap_min_addr: ([^\n]*)/,
    sample: "panic: couldn't open /proc/sys/vm/mmap_min_addr: open /proc/sys/vm/mmap_min_addr: permission denied",
    cause: (c) =>
      "runsc reads /proc/sys/vm/mmap_min_addr as it starts and panics when it cannot " +
      `(${c.match?.[1] ?? c.facts.mmapMinAddr?.error ?? "unreadable"}), so every runsc command fails, even ` +
      "--version: /proc/sys is masked, mounted over or denied to it (a container that hides /proc/sys, an LSM policy).",
    fix: () => ({
      id: "host.mmap-min-addr",
      automatic: false,
      summary: "Let runsc read /proc/sys/vm/mmap_min_addr: run it (and the engine) where /proc/sys is not masked",
      command: "cat /proc/sys/vm/mmap_min_addr; grep -w /proc/sys /proc/self/mountinfo",
    }),
  },
  {
    // Real: runsc 20221219's gofer ("installing seccomp filters") and 20240729's ("cannot determine
    // default seccomp action") when seccomp(2) fails with ENOSYS; stderr only said "sync file … EOF".
    id: "seccomp-unavailable",
    ref: 16,
    title: "seccomp is not available to runsc",
    scope: ["host.seccomp", "runsc.", "docker.", "containerd.", "podman."],
    pattern: /(?:installing seccomp filters|cannot determine default seccomp action): function not implemented/,
    sample: "panic: cannot determine default seccomp action: function not implemented",
    cause: (c) =>
      c.facts.seccomp?.available === false
        ? "This kernel has no seccomp (/proc/self/status has no Seccomp line: CONFIG_SECCOMP is off); gVisor " +
          "filters its own system calls and its systrap platform traps the workload's with seccomp."
        : "seccomp(2) failed with ENOSYS for runsc although this kernel has seccomp (Seccomp line in " +
          "/proc/self/status): the engine runs under a filter that denies seccomp(2) (a container's seccomp " +
          "profile, systemd SystemCallFilter=), or the kernel lacks CONFIG_SECCOMP_FILTER.",
    fix: (c) =>
      c.facts.seccomp?.available === false
        ? {
            id: "host.seccomp",
            automatic: false,
            summary: "Boot a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y",
            command: "grep SECCOMP /boot/config-$(uname -r)",
          }
        : {
            id: "host.seccomp",
            automatic: false,
            summary: "Run the engine without a seccomp filter that denies seccomp(2)",
            command: ENGINE_SECCOMP_LINE,
          },
  },
  {
    // Releases after 20260817.0 open files with openat2 (Linux 5.6). The exact words of that failure
    // were not seen here (no such release or kernel on this machine): the errno is what the kernel gives.
    id: "kernel-too-old",
    ref: 16,
    title: "The kernel is older than gVisor needs",
    scope: ["host.kernel", "runsc.", "docker.", "containerd.", "podman."],
    pattern: /openat2[^\n]*function not implemented/,
    when: (f) => kernelBelow(f, "5.6.0"),
    sample: "openat2 /: function not implemented",
    cause: (c) =>
      kernelBelow(c.facts, "4.14.77")
        ? `Linux ${c.facts.kernel?.release} is older than 4.14.77: no gVisor release runs on it.`
        : `Linux ${c.facts.kernel?.release ?? "(this kernel)"} is older than 5.6: gVisor releases after 20260817 ` +
          "need openat2 (5.6); older releases still run on 4.14.77+.",
    fix: (c) =>
      kernelBelow(c.facts, "4.14.77")
        ? { id: "host.upgrade-kernel", summary: "Upgrade the kernel to 5.6 or newer", command: null, automatic: false }
        : {
            id: "host.upgrade-kernel",
            automatic: false,
            summary: "Upgrade the kernel to 5.6 or newer, or pin gVisor to release 20260817.0",
            command: "sudo gvisor-doctor install --version 20260817.0",
          },
  },
  {
    // Before sandbox-permissions: the same words, but for a normal user without subordinate ids the
    // sandbox's user (nobody) is not mapped in the engine's user namespace at all.
    id: "subids-missing",
    ref: 24,
    title: "A rootless engine without subordinate ids for the user",
    scope: ["podman.", "docker."],
    pattern: /fork\/exec \/proc\/self\/exe: operation not permitted/,
    when: (f) => f.user?.root === false && f.user.subIds === false,
    sample:
      "Error: /usr/bin/runsc: creating container: cannot create sandbox: cannot create sandbox process: " +
      "starting sandbox: fork/exec /proc/self/exe: operation not permitted: OCI permission denied",
    cause: () =>
      "/etc/subuid or /etc/subgid gives this user no range, so the rootless engine's user namespace maps" +
      " only your own uid: runsc cannot switch its sandbox to the user nobody there.",
    fix: () => ({
      id: "host.subids",
      automatic: false,
      summary:
        "Give the user a range of subordinate ids no other user has (root edits /etc/subuid and" +
        " /etc/subgid), then let Podman pick it up",
      command:
        'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"' + " && podman system migrate",
    }),
  },
  {
    // Before sandbox-permissions: the same fork/exec text, but runsc names the real cause.
    id: "userns-denied",
    ref: 24,
    title: "The kernel refuses runsc a user namespace",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    // runsc ≥ 2023 names the sysctl; 20221219 says only "operation not permitted": then the host fact decides
    // (an `unshare --user` this process tried was refused), not a guess at file permissions.
    pattern:
      /fork\/exec \/proc\/self\/exe: operation not permitted(: check whether \/proc\/sys\/user\/max_user_namespaces)?/,
    when: (f, m) => !!m?.[1] || f.userns?.refused === true,
    sample:
      "gofer: fork/exec /proc/self/exe: operation not permitted: check whether /proc/sys/user/max_user_namespaces is set too low",
    cause: (c) =>
      c.facts.sysctl.maxUserNamespaces === 0
        ? "user.max_user_namespaces is 0: the kernel refuses the user namespace runsc's gofer runs in."
        : `user.max_user_namespaces is ${c.facts.sysctl.maxUserNamespaces ?? "unknown"}, so the kernel refuses the user namespace for another reason: the engine (and runsc) run chrooted — the kernel denies new user namespaces to a process whose root is not its mount namespace's root. Start the engine with pivot_root (a container runtime, systemd-nspawn), not chroot.`,
    fix: (c) => ({
      id: "host.userns",
      automatic: false,
      summary:
        c.facts.sysctl.maxUserNamespaces === 0
          ? "Allow user namespaces (user.max_user_namespaces > 0)"
          : "Run the engine in its own mount namespace with pivot_root instead of a chroot",
      command: c.facts.sysctl.maxUserNamespaces === 0 ? ALLOW_USERNS : null,
    }),
  },
  {
    id: "sandbox-permissions",
    ref: 7,
    title: "The sandbox user (nobody) cannot execute runsc",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern:
      /unable to attach: operation not permitted|fork\/exec \/proc\/self\/exe: (?:invalid argument|operation not permitted)/,
    sample: "fork/exec /proc/self/exe: invalid argument: unknown",
    cause: () =>
      "runsc re-executes itself as nobody: runsc, gvisor-bin/ and every parent directory must be world-readable and executable (chmod a+rx).",
    fix: () =>
      actionFix(
        "runsc.fix-permissions",
        "Make runsc, gvisor-bin and their parent directories world-readable and executable",
        { kind: "chmod" },
      ),
  },
  {
    id: "netns-root",
    ref: 8,
    title: "runsc's sandbox network cannot start here",
    scope: ["docker.", "containerd.", "podman.", "runsc."],
    pattern: /cannot run with network enabled in root network namespace/,
    sample:
      'docker: Error response from daemon: OCI runtime start failed: starting container: setting up network: creating interfaces from net namespace "/proc/3805/ns/net": cannot run with network enabled in root network namespace: unknown.',
    cause: () =>
      "runsc's own network stack (--network=sandbox, the default) needs a private network namespace, and this engine or kernel gives it the root one (rootless engines, --net=host, some VMs and kernels).",
    fix: (c) =>
      registerFix(
        c,
        `Run ${c.runtime} with --network=none (no network in containers; use --network=host to share the host's)`,
        [flag(c, "network=none")],
      ),
  },
  {
    id: "cgroup-busy",
    ref: 9,
    title: "runsc cannot set up cgroups inside a container",
    scope: ["docker.", "containerd.", "podman.", "runsc."],
    pattern: /cgroup\.subtree_control: device or resource busy/,
    sample:
      "cannot set up cgroup for root: configuring cgroup: write /sys/fs/cgroup/cgroup.subtree_control: device or resource busy",
    cause: () => "runsc runs inside a container (or the root cgroup is not empty) on cgroup v2.",
    fix: (c) => registerFix(c, `Run ${c.runtime} with --ignore-cgroups`, [flag(c, "ignore-cgroups")]),
  },
  {
    id: "cgroup-controller-missing",
    ref: 9,
    title: "cgroup v2 without the controllers runsc needs",
    scope: ["docker.", "containerd.", "podman.", "runsc."],
    pattern: /mandatory cgroup controller "([^"]+)" is missing/,
    sample: 'cannot set up cgroup for root: configuring cgroup: mandatory cgroup controller "memory" is missing',
    cause: (c) =>
      `This host's cgroup v2 tree does not offer the "${c.match?.[1] ?? "memory"}" controller to runsc (controllers delegated away: nested containers, some rootless and hybrid cgroup setups). With --ignore-cgroups runsc runs, but gVisor then does not enforce the container's memory, CPU and pids limits.`,
    fix: (c) =>
      registerFix(
        c,
        `Run ${c.runtime} with --ignore-cgroups (containers run; their resource limits are not enforced by gVisor)`,
        [flag(c, "ignore-cgroups")],
      ),
  },
  {
    // Seen running runsc in a chroot without /sys: 20221219 stats its v1 hierarchies and stops there.
    id: "cgroupfs-missing",
    ref: 9,
    title: "No cgroup file system where runsc runs",
    scope: ["docker.", "containerd.", "podman.", "runsc."],
    pattern: /configuring cgroup: stat (\/sys\/fs\/cgroup\S*): no such file or directory/,
    sample:
      "creating container: cannot set up cgroup for root: configuring cgroup: stat /sys/fs/cgroup/cpu: no such file or directory",
    cause: (c) =>
      `${c.match?.[1] ?? "/sys/fs/cgroup"} does not exist where runsc runs: /sys/fs/cgroup is not mounted there (a chroot, or a container started without /sys). runsc sets up the sandbox's cgroups there; with --ignore-cgroups it runs without, and gVisor then does not enforce the container's resource limits.`,
    fix: (c) =>
      registerFix(c, `Run ${c.runtime} with --ignore-cgroups (or mount /sys/fs/cgroup where the engine runs)`, [
        flag(c, "ignore-cgroups"),
      ]),
  },
  {
    id: "cgroup-denied",
    ref: 10,
    title: "Rootless engine without cgroup delegation",
    scope: ["docker.", "podman."],
    // cgroup v2 without delegation: subtree_control; cgroup v1 (the rootless engines on this machine): the mkdir.
    pattern: new RegExp(
      [
        /open \/sys\/fs\/cgroup\/cgroup\.subtree_control: permission denied/.source,
        /systemd error: Interactive authentication required/.source,
        /cannot set up cgroup for root: configuring cgroup: mkdir \/sys\/fs\/cgroup\/\S+: permission denied/.source,
      ].join("|"),
    ),
    sample:
      "OCI runtime create failed: creating container: cannot set up cgroup for root: configuring cgroup: " +
      "mkdir /sys/fs/cgroup/cpu/0d4141d6fa73: permission denied: unknown.",
    cause: () =>
      "A rootless Podman or Docker (an engine run by a normal user) cannot create the cgroups runsc sets up:" +
      " never on cgroup v1, on cgroup v2 only with systemd delegation. With --ignore-cgroups the sandbox starts," +
      " but gVisor then does not enforce the container's CPU, memory and pids limits.",
    // Only the flag this failure proves; the next probe (--fix re-runs the hello) shows whether the network needs one.
    fix: (c) =>
      registerFix(
        c,
        `Run ${c.runtime} with ${flag(c, "ignore-cgroups")} (the rootless engine has no cgroups` +
          " to give it; gVisor does not enforce resource limits then)",
        [flag(c, "ignore-cgroups")],
      ),
  },
  {
    id: "runsc-too-old",
    ref: 11,
    title: "runsc is too old for this engine",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern:
      /flag provided but not defined: -systemd-cgroup|systemd cgroup flag passed, but systemd cgroups not supported|cgroups V2 is not yet supported/,
    sample: "flag provided but not defined: -systemd-cgroup",
    cause: () => "A very old runsc (often a distribution package) lacks flags the engine passes.",
    fix: (c) => installFix(c, "Install a current gVisor release"),
  },
  {
    id: "systemd-cgroups-path",
    ref: 12,
    title: "systemd-style cgroup path without --systemd-cgroup",
    scope: ["docker.", "containerd."],
    pattern: /write \/sys\/fs\/cgroup\/system\.slice\/cgroup\.subtree_control: no such file or directory/,
    sample: "write /sys/fs/cgroup/system.slice/cgroup.subtree_control: no such file or directory",
    cause: () =>
      "The engine passes a systemd cgroupsPath to a runsc that does not run with --systemd-cgroup (fixed in gVisor after June 2026).",
    fix: (c) =>
      installFix(
        c,
        "Install a current gVisor release, or use the daemon.json runsc runtime instead of io.containerd.runsc.v1",
      ),
  },
  {
    id: "cgroup-driver-mismatch",
    ref: 13,
    title: "cgroup drivers disagree",
    scope: ["containerd.", "k8s."],
    pattern: /invalid systemd path|expected cgroupsPath to be of format "slice:prefix:name"/,
    sample:
      'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/kubepods/burstable/pod…"',
    cause: () =>
      "runsc's systemd-cgroup setting disagrees with kubelet's/containerd's cgroup driver (systemd vs cgroupfs).",
    fix: () => ({
      id: "containerd.align-cgroups",
      summary:
        "Align kubelet cgroupDriver, containerd SystemdCgroup and runsc systemd-cgroup (gvisor-doctor configure containerd copies runc's SystemdCgroup)",
      command: "sudo gvisor-doctor configure containerd --restart",
      automatic: false,
    }),
  },
  {
    id: "cri-no-runtime",
    ref: 14,
    title: "containerd's CRI plugin does not know the runtime",
    scope: ["containerd.", "k8s."],
    pattern: /no runtime for "([^"]+)" is configured|RuntimeHandler "([^"]+)" not supported/,
    sample: 'failed to get sandbox runtime: no runtime for "runsc" is configured',
    cause: (c) =>
      `containerd's config has no ${c.runtime} runtime under the plugin path its config version uses (v2: io.containerd.grpc.v1.cri, v3: io.containerd.cri.v1.runtime), or containerd was not restarted, or kubelet talks to another runtime.`,
    fix: (c) =>
      registerFix({ ...c, engine: "containerd" }, "Register runsc under the right plugin path and restart containerd"),
  },
  {
    // A state containerd.config detects in the file itself: containerd logs nothing at default level.
    id: "containerd-plugin-path",
    ref: 14,
    title: "runsc is under the plugin path of another config version",
    scope: ["containerd.config"],
    cause: (c) =>
      `${c.configPath ?? "containerd's config"} names runsc under a plugin path its config version does not read (version 2: io.containerd.grpc.v1.cri, version 3: io.containerd.cri.v1.runtime); containerd ignores such sections silently, so it has no runsc runtime.`,
    fix: (c) =>
      registerFix(
        { ...c, engine: "containerd" },
        "Re-register runsc under the plugin path this config version uses and restart containerd",
      ),
  },
  {
    id: "shim-missing",
    ref: 15,
    title: "containerd cannot find containerd-shim-runsc-v1",
    scope: ["containerd.", "runsc.shim", "k8s."],
    pattern: /binary not installed "containerd-shim-runsc-v1"|containerd-shim-runsc-v1["]?: file does not exist/,
    sample:
      'runtime "io.containerd.runsc.v1" binary not installed "containerd-shim-runsc-v1": file does not exist: unknown',
    cause: () => "containerd-shim-runsc-v1 is not on containerd's PATH nor next to the containerd binary.",
    // Works offline: configure re-plans the runtime through the runc shim (BinaryName) when the
    // shim is missing. `gvisor-doctor install` puts the shim in place instead, when online.
    fix: (c) =>
      registerFix(
        { ...c, engine: "containerd" },
        "Run runsc through the runc shim (BinaryName) and restart containerd — or install the shim: gvisor-doctor install",
      ),
  },
  {
    id: "tmp-symlink",
    ref: 16,
    title: "/tmp or $TMPDIR is a symlink",
    scope: ["host.tmp", "runsc.", "docker.", "containerd.", "podman."],
    // runsc's boot log names both paths (decoded debug logs); the generic EOF needs the host facts.
    pattern: /expected to open (\/\S*), but found (\/\S+)|client sync file: waiting for sandbox to start: EOF/,
    when: (f, m) => !!m?.[1] || f.tmp.symlink,
    sample:
      "creating container: cannot create sandbox: cannot read client sync file: waiting for sandbox to start: EOF",
    cause: (c) =>
      `The sandbox builds its chroot in ${c.match?.[1] ?? c.facts.tmp.path}, which is a symlink to ` +
      `${c.match?.[2] ?? c.facts.tmp.target}; runsc refuses symlinks there and the sandbox dies at start.`,
    fix: (c) => {
      // The paths runsc's log names win over the facts (the engine's TMPDIR is not ours).
      const [path, target] = c.match?.[1] ? [c.match[1], c.match[2]] : [c.facts.tmp.path, c.facts.tmp.target];
      const command = path === "/tmp" ? "sudo sh -c 'rm /tmp && mkdir -m 1777 /tmp'" : `export TMPDIR=${target}`;
      const summary = `Make ${path} a real directory (or set TMPDIR to one for the engine)`;
      return { id: "host.tmp-real-dir", summary, command, automatic: false };
    },
  },
  {
    // Seen in runsc 20221219's boot log with TMPDIR inside a 0700 directory: stderr only said "sync file … EOF".
    id: "tmp-unreachable",
    ref: 16,
    title: "The sandbox user cannot reach $TMPDIR",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /failed to safely mount: Open\((\/[^,]+), _, _\): permission denied/,
    sample:
      "error setting up chroot: error mounting tmpfs in choot: failed to safely mount: " +
      "Open(/root/tmp, _, _): permission denied",
    cause: (c) =>
      `The sandbox builds its chroot in ${c.match?.[1] ?? "$TMPDIR"}, but it runs as nobody, who cannot open ` +
      "that directory (it or a parent lacks o+x, e.g. a 0700 private temp dir).",
    fix: (c) => ({
      id: "host.tmp-reachable",
      summary:
        "Give runsc a temp dir everyone can search " +
        `(unset TMPDIR to use /tmp, or chmod o+x ${c.match?.[1] ?? "$TMPDIR"} and its parents)`,
      command: "unset TMPDIR",
      automatic: false,
    }),
  },
  {
    id: "sandbox-early-exit",
    ref: 16,
    title: "The sandbox died while starting",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /cannot read client sync file: waiting for sandbox to start: EOF|unable to retrieve OCI runtime error/,
    sample: "cannot read client sync file: waiting for sandbox to start: EOF",
    cause: () =>
      "The sandbox exited before it was ready. Known causes: /tmp or $TMPDIR a symlink, chroot mount denied (rootless), ptrace blocked, an old kernel.",
    fix: () => ({
      id: "runsc.debug-logs",
      summary: "Run runsc with debug logs and read the *.boot and *.create logs",
      command: "sudo runsc --debug --debug-log=/tmp/runsc/ --network=none do true; ls /tmp/runsc/",
      automatic: false,
    }),
  },
  {
    id: "selinux",
    ref: 17,
    title: "SELinux labels are not supported",
    scope: ["docker.", "podman.", "containerd."],
    pattern: /SELinux is not supported|error remounting chroot in read-only: permission denied/,
    sample: "SELinux is not supported: …",
    cause: () => "gVisor does not support SELinux labels for containers.",
    fix: () => ({
      id: "engine.disable-labels",
      summary: "Run the container with --security-opt label=disable",
      command: "docker run --security-opt label=disable --runtime=runsc …",
      automatic: false,
    }),
  },
  {
    id: "kvm-unavailable",
    ref: 18,
    title: "/dev/kvm is missing or not accessible",
    scope: ["docker.", "containerd.", "podman.", "runsc.", "host.kvm"],
    pattern: /\/dev\/kvm[^\n]*(?:no such file or directory|permission denied)/i,
    sample: "error opening device file /dev/kvm: open /dev/kvm: no such file or directory",
    cause: () =>
      "The kvm platform needs /dev/kvm (virtualization extensions, nested virtualization in VMs, membership of the kvm group).",
    fix: (c) => registerFix(c, "Use the default systrap platform (drop --platform=kvm from the runtime arguments)"),
  },
  {
    id: "wsl",
    ref: 19,
    title: "WSL2 is not a supported host",
    scope: ["host.wsl", "runsc.", "docker."],
    pattern: /failed to create a syscall thread/,
    when: (f) => f.wsl,
    sample: "panic: failed to create a syscall thread",
    cause: () => "WSL2's kernel restricts ptrace; gVisor under WSL is very much unsupported.",
    fix: () => ({
      id: "host.use-linux-vm",
      summary: "Use a real Linux VM or machine",
      command: null,
      automatic: false,
    }),
  },
  {
    // Seen in runsc 20240729's boot log under `ulimit -v 2000000`: stderr only said "sync file … EOF".
    id: "syscall-thread",
    ref: 19,
    title: "The sandbox cannot create its syscall threads",
    scope: ["runsc.", "docker.", "containerd.", "podman."],
    pattern: /failed to create a syscall thread/,
    sample: "panic: failed to create a syscall thread",
    cause: () =>
      "The sandbox could not map or start its systrap stub threads: a virtual-memory limit on the engine or " +
      "shell (ulimit -v, systemd LimitAS=), a low pids/threads limit, or a kernel that restricts ptrace.",
    fix: () => ({
      id: "host.address-space",
      summary: "Lift the virtual-memory limit for the engine (ulimit -v unlimited; systemd: LimitAS=infinity)",
      command: "ulimit -v; sudo systemctl show -p LimitAS docker containerd",
      automatic: false,
    }),
  },
  {
    // The Sentry's own panic, decoded from the boot log (platform/runsc/debug-log.ts).
    id: "runsc-goroutine-panic",
    ref: 16,
    title: "The Sentry panicked on a wrong goroutine id",
    scope: ["runsc.", "docker.", "containerd.", "podman.", "crio."],
    pattern: /panic: running on goroutine \d+ \(task goroutine for kernel\.Task 0x[0-9a-f]+ is \d+\)/,
    sample: "panic: running on goroutine 21217947318848 (task goroutine for kernel.Task 0x134c2fec0008 is 0)",
    cause: (c) => goroutineIdCause(c.facts, "The sandbox's kernel (the Sentry) panicked"),
    fix: (c) => installFix(c, GVISOR_OWN_BUILD),
  },
  {
    // The same defect, seen before it strikes: the binary's release and Go toolchain (runsc.version).
    id: "runsc-go-toolchain",
    ref: 16,
    title: "runsc was built with a Go its release does not know",
    scope: ["runsc.version"],
    when: (f) => {
      const r = primaryRunsc(f.runsc ?? []);
      return !!r && readsWrongGoroutineId(r);
    },
    cause: (c) => goroutineIdCause(c.facts, "Sandboxes will crash at random"),
    // Asked for, not applied by --fix (runsc.version warns): a probe that hits the panic is what fails.
    fix: (c) => ({
      ...installFix(c, GVISOR_OWN_BUILD),
      automatic: false,
    }),
  },
  {
    id: "not-linux",
    ref: 20,
    title: "Not a Linux host (macOS, Windows)",
    scope: ["host.platform", "docker."],
    when: (f) => f.os !== "linux",
    cause: () =>
      "gVisor runs only on Linux. Docker Desktop, Colima and OrbStack run dockerd inside a Linux VM: runsc must be installed inside that VM and registered in the VM's daemon.json (Docker Desktop: Settings → Docker Engine).",
    fix: (c) => ({
      id: "host.use-linux-vm",
      summary: "Run gvisor-doctor inside the Linux VM that runs your containers",
      command: c.facts.os === "darwin" ? "colima ssh   # or: orb   — then run the gvisor-doctor installer there" : null,
      automatic: false,
    }),
  },
  {
    id: "memlock-kernel",
    ref: 21,
    title: "Kernel memlock bug",
    scope: ["host.memlock", "docker.", "containerd.", "podman."],
    pattern: /mount submount "[^"]*": [^\n]*input\/output error/,
    sample: 'mount submount "/etc/hostname": creating mount with source ".../hostname": input/output error',
    cause: (c) => {
      const limited = finiteMemlock(c.facts).map((m) => `${m.who} ${m.soft} bytes`);
      return (
        "Linux 5.1–5.3.15, 5.4.2 and 5.5 have a memlock bug that breaks gVisor's mounts when the engine " +
        `runs with a finite RLIMIT_MEMLOCK${limited.length ? ` (here: ${limited.join(", ")})` : ""}.`
      );
    },
    fix: (c) => {
      const unit = finiteMemlock(c.facts).find((m) => m.who !== "self")?.who === "dockerd" ? "docker" : "containerd";
      const summary = `Upgrade the kernel, or set LimitMEMLOCK=infinity for ${unit} (and restart it)`;
      const command = `sudo systemctl edit ${unit}  # [Service] LimitMEMLOCK=infinity`;
      return { id: "host.memlock", summary, command, automatic: false };
    },
  },
  {
    id: "no-xsave",
    ref: 22,
    title: "CPU without XSAVE",
    scope: ["host.cpu", "runsc."],
    pattern: /SIGILL: illegal instruction[\s\S]*xgetbv|ring0\.xgetbv/,
    when: (f) => f.arch === "x86_64" && f.cpu.xsave === false,
    sample: "SIGILL: illegal instruction PC=0x… ring0.xgetbv",
    cause: () => "This x86 CPU lacks XSAVE, which gVisor requires.",
    fix: () => ({
      id: "host.unsupported-cpu",
      summary: "Use a newer CPU (or a VM that exposes XSAVE)",
      command: null,
      automatic: false,
    }),
  },
  {
    id: "bridge-dns",
    ref: 23,
    title: "Container-name DNS on a user-defined bridge",
    scope: ["docker."],
    pattern: /bad address '[^']+'/,
    sample: "ping: bad address 'web'",
    cause: () =>
      "Docker's embedded DNS (127.0.0.11) lives in the host network namespace, which gVisor's network stack does not see.",
    fix: () => ({
      id: "docker.bridge-dns",
      summary: "Use the default bridge with --link, container IPs, --network=host, or Kubernetes",
      command: null,
      automatic: false,
    }),
  },
  {
    id: "userns-apparmor",
    ref: 24,
    title: "Unprivileged user namespaces blocked by AppArmor",
    scope: ["runsc.", "podman.", "docker."],
    pattern: /uid_map: Operation not permitted/,
    sample: "write /proc/self/uid_map: Operation not permitted",
    cause: () =>
      "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu ≥ 23.10) blocks the user namespaces runsc --rootless needs.",
    fix: () => ({
      id: "host.userns-apparmor",
      summary: "Run runsc as root, or allow unprivileged user namespaces",
      command: "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0",
      automatic: false,
    }),
  },
];

// A scope entry matches check ids as --only does ("docker." and "docker" both: every docker.* check).
const inScope = (rule: Rule, checkId: string) => rule.scope.some((s) => matchesId(checkId, s));

/**
 * The first rule whose signature appears in `text` (and whose state condition, if
 * any, holds) for an error seen by `checkId`. Null: unknown error (show it verbatim).
 */
export function diagnose(checkId: string, text: string, c: Omit<RuleContext, "match">): Diagnosis | null {
  for (const rule of RULES) {
    if (!rule.pattern || !inScope(rule, checkId)) continue;
    const m = text.match(rule.pattern);
    if (!m) continue;
    if (rule.when && !rule.when(c.facts, m)) continue;
    const ctx = { ...c, match: m };
    return { cause: rule.cause(ctx), fix: rule.fix(ctx), rule: rule.id };
  }
  return null;
}

/** The diagnosis of a state rule by id (for checks that detect the state directly). */
export function diagnoseState(ruleId: string, c: RuleContext): Diagnosis {
  const rule = RULES.find((r) => r.id === ruleId);
  if (!rule) throw new Error(`no diagnosis rule "${ruleId}"`);
  return { cause: rule.cause(c), fix: rule.fix(c), rule: rule.id };
}

/** For unknown errors: show the text verbatim with the command that produced it. */
export function unknownError(command: string, text: string): Diagnosis {
  const lines = text.trim().split("\n");
  const shown = lines.slice(-3).join(" | ") || "(no output on stderr or stdout)";
  // The whole output travels with the finding (--json): the last lines alone often miss the cause.
  const dropped = lines.length - MAX_OUTPUT_LINES;
  const output = dropped > 0 ? [`… ${dropped} earlier lines`, ...lines.slice(-MAX_OUTPUT_LINES)] : lines;
  return {
    cause: `Unrecognised error from \`${command}\`: ${shown}`,
    fix: {
      id: "rerun-verbose",
      summary: "Run the command by hand to see the full error; if gvisor-doctor should recognise it, please report it",
      command,
      automatic: false,
    },
    output: output.map((l) => (l.length > 1000 ? `${l.slice(0, 1000)}…` : l)),
  };
}
const MAX_OUTPUT_LINES = 200;
