// Issue 13: the suite's own e2e tests must hold on a host the doctor has served, not only on a blank
// one. test/hosts/lived-in.sh leaves this machine "lived in" inside a private mount namespace (a release
// in /usr/local, runsc registered with the host's dockerd, containerd and podman and those reloaded or
// restarted by gvisor-doctor; overlays, so the machine itself is untouched) and runs there the e2e files
// that once assumed a blank host.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../helpers/cli.ts";

const ROOT = join(import.meta.dir, "../..");
const root = process.getuid?.() === 0;

test.skipIf(!root || !existsSync(BINARY))(
  "the blank-host e2e files pass on a lived-in host",
  () => {
    const r = spawnSync("bash", [join(ROOT, "test/hosts/lived-in.sh")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 840_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    const failed = out.split("\n").filter((l) => l.startsWith("(fail)"));
    const summary = / (\d+) pass\n\s*(\d+) fail/.exec(out);
    expect({ code: r.status, failed, ran: summary ? Number(summary[1]) > 0 : false }).toEqual({
      code: 0,
      failed: [],
      ran: true,
    });
  },
  900_000,
);
