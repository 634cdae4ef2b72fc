// Podman reads containers.conf with its own decoder, which gvisor-doctor's TOML parser only
// approximates: a file that is valid TOML can still stop every podman command. podman.runtime
// shows what the real `podman info` says (it names the file and line) as its message.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finding, gvd } from "../helpers/cli.ts";

const PODMAN = spawnSync("podman", ["--version"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "gvd-podman-info-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function checkWith(text: string) {
  const conf = join(dir, `containers-${text.length}.conf`);
  writeFileSync(conf, text);
  const r = gvd(["check", "--json", "--only", "podman.runtime"], {
    env: { ...process.env, NO_COLOR: "1", CONTAINERS_CONF: conf },
  });
  return { conf, f: finding(r.json, "podman.runtime") };
}

describe.skipIf(!PODMAN)("podman.runtime shows podman info's own error", () => {
  test("a type error (valid TOML, refused by Podman): the message names the file and line", () => {
    const { conf, f } = checkWith("[engine]\nruntime = 5\n");
    expect(f.status).toBe("fail");
    expect(f.message).toStartWith(`podman info fails: reading system config "${conf}"`);
    expect(f.message).toContain("line 2");
    expect(f.diagnosis.fix).toMatchObject({ id: "podman.edit-config", command: `$EDITOR ${conf}`, automatic: false });
  });
  test("a file Podman reads is no finding of podman info", () => {
    const { f } = checkWith('[engine]\nruntime = "runc"\n');
    expect(f.message).not.toContain("podman info fails");
  });
});
