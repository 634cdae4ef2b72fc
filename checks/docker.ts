// Docker checks: is the daemon there, does it know runsc (and the right runsc), does a
// container really run under gVisor, and what network does it get?
import { realpathSync, statSync } from "node:fs";
import { readElf } from "../platform/os/elf.ts";
import { runDockerProbe } from "../platform/probe/images.ts";
import type { RunResult } from "../platform/os/spawn.ts";
import { readEnviron } from "../platform/os/processes.ts";
import { primaryRunsc } from "../platform/runsc/binaries.ts";
import { which, SYSTEM_BIN_DIRS } from "../platform/os/which.ts";
import { DEFAULT_DOCKER_HOST } from "../platform/engines/docker/client.ts";
import { sameArgs } from "../platform/engines/docker/daemon-json.ts";
import { diagnose, diagnoseState, type RuleContext } from "./rules.ts";
import {
  decodeStartFailure,
  didNotStart,
  probeRunsc,
  RUNTIME_NAME,
  silentRetryNote,
  signatureOutcome,
} from "./probe.ts";

export { GVISOR_SIGNATURE, RUNTIME_NAME } from "./probe.ts";
import { actionFix, editConfigFix } from "./fix-actions.ts";
import { fail, pass, skip, warn } from "./types.ts";
import type { Check, CheckContext, Diagnosis, FixAction, Outcome } from "./types.ts";

const NET_MARK = "--- /proc/net/dev ---";
/** Register runsc with this dockerd (and reload it). */
const CONFIGURE_DOCKER: FixAction = { kind: "configure", engines: ["docker"] };

const rc = (ctx: CheckContext): Omit<RuleContext, "match"> => ({
  facts: ctx.facts,
  engine: "docker",
  runtime: RUNTIME_NAME,
  configPath: ctx.facts.docker.configPath,
});

function daemonDiagnosis(error: string, systemd: boolean): Diagnosis {
  if (/permission denied/i.test(error)) {
    return {
      cause: "This user may not use the Docker socket.",
      fix: {
        id: "docker.socket-permission",
        summary: "Run as root, or add the user to the docker group",
        command: "sudo gvisor-doctor check  # or: sudo usermod -aG docker $USER",
        automatic: false,
      },
    };
  }
  return {
    cause: "dockerd is not running, or DOCKER_HOST points elsewhere.",
    fix: {
      id: "docker.start",
      summary: "Start the Docker daemon",
      command: systemd ? "sudo systemctl start docker" : "sudo dockerd >/var/log/dockerd.log 2>&1 &",
      automatic: false,
    },
  };
}

/**
 * A normal user's rootless dockerd listens at $XDG_RUNTIME_DIR/docker.sock, but the CLI (and so the
 * doctor) was pointed elsewhere: neither DOCKER_HOST nor a docker context names it.
 */
export function rootlessSocketUnused(facts: CheckContext["facts"], env: NodeJS.ProcessEnv): string | null {
  if (facts.user?.root !== false || !env.XDG_RUNTIME_DIR) return null;
  const sock = `${env.XDG_RUNTIME_DIR.replace(/\/+$/, "")}/docker.sock`;
  try {
    if (!statSync(sock).isSocket()) return null;
  } catch {
    return null;
  }
  return facts.docker.host === `unix://${sock}` ? null : `unix://${sock}`;
}

export const dockerDaemon: Check = {
  id: "docker.daemon",
  title: "Docker daemon is reachable",
  requires: { thisMachine: true },
  run({ facts, options }) {
    const d = facts.docker;
    const explicitHost = d.host !== DEFAULT_DOCKER_HOST;
    const dockerdInstalled = !!facts.engines?.docker.detection?.installed;
    if (!d.cli && !d.info && facts.dockerd.length === 0) return skip("Docker is not installed");
    if (!d.info && facts.dockerd.length === 0 && !explicitHost && !dockerdInstalled) {
      return skip("only the docker CLI is installed (no dockerd here, DOCKER_HOST unset)");
    }
    if (!d.via) {
      return fail(`dockerd runs but the docker CLI is not on PATH, and DOCKER_HOST=${d.host} is not a unix socket`, {
        cause: "Without the CLI the doctor reaches dockerd through the Engine API on a unix socket only.",
        fix: {
          id: "docker.install-cli",
          summary: "Install the docker CLI, or point DOCKER_HOST at dockerd's unix socket",
          command: "sudo apt-get install docker-cli  # or docker.io, docker-ce-cli",
          automatic: false,
        },
      });
    }
    const path = (v: "api" | "cli" | null) => (v === "api" ? `the Engine API on ${d.api}` : d.cli);
    const how = d.via === d.probeVia ? path(d.via) : `${path(d.via)}; hello probe: ${path(d.probeVia)}`;
    const via = `via: ${how}${d.cli ? "" : " (no docker CLI on PATH)"}`;
    const pid = d.daemon ? [`pid: ${d.daemon.pid} (${d.daemon.argv.join(" ")})`] : [];
    const details = [`host: ${d.host}`, `config: ${d.configPath}`, ...pid, via];
    const rootless = rootlessSocketUnused(facts, options.env);
    if (!d.info && rootless) {
      return fail(
        `cannot reach dockerd at ${d.host}: ${d.infoError}`,
        {
          cause:
            `Your rootless dockerd listens at ${rootless}, but DOCKER_HOST is unset and no docker context names it: ` +
            `docker (and gvisor-doctor) talk to ${d.host} instead.`,
          fix: {
            id: "docker.rootless-host",
            summary: "Point docker at your rootless dockerd",
            command: `export DOCKER_HOST=${rootless}`,
            automatic: false,
          },
        },
        details,
      );
    }
    if (!d.info)
      return fail(
        `cannot reach dockerd at ${d.host}: ${d.infoError}`,
        daemonDiagnosis(d.infoError ?? "", facts.systemd),
        details,
      );
    return pass(`Docker ${d.info.serverVersion} at ${d.host}`, details);
  },
};

const spotOf = (f: { file: string; line?: number; column?: number }) =>
  `${f.file}${f.line ? `:${f.line}${f.column ? `:${f.column}` : ""}` : ""}`;

export const dockerConfig: Check = {
  id: "docker.config",
  title: "daemon.json is valid (dockerd would accept it)",
  requires: { thisMachine: true },
  run(ctx) {
    const e = ctx.facts.engines?.docker;
    if (e?.error) return fail(`cannot inspect Docker's config: ${e.error}`, null);
    const det = e?.detection;
    const ins = e?.inspection;
    if (!det || !ins || (!det.installed && !det.running)) return skip("Docker is not installed");
    const file = det.configPath;
    if (!ins.files[0]?.exists) return pass(`no ${file}: dockerd runs on its defaults`);
    const errors = ins.faults.filter((f) => f.severity === "error");
    const warnings = ins.faults.filter((f) => f.severity === "warning");
    const lines = [...errors, ...warnings].map((f) => `${spotOf(f)}: ${f.message}${f.fix ? ` — ${f.fix}` : ""}`);
    const managed = ins.files[0].managedBy
      ? [`managed by ${ins.files[0].managedBy}: change it in its source of truth (configure refuses without --force)`]
      : [];
    const running = ctx.facts.docker.info
      ? "dockerd still runs on the last config it loaded, but will refuse this file on its next start or reload"
      : "dockerd refuses to start with this file";
    const first = errors[0];
    if (first) {
      const repairable = first.code === "docker.config-repairable";
      return fail(
        `${spotOf(first)}: ${first.message}`,
        {
          cause: `${running}.${repairable ? " The file is empty, blank or starts with a UTF-8 BOM." : ""}`,
          fix: repairable
            ? actionFix(
                "docker.repair-config",
                `Repair ${file} (a backup is kept) and register runsc`,
                CONFIGURE_DOCKER,
              )
            : editConfigFix(
                "docker.edit-config",
                file,
                `Edit ${file} at ${spotOf(first)}${first.fix ? `: ${first.fix}` : ""}`,
              ),
        },
        [...lines, ...managed],
      );
    }
    if (warnings.length)
      return warn(
        `${spotOf(warnings[0])}: ${warnings[0].message}`,
        {
          cause: "dockerd accepts the file, but not the way it reads.",
          fix: editConfigFix("docker.edit-config", file, warnings[0].fix ?? `Edit ${file}`),
        },
        [...lines, ...managed],
      );
    return pass(`${file} is valid JSON dockerd accepts`, managed);
  },
};

export const dockerRuntime: Check = {
  id: "docker.runtime",
  title: "runsc is registered in daemon.json and loaded by dockerd",
  requires: { thisMachine: true },
  needs: ["docker.daemon"],
  run(ctx) {
    // The daemon (what it loaded, the file it reads) from the daemon facts; what the file declares from the engine's.
    const d = ctx.facts.docker;
    const file = d.configPath;
    const inFile = ctx.facts.engines?.docker.inspection?.runtimes[RUNTIME_NAME];
    const loaded = d.info!.runtimes[RUNTIME_NAME];
    const listed = Object.keys(d.info!.runtimes).join(", ");
    const reload = actionFix(
      "docker.register-runtime",
      `Reload dockerd so it loads "${RUNTIME_NAME}" from ${file}`,
      CONFIGURE_DOCKER,
    );
    if (!loaded && inFile) {
      return fail(
        `"${RUNTIME_NAME}" is in ${file} (line ${inFile.source.line ?? "?"}) but dockerd has not loaded it: it was not reloaded since the edit`,
        {
          cause: "dockerd reads daemon.json only at start and on reload (SIGHUP / systemctl reload docker).",
          fix: reload,
          rule: "runtime-unknown",
        },
        [`docker info runtimes: ${listed}`],
      );
    }
    if (!loaded)
      return fail(
        `dockerd at ${d.host} does not list a "${RUNTIME_NAME}" runtime (it has: ${listed})`,
        diagnoseState("runtime-unknown", rc(ctx)),
        [`docker info runtimes: ${listed}`],
      );
    const args = loaded.runtimeArgs?.length ? ` ${loaded.runtimeArgs.join(" ")}` : "";
    const msg = `${RUNTIME_NAME} → ${loaded.path}${args}${d.info!.defaultRuntime === RUNTIME_NAME ? " (default runtime)" : ""}`;
    const details = [`default runtime: ${d.info!.defaultRuntime}`, `config: ${file}`];
    if (!inFile) {
      const flag = d.daemon?.argv.some((a) => a.startsWith("--add-runtime"));
      if (flag) return pass(`${msg} (from dockerd's --add-runtime flag)`, details, loaded);
      const fix = actionFix("docker.register-runtime", `Declare "${RUNTIME_NAME}" in ${file} again`, CONFIGURE_DOCKER);
      const cause = "The file changed since dockerd loaded it; the next restart drops the runtime.";
      return warn(`${msg} is loaded, but ${file} no longer declares it`, { cause, fix }, details, loaded);
    }
    if (inFile.path !== loaded.path || !sameArgs(inFile.args, loaded.runtimeArgs)) {
      return fail(
        `dockerd runs "${RUNTIME_NAME}" as ${loaded.path}${args}, but ${file} now says ${inFile.path} ${inFile.args.join(" ")}`.trimEnd(),
        { cause: "daemon.json was edited and dockerd not reloaded.", fix: reload },
        details,
        loaded,
      );
    }
    return pass(msg, details, loaded);
  },
};

export const dockerRuntimePath: Check = {
  id: "docker.runtime-path",
  title: "The registered runtime path is the runsc we expect",
  requires: { thisMachine: true },
  needs: ["docker.runtime"],
  run(ctx) {
    const { facts } = ctx;
    const rt = facts.docker.info!.runtimes[RUNTIME_NAME];
    // dockerd resolves a bare name on its own PATH; we can only approximate with the system dirs.
    const path = rt.path.includes("/") ? rt.path : which(rt.path, SYSTEM_BIN_DIRS.join(":"));
    if (!path)
      return fail(
        `"${rt.path}" is not found on dockerd's PATH`,
        diagnoseState("runtime-path-missing", { ...rc(ctx), match: ["", rt.path] }),
      );
    let real: string;
    try {
      real = realpathSync(path);
      if (!statSync(real).isFile()) throw new Error("not a file");
    } catch {
      const d = diagnose(
        "docker.runtime-path",
        `error while looking up the specified runtime path: exec: "${path}": stat ${path}: no such file or directory`,
        rc(ctx),
      )!;
      return fail(`${path} does not exist`, d);
    }
    // A runsc the facts inspected had its ELF header read there.
    const known = facts.runsc.find((r) => r.realPath === real);
    const elf = known ? known.elf : readElf(real);
    if (!elf) return fail(`${path} is not an ELF executable`, diagnoseState("exec-format", rc(ctx)));
    const primary = primaryRunsc(facts.runsc);
    const version = known?.versionText.replace(/^runsc version /, "") ?? "version unknown";
    if (primary && primary.realPath !== real) {
      return warn(
        `dockerd uses ${path} (${version}), but runsc on PATH is ${primary.path} (${primary.versionText.replace(/^runsc version /, "")})`,
        {
          cause:
            "Two different runsc binaries: containers run the one in daemon.json, not the one you upgrade or test.",
          fix: actionFix("docker.register-runtime", `Point the runtime at ${primary.path}`, {
            kind: "configure",
            engines: ["docker"],
            runsc: primary.path,
          }),
        },
      );
    }
    return pass(`${path}${real !== path ? ` → ${real}` : ""} (${version})`);
  },
};

/** Split the hello container's output into dmesg lines and network interfaces. */
export function parseHelloOutput(out: string): { dmesg: string[]; interfaces: string[] } {
  const [dm, net = ""] = out.split(NET_MARK);
  const interfaces = net
    .split("\n")
    .map((l) => l.match(/^\s*([^\s:]+):/)?.[1])
    .filter((x): x is string => !!x && x !== "Inter-|" && x !== "face");
  return { dmesg: dm.split("\n").filter(Boolean), interfaces };
}

export interface HelloData {
  result: RunResult;
  dmesg: string[];
  interfaces: string[];
}

/**
 * `docker run --runtime` takes only registered runtimes, so Docker cannot be handed a one-off
 * debugging runtime without editing the user's daemon.json. A generic start failure is rerun
 * as `runsc do true` instead: the runtime's own path and arguments, dockerd's $TMPDIR, with
 * debug logs (a different workload than the container, which the details say).
 */
async function decodeDockerStart(ctx: CheckContext, failed: Outcome, r: RunResult, rtArgs: string[]): Promise<Outcome> {
  const path = ctx.facts.docker.info?.runtimes[RUNTIME_NAME]?.path;
  const runsc = await probeRunsc(ctx, path);
  if (!path || !runsc) return failed;
  let real = path;
  try {
    real = realpathSync(path);
  } catch {}
  // The sandbox builds its chroot in dockerd's temp dir, not ours.
  const pid = ctx.facts.docker.daemon?.pid;
  const denv = pid ? readEnviron(pid) : null;
  const env = { ...ctx.options.env, TMPDIR: denv?.TMPDIR };
  if (!env.TMPDIR) delete env.TMPDIR;
  // Without a --network argument `do` would set up a host network for the sandbox: not the question.
  const args = [...rtArgs, ...(rtArgs.some((a) => /^--?network=/.test(a)) ? [] : ["--network=none"]), "do", "true"];
  const via = real !== path ? ` (→ ${real})` : "";
  const note =
    "Docker cannot run a one-off runtime: this is `runsc do true` with the runtime's path" +
    `${via} and arguments, not the container`;
  return decodeStartFailure(failed, r, "docker.hello", rc(ctx), { runsc, args, env, note });
}

export const dockerHello: Check = {
  id: "docker.hello",
  title: "A container starts with --runtime=runsc",
  needs: ["docker.runtime"],
  requires: { containers: true, thisMachine: true },
  timeoutMs: 90_000,
  async run(ctx) {
    const { facts, options } = ctx;
    // `; exit 0` separates "the container did not start" (docker exits 125–127) from
    // "it ran but dmesg was denied" (runc: klogctl EPERM; gVisor allows syslog(2) to anyone).
    const script = `dmesg 2>&1; echo '${NET_MARK}'; cat /proc/net/dev 2>&1; exit 0`;
    // A runtime with --network=none ignores Docker's network namespace: skip setting one up (~100 ms).
    const rtArgs = facts.docker.info!.runtimes[RUNTIME_NAME]?.runtimeArgs ?? [];
    const networkNone = rtArgs.some((a) => /^--?network=none$/.test(a));
    const spec = { runtime: RUNTIME_NAME, networkNone, cmd: ["sh", "-c", script], env: options.env };
    const d = facts.docker;
    const ep = { probe: d.probeVia, cli: d.cli, api: d.api };
    const { result: r, image, command, silentFirst } = await runDockerProbe(ep, spec);
    const cmd = `docker run --rm --runtime=${RUNTIME_NAME} ${image.tag} dmesg`;
    const built = image.built ? ` (built now from ${image.source})` : "";
    const details = [`${command}  (${r.durationMs} ms)`, `image: ${image.tag}${built}`];
    if (silentFirst) details.push(silentRetryNote(silentFirst));
    if (r.code !== 0) return decodeDockerStart(ctx, didNotStart("docker.hello", r, cmd, rc(ctx), details), r, rtArgs);
    const parsed = parseHelloOutput(r.stdout);
    const data: HelloData = { result: r, ...parsed };
    // What the container said first; docker.signature judges it.
    return pass(
      `started and exited (${r.durationMs} ms)`,
      [...details, `dmesg: ${parsed.dmesg[0]?.trim() ?? "(empty)"}`],
      data,
    );
  },
};

export const dockerSignature: Check = {
  id: "docker.signature",
  title: 'The container\'s kernel is gVisor (dmesg shows "Starting gVisor")',
  requires: { thisMachine: true },
  needs: ["docker.hello"],
  run(ctx) {
    const h = ctx.finding("docker.hello").data as HelloData;
    const rt = ctx.facts.docker.info!.runtimes[RUNTIME_NAME];
    return signatureOutcome(
      h.dmesg,
      {
        cause: `The "${RUNTIME_NAME}" runtime's path (${rt?.path}) is not runsc.`,
        fix: actionFix("docker.register-runtime", "Point the runtime at the real runsc", CONFIGURE_DOCKER),
      },
      [],
    );
  },
};

export const dockerNetwork: Check = {
  id: "docker.network",
  title: "Network inside gVisor containers",
  requires: { thisMachine: true },
  needs: ["docker.hello", "docker.signature"],
  run(ctx) {
    const h = ctx.finding("docker.hello").data as HelloData;
    const args = ctx.facts.docker.info!.runtimes[RUNTIME_NAME]?.runtimeArgs ?? [];
    const mode = args.find((a) => /^--?network=/.test(a))?.replace(/^--?network=/, "") ?? "sandbox";
    const ifaces = h.interfaces.join(", ") || "none";
    if (mode === "none")
      return pass(`containers have no network (runtime runs with --network=none); interfaces: ${ifaces}`, [
        "use --network=host in the runtime arguments to share the host's network, or leave it off where the sandbox network works",
      ]);
    if (mode === "host") return pass(`containers share the host's network (--network=host); interfaces: ${ifaces}`);
    if (!h.interfaces.some((i) => i !== "lo")) {
      return warn(`the sandbox network came up without interfaces (${ifaces})`, {
        cause: "runsc's network stack started but Docker gave the container no interface (e.g. --network none).",
        fix: null,
      });
    }
    return pass(`gVisor's network stack is up (interfaces: ${ifaces})`);
  },
};
