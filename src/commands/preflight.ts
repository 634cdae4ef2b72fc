// `gvisor-doctor preflight`: "am I running under gVisor?" from inside a container,
// from independent tells; with --require it refuses to start the app outside gVisor.
import { detectSelfSandbox, GVISOR_MARKER_FILE, type SelfSandboxFacts } from "../../platform/facts/self-sandbox.ts";
import type { Command, IO } from "../args.ts";
import { ActionError, EXIT, UsageError } from "../../platform/os/errors.ts";
import { TOOL, VERSION } from "../version.ts";

const HELP = `Usage: gvisor-doctor preflight [--json] [--require] [-- CMD ARGS...]
       gvisor-doctor preflight --print-script > gvisor-preflight.sh

Answer "am I running under gVisor?" from inside a container, from independent tells:
  /proc/gvisor/kernel_is_gvisor reads "gvisor" (runsc --gvisor-marker-file; cannot be faked) ·
  /proc/sentry-meminfo exists (gVisor only) · dmesg starts with "Starting gVisor" ·
  uname -r ends in -gvisor (or is 4.4.0 on older releases)

Options:
  --require     Exit 1 when not running under gVisor
  -- CMD ARGS   After the check passes, exec CMD (it replaces gvisor-doctor: same PID,
                signals and exit code pass straight through). Implies --require.
  --json        Print the result as JSON on stdout
  -v            Show each tell's evidence
  --print-script
                Print gvisor-preflight.sh: this preflight in POSIX sh (same tells, options,
                messages and exit codes; ~7 KB instead of this ~115 MB binary in an app image)

Dockerfile (images with a shell: the script; without one: the static gvisor-preflight-linux-<arch>
from the release, 47 KB; see README):
  COPY gvisor-preflight.sh /usr/local/bin/
  ENTRYPOINT ["/usr/local/bin/gvisor-preflight.sh", "--require", "--"]
  CMD ["/app/server"]
Note: 'docker build' RUN steps never run under runsc (the builder uses runc), so run the
preflight at container start (ENTRYPOINT/HEALTHCHECK), not in a RUN step.

Exit codes: 0 under gVisor (or not required) · 1 not under gVisor with --require ·
            2 usage error · 127 CMD not found · otherwise CMD's own exit code`;

export function preflightJson(s: SelfSandboxFacts, required: boolean) {
  return {
    schemaVersion: 1,
    tool: TOOL,
    sandboxed: s.inside,
    required,
    tells: s.tells,
    evidence: s.evidence,
  };
}

function render(s: SelfSandboxFacts, io: IO, required: boolean, out: (line: string) => void): void {
  const c = io.c;
  const e = s.evidence;
  if (s.inside) out(`${c.green("✓")} running under gVisor (${s.tells.join(", ")})`);
  else {
    out(`${required ? c.red("✗") : c.yellow("!")} not running under gVisor: no tell matched`);
    out(
      c.dim(
        "  If this is a 'docker build' RUN step: RUN steps never run under runsc. Run the preflight at container start.",
      ),
    );
    out(
      c.dim(
        "  Otherwise start the container with the gVisor runtime: docker run --runtime=runsc … (Kubernetes: runtimeClassName: gvisor)",
      ),
    );
  }
  if (io.verbose || !s.inside) {
    out(c.dim(`  ${GVISOR_MARKER_FILE}: ${e.kernelIsGvisor ? "gvisor" : "absent"}`));
    out(c.dim(`  /proc/sentry-meminfo: ${e.sentryMeminfo ? "present" : "absent"}`));
    out(c.dim(`  dmesg: ${e.dmesgFirstLine ?? `unavailable (${e.dmesgError})`}`));
    out(c.dim(`  uname -r: ${e.kernelRelease}`));
  }
}

export const preflightCommand: Command = {
  name: "preflight",
  summary: "Am I running under gVisor? (for container entrypoints)",
  help: HELP,
  options: { require: { type: "boolean" }, "print-script": { type: "boolean" } },
  acceptsRest: true,
  async run(p, io) {
    const cmd = p.rest;
    if (p.values["print-script"]) {
      if (cmd || p.values.require || io.json) {
        throw new UsageError(
          "--print-script takes no other option",
          "usage: gvisor-doctor preflight --print-script > gvisor-preflight.sh",
        );
      }
      const { preflightScript } = await import("./preflight-script.ts");
      process.stdout.write(preflightScript(VERSION)); // verbatim: the file, not a line of a report
      return EXIT.OK;
    }
    if (cmd && cmd.length === 0)
      throw new UsageError("nothing to run after --", "usage: gvisor-doctor preflight --require -- CMD [ARGS...]");
    const required = !!p.values.require || !!cmd;
    const s = await detectSelfSandbox();
    if (io.json) io.stdout(JSON.stringify(preflightJson(s, required), null, 2));
    // With a CMD, stdout belongs to the app: our report goes to stderr, and only when it matters.
    else if (!cmd) render(s, io, required, io.stdout);
    else if (!s.inside || io.verbose) render(s, { ...io, c: io.ce }, required, io.stderr);
    if (!s.inside && required) {
      if (cmd) io.stderr(`gvisor-doctor preflight: refusing to start ${cmd[0]}: not running under gVisor`);
      return EXIT.FAILED;
    }
    if (!cmd) return EXIT.OK;
    // Loaded only to hand over to CMD: a bare preflight (a HEALTHCHECK, a report) does without it.
    const { CommandNotFoundError, replaceProcess } = await import("../../platform/os/replace-process.ts");
    try {
      return await replaceProcess(cmd, io.env);
    } catch (e) {
      if (e instanceof CommandNotFoundError) throw new ActionError(e.message, undefined, 127);
      throw e;
    }
  },
};
