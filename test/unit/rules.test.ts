// Every diagnosis rule, fed the real error text (or the real broken state), yields
// its own cause and fix. Texts marked "real" were produced by the tools on this machine.
import { describe, expect, test } from "bun:test";
import { RULES, diagnose, diagnoseState, unknownError } from "../../checks/rules.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { fakeFacts } from "../helpers/facts.ts";

const facts = fakeFacts;
const ctx = (f = facts()) => ({
  facts: f,
  engine: "docker" as const,
  runtime: "runsc",
  configPath: "/etc/docker/daemon.json",
});

/** The check that would see each rule's error (first scope entry, made concrete). */
const checkFor = (scope: string) => (scope.endsWith(".") ? `${scope}hello` : scope);

/** Facts under which each state-guarded rule applies. */
const STATE: Record<string, Partial<HostFacts>> = {
  "tmp-symlink": { tmp: { path: "/tmp", symlink: true, target: "/private/tmp" } },
  "ptrace-blocked": { sysctl: { ptraceScope: 3, maxUserNamespaces: 1000 } },
  "kernel-too-old": { kernel: { release: "5.4.0-150-generic", version: "5.4.0" } },
  wsl: { wsl: true },
  "not-linux": { os: "darwin" },
  "no-xsave": { cpu: { xsave: false, avx2: false } },
  "subids-missing": { user: { uid: 1002, root: false, subIds: false } },
};

describe("diagnosis rules", () => {
  test("rule ids are unique and every rule cites a row of gvisor-facts §7 (1–24)", () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) expect(r.ref >= 1 && r.ref <= 24).toBe(true);
    expect(new Set(RULES.map((r) => r.ref)).size).toBe(24); // all 24 signatures are covered
  });

  for (const rule of RULES.filter((r) => r.sample && r.pattern)) {
    test(`${rule.id} (§7 #${rule.ref}): its real error text is diagnosed as ${rule.id}`, () => {
      const f = facts(STATE[rule.id] ?? {});
      const d = diagnose(checkFor(rule.scope[0]), rule.sample!, ctx(f));
      expect(d?.rule).toBe(rule.id);
      expect(d!.cause.length).toBeGreaterThan(20);
      expect(d!.fix?.summary.length).toBeGreaterThan(5);
    });
  }

  // The Engine API path (no docker CLI) reports dockerd's words without the CLI's "docker: " prefix.
  for (const rule of RULES.filter((r) => r.sample?.startsWith("docker: ") && r.pattern)) {
    test(`${rule.id}: dockerd's words through the Engine API (no "docker: " prefix) are diagnosed the same`, () => {
      const f = facts(STATE[rule.id] ?? {});
      const d = diagnose(checkFor(rule.scope[0]), rule.sample!.slice("docker: ".length), ctx(f));
      expect(d?.rule).toBe(rule.id);
    });
  }

  for (const id of Object.keys(STATE)) {
    test(`${id}: the broken state alone yields the diagnosis`, () => {
      const d = diagnoseState(id, ctx(facts(STATE[id])));
      expect(d.rule).toBe(id);
    });
  }

  test("real: dockerd's sandbox-network failure on this kernel → add --network=none (automatic)", () => {
    const real =
      'docker: Error response from daemon: OCI runtime start failed: starting container: setting up network: creating interfaces from net namespace "/proc/3805/ns/net": cannot run with network enabled in root network namespace: unknown.';
    const d = diagnose("docker.hello", real, ctx())!;
    expect(d.rule).toBe("netns-root");
    expect(d.fix).toMatchObject({
      id: "docker.register-runtime",
      automatic: true,
      command: "sudo gvisor-doctor configure docker --runtime-arg=--network=none",
    });
  });

  test("podman gets the flag in podman's spelling (no leading dashes)", () => {
    const d = diagnose("podman.hello", "cannot run with network enabled in root network namespace", {
      ...ctx(),
      engine: "podman",
    })!;
    expect(d.fix?.command).toContain("--runtime-arg=network=none");
  });

  test("real: runsc do with $TMPDIR a symlink → tmp-symlink when the state holds, generic early exit otherwise", () => {
    const real =
      "creating container: cannot create sandbox: cannot read client sync file: waiting for sandbox to start: EOF";
    expect(diagnose("runsc.smoke", real, ctx(facts(STATE["tmp-symlink"])))?.rule).toBe("tmp-symlink");
    expect(diagnose("runsc.smoke", real, ctx())?.rule).toBe("sandbox-early-exit");
  });

  test("unable to attach: ptrace_scope 3 blames ptrace, otherwise permissions with an automatic chmod", () => {
    const text = "panic: unable to attach: operation not permitted";
    expect(diagnose("docker.hello", text, ctx(facts(STATE["ptrace-blocked"])))?.rule).toBe("ptrace-blocked");
    const d = diagnose("docker.hello", text, ctx())!;
    expect(d.rule).toBe("sandbox-permissions");
    expect(d.fix?.automatic).toBe(true);
  });

  test("real (sid host, cgroup2 without controllers): each missing controller → --ignore-cgroups, automatic, and the cause says limits are not enforced", () => {
    for (const ctl of ["memory", "pids", "cpuset"]) {
      const real = `docker: Error response from daemon: OCI runtime create failed: creating container: cannot set up cgroup for root: configuring cgroup: mandatory cgroup controller "${ctl}" is missing: unknown.`;
      const d = diagnose("docker.hello", real, ctx())!;
      expect(d.rule).toBe("cgroup-controller-missing");
      expect(d.cause).toContain(`"${ctl}"`);
      expect(d.cause).toContain("not enforce");
      expect(d.fix).toMatchObject({
        id: "docker.register-runtime",
        automatic: true,
        command: "sudo gvisor-doctor configure docker --runtime-arg=--ignore-cgroups",
      });
    }
    const pod = diagnose("podman.hello", 'mandatory cgroup controller "memory" is missing', {
      ...ctx(),
      engine: "podman",
    })!;
    expect(pod.fix?.command).toContain("--runtime-arg=ignore-cgroups");
    const cd = diagnose("containerd.hello", 'mandatory cgroup controller "pids" is missing', {
      ...ctx(),
      engine: "containerd",
    })!;
    expect(cd.fix?.command).toContain("--restart");
  });

  test("real (runsc in a chroot): user namespaces denied is not a permissions problem; the cause follows the sysctl", () => {
    const real =
      "OCI runtime create failed: creating container: cannot create gofer process: gofer: fork/exec /proc/self/exe: operation not permitted: check whether /proc/sys/user/max_user_namespaces is set too low: unknown";
    const chrooted = diagnose("docker.hello", real, ctx())!;
    expect(chrooted.rule).toBe("userns-denied");
    expect(chrooted.cause).toContain("chroot");
    expect(chrooted.fix).toMatchObject({ id: "host.userns", automatic: false });
    const zero = diagnose("docker.hello", real, ctx(facts({ sysctl: { ptraceScope: 1, maxUserNamespaces: 0 } })))!;
    expect(zero.rule).toBe("userns-denied");
    expect(zero.cause).toContain("max_user_namespaces is 0");
    expect(zero.fix?.command).toContain("user.max_user_namespaces");
    // The other fork/exec text is still the permissions problem.
    expect(diagnose("docker.hello", "fork/exec /proc/self/exe: invalid argument: unknown", ctx())?.rule).toBe(
      "sandbox-permissions",
    );
  });

  test("the runtime path from the error is named in the cause", () => {
    const d = diagnose("docker.hello", RULES.find((r) => r.id === "runtime-path-missing")!.sample!, ctx())!;
    expect(d.cause).toContain("/usr/local/bin/runsc");
  });

  test("rules only read errors from their own scope", () => {
    expect(diagnose("host.kernel", "unknown or invalid runtime name: runsc", ctx())).toBeNull();
  });

  test("an unknown error is shown verbatim with the command that produced it", () => {
    expect(diagnose("docker.hello", "something nobody has seen before", ctx())).toBeNull();
    const d = unknownError("docker run --rm --runtime=runsc img dmesg", "line1\nsomething nobody has seen before");
    expect(d.cause).toContain("something nobody has seen before");
    expect(d.fix?.command).toBe("docker run --rm --runtime=runsc img dmesg");
  });
});

describe("unknown errors", () => {
  test("keep the whole output (capped at 200 lines), not only the last three in the cause", () => {
    const text = Array.from({ length: 250 }, (_, i) => `line ${i}`).join("\n");
    const d = unknownError("runsc do true", text);
    expect(d.cause).toContain("line 247 | line 248 | line 249");
    expect(d.output?.length).toBe(201);
    expect(d.output?.[0]).toBe("… 50 earlier lines");
    expect(d.output?.at(-1)).toBe("line 249");
    expect(unknownError("x", "").cause).toContain("(no output on stderr or stdout)");
  });
});
