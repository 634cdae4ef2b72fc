// `gvisor-doctor self-update`: fetch a newer gvisor-doctor release, verify its signature and
// hash, and replace this binary atomically (the work is in platform/self/update.ts).
import type { Command } from "../args.ts";
import { EXIT } from "../../platform/os/errors.ts";
import { VERSION } from "../version.ts";

export const SELF_UPDATE_HELP = `Usage: gvisor-doctor self-update [options]

Replace this gvisor-doctor by the latest release (or --version V). The release's SHA512SUMS
must carry a valid SSH signature (SHA512SUMS.sig) by the gvisor-doctor release key, the new
binary must match its hash and run; then it is renamed over this one. The old binary is kept
next to it for --rollback. A binary installed by a package manager is left alone.

Options:
  --version V        Install release V (e.g. 0.2.0) instead of the latest
  --check            Only say whether a newer release exists (exit 0 either way)
  --rollback         Switch back to the binary the last self-update replaced
  --allow-downgrade  Allow installing an older release than this one
  --json             Print one JSON result document on stdout

Environment:
  GVISOR_DOCTOR_BASE=URL|DIR            where the release files are (as for install.sh)
  GVISOR_DOCTOR_RELEASE_PUBKEY='ssh-ed25519 AAAA…'  trust this key instead of the built-in one
  GVISOR_DOCTOR_UNSIGNED=1              accept a release without a signature (hash only)
  GVISOR_DOCTOR_TARGET=linux-x64-musl   the release file to fetch (default: this build's)
  HTTPS_PROXY, NO_PROXY                 proxies

Examples:
  sudo gvisor-doctor self-update
  gvisor-doctor self-update --check
  sudo gvisor-doctor self-update --rollback`;

export const selfUpdateCommand: Command = {
  name: "self-update",
  summary: "Update gvisor-doctor itself (signed release), or roll back",
  help: SELF_UPDATE_HELP,
  options: {
    version: { type: "string" },
    check: { type: "boolean" },
    rollback: { type: "boolean" },
    "allow-downgrade": { type: "boolean" },
  },
  async run(p, io) {
    const [{ selfUpdate }, { httpOptionsFromEnv }] = await Promise.all([
      import("../../platform/self/update.ts"),
      import("../../platform/release/http.ts"),
    ]);
    const v = p.values;
    const r = await selfUpdate({
      env: io.env,
      exe: process.execPath,
      current: VERSION,
      version: (v.version as string | undefined)?.replace(/^v/, "") ?? null,
      check: !!v.check,
      rollback: !!v.rollback,
      allowDowngrade: !!v["allow-downgrade"],
      http: httpOptionsFromEnv(io.env, `gvisor-doctor/${VERSION}`),
      progress: (t) => io.stderr(t),
    });
    if (io.json) {
      io.stdout(JSON.stringify({ schemaVersion: 1, command: "self-update", ok: true, ...r }, null, 2));
      return EXIT.OK;
    }
    const how =
      r.verified === "ssh-signature"
        ? `signature by ${r.key} and sha512 verified`
        : r.verified === "sha512-only"
          ? "sha512 only (GVISOR_DOCTOR_UNSIGNED=1)"
          : "";
    switch (r.action) {
      case "up-to-date":
        io.stdout(`gvisor-doctor ${r.from} is the release at ${r.base}; nothing to do`);
        break;
      case "update-available":
        io.stdout(`gvisor-doctor ${r.to} is available (this is ${r.from}; ${how}): run 'gvisor-doctor self-update'`);
        break;
      case "updated":
        io.stdout(
          `${io.c.green("updated")} ${r.path}: ${r.from} → ${r.to} (${how}); ` +
            "the old one is kept for 'gvisor-doctor self-update --rollback'",
        );
        break;
      case "rolled-back":
        io.stdout(`${io.c.green("rolled back")} ${r.path}: ${r.from} → ${r.to}`);
        break;
    }
    return EXIT.OK;
  },
};
