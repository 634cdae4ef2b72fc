// Helpers for `configure` end-to-end tests: the report schema, and a private view of
// /etc/containers so podman runs never touch the host's configuration or storage.
import Ajv from "ajv";
import type { IO } from "../../src/args.ts";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createdByUs } from "../../platform/engines/edit/text.ts";
import { join } from "node:path";
import { BINARY, ROOT, type CliResult } from "./cli.ts";
import { recordingIO } from "./io.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "docs", "configure-report.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

export function assertConfigureReport(doc: unknown): void {
  if (!validate(doc))
    throw new Error(
      `report does not match docs/configure-report.schema.json:\n${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(doc, null, 2).slice(0, 3000)}`,
    );
}

export interface PodmanSandbox {
  dir: string;
  /** The private copy mounted over /etc/containerd (with `containerd: true`). */
  etcContainerd?: string;
  /** The private copy mounted over /etc/containers. */
  etc: string;
  env: NodeJS.ProcessEnv;
  /** Run a command with /etc/containers replaced by `etc`, in a private mount namespace. */
  run(cmd: string[], input?: string | Buffer): CliResult;
  /** gvisor-doctor inside the sandbox. */
  gvd(args: string[]): CliResult;
  /** The argv that runs `cmd` inside the sandbox (for benchmarks that time it). */
  argv(cmd: string[]): string[];
}

/**
 * A copy of /etc/containers and an empty /var/lib/containers (bind-mounted over the real
 * ones in a private mount namespace for each command), private storage (vfs, under `dir`)
 * and a private tmp_dir. Drop-ins written to /etc/containers/containers.conf.d land in the copy.
 */
export function podmanSandbox(dir: string, opts: { containerd?: boolean } = {}): PodmanSandbox {
  const etc = join(dir, "etc-containers");
  cpSync("/etc/containers", etc, { recursive: true });
  // On a host gvisor-doctor already served (a lived-in host), the copy starts without the
  // drop-ins it created there: the tests register from the host's own podman config.
  const dropIns = join(etc, "containers.conf.d");
  for (const n of existsSync(dropIns) ? readdirSync(dropIns) : []) {
    if (createdByUs(readFileSync(join(dropIns, n), "utf8"))) rmSync(join(dropIns, n));
  }
  // Podman writes /etc/containers/networks on first use: it lands in the copy too.
  writeFileSync(
    join(etc, "containers.conf"),
    `[engine]\ntmp_dir = "${dir}/libpod-tmp"\nevents_logger = "file"\nevents_logfile_path = "${dir}/events.log"\n`,
  );
  writeFileSync(
    join(dir, "storage.conf"),
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`,
  );
  mkdirSync(join(dir, "libpod-tmp"), { recursive: true });
  const varLib = join(dir, "var-lib-containers");
  mkdirSync(varLib, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    NO_COLOR: "1",
    XDG_RUNTIME_DIR: join(dir, "xdg"),
  };
  delete env.CONTAINERS_CONF;
  // With containerd: a private copy of /etc/containerd too (configure edits its config.toml).
  const etcContainerd = join(dir, "etc-containerd");
  if (opts.containerd) cpSync("/etc/containerd", etcContainerd, { recursive: true });
  // Also a private /var/lib/containers: image imports update its blob-info cache whatever the storage root.
  const script =
    'mount --bind "$1" /etc/containers && { [ ! -d /var/lib/containers ] || mount --bind "$2" /var/lib/containers; } && { [ -z "$3" ] || mount --bind "$3" /etc/containerd; } && shift 3 && exec "$@"';
  const argv = (cmd: string[]) => [
    "unshare",
    "-m",
    "--propagation",
    "private",
    "--",
    "/bin/sh",
    "-c",
    script,
    "sh",
    etc,
    varLib,
    opts.containerd ? etcContainerd : "",
    ...cmd,
  ];
  const run = (cmd: string[], input?: string | Buffer): CliResult => {
    const [file, ...args] = argv(cmd);
    const r = spawnSync(file, args, { env, input, encoding: "utf8", timeout: 180_000, maxBuffer: 64 << 20 });
    const res: CliResult = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    try {
      res.json = JSON.parse(res.stdout);
    } catch {}
    return res;
  };
  return {
    dir,
    etc,
    etcContainerd: opts.containerd ? etcContainerd : undefined,
    env,
    run,
    argv,
    gvd: (args) => run([BINARY, ...args]),
  };
}

/** The IO the in-process `configureEngines` tests use: no output, no colour, wrappers under `dir`. */
export function quietIO(dir: string): IO {
  return recordingIO({ ...process.env, GVISOR_DOCTOR_WRAPPER_DIR: join(dir, "wrappers") });
}
