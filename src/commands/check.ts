// `gvisor-doctor check`: its flags and help. The work (facts, catalog, report) is in
// check-run.ts, loaded only when check runs: --version, --help and preflight never pay
// for the catalog's modules (semver, TOML/JSONC editors, tar; bench/startup.ts).
import type { Command } from "../args.ts";

export const CHECK_HELP = `Usage: gvisor-doctor [check] [options]

Inspect this host's gVisor setup and report one line per check.

Options:
  --json            Print one JSON document on stdout (schemaVersion 1); logs go to stderr
  --quick           Skip checks that start containers
  --only IDS        Run only these checks (comma-separated ids or prefixes, e.g. docker,runsc.binary);
                    the checks they need run too
  --skip IDS        Skip these checks (reported as skipped)
  --list            List the checks (id, title, needs root, needs network) and exit
  --strict          Treat warnings as failures (exit 1)
  --offline         Skip checks that need the network
  --host-root DIR   Check the node whose / is mounted at DIR (from a privileged pod with
                    hostPID): its runsc, containerd and CRI-O; checks of this machine's own
                    Docker, Podman and sandbox are skipped
  --fix             Apply the automatic fixes of failing checks in dependency order, re-check,
                    and show before → after (also: gvisor-doctor --fix)
  --dry-run         With --fix: show the fixes and their diffs, change nothing
  --yes             With --fix: allow fixes that restart a daemon or change the default runtime
                    (without it they are asked on a TTY, or left pending: exit 3)
  -v, --verbose     Show details, timings and every command run
  --no-color        No colors (also NO_COLOR=1; FORCE_COLOR=1 forces them)

Exit codes: 0 all checks pass or warn (with --fix: everything that failed is fixed)
            1 a check failed · 2 usage or internal error · 3 fixes applied, a restart is pending

Examples:
  gvisor-doctor                       # same as: gvisor-doctor check
  gvisor-doctor check --quick --json  # fast, machine-readable
  gvisor-doctor check --only docker -v
  sudo gvisor-doctor --fix --dry-run     # what would be changed, with diffs
  sudo gvisor-doctor --fix --yes         # fix everything that can be fixed`;

export const CHECK_OPTIONS = {
  quick: { type: "boolean" },
  only: { type: "string", multiple: true },
  skip: { type: "string", multiple: true },
  list: { type: "boolean" },
  strict: { type: "boolean" },
  offline: { type: "boolean" },
  fix: { type: "boolean" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  "host-root": { type: "string" },
} as const;

export const checkCommand: Command = {
  name: "check",
  summary: "Inspect the host's gVisor setup (the default command)",
  help: CHECK_HELP,
  options: CHECK_OPTIONS,
  async run(p, io) {
    // --fix (not with --list) runs the check itself, between its fixes.
    if (p.values.fix && !p.values.list) return (await import("../fix.ts")).runFix(p, io);
    return (await import("./check-run.ts")).runCheck(p, io);
  },
};
