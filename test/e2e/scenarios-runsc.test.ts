// Broken runsc installs, for real: gVisor installed by gvisor-doctor from the fake
// bucket (a local-directory mirror), then broken → check → --fix → check.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { finding, gvd } from "../helpers/cli.ts";
import { RELEASES, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, makePrefix, removePrefix } from "../helpers/install-env.ts";

describe("broken runsc installs: diagnosed, then fixed by --fix", () => {
  let bucket: FakeBucket;
  let prefix: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    bucket = await startFakeBucket();
    bucket.close(); // only its directory is used: a mirror --fix's install reads without HTTP
  });
  beforeEach(() => {
    prefix = makePrefix();
    env = cleanEnv({
      PATH: `${prefix}/bin:${process.env.PATH}`,
      GVISOR_MIRROR: bucket.dir,
      DOCKER_HOST: "unix:///nonexistent.sock",
    });
    const r = gvd(["install", "--prefix", prefix, "--version", RELEASES.current, "--no-configure", "--json"], { env });
    expect(r.json).toMatchObject({ action: "installed" });
  });
  afterEach(() => removePrefix(prefix));

  test("sidecars from another release → runsc.sidecars fails (sidecar-mismatch) → --fix reinstalls the same release into the same prefix", () => {
    const bin = join(prefix, "lib/gvisor/current/gvisor-bin");
    // A sidecar whose embedded build label names another release than runsc's.
    writeFileSync(
      join(bin, "gvisor_sentry"),
      Buffer.concat([
        Buffer.from("\x7fELF"),
        Buffer.alloc(4096),
        Buffer.from("gvisor build label release-20260720.0\0"),
        Buffer.alloc(1024),
      ]),
    );
    const before = gvd(["check", "--json", "--only", "runsc"], { env });
    const side = finding(before.json, "runsc.sidecars");
    expect(side).toMatchObject({
      status: "fail",
      diagnosis: { rule: "sidecar-mismatch", fix: { id: "runsc.install", automatic: true } },
    });
    expect(side.message).toContain("gvisor_sentry (release-20260720.0)");
    expect(side.diagnosis.fix.argv).toEqual(["install", "--force", "--prefix", prefix, "--version", RELEASES.current]);
    const r = gvd(["--fix", "--json", "--only", "runsc"], { env });
    expect(r.json.fix.applied).toMatchObject([{ id: "runsc.install", status: "applied" }]);
    expect(r.code).toBe(0);
    const after = gvd(["check", "--json", "--only", "runsc"], { env });
    expect(finding(after.json, "runsc.sidecars").status).toBe("pass");
    expect(readdirSync(bin).sort()).toEqual([
      "checkpointgofer",
      "gvisor-sentry-prewarmer",
      "gvisor_sentry",
      "runsc-metric-server",
    ]);
  });

  test("a sidecar only root can execute → runsc.sidecars fails: the sandbox user (nobody) starts it", () => {
    const sentry = join(realpathSync(join(prefix, "lib/gvisor/current/gvisor-bin")), "gvisor_sentry");
    chmodSync(sentry, 0o700);
    const side = finding(gvd(["check", "--json", "--only", "runsc"], { env }).json, "runsc.sidecars");
    const diagnosis = { rule: "sandbox-permissions", fix: { automatic: true } };
    expect(side).toMatchObject({ status: "fail", diagnosis });
    expect(side.message).toBe(`not executable by the sandbox user (nobody): ${sentry} (0700)`);
    chmodSync(sentry, 0o755);
    const after = finding(gvd(["check", "--json", "--only", "runsc"], { env }).json, "runsc.sidecars");
    expect(after.status).toBe("pass");
  });

  test("the installed runsc is what runsc.binary finds: the link resolves into <prefix>/lib/gvisor/<version>", () => {
    const r = gvd(["check", "--json", "--only", "runsc.binary"], { env });
    const b = finding(r.json, "runsc.binary");
    expect(b.status).toBe("pass");
    expect(b.message).toContain(`${prefix}/bin/runsc → ${prefix}/lib/gvisor/${RELEASES.current}/runsc`);
  });
});
