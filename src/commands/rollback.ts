// `gvisor-doctor rollback`: make the previously installed gVisor live again (one atomic switch).
import { hostRootAt } from "../../platform/os/host-root.ts";
import { prefixFlag } from "../host-root-flags.ts";
import type { Command } from "../args.ts";
import { ActionError, EXIT } from "../../platform/os/errors.ts";

export const ROLLBACK_HELP = `Usage: gvisor-doctor rollback [options]

Switch runsc and containerd-shim-runsc-v1 back to the version that was live before
the last install (or rollback), with one atomic switch. Running it twice returns to
where you started.

Options:
  --prefix DIR    The prefix given to install (default /usr/local)
  --host-root DIR The node whose / is mounted at DIR (from a pod): --prefix is the node's
  --dry-run       Say which version would go live; change nothing
  --json          Print one JSON result document on stdout
  -v, --verbose   More detail

Exit codes: 0 switched · 1 nothing to roll back to, or it failed · 2 usage error`;

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "Switch back to the previously installed gVisor",
  help: ROLLBACK_HELP,
  options: { prefix: { type: "string" }, "dry-run": { type: "boolean" }, "host-root": { type: "string" } },
  async run(p, io) {
    const [{ rollback }, { sudoCommand }] = await Promise.all([
      import("../../platform/release/manage.ts"),
      import("../../platform/release/invocation.ts"),
    ]);
    const root = hostRootAt(p.values["host-root"] as string | undefined);
    try {
      const r = await rollback({
        prefix: prefixFlag(p, root, io.env).local,
        dryRun: !!p.values["dry-run"],
        env: io.env,
        root: process.getuid?.() === 0,
        sudoCommand: sudoCommand(process.argv.slice(2), io.env),
        onWait: (pid) => io.stderr(`waiting for another gvisor-doctor (pid ${pid ?? "?"})…`),
      });
      for (const w of r.warnings) io.stderr(`${io.ce.yellow("warning:")} ${w}`);
      if (io.json) {
        io.stdout(
          JSON.stringify(
            {
              schemaVersion: 1,
              command: "rollback",
              ok: true,
              action: r.action,
              from: r.from,
              to: r.to,
              runscVersion: r.runscVersion,
              prefix: root.host(r.layout.prefix),
              dir: root.host(`${r.layout.root}/${r.to}`),
              warnings: r.warnings,
            },
            null,
            2,
          ),
        );
      } else if (r.action === "would-roll-back") {
        io.stdout(
          `dry run: rollback would switch ${root.host(r.layout.current)} from ${r.from ?? "nothing"} to ${r.to}${r.runscVersion ? ` (${r.runscVersion})` : ""}`,
        );
      } else {
        io.stdout(
          `${io.c.green("rolled back")} to gVisor ${r.to}${r.runscVersion ? ` (${r.runscVersion})` : ""}; ${r.from ?? "nothing"} is kept (rollback again to return to it)`,
        );
      }
      return EXIT.OK;
    } catch (e) {
      if (io.json && e instanceof ActionError)
        io.stdout(
          JSON.stringify(
            { schemaVersion: 1, command: "rollback", ok: false, error: { message: e.message, hint: e.hint ?? null } },
            null,
            2,
          ),
        );
      throw e;
    }
  },
};
