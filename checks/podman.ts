// Podman checks: is runsc declared in its config (or found on its built-in paths), and does a
// Podman container really run under gVisor? CRI-O's check is in crio.ts.
import { existsSync } from "node:fs";
import { runInProbeImage } from "../platform/probe/images.ts";
import { ENGINES } from "../platform/engines/index.ts";
import { podmanInfoError } from "../platform/engines/podman/adapter.ts";
import { isGenericStartError } from "../platform/runsc/debug-log.ts";
import { registerFix } from "./rules.ts";
import { brokenRuntime, engineRuleContext } from "./runtime-files.ts";
import { actionFix, editConfigFix } from "./fix-actions.ts";
import { fail, pass, skip, warn, type Check, type CheckContext, type Fix, type Outcome } from "./types.ts";
import {
  decodeStartFailure,
  didNotStart,
  probeRunsc,
  RUNTIME_NAME,
  silentRetryNote,
  signatureOutcome,
  STRICT_NOTE,
  strictSidecars,
} from "./probe.ts";

/** containers/common's built-in [engine.runtimes] runsc paths. */
export const PODMAN_BUILTIN_RUNSC = [
  "/usr/bin/runsc",
  "/usr/sbin/runsc",
  "/usr/local/bin/runsc",
  "/usr/local/sbin/runsc",
  "/bin/runsc",
  "/sbin/runsc",
  "/run/current-system/sw/bin/runsc",
];

const rc = (ctx: CheckContext) => engineRuleContext(ctx, "podman");

const register = () =>
  actionFix("podman.register-runtime", `Register runsc with ${ENGINES.podman.title}`, {
    kind: "configure",
    engines: ["podman"],
  });

export const podmanRuntime: Check = {
  id: "podman.runtime",
  title: "Podman knows the runsc runtime",
  requires: { thisMachine: true },
  timeoutMs: 25_000,
  async run(ctx) {
    const e = ctx.facts.engines?.podman;
    if (e?.error) return fail(`cannot inspect Podman: ${e.error}`, null);
    if (!e?.detection?.installed) return skip("Podman is not installed");
    // Podman's own reading of its config first (ours only approximates it): its error names file and line.
    const refused = e.detection.binary ? await podmanInfoError(e.detection.binary, ctx.options.env) : null;
    if (refused) {
      const cause = "Podman refuses to start with this containers.conf: every podman command fails the same way.";
      const file = refused.file ?? e.detection.configPath;
      return fail(`podman info fails: ${refused.message}`, { cause, fix: editConfigFix("podman.edit-config", file) });
    }
    const ins = e.inspection!;
    const bad = ins.faults.find((f) => f.severity === "error");
    if (bad)
      return fail(`${bad.file}: ${bad.message}`, {
        cause: "Podman refuses to start with an invalid containers.conf.",
        fix: editConfigFix("podman.edit-config", bad.file),
      });
    const rt = ins.runtimes[RUNTIME_NAME];
    const files = ins.files.filter((f) => f.exists).map((f) => f.path);
    // Podman runs the first path of the list that exists; when none does, it falls back to its
    // built-in list without the flags the wrapper carried.
    const paths = Array.isArray(rt?.raw) ? (rt.raw as string[]) : [];
    const named = paths.find((p) => existsSync(p)) ?? paths[0];
    const label = `${RUNTIME_NAME} → ${named ?? rt?.path} (${rt?.source.file})`;
    const broken = rt && brokenRuntime(ctx, "podman", label, [{ path: named ?? rt.path, exec: true }]);
    if (broken) return broken;
    if (rt)
      return pass(
        `${RUNTIME_NAME} → ${rt.path}${rt.args.length ? ` ${rt.args.join(" ")}` : ""} (${rt.source.file})`,
        [`config files: ${files.join(", ") || "none"}`],
        { path: rt.path, declared: true },
      );
    const builtin = PODMAN_BUILTIN_RUNSC.find((p) => existsSync(p));
    if (builtin) {
      return warn(
        `not configured; Podman's built-in runtime list finds ${builtin}, without runtime flags`,
        {
          cause:
            "`podman --runtime runsc` works through Podman's defaults, but flags this host may need (network=none) cannot be added there.",
          fix: register(),
        },
        [`config files: ${files.join(", ") || "none"}`],
        { path: builtin, declared: false },
      );
    }
    return fail(
      `no "${RUNTIME_NAME}" runtime in ${files.join(", ") || "containers.conf"}, and runsc is not on Podman's built-in paths`,
      { cause: "`podman --runtime runsc` fails: Podman cannot find the runtime.", fix: register() },
    );
  },
};

/** The runsc flags a register-runtime fix adds (podman spelling: "ignore-cgroups"). */
const flagsOf = (fix: Fix | null | undefined): string[] =>
  fix?.id !== "podman.register-runtime" ? [] : fix.action?.kind === "configure" ? (fix.action.runtimeArgs ?? []) : [];

/** How many flags the probe adds, one failure at a time, before it gives up (cgroups, network, one spare). */
const MAX_PROBED_FLAGS = 3;

export const podmanHello: Check = {
  id: "podman.hello",
  title: "A Podman container runs under gVisor (podman --runtime runsc run)",
  needs: ["podman.runtime"],
  // Podman run by a normal user is their own rootless engine: no root needed to prove it.
  requires: { containers: true, thisMachine: true },
  timeoutMs: 120_000,
  async run(ctx) {
    const bin = ctx.facts.engines!.podman.detection!.binary!;
    const script = ["sh", "-c", "dmesg 2>&1; exit 0"];
    const opts = { env: ctx.options.env, timeoutMs: 90_000 };
    // --runtime-flag hands runsc flags to this one podman run; containers.conf is not touched.
    const asFlags = (flags: string[]) => flags.flatMap((a) => ["--runtime-flag", a.replace(/^--/, "")]);
    const probe = (flags: string[] = []) =>
      runInProbeImage(bin, ["--runtime", RUNTIME_NAME, ...asFlags(flags), "--rm", "--network", "none"], script, opts);
    const runsc = await probeRunsc(ctx, (ctx.finding("podman.runtime").data as { path?: string } | undefined)?.path);
    const strict = strictSidecars(runsc);
    // A probe: when the sandbox fails with a rule whose fix is a runsc flag, run again with that flag
    // (podman --runtime-flag) and observe the next failure, so one fix registers every flag this host
    // proved it needs (rootless here: ignore-cgroups for cgroup-denied, then network=none for netns-root).
    const probed: string[] = [];
    const rules: string[] = [];
    const causes: string[] = [];
    const details: string[] = [];
    let first: Outcome | null = null;
    for (;;) {
      const { result: r, args, silentFirst } = await probe([...strict, ...probed]);
      const cmd = `podman ${args.slice(0, -1).join(" ")} '${args.at(-1)}'`;
      details.push(`$ ${cmd}  (${r.durationMs} ms)`);
      if (strict.length && details.length === 1) details.push(`sidecars: ${STRICT_NOTE}`);
      if (silentFirst) details.push(silentRetryNote(silentFirst));
      if (r.code !== 0) {
        let failed = didNotStart("podman.hello", r, cmd, rc(ctx), []);
        if (runsc && isGenericStartError(`${r.stderr}\n${r.stdout}`)) {
          // The generic start error says nothing: rerun once with runsc's debug logs and decode them.
          const shown = asFlags([...strict, ...probed, "--debug", "--debug-log=<private temp dir>/"]).join(" ");
          const how = `podman run --runtime ${RUNTIME_NAME} ${shown} …`;
          const rerun = async (debugArgs: string[]) => (await probe([...strict, ...probed, ...debugArgs])).result;
          const rerunOf = { runsc, args: [], env: ctx.options.env, engine: { how, rerun } };
          failed = await decodeStartFailure(failed, r, "podman.hello", rc(ctx), rerunOf);
        }
        const fresh = flagsOf(failed.diagnosis?.fix).filter((f) => !probed.includes(f));
        if (!first) first = failed;
        if (!fresh.length || probed.length + fresh.length > MAX_PROBED_FLAGS) {
          // Nothing more to try: this failure as seen, after the probe's earlier runs.
          return { ...failed, details: [...details, ...(failed.details ?? [])] };
        }
        details.push(`→ ${failed.diagnosis!.rule}: retrying with --runtime-flag ${fresh.join(" --runtime-flag ")}`);
        rules.push(failed.diagnosis!.rule!);
        causes.push(failed.diagnosis!.cause);
        probed.push(...fresh);
        continue;
      }
      const notGvisor = { cause: `Podman's "${RUNTIME_NAME}" runtime does not run runsc.`, fix: register() };
      const ok = signatureOutcome(r.stdout.split("\n").filter(Boolean), notGvisor, details, r.durationMs);
      if (!first || ok.status !== "pass") return ok;
      // It runs under gVisor only with the probed flags: fail as first seen, with one fix for all of them.
      const summary = `Run ${RUNTIME_NAME} with ${probed.join(", ")} (each proven by a probe: ${rules.join(", ")})`;
      const fix = registerFix(rc(ctx), summary, probed);
      return fail(
        `${first.message}; it runs under gVisor with --runtime-flag ${probed.join(" --runtime-flag ")}`,
        { ...first.diagnosis!, cause: causes.join(" Then: "), fix },
        [...details, ...(ok.details ?? []).filter((d) => !details.includes(d))],
      );
    }
  },
};
