// The --json document (schemaVersion 1). Field names are a contract: see README.
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import type { Finding, Fix } from "../../checks/types.ts";
import { summarize } from "../../checks/summary.ts";
import { TOOL } from "../version.ts";
import { ENGINE_NAMES } from "../../platform/engines/types.ts";
import { distributionOf } from "../../platform/engines/containerd/distributions.ts";

export function hostJson(f: HostFacts) {
  return {
    hostRoot: f.hostRoot,
    // k3s, RKE2, k0s or microk8s: whose containerd this is, why we think so, and the file runsc goes into.
    distribution: distributionOf(f.engines?.containerd.detection),
    os: f.os,
    arch: f.arch,
    kernel: f.kernel,
    libc: f.libc,
    user: f.user,
    systemd: f.systemd,
    container: f.container,
    gvisor: f.gvisor,
    wsl: f.wsl,
    kvm: f.kvm,
    cgroup: f.cgroup,
    sysctl: f.sysctl,
    userns: f.userns,
    mmapMinAddr: f.mmapMinAddr,
    seccomp: f.seccomp,
    memlock: f.memlock,
    tmp: f.tmp,
    cpu: f.cpu,
    runsc: f.runsc.map((r) => ({
      path: r.path,
      realPath: r.realPath,
      onPath: r.onPath,
      version: r.version?.raw ?? null,
      versionText: r.versionText,
      arch: r.elf?.arch ?? null,
      sidecars: r.sidecars,
    })),
    dockerd: f.dockerd.map((d) => ({ pid: d.pid, exe: d.exe, argv: d.argv })),
    containerd: f.containerd.map((d) => ({ pid: d.pid, exe: d.exe, argv: d.argv })),
    docker: {
      cli: f.docker.cli,
      via: f.docker.via,
      probeVia: f.docker.probeVia,
      host: f.docker.host,
      configPath: f.docker.configPath,
      daemonPid: f.docker.daemon?.pid ?? null,
      serverVersion: f.docker.info?.serverVersion ?? null,
      defaultRuntime: f.docker.info?.defaultRuntime ?? null,
      runtimes: f.docker.info?.runtimes ?? null,
      error: f.docker.infoError,
    },
    engines: f.engines
      ? Object.fromEntries(
          ENGINE_NAMES.map((n) => {
            const e = f.engines![n];
            return [
              n,
              {
                installed: e.detection?.installed ?? false,
                running: e.detection?.running ?? false,
                version: e.detection?.version ?? null,
                configPath: e.detection?.configPath ?? null,
                runtimes: e.inspection ? Object.keys(e.inspection.runtimes) : [],
                error: e.error,
              },
            ];
          }),
        )
      : null,
    factsMs: f.durationMs,
  };
}

/** A fix as --json shows it: its command and argv render the action, which stays internal. */
const fixJson = (fix: Fix | null) => {
  if (!fix?.action) return fix;
  const { action: _, ...shown } = fix;
  return shown;
};

export function checkJson(f: Finding) {
  const diagnosis = f.diagnosis && { ...f.diagnosis, fix: fixJson(f.diagnosis.fix) };
  return {
    id: f.id,
    title: f.title,
    status: f.status,
    message: f.message,
    details: f.details,
    diagnosis,
    durationMs: f.durationMs,
  };
}

export function reportJson(
  facts: HostFacts,
  findings: Finding[],
  ok: boolean,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify(
    {
      schemaVersion: 1,
      tool: TOOL,
      host: hostJson(facts),
      ok,
      summary: summarize(findings),
      checks: findings.map(checkJson),
      ...extra,
    },
    null,
    2,
  );
}
