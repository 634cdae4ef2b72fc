// containerd checks: is it running, is its config one containerd reads the way the
// user thinks (schema version vs plugin path), does the merged config show runsc,
// and does a container run under gVisor through it (ctr)?
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configChangedAfterStart } from "../platform/engines/daemon-control.ts";
import { shimBinaryName } from "../platform/engines/edit/shim-config.ts";
import { hostRootAt } from "../platform/os/host-root.ts";
import { RUNC_SHIM_TYPE, RUNSC_SHIM_TYPE, runtimesPath } from "../platform/engines/containerd/config.ts";
import type { EngineDetection } from "../platform/engines/types.ts";
import { getPath, parseTomlStrict } from "../platform/engines/edit/toml-check.ts";
import { shellQuote } from "../platform/os/shell.ts";
import { run } from "../platform/os/spawn.ts";
import { helloRootfs, writeRootfs } from "../platform/probe/rootfs.ts";
import { reapStrayShims } from "../platform/runsc/stray-shims.ts";
import { findTool } from "../platform/os/which.ts";
import { diagnose, diagnoseState } from "./rules.ts";
import { brokenRuntimeFile, engineRuleContext } from "./runtime-files.ts";
import { actionFix, editConfigFix } from "./fix-actions.ts";
import { fail, pass, skip, warn, type Check, type CheckContext } from "./types.ts";
import {
  decodeStartFailure,
  didNotStart,
  probeRunsc,
  RUNTIME_NAME,
  signatureOutcome,
  silentRetryNote,
  STRICT_NOTE,
  strictSidecars,
} from "./probe.ts";
import { primaryRunsc } from "../platform/runsc/binaries.ts";
import { failedSilently } from "../platform/probe/images.ts";
import { isGenericStartError } from "../platform/runsc/debug-log.ts";
import { sleep } from "../platform/os/sleep.ts";

type ContainerdDetection = EngineDetection & { shim: string | null; address: string };
const det = (ctx: CheckContext) => ctx.facts.engines?.containerd.detection as ContainerdDetection | null | undefined;
const rc = (ctx: CheckContext) => engineRuleContext(ctx, "containerd");
const REGISTER = actionFix(
  "containerd.register-runtime",
  "Register runsc with containerd and restart it",
  { kind: "configure", engines: ["containerd"], restart: true },
  { confirm: "restarts containerd" },
);

export const containerdDaemon: Check = {
  id: "containerd.daemon",
  title: "containerd is running",
  run(ctx) {
    const d = det(ctx);
    const err = ctx.facts.engines?.containerd.error;
    if (err) return fail(`cannot inspect containerd: ${err}`, null);
    if (!d?.installed && !d?.running) return skip("containerd is not installed");
    const details = [
      `binary: ${d.binary}`,
      `config: ${d.configPath} (${d.configSource})`,
      `address: ${d.address}`,
      ...d.notes,
    ];
    // Installed but idle (e.g. pulled in by docker.io, which runs its own): nothing uses it now.
    if (!d.running)
      return skip(
        `containerd ${d.version ?? ""} is installed but not running at ${d.address} (start it: ${ctx.facts.systemd ? "systemctl start containerd" : "containerd &"})`.replace(
          "  ",
          " ",
        ),
        details,
      );
    return pass(`containerd ${d.version ?? ""} (pid ${d.pid}) at ${d.address}`.replace("  ", " "), details);
  },
};

export const containerdConfig: Check = {
  id: "containerd.config",
  title: "containerd's config is valid and uses the plugin path of its version",
  needs: ["containerd.daemon"],
  run(ctx) {
    const ins = ctx.facts.engines!.containerd.inspection;
    const d = det(ctx)!;
    if (!ins) return skip("containerd's config could not be read");
    const file = ins.files[0];
    if (!file?.exists) return pass(`no ${d.configPath}: containerd runs on its built-in defaults`);
    // A missing shim is runsc.shim's finding, not a config problem.
    const faults = ins.faults.filter((f) => !f.code.startsWith("containerd.shim-missing"));
    const errors = faults.filter((f) => f.severity === "error");
    const warnings = faults.filter((f) => f.severity === "warning");
    const spot = (f: (typeof faults)[number]) =>
      `${f.file}${f.line ? `:${f.line}` : ""}${f.column ? `:${f.column}` : ""}: ${f.message}${f.fix ? ` — ${f.fix}` : ""}`;
    // No version line on containerd 2.x: its own migration, shown as a diff, only with consent (--yes).
    const migrate = actionFix(
      "containerd.register-runtime",
      "Migrate the config to version 3 with containerd config migrate, register runsc and restart containerd",
      { kind: "configure", engines: ["containerd"], migrate: true, restart: true },
      { confirm: "rewrites config.toml with containerd config migrate and restarts containerd" },
    );
    const fixFor = (code: string) =>
      code === "containerd.v1-on-2x"
        ? migrate
        : /v2-section-in-v3|v3-on-1x|section-in-v/.test(code)
          ? actionFix(
              "containerd.register-runtime",
              "Re-register runsc under the plugin path this config version uses (and restart containerd)",
              { kind: "configure", engines: ["containerd"], restart: true },
              { confirm: "restarts containerd" },
            )
          : editConfigFix("containerd.edit-config", d.configPath, `Fix ${d.configPath} at the spot shown`);
    if (errors.length) {
      let msg = `${errors.length} problem${errors.length === 1 ? "" : "s"} in ${d.configPath}: ${errors[0].message}`;
      const spots = [...errors, ...warnings].map(spot);
      // The proof, from containerd itself: the runtimes the file declares that its config dump lacks.
      const dropped = errors[0].code === "containerd.v1-on-2x" ? droppedRuntimes(ctx, file.path) : [];
      if (dropped.length) {
        msg += ` (gone from containerd config dump: ${dropped.join(", ")})`;
        spots.unshift(`declared in ${file.path}, absent from containerd config dump: ${dropped.join(", ")}`);
      }
      const stray = /section-in-v/.test(errors[0].code);
      if (stray) return fail(msg, diagnoseState("containerd-plugin-path", rc(ctx)), spots);
      return fail(msg, { cause: errors.map(spot).join("; "), fix: fixFor(errors[0].code) }, spots);
    }
    if (warnings.length)
      return warn(
        `${warnings[0].message}`,
        { cause: warnings.map(spot).join("; "), fix: fixFor(warnings[0].code) },
        warnings.map(spot),
      );
    return pass(
      `${d.configPath} is valid${ins.files.length > 1 ? ` (with ${ins.files.length - 1} imported file${ins.files.length > 2 ? "s" : ""})` : ""}`,
      [`runtimes declared: ${Object.keys(ins.runtimes).join(", ") || "none"}`],
    );
  },
};

/** Runtime names `file` declares under any config version's CRI path that containerd's config dump does not have. */
function droppedRuntimes(ctx: CheckContext, file: string): string[] {
  const dump = ctx.facts.engines?.containerdDump?.doc;
  if (!dump) return [];
  let doc: Record<string, any>;
  try {
    doc = parseTomlStrict(readFileSync(hostRootAt(ctx.facts.hostRoot ?? undefined).local(file), "utf8"), file);
  } catch {
    return [];
  }
  const names = new Set(([1, 2, 3] as const).flatMap((v) => Object.keys(getPath(doc, runtimesPath(v)) ?? {})));
  return [...names].filter((n) => !dumpRuntime(dump, n)).sort();
}

/** The runtime table of `name` in a `containerd config dump` document. */
export function dumpRuntime(dump: Record<string, any>, name: string): Record<string, any> | undefined {
  return getPath(dump, [...runtimesPath(dump.version === 3 ? 3 : 2), name]) as Record<string, any> | undefined;
}

export const containerdRuntime: Check = {
  id: "containerd.runtime",
  title: "containerd's merged config (config dump) has the runsc runtime",
  needs: ["containerd.config"],
  run(ctx) {
    const e = ctx.facts.engines!;
    const d = det(ctx)!;
    const declared = e.containerd.inspection?.runtimes[RUNTIME_NAME];
    const dump = e.containerdDump;
    if (!dump?.doc) {
      if (!declared)
        return fail(`no "${RUNTIME_NAME}" runtime in ${d.configPath}`, { ...diagnoseCri(ctx), fix: REGISTER });
      return warn(`cannot verify with \`containerd config dump\`: ${dump?.error ?? "containerd not installed"}`);
    }
    const got = dumpRuntime(dump.doc, RUNTIME_NAME);
    if (!got) {
      const cri = diagnoseCri(ctx);
      if (declared)
        return fail(
          `${d.configPath} declares "${RUNTIME_NAME}" (line ${declared.source.line ?? "?"}), but containerd's merged config does not have it`,
          {
            cause: `containerd ignores that table: it sits under a plugin path this config version does not read. ${cri.cause}`,
            fix: REGISTER,
          },
        );
      return fail(`containerd's merged config has no "${RUNTIME_NAME}" runtime`, { ...cri, fix: REGISTER });
    }
    const type = String(got.runtime_type ?? "");
    const binary = getPath(got, ["options", "BinaryName"]) as string | undefined;
    const msg = `${RUNTIME_NAME} → ${type}${binary ? ` (BinaryName ${binary})` : ""}`;
    const root = hostRootAt(ctx.facts.hostRoot ?? undefined);
    const cfgPath = getPath(got, ["options", "ConfigPath"]) as string | undefined;
    const shimBinary = type === RUNSC_SHIM_TYPE ? declared?.path : null;
    const files = [
      { path: binary, exec: true },
      { path: cfgPath, exec: false },
      { path: shimBinary, exec: true },
    ];
    const bad = brokenRuntimeFile(files, root);
    if (bad) {
      const match = ["", bad.path] as unknown as RegExpMatchArray;
      const d = diagnoseState("runtime-path-missing", { ...rc(ctx), match });
      const why = `${msg}, but ${bad.path} ${bad.problem}: containers of this runtime fail to start`;
      return fail(why, d, [`from containerd -c ${det(ctx)!.configPath} config dump`]);
    }
    // containerd has no live reload: a config newer than the daemon is not in effect yet.
    if (d.running && d.pid) {
      const files = (e.containerd.inspection?.files ?? []).map((f) => f.path);
      const late = configChangedAfterStart(d.pid, files, root.local, 1000);
      if (late) {
        return fail(
          `${msg} is configured, but containerd (pid ${d.pid}) started before the config changed`,
          {
            cause: "containerd reads its config only at start (it has no reload; SIGHUP makes it exit).",
            fix: REGISTER,
            rule: "cri-no-runtime",
          },
          [
            `config changed ${new Date(late.changedMs).toISOString()}, ` +
              `containerd started ${new Date(late.startedMs).toISOString()}`,
          ],
        );
      }
    }
    return pass(msg, [`from containerd -c ${d.configPath} config dump`], { runtime: got });
  },
};

function diagnoseCri(ctx: CheckContext) {
  return diagnose("containerd.runtime", `no runtime for "${RUNTIME_NAME}" is configured`, rc(ctx))!;
}

export const containerdHello: Check = {
  id: "containerd.hello",
  title: "A container runs under gVisor through containerd (ctr run)",
  needs: ["containerd.runtime"],
  requires: { root: true, containers: true, thisMachine: true },
  timeoutMs: 90_000,
  async run(ctx) {
    const d = det(ctx)!;
    if (!d.running) return skip("containerd is not running");
    const ctr = findTool("ctr", ctx.options.env);
    if (!ctr) return skip("ctr (containerd's CLI) is not installed");
    const rt = (ctx.finding("containerd.runtime").data as { runtime: Record<string, any> }).runtime;
    const type = String(rt.runtime_type ?? "");
    // ctr ignores the CRI runtime tables, so pass what the table says by hand.
    const runtimeArgs: string[] = [];
    if (type === RUNC_SHIM_TYPE) {
      const bin = getPath(rt, ["options", "BinaryName"]);
      if (typeof bin !== "string" || !bin)
        return fail(`the "${RUNTIME_NAME}" runtime uses the runc shim without BinaryName: it runs runc, not runsc`, {
          cause: "runtime_type io.containerd.runc.v2 needs options.BinaryName = <runsc or its wrapper>.",
          fix: REGISTER,
        });
      runtimeArgs.push("--runtime", RUNC_SHIM_TYPE, "--runc-binary", bin);
    } else if (type === RUNSC_SHIM_TYPE) {
      runtimeArgs.push("--runtime", RUNSC_SHIM_TYPE);
      const cfg = getPath(rt, ["options", "ConfigPath"]);
      if (typeof cfg === "string" && cfg) runtimeArgs.push("--runtime-config-path", cfg);
    } else return skip(`runtime_type ${type} is not one gvisor-doctor knows how to drive with ctr`);
    const id = `gvisor-doctor-hello-${process.pid}-${Date.now().toString(36)}`;
    const ns = ["-a", d.address, "-n", "gvisor-doctor"];
    const rootfs = await helloRootfs();
    const roots: string[] = [];
    const ids = [id];
    /** One `ctr run` of the hello container with these runtime arguments (a fresh rootfs each time). */
    const ctrRun = async (rtArgs: string[], cid: string) => {
      const root = mkdtempSync(join(tmpdir(), "gvd-ctr-rootfs-"));
      roots.push(root);
      writeRootfs(rootfs, root); // runsc creates mount points in it: one per run
      // A --rootfs container has no image config, hence no PATH: name the binaries.
      const args = [...ns, "run", "--rm", "--rootfs", ...rtArgs, root, cid, "/bin/sh", "-c", "/bin/dmesg 2>&1; exit 0"];
      const r = await run(ctr, args, { timeoutMs: 60_000, env: ctx.options.env });
      return { r, cmd: `ctr ${args.join(" ")}`.replace(root, "<rootfs>") };
    };
    /** A start that failed can strand the shim (with runsc's sandbox) and the container record. */
    const cleanUp = async (cid: string) => {
      await reapStrayShims(cid);
      await run(ctr, [...ns, "containers", "rm", cid], { timeoutMs: 10_000 }).catch(() => {});
    };
    // Where the runsc knows --sidecar-usage-policy, the probe runs STRICT (through a one-off runtime,
    // ctr cannot add runsc flags otherwise): an embedded-sidecar fallback cannot hide a missing one.
    const oneOff = await oneOffRuntime(ctx, rt, type);
    const strict = strictSidecars(oneOff?.runsc);
    const probeArgs = oneOff && strict.length ? oneOff.args(strict) : runtimeArgs;
    try {
      let { r, cmd } = await ctrRun(probeArgs, id);
      // The same wordless start failure the docker and podman probes retry (platform/probe/images.ts).
      const silentFirst = failedSilently(r) ? r : undefined;
      if (silentFirst) {
        await cleanUp(id);
        await sleep(1000);
        ({ r, cmd } = await ctrRun(probeArgs, id));
      }
      const details = [`$ ${cmd}  (${r.durationMs} ms)`];
      if (oneOff && strict.length) details.push(`sidecars: ${STRICT_NOTE} (${oneOff.describe(strict)})`);
      if (silentFirst) details.push(silentRetryNote(silentFirst));
      if (r.code !== 0) {
        const failed = didNotStart("containerd.hello", r, cmd, rc(ctx), details);
        if (!oneOff || !isGenericStartError(`${r.stderr}\n${r.stdout}`)) return failed;
        const cid = `${id}-debug`;
        ids.push(cid);
        const rerun = async (debugArgs: string[]) => (await ctrRun(oneOff.args([...strict, ...debugArgs]), cid)).r;
        const shown = oneOff.describe([...strict, "--debug", "--debug-log=<private temp dir>/"]);
        const how = `ctr run --rm --rootfs ${shown} <rootfs> ${cid} …`;
        const env = ctx.options.env;
        const rerunOf = { runsc: oneOff.runsc, args: [], env, engine: { how, rerun }, note: oneOff.note };
        return await decodeStartFailure(failed, r, "containerd.hello", rc(ctx), rerunOf);
      }
      const notRunsc = { cause: `The "${RUNTIME_NAME}" runtime does not run runsc.`, fix: REGISTER };
      return signatureOutcome(r.stdout.split("\n").filter(Boolean), notRunsc, details, r.durationMs);
    } finally {
      oneOff?.remove();
      for (const cid of ids) await cleanUp(cid);
      for (const root of roots) {
        try {
          rmSync(root, { recursive: true, force: true });
        } catch {
          // Never turn a finished probe into a crash over a temp dir (e.g. EBUSY while runsc exits).
        }
      }
    }
  },
};

/** runsc's flags as a runsc shim config's [runsc_config] table wants them ("--debug" → debug = "true"). */
export function withRunscConfig(original: string, debugArgs: string[]): string {
  const flags: Record<string, string> = Object.fromEntries(
    debugArgs.map((a) => {
      const [k, ...v] = a.replace(/^--?/, "").split("=");
      return [k!, v.length ? v.join("=") : "true"];
    }),
  );
  // Keys the original sets for runsc go: ours replace them (a TOML table may not repeat a key).
  const key = (l: string) => /^\s*"?([\w-]+)"?\s*=/.exec(l)?.[1];
  const lines = original.split("\n").filter((l) => !(key(l) && key(l)! in flags));
  const entries = Object.entries(flags).map(([k, v]) => `  "${k}" = ${JSON.stringify(v)}`);
  const at = lines.findIndex((l) => /^\s*\[runsc_config\]\s*$/.test(l));
  if (at >= 0) lines.splice(at + 1, 0, ...entries);
  else lines.push("[runsc_config]", ...entries);
  return `${lines.join("\n").trim()}\n`;
}

/**
 * A one-off runtime only this probe uses (the user's containerd config is not touched), carrying extra
 * runsc flags: for the runc shim, a wrapper script that starts BinaryName with them; for the runsc
 * shim, a copy of its ConfigPath with them in [runsc_config]. Null when the runsc cannot be found.
 */
async function oneOffRuntime(ctx: CheckContext, rt: Record<string, any>, type: string) {
  const dir = mkdtempSync(join(tmpdir(), "gvd-ctr-oneoff-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (type === RUNC_SHIM_TYPE) {
    const bin = String(getPath(rt, ["options", "BinaryName"]));
    const runsc = await probeRunsc(ctx, bin);
    if (!runsc) return (remove(), null);
    const wrapper = join(dir, "runsc");
    const args = (flags: string[]) => {
      const line = [bin, ...flags].map(shellQuote).join(" ");
      writeFileSync(wrapper, `#!/bin/sh\nexec ${line} "$@"\n`, { mode: 0o755 });
      return ["--runtime", RUNC_SHIM_TYPE, "--runc-binary", wrapper];
    };
    const describe = (flags: string[]) =>
      `--runtime ${RUNC_SHIM_TYPE} --runc-binary <one-off wrapper: ${[bin, ...flags].join(" ")}>`;
    const note = `a one-off runtime: ${bin} with debug flags, through the runc shim`;
    return { runsc, args, remove, describe, note };
  }
  // The runsc shim runs the runsc on containerd's PATH unless its config names another (binary_name).
  const cfg = getPath(rt, ["options", "ConfigPath"]);
  let original = "";
  let named: string | null = null;
  try {
    original = typeof cfg === "string" && cfg ? readFileSync(cfg, "utf8") : "";
    named = shimBinaryName(original, String(cfg));
  } catch {}
  const runsc = await probeRunsc(ctx, named?.startsWith("/") ? named : primaryRunsc(ctx.facts.runsc)?.path);
  if (!runsc) return (remove(), null);
  const path = join(dir, "runsc.toml");
  const args = (flags: string[]) => {
    writeFileSync(path, withRunscConfig(original, flags));
    return ["--runtime", RUNSC_SHIM_TYPE, "--runtime-config-path", path];
  };
  const describe = (flags: string[]) =>
    `--runtime ${RUNSC_SHIM_TYPE} --runtime-config-path ` +
    `<one-off copy of ${cfg || "the shim config"} with [runsc_config] ${flags.join(" ")}>`;
  const note = `a one-off copy of ${cfg || "the runsc shim's config"} with debug flags`;
  return { runsc, args, remove, describe, note };
}
