// `gvisor-doctor install`: put a gVisor release under a prefix, verified, atomically.
// The work is in platform/release/; this file parses flags and reports.
import type { Command, IO, Parsed } from "../args.ts";
import { ActionError, EXIT, UsageError } from "../../platform/os/errors.ts";
import { VERSION } from "../version.ts";
import { hostRootHelp, HOST_ROOT_OPTIONS, hostRootFlags, prefixFlag } from "../host-root-flags.ts";
import type { HostRoot } from "../../platform/os/host-root.ts";
import { describeTrust } from "../../platform/release/trust.ts";

export const INSTALL_HELP = `Usage: gvisor-doctor install [options]

Download a gVisor release, verify its sha512, and install runsc and
containerd-shim-runsc-v1 under a prefix. The previous version is kept for
'gvisor-doctor rollback'; nothing goes live until every check has passed.

Options:
  --version V       latest (default), YYYYMMDD, YYYYMMDD.N, nightly or nightly/YYYY-MM-DD
  --mirror URL|DIR  Another base URL with the bucket's layout, or a local directory
                    (air-gapped hosts). Also GVISOR_MIRROR. Default:
                    https://storage.googleapis.com/gvisor/releases
  --prefix DIR      Install under DIR (default /usr/local): DIR/lib/gvisor/<version>/
                    and the links DIR/bin/runsc, DIR/bin/containerd-shim-runsc-v1.
                    Without root: --prefix ~/.local
  --sha512 HEX      Pin the expected sha512 of the downloaded file (the tarball, or
                    runsc with --format loose); the mirror's .sha512 is then not trusted
  --format F        zstd, bz2 or loose (default: the first the release has, in that order)
  --verify MODE     sha512 (default): the bucket's .sha512 (or --sha512) vouches for the
                    bytes; signed: gVisor's signed apt repository does (InRelease signed by
                    the compiled-in gVisor key → Packages → runsc .deb). See docs/security.md
  --source apt      Same as --verify signed
  --keyring FILE    With --verify signed: trust the OpenPGP keys in FILE instead of gVisor's
                    (a mirror that re-signs the repository)
  --cross-check     Tarball path: also fetch the signed .deb of the same release (apt suite,
                    as --verify signed); every file both hold must be equal byte for byte
  --allow-downgrade Install a release older than the live one (refused by default: a
                    signed but old release is a rollback attack)
  --no-configure    Do not register the new runsc with the container engines afterwards
                    (by default: what 'gvisor-doctor configure --runsc <prefix>/bin/runsc' does)
  --runtime-arg ARG A runsc flag for the registered runtime, repeatable (as in configure)
  --restart         Restart engines that have no live reload (containerd, CRI-O) so they
                    load the runtime (as in configure --restart)
${hostRootHelp(20)}
  --dry-run         Print the release, URLs, paths and what would change; change nothing
  --force           Reinstall the live version; move a foreign bin/runsc aside (kept as .bak)
  --json            Print one JSON result document on stdout (logs on stderr)
  -v, --verbose     URLs, proxy route, decoder and timings

Environment:
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY (either case)  proxies for the download
  GVISOR_MIRROR                                  same as --mirror
  GVISOR_DOCTOR_HTTP_TIMEOUT=30                  seconds without a response or data
  GVISOR_DOCTOR_HTTP_RETRIES=4                   retries on resets, timeouts, 5xx, 429
  GVISOR_DOCTOR_MAX_DOWNLOAD_MB=1024             larger release files are refused

Exit codes: 0 installed (or already live) and registered · 1 failed, nothing changed (or
            an engine refused the change: the install stays) · 2 usage error ·
            3 installed and registered, an engine restart is pending

Examples:
  sudo gvisor-doctor install
  gvisor-doctor install --prefix ~/.local --version 20260817.0
  gvisor-doctor install --mirror /srv/gvisor --sha512 3f1a…e9 --no-configure
  gvisor-doctor install --host-root /host --version 20260817.0 --restart   # a node, from a pod`;

/**
 * After an install: register `<prefix>/bin/runsc` (the stable link, never the versioned
 * path) with every engine installed here, reload them, and prove it — the same work as
 * `gvisor-doctor configure --runsc <link>`. Returns the configure report.
 */
export async function handOffToConfigure(
  runscPath: string,
  io: IO,
  dryRun: boolean,
  more: Partial<import("./configure.ts").ConfigureRequest> = {},
): Promise<import("./configure.ts").ConfigureReport> {
  const { configureEngines, renderConfigureReport } = await import("./configure.ts");
  const report = await configureEngines({ ...more, runscPath, dryRun }, io);
  if (!io.json) {
    io.stdout("");
    await renderConfigureReport(report, io);
  }
  return report;
}

export const installCommand: Command = {
  name: "install",
  summary: "Download, verify and install a gVisor release (runsc + shim)",
  help: INSTALL_HELP,
  options: {
    version: { type: "string" },
    mirror: { type: "string" },
    prefix: { type: "string" },
    sha512: { type: "string" },
    format: { type: "string" },
    verify: { type: "string" },
    source: { type: "string" },
    keyring: { type: "string" },
    "allow-downgrade": { type: "boolean" },
    "cross-check": { type: "boolean" },
    "no-configure": { type: "boolean" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    "runtime-arg": { type: "string", multiple: true, allowEmpty: true }, // --runtime-arg= clears the args
    restart: { type: "boolean" },
    ...HOST_ROOT_OPTIONS,
  },
  run: (p, io) => runInstall(installOptionsFrom(p), io),
};

/** install's flags as data: what `install` parses, and what --fix builds from its action. */
export interface InstallOptions {
  version?: string;
  mirror?: string;
  prefix?: string;
  sha512?: string;
  format?: string;
  verify?: string;
  source?: string;
  keyring?: string;
  allowDowngrade?: boolean;
  crossCheck?: boolean;
  noConfigure?: boolean;
  dryRun?: boolean;
  force?: boolean;
  /** --runtime-arg (empty ones dropped); undefined: not given. */
  runtimeArgs?: string[];
  restart?: boolean;
  hostRoot?: string;
  restartCommand?: string;
}

export function installOptionsFrom(p: Parsed): InstallOptions {
  const v = p.values;
  const str = (k: string) => v[k] as string | undefined;
  return {
    version: str("version"),
    mirror: str("mirror"),
    prefix: str("prefix"),
    sha512: str("sha512"),
    format: str("format"),
    verify: str("verify"),
    source: str("source"),
    keyring: str("keyring"),
    allowDowngrade: !!v["allow-downgrade"],
    crossCheck: !!v["cross-check"],
    noConfigure: !!v["no-configure"],
    dryRun: !!v["dry-run"],
    force: !!v.force,
    runtimeArgs: v["runtime-arg"] === undefined ? undefined : (v["runtime-arg"] as string[]).filter((a) => a !== ""),
    restart: !!v.restart,
    hostRoot: str("host-root"),
    restartCommand: str("restart-command"),
  };
}

/** Install a release as `install` does with these flags (output and exit code the same). */
export async function runInstall(o: InstallOptions, io: IO): Promise<number> {
  const [
    { parseVersionSpec, parseFormat },
    { parsePinnedSha512 },
    { gvisorArch, unameArch },
    { sudoCommand, userPrefixCommand },
    { openSource },
    { httpOptionsFromEnv },
    { install },
    { downloadProgress },
  ] = await Promise.all([
    import("../../platform/release/channels.ts"),
    import("../../platform/release/verify.ts"),
    import("../../platform/os/arch.ts"),
    import("../../platform/release/invocation.ts"),
    import("../../platform/release/source.ts"),
    import("../../platform/release/http.ts"),
    import("../../platform/release/installer.ts"),
    import("../ui/download-progress.ts"),
  ]);
  const spec = parseVersionSpec(o.version);
  const format = parseFormat(o.format);
  let pinned: string | null = null;
  if (o.sha512 !== undefined) {
    pinned = parsePinnedSha512(o.sha512);
    if (!pinned)
      throw new UsageError(
        `--sha512 must be 128 hex digits (a sha512sum), got ${JSON.stringify(String(o.sha512).slice(0, 40))}`,
        "e.g. --sha512 $(cut -d' ' -f1 gvisor.tar.zstd.sha512)",
      );
  }
  const verify = parseVerify(o.verify, o.source);
  if (verify === "signed" && pinned)
    throw new UsageError(
      "--sha512 and --verify signed exclude each other",
      "the signed chain supplies the hashes; drop --sha512",
    );
  if (verify === "signed" && format)
    throw new UsageError(
      "--format does not apply to --verify signed (the apt repository serves a .deb)",
      "drop --format",
    );
  if (o.crossCheck && verify === "signed") {
    throw new UsageError(
      "--cross-check compares the tarball with the signed .deb; with --verify signed there is no tarball",
      "drop one of them",
    );
  }
  if (o.keyring !== undefined && verify !== "signed" && !o.crossCheck) {
    throw new UsageError(
      "--keyring needs --verify signed or --cross-check",
      "e.g. --verify signed --keyring /usr/share/keyrings/mirror.gpg",
    );
  }
  let keyring: { path: string; bytes: Uint8Array } | null = null;
  if (o.keyring !== undefined) {
    const { readFileSync } = await import("node:fs");
    try {
      keyring = { path: o.keyring, bytes: readFileSync(o.keyring) };
    } catch (e) {
      throw new UsageError(`--keyring ${o.keyring}: ${(e as Error).message}`);
    }
  }
  const arch = gvisorArch(unameArch());
  if (!arch) throw new ActionError(`gVisor runs on x86_64 and aarch64 only; this host is ${unameArch()}`);
  const { root, restartCommand } = hostRootFlags({
    values: { "host-root": o.hostRoot, "restart-command": o.restartCommand },
  });
  // With --host-root the release goes under DIR; the links inside are relative, so they hold on the node.
  const prefix = prefixFlag({ values: { prefix: o.prefix } }, root, io.env).local;
  const runtimeArgs = o.runtimeArgs;
  const args = process.argv.slice(2);
  const abort = new AbortController();
  const onSignal = (sig: string) =>
    abort.abort(new ActionError(`interrupted by ${sig}; nothing was changed`, undefined, 130));
  const sigint = () => onSignal("SIGINT");
  const sigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  const progress = downloadProgress(io);
  const started = performance.now();
  try {
    const source = openSource(
      o.mirror ?? io.env.GVISOR_MIRROR,
      httpOptionsFromEnv(io.env, `gvisor-doctor/${VERSION}`, abort.signal),
    );
    const r = await install({
      spec,
      format,
      source,
      prefix,
      arch,
      pinnedSha512: pinned,
      force: !!o.force,
      dryRun: !!o.dryRun,
      decoder: (io.env.GVISOR_DOCTOR_DECODER as "builtin" | "system" | undefined) ?? "auto",
      env: io.env,
      root: process.getuid?.() === 0,
      signal: abort.signal,
      progress,
      sudoCommand: sudoCommand(args, io.env),
      userCommand: userPrefixCommand(args),
      top: root.dir,
      verify,
      keyring,
      allowDowngrade: !!o.allowDowngrade,
      crossCheck: !!o.crossCheck,
      now: io.env.GVISOR_DOCTOR_TEST_NOW ? new Date(io.env.GVISOR_DOCTOR_TEST_NOW) : undefined,
    });
    progress.close();
    const runscLink = r.layout.links[0].path;
    const live = r.action === "installed" || r.action === "unchanged";
    if (!io.json) printHuman(r, io, root);
    const hostLink = root.host(runscLink);
    const configure =
      live && !o.noConfigure
        ? await handOffToConfigure(hostLink, io, false, {
            hostRoot: root,
            restartCommand,
            restart: !!o.restart,
            runtimeArgs,
          })
        : null;
    if (r.action === "would-install" && !o.noConfigure && !io.json)
      io.stdout(
        `then: register ${hostLink} with the container engines (gvisor-doctor configure --runsc ${hostLink}${root.foreign ? ` --host-root ${root.dir}` : ""})`,
      );
    // A node whose kubelet runtime was not found would pass every check with nothing registered.
    if (root.foreign && configure && configure.engines.every((e) => e.status === "skipped")) {
      throw new ActionError(
        `gVisor is installed in ${root.dir}, but neither containerd nor CRI-O was found on the node to register it with`,
        `check that ${root.dir} is the node's / and the pod has hostPID; then: gvisor-doctor configure --host-root ${root.dir} --restart`,
      );
    }
    const next = configure && configure.exitCode !== EXIT.OK ? "gvisor-doctor check" : null;
    if (next && !io.json)
      io.stderr(`gVisor is installed, but not every engine took it (see above): run ${next} for a diagnosis`);
    if (io.json) {
      io.stdout(
        JSON.stringify(
          {
            schemaVersion: 1,
            command: "install",
            ok: true,
            action: r.action,
            requested: r.requested,
            version: r.version,
            runscVersion: r.runscVersion,
            format: r.format,
            url: r.url,
            sha512: r.sha512,
            pinned: r.pinned,
            hostRoot: root.foreign ? root.dir : null,
            prefix: root.host(r.layout.prefix),
            dir: r.dir && root.host(r.dir),
            links: Object.fromEntries(r.layout.links.map((k) => [k.name, root.host(k.path)])),
            previous: r.previous,
            bytes: r.bytes,
            decoder: r.decoder,
            durationMs: Math.round(performance.now() - started),
            timings: r.timings,
            warnings: r.warnings,
            tried: r.tried,
            next,
            configure,
            trust: r.trust,
          },
          null,
          2,
        ),
      );
    }
    // The install itself succeeded; a refused or pending engine change is the configure exit code (1 or 3).
    return configure?.exitCode ?? EXIT.OK;
  } catch (e) {
    progress.close();
    if (io.json && e instanceof ActionError) {
      io.stdout(
        JSON.stringify(
          { schemaVersion: 1, command: "install", ok: false, error: { message: e.message, hint: e.hint ?? null } },
          null,
          2,
        ),
      );
    }
    throw e;
  } finally {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  }
}

function parseVerify(verify: string | undefined, source: string | undefined): "sha512" | "signed" {
  if (source !== undefined && source !== "apt" && source !== "bucket")
    throw new UsageError(
      `--source ${source} is not apt or bucket`,
      "--source apt installs from gVisor's signed apt repository",
    );
  if (verify !== undefined && verify !== "sha512" && verify !== "signed")
    throw new UsageError(`--verify ${verify} is not sha512 or signed`, "see: gvisor-doctor install --help");
  if (source === "apt" && verify === "sha512") throw new UsageError("--source apt is always --verify signed");
  return source === "apt" || verify === "signed" ? "signed" : "sha512";
}

function printHuman(r: import("../../platform/release/installer.ts").InstallResult, io: IO, root: HostRoot): void {
  // Paths as the node names them (with --host-root, DIR is where they were written).
  const h = (p: string) => root.host(p);
  const l = {
    ...r.layout,
    prefix: h(r.layout.prefix),
    root: h(r.layout.root),
    current: h(r.layout.current),
    links: r.layout.links.map((k) => ({ ...k, path: h(k.path) })),
  };
  r = { ...r, dir: r.dir && h(r.dir) };
  if (root.foreign)
    io.stdout(io.c.dim(`host root: ${root.dir} (paths below are the node's, written at ${root.dir}<path>)`));
  const runsc = r.runscVersion ? ` (${r.runscVersion})` : "";
  switch (r.action) {
    case "unchanged":
      io.stdout(
        `gVisor ${r.version}${runsc} is already installed and live in ${r.dir}; nothing to do (--force reinstalls it)`,
      );
      return;
    case "installed":
      io.stdout(`${io.c.green("installed")} gVisor ${r.version}${runsc} in ${r.dir}`);
      for (const k of l.links) io.stdout(`  ${k.path} -> ${k.target}`);
      io.stdout(`  trust: ${describeTrust(r.trust)}`);
      if (r.previous && r.previous !== r.version)
        io.stdout(
          `  previous: ${r.previous} ('gvisor-doctor rollback${l.prefix === "/usr/local" ? "" : ` --prefix ${l.prefix}`}' switches back)`,
        );
      return;
    case "would-do-nothing":
      io.stdout(`dry run: gVisor ${r.version}${runsc} is already live in ${r.dir}; install would do nothing`);
      return;
    case "would-install":
      io.stdout(`dry run: nothing was changed. install would:`);
      io.stdout(`  download  ${r.url} (${r.format}${r.pinned ? ", hash pinned by --sha512" : ""})`);
      io.stdout(`  verify    sha512 ${r.sha512 ?? "?"}`);
      io.stdout(
        `  unpack to ${l.root}/<version>/ (named ${r.requested === "latest" || r.requested === "nightly" ? "after the release runsc reports" : r.requested.replace("/", "-")})`,
      );
      io.stdout(`  switch    ${l.current} -> <version>${r.previous ? ` (now ${r.previous}, kept for rollback)` : ""}`);
      for (const k of l.links) io.stdout(`  link      ${k.path} -> ${k.target}`);
      return;
  }
}
