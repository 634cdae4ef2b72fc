// `gvisor-doctor exec`: run one command isolated — a thin layer over runIsolated
// (platform/exec/isolated.ts), which the library exports too.
import { isatty } from "node:tty";
import type { Command } from "../args.ts";
import { echoInput } from "../../platform/os/echo-input.ts";
import { UsageError } from "../../platform/os/errors.ts";

export const EXEC_HELP = `Usage: gvisor-doctor exec [options] -- CMD [ARGS...]

Run CMD under gVisor when this host has it, else (unless --require-sandbox) as a
plain subprocess with a warning. stdout and stderr stream through; the exit code is
CMD's. Security defaults in every sandbox: no network, read-only root, only the
given mounts (read-only unless :rw), no-new-privileges, no capabilities, a pids
limit, and nothing left behind (container, processes, temp dirs).

Options:
  --via METHOD        auto (default) | runsc | docker | podman | none
                      auto: runsc directly inside a container (as root); else Docker,
                      then Podman, with a runsc runtime; else runsc as root; else none
                      none: a plain subprocess, with a warning on stderr
  --image IMG         docker/podman: an image (default: a tiny image built from the
                      host's busybox, tagged by content hash, never pulled);
                      runsc: a root file system directory
  --mount SRC:DST[:ro|rw]
                      Bind SRC (host) at DST (sandbox); read-only unless :rw. Repeatable
  --workdir DIR       Working directory inside the sandbox (default /)
  --network MODE      none (default) | host
  --env K=V           Set a variable (K alone copies the host's); repeatable. The host's
                      environment is not passed in
  --timeout SECONDS   Kill the sandbox after SECONDS (0.001 to 2147483); exit 124
  --memory BYTES      Memory limit (e.g. 536870912, 512m, 1g)
  --pids N            Task limit (default 1024, at most 4194304). Under gVisor it counts
                      the sandbox's host threads (~7 per guest process on ptrace), not
                      processes; past it the sandbox dies (exec says so; runsc: exit 137)
  --require-sandbox   Exit 1 without running anything when gVisor is not available
  --json              Print {method, sandboxed, exitCode, signal, timedOut, durationMs,
                      stdout, stderr, truncated} on stdout instead of streaming
                      (output capped at 4 MiB per stream; truncated says so)
  -v, --verbose       Say which method runs and why, and every command run

stdin is passed to CMD when it is not a terminal. SIGINT, SIGTERM and SIGHUP are
forwarded to CMD; if it has not exited 10 s later (or on a second signal) the
sandbox is torn down and exec exits 128+N.

Exit codes: CMD's own · 124 timed out · 125 the sandbox could not start · 126/127 CMD
            could not be run / was not found · 128+N ended by signal N
            1 --require-sandbox (or --via METHOD) found no such sandbox · 2 usage error

Examples:
  gvisor-doctor exec -- dmesg                          # "Starting gVisor..." when sandboxed
  gvisor-doctor exec --require-sandbox --mount "$PWD:/work:rw" --workdir /work -- ./build.sh
  gvisor-doctor exec --via docker --timeout 30 --json -- sh -c 'echo hi'`;

export const EXEC_OPTIONS = {
  via: { type: "string" },
  image: { type: "string" },
  mount: { type: "string", multiple: true },
  workdir: { type: "string" },
  network: { type: "string" },
  env: { type: "string", multiple: true },
  timeout: { type: "string" },
  memory: { type: "string" },
  pids: { type: "string" },
  "require-sandbox": { type: "boolean" },
} as const;

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const strs = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : []);

export const execCommand: Command = {
  name: "exec",
  summary: "Run a command under gVisor (or, unless --require-sandbox, without it)",
  help: EXEC_HELP,
  options: EXEC_OPTIONS,
  maxPositionals: Number.POSITIVE_INFINITY,
  acceptsRest: true,
  async run(p, io) {
    if (p.positionals.length)
      throw new UsageError(
        `put the command after --: gvisor-doctor exec [options] -- ${echoInput(p.positionals.join(" "))}`,
        "see: gvisor-doctor exec --help",
      );
    const { parseBytes, parseEnv, parsePositiveInt, parseSeconds, parseVia, parseNetwork } = await import(
      "../../platform/exec/options.ts"
    );
    const env: Record<string, string> = {};
    for (const e of strs(p.values.env)) {
      const kv = parseEnv(e, io.env);
      if (kv) env[kv[0]] = kv[1];
    }
    const v = p.values;
    const options = {
      command: p.rest ?? [],
      via: v.via === undefined ? undefined : parseVia(str(v.via)!),
      image: str(v.image),
      mounts: strs(v.mount),
      workdir: str(v.workdir),
      network: v.network === undefined ? undefined : parseNetwork(str(v.network)!),
      env,
      timeoutMs: v.timeout === undefined ? undefined : parseSeconds(str(v.timeout)!),
      memoryBytes: v.memory === undefined ? undefined : parseBytes(str(v.memory)!),
      pids: v.pids === undefined ? undefined : parsePositiveInt(str(v.pids)!, "--pids"),
      requireSandbox: !!v["require-sandbox"],
    };
    const { runIsolated } = await import("../../platform/exec/isolated.ts");
    const { onCommand } = await import("../../platform/os/spawn.ts");
    const stopTrace = io.verbose
      ? onCommand((r) =>
          io.stderr(
            io.ce.dim(
              `$ ${r.cmd.join(" ")}  (${r.durationMs} ms, ${r.spawnError ?? (r.code !== null ? `exit ${r.code}` : (r.signal ?? "killed"))})`,
            ),
          ),
        )
      : () => {};
    try {
      const r = await runIsolated({
        ...options,
        hostEnv: io.env,
        stdin: isatty(0) ? "ignore" : "inherit", // (isatty: touching process.stdin would open a stream on it)
        forwardSignals: true,
        // --json: one document on stdout, nothing streamed. Otherwise stream, and keep
        // only a little stderr (runsc's own start errors are read from it).
        ...(io.json
          ? {}
          : {
              onStdout: (c: Uint8Array) => process.stdout.write(c),
              onStderr: (c: Uint8Array) => process.stderr.write(c),
              maxOutputBytes: 64 * 1024,
            }),
        onWarning: (m) => io.stderr(`${io.ce.yellow("gvisor-doctor: warning:")} ${m}`),
        onMethod: (s) => {
          if (io.verbose)
            io.stderr(io.ce.dim(`exec: via ${s.method}${s.sandboxed ? "" : " (not sandboxed)"}: ${s.reason}`));
        },
      });
      if (io.json) io.stdout(JSON.stringify(r));
      return r.exitCode;
    } finally {
      stopTrace();
    }
  },
};
