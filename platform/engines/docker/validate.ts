// Validate a daemon.json the way dockerd itself does. Valid JSON is not enough: dockerd
// refuses e.g. "insecure-registries": "host:5000" (a string, not a list) and then a reload
// fails, or a restart leaves Docker down. Docker >= 23 has `dockerd --validate`; older
// dockerd has not, and then all gvisor-doctor checked was the syntax.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../os/spawn.ts";

export interface DockerdValidation {
  /** true: dockerd accepts it; false: dockerd refuses it; null: this dockerd cannot validate. */
  ok: boolean | null;
  /** What dockerd said, or that validation was syntax-only. */
  message: string;
}

/** Run `dockerd --validate --config-file` on `text` (written to a private temp file) as `shownPath`. */
export async function validateDaemonJson(dockerd: string, text: string, shownPath: string): Promise<DockerdValidation> {
  const dir = mkdtempSync(join(tmpdir(), "gvd-daemon-json-"));
  try {
    const file = join(dir, "daemon.json");
    writeFileSync(file, text, { mode: 0o600 });
    const r = await run(dockerd, ["--validate", "--config-file", file], { timeoutMs: 20_000 });
    const said = `${r.stderr}\n${r.stdout}`.split(file).join(shownPath).trim();
    if (/unknown flag: --validate/.test(said)) {
      return { ok: null, message: `${dockerd} has no --validate (Docker < 23): validation was syntax-only` };
    }
    if (r.code === 0) return { ok: true, message: `dockerd --validate: ${said.split("\n")[0] || "configuration OK"}` };
    const last = said.split("\n").filter(Boolean).slice(-3).join(" | ");
    return { ok: false, message: last || `dockerd --validate exit ${r.code}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
