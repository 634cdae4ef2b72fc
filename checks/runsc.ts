// runsc checks: is there a usable runsc, can the sandbox user run it, is it current,
// are its sidecars and shim in place, and does a sandbox start?
import { gvisorArch } from "../platform/os/arch.ts";
import { latestRelease } from "../platform/release/latest.ts";
import { run } from "../platform/os/spawn.ts";
import { failedSilently } from "../platform/probe/images.ts";
import { primaryRunsc, readsWrongGoroutineId, type RunscBinary } from "../platform/runsc/binaries.ts";
import { expectedSidecars, SIDECARS_SINCE, unknownFlags } from "../platform/runsc/features.ts";
import { compareGvisor, gvisorAgeDays } from "../platform/os/versions.ts";
import { diagnose, diagnoseState, installFix, unknownError, type RuleContext } from "./rules.ts";
import {
  decodeStartFailure,
  didNotStart,
  signatureOutcome,
  silentRetryNote,
  STRICT_NOTE,
  strictSidecars,
} from "./probe.ts";
import { actionFix } from "./fix-actions.ts";
import { fail, pass, skip, warn, type Check, type CheckContext } from "./types.ts";
import type { EngineDetection } from "../platform/engines/types.ts";
import { installedReleaseOf, layoutFor, readState } from "../platform/release/layout.ts";
import { describeTrust } from "../platform/release/trust.ts";

/** The trust level gvisor-doctor recorded when it installed this runsc (state.json of its prefix). */
function trustOfLive(realPath: string): string {
  const ours = installedReleaseOf(realPath);
  if (!ours)
    return "unknown: not installed by gvisor-doctor ('gvisor-doctor install --verify signed' gets the signed level)";
  try {
    return describeTrust(readState(layoutFor(ours.prefix)).versions[ours.version]?.trust);
  } catch {
    return "unknown: state.json of its prefix cannot be read";
  }
}

const rc = (ctx: CheckContext): Omit<RuleContext, "match"> => ({ facts: ctx.facts, engine: "runsc", runtime: "runsc" });
/** The runsc every runsc.* check is about (the one runsc.binary accepted). */
const theRunsc = (ctx: CheckContext) => ctx.finding("runsc.binary").data as RunscBinary;
const where = (r: RunscBinary) => (r.realPath !== r.path ? `${r.path} → ${r.realPath}` : r.path);

export const runscBinary: Check = {
  id: "runsc.binary",
  title: "runsc binary",
  needs: ["host.platform"],
  run(ctx) {
    const { facts } = ctx;
    const r = primaryRunsc(facts.runsc);
    if (!r)
      return fail("runsc not found on PATH or in /usr/local/bin, /usr/bin, /usr/sbin, /bin, /sbin", {
        cause: "gVisor is not installed on this host.",
        fix: installFix(ctx, "Install gVisor (runsc, its shim and sidecars) for this host"),
      });
    const others = facts.runsc.filter((o) => o !== r).map((o) => `also found: ${where(o)} (${o.versionText})`);
    if (!r.elf) {
      return fail(
        `${where(r)} is not an ELF executable`,
        {
          cause: "The file is not a Linux program: often an HTML or XML error page saved by a failed download.",
          fix: installFix(ctx, "Reinstall runsc from a verified download", { force: true }),
        },
        others,
      );
    }
    const want = gvisorArch(facts.arch);
    if (r.elf.arch !== want) {
      return fail(
        `${where(r)} is built for ${r.elf.arch}, this host is ${facts.arch}`,
        {
          cause: 'A runsc for another CPU architecture fails with "exec format error".',
          fix: installFix(ctx, `Reinstall runsc for ${facts.arch}`, { force: true }),
        },
        others,
      );
    }
    if (!r.versionOk) {
      const d = diagnose("runsc.binary", r.versionText, rc(ctx)) ?? {
        cause: "`runsc --version` failed; the binary is damaged or not executable.",
        fix: installFix(ctx, "Reinstall runsc", { force: true }),
      };
      return fail(`${where(r)} does not run: ${r.versionText}`, d, others);
    }
    const details = [`path: ${where(r)}`, `version: ${r.versionText}`, `trust: ${trustOfLive(r.realPath)}`, ...others];
    return pass(`${r.version?.raw ?? r.versionText.replace(/^runsc version /, "")} at ${where(r)}`, details, r);
  },
};

export const runscPermissions: Check = {
  id: "runsc.permissions",
  title: "runsc is readable and executable by the sandbox user (nobody)",
  needs: ["runsc.binary"],
  run(ctx) {
    const r = theRunsc(ctx);
    const bad = r.permissions.filter((p) => !p.worldOk);
    if (bad.length === 0)
      return pass(
        `${r.realPath}${r.sidecars.length ? ", gvisor-bin/" : ""} and every parent directory are world-readable and executable`,
      );
    const d = diagnoseState("sandbox-permissions", rc(ctx));
    return fail(
      `not accessible to the sandbox user: ${bad.map((b) => `${b.path} (${b.mode})`).join(", ")}`,
      d,
      [`manual fix: sudo chmod a+rx ${bad.map((b) => b.path).join(" ")}`],
      bad,
    );
  },
};

const STALE_DAYS = 365;

export const runscVersion: Check = {
  id: "runsc.version",
  title: "runsc release and age",
  needs: ["runsc.binary"],
  timeoutMs: 10_000,
  async run(ctx) {
    const r = theRunsc(ctx);
    const v = r.version;
    const upgrade = installFix(ctx, "Install the current gVisor release");
    if (!v)
      return warn(`unrecognised version "${r.versionText}" (an unstamped or development build)`, {
        cause: "Without a release label, gvisor-doctor cannot tell its age or match sidecars to it.",
        fix: upgrade,
      });
    const age = gvisorAgeDays(v);
    const details = [`released ${v.date.slice(0, 4)}-${v.date.slice(4, 6)}-${v.date.slice(6)} (${age} days ago)`];
    if (r.goVersion) details.push(`built with ${r.goVersion}`);
    // Not a matter of age: this build crashes sandboxes at random. A warning, not a failure: --fix does not
    // swap a distribution's runsc for a download unasked; a probe that hits the crash fails (and --fix does).
    if (readsWrongGoroutineId(r)) {
      return warn(
        `${v.raw} was built with ${r.goVersion}, which its release predates: its sandboxes crash at random`,
        diagnoseState("runsc-go-toolchain", rc(ctx)),
        details,
      );
    }
    let newer: string | null = null;
    if (!ctx.options.offline) {
      const latest = await latestRelease(ctx.options.env);
      if (latest.version) {
        details.push(`latest release: ${latest.version.raw} (from ${latest.source})`);
        if (compareGvisor(latest.version, v) > 0) newer = latest.version.raw;
      } else details.push(`could not check for a newer release: ${latest.error}`);
    } else details.push("newer-release lookup skipped (--offline)");
    const kind = v.distro
      ? "a distribution build"
      : v.isRelease
        ? "a release"
        : `a development build ${v.commits} commits after release ${v.date}.${v.point}`;
    if (newer) {
      const fix = actionFix("runsc.install", upgrade.summary, {
        kind: "install",
        version: newer.replace(/^release-/, ""),
      });
      return warn(
        `${v.raw} is ${kind}; ${newer} is available`,
        { cause: "A newer gVisor release exists.", fix },
        details,
      );
    }
    if (age > STALE_DAYS)
      return warn(
        `${v.raw} is ${kind} from ${age} days ago`,
        {
          cause: `runsc is more than ${STALE_DAYS} days old: it lacks security fixes and features current engines expect.`,
          fix: upgrade,
        },
        details,
      );
    return pass(`${v.raw} (${kind}, ${age} days old)`, details);
  },
};

export const runscSidecars: Check = {
  id: "runsc.sidecars",
  title: "gvisor-bin/ sidecars next to the real runsc, from the same release, executable by nobody",
  needs: ["runsc.binary"],
  run(ctx) {
    const r = theRunsc(ctx);
    const v = r.version;
    // The set this release ships (runsc-features' table); runsc looks for them next to its real path.
    const expected = expectedSidecars(v);
    const dir = `${r.realPath.replace(/\/[^/]+$/, "")}/gvisor-bin`;
    const mismatched = Object.entries(r.sidecarLabels).filter(([, label]) => label && v && !label.includes(v.date));
    if (mismatched.length) {
      const list = mismatched.map(([f, l]) => `${f} (${l})`).join(", ");
      const details = mismatched.map(([f, l]) => `${dir}/${f}: ${l}`);
      const d = diagnoseState("sidecar-mismatch", rc(ctx));
      return fail(`sidecars from another release than runsc ${v?.raw}: ${list}`, d, details);
    }
    const missing = expected.filter((s) => !r.sidecars.includes(s));
    if (missing.length) {
      return fail(`missing in ${dir}: ${missing.join(", ")}`, diagnoseState("sidecar-missing", rc(ctx)));
    }
    // runsc starts its sidecars as the sandbox user (nobody): a 0700 sidecar is "missing" at start.
    const locked = r.permissions.filter((p) => (p.path === dir || p.path.startsWith(`${dir}/`)) && !p.worldOk);
    if (locked.length) {
      const list = locked.map((p) => `${p.path} (${p.mode})`).join(", ");
      const manual = [`manual fix: sudo chmod a+rx ${locked.map((p) => p.path).join(" ")}`];
      const d = diagnoseState("sandbox-permissions", rc(ctx));
      return fail(`not executable by the sandbox user (nobody): ${list}`, d, manual, locked);
    }
    if (!expected.length) {
      if (r.sidecars.length) return pass(`${r.sidecars.length} sidecars in ${dir}`);
      return pass(
        `not needed: ${v ? `release ${v.date} predates the sidecar layout (${SIDECARS_SINCE})` : "unknown release"}`,
      );
    }
    return pass(`${r.sidecars.length} sidecars in ${dir}, release ${v!.raw}: ${expected.join(", ")}`);
  },
};

export const runscShim: Check = {
  id: "runsc.shim",
  title: "containerd-shim-runsc-v1 is where containerd looks",
  needs: ["runsc.binary", "containerd.daemon"],
  run(ctx) {
    const cd = ctx.facts.engines?.containerd;
    const det = cd?.detection as (EngineDetection & { shim?: string | null }) | null | undefined;
    if (!det?.installed && !det?.running) return skip("containerd is not installed");
    if (det.shim) return pass(det.shim);
    // containerd can also run runsc through the runc shim (runtime_type io.containerd.runc.v2 + BinaryName).
    const rt = cd?.inspection?.runtimes.runsc;
    if (rt && rt.type !== "io.containerd.runsc.v1")
      return pass(`not needed: containerd runs runsc through ${rt.type ?? "the runc shim"} (BinaryName ${rt.path})`);
    const d = diagnoseState("shim-missing", rc(ctx));
    if (rt)
      return fail(
        "containerd's runsc runtime uses io.containerd.runsc.v1, but containerd-shim-runsc-v1 is not where containerd looks",
        d,
        det.notes,
      );
    return warn("containerd-shim-runsc-v1 is not on containerd's PATH nor next to containerd", d, [
      ...det.notes,
      "`gvisor-doctor configure containerd` falls back to the runc shim with BinaryName=<runsc> when the shim is missing",
    ]);
  },
};

export const runscSmoke: Check = {
  id: "runsc.smoke",
  title: 'A sandbox starts (runsc do dmesg shows "Starting gVisor")',
  needs: ["runsc.binary"],
  requires: { containers: true, thisMachine: true },
  timeoutMs: 45_000,
  async run(ctx) {
    const r = theRunsc(ctx);
    // A normal user runs it rootless (runsc maps them to root in a user namespace of its own).
    const rootless = ctx.facts.user?.root === false;
    const sudo = rootless ? "" : "sudo ";
    // dmesg inside the sandbox doubles as the signature probe (runsc do uses the host's files).
    const strict = strictSidecars(r);
    const args = [...(rootless ? ["--rootless"] : []), ...strict, "--network=none", "do", "dmesg"];
    const res = await run(r.path, args, { timeoutMs: 30_000, env: ctx.options.env, cwd: "/" });
    const cmd = `${sudo}${r.path} ${args.join(" ")}`;
    const sidecars = strict.length ? [`sidecars: ${STRICT_NOTE}`] : [];
    if (res.code !== 0) {
      const failed = didNotStart("runsc.smoke", res, cmd, rc(ctx), [`$ ${cmd}`, ...sidecars], "the sandbox");
      if (failed.diagnosis?.rule !== "cgroup-controller-missing") {
        return decodeStartFailure(failed, res, "runsc.smoke", { ...rc(ctx) }, { runsc: r, args, env: ctx.options.env });
      }
      if (unknownFlags(r.features, ["--ignore-cgroups"]).length) return failed;
      // cgroup v2 without the controllers runsc wants: the engines get --ignore-cgroups from their own
      // checks' fixes; here, say whether gVisor runs at all with it, and what it costs.
      const again = ["--ignore-cgroups", ...args];
      const runAgain = () => run(r.path, again, { timeoutMs: 30_000, env: ctx.options.env, cwd: "/" });
      const first2 = await runAgain();
      // A wordless failure is runsc crashing (sid's go1.26 build does at random): once more, as the hello probes do.
      const silent = failedSilently(first2);
      const res2 = silent ? await runAgain() : first2;
      const cmd2 = `${sudo}${r.path} ${again.join(" ")}`;
      if (res2.code !== 0) {
        // Not the cgroup failure any more: what the run with --ignore-cgroups says is the finding (its fix, not
        // "add --ignore-cgroups" again).
        const seen = [`$ ${cmd}`, failed.message, `$ ${cmd2}`, ...(silent ? [silentRetryNote(first2)] : [])];
        return didNotStart("runsc.smoke", res2, cmd2, rc(ctx), seen, "the sandbox");
      }
      const lines = res2.stdout.split("\n").filter(Boolean);
      const seen = [`$ ${cmd}`, failed.message, `$ ${cmd2}`];
      const ok = signatureOutcome(lines, unknownError(cmd2, lines[0] ?? ""), seen, res2.durationMs);
      if (ok.status !== "pass") return ok;
      return warn(`the sandbox starts only with --ignore-cgroups: ${ok.message}`, failed.diagnosis, ok.details);
    }
    const notGvisor = unknownError(cmd, res.stdout.split("\n")[0] ?? "");
    const lines = res.stdout.split("\n").filter(Boolean);
    return signatureOutcome(lines, notGvisor, [`$ ${cmd}`, ...sidecars], res.durationMs);
  },
};
