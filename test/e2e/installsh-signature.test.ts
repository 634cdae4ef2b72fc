// install.sh and SHA512SUMS.sig: a release built the way `npm run release` signs it (the key
// stamped into its install.sh, SHA512SUMS signed with ssh-keygen -Y sign). install.sh verifies
// with ssh-keygen when the host has it, says plainly when it could only check the hashes, and
// refuses a bad or missing signature (GVISOR_DOCTOR_UNSIGNED=1 accepts a missing one).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { signSums, stampInstallSh } from "../../scripts/build.ts";
import { cleanEnv, fakeDoctor, hostAsset, INSTALL_SH, makeRelease, toolbox } from "../helpers/release.ts";

let tmp: string;
let signed: string;
let pubkey: string;
let n = 0;

const sshKey = (name: string) => {
  const k = join(tmp, name);
  expect(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", k]).status).toBe(0);
  return k;
};

beforeAll(async () => {
  tmp = mkdtempSync("/tmp/gvd-test-installsh-sig-");
  const key = sshKey("release-key");
  pubkey = readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  signed = join(tmp, "signed");
  await makeRelease(signed, { assets: [hostAsset()], binary: { script: fakeDoctor() }, pubkey });
  signSums(signed, key);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run `release`'s install.sh against `release` (a directory base) into a fresh directory. */
function installFrom(release: string, extra: Record<string, string> = {}, script = join(release, "install.sh")) {
  const dir = join(tmp, `bin-${++n}`);
  const r = spawnSync("sh", [script, "--version"], {
    env: cleanEnv({ GVISOR_DOCTOR_BASE: release, GVISOR_DOCTOR_INSTALL_DIR: dir, ...extra }),
    encoding: "utf8",
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout, installed: existsSync(join(dir, "gvisor-doctor")) };
}

/** A copy of the signed release to tamper with. */
function variant(name: string): string {
  const d = join(tmp, name);
  cpSync(signed, d, { recursive: true });
  return d;
}

describe("install.sh verifies SHA512SUMS.sig", () => {
  test("npm run release stamps the key into install.sh; the one in git names none", () => {
    expect(readFileSync(join(signed, "install.sh"), "utf8")).toContain(`GVD_RELEASE_PUBKEY='${pubkey}'`);
    expect(readFileSync(INSTALL_SH, "utf8")).toMatch(/^\s*GVD_RELEASE_PUBKEY=$/m);
    expect(() => stampInstallSh("#!/bin/sh\n", pubkey)).toThrow(/no empty GVD_RELEASE_PUBKEY/);
    expect(
      spawnSync(
        "ssh-keygen",
        ["-Y", "check-novalidate", "-n", "gvisor-doctor-release", "-s", join(signed, "SHA512SUMS.sig")],
        { input: readFileSync(join(signed, "SHA512SUMS")) },
      ).status,
    ).toBe(0);
  });

  test("a good signature: verified with ssh-keygen, and installed", () => {
    const r = installFrom(signed);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`info: SHA512SUMS signature verified with ssh-keygen (key ${pubkey})`);
    expect(r.installed).toBe(true);
  });

  test("a signature by another key is refused; nothing installed", () => {
    const d = variant("other-key");
    signSums(d, sshKey("attacker-key"));
    const r = installFrom(d);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the signature of SHA512SUMS");
    expect(r.stderr).toContain("does not verify");
    expect(r.installed).toBe(false);
  });

  test("SHA512SUMS changed after signing (a swapped binary with its new hash) is refused", () => {
    const d = variant("swapped");
    const asset = hostAsset();
    copyFileSync("/bin/busybox", join(d, asset));
    rmSync(join(d, `${asset}.gz`));
    const sums = readFileSync(join(d, "SHA512SUMS"), "utf8")
      .split("\n")
      .filter((l) => l && !l.endsWith(`  ${asset}.gz`));
    const h = spawnSync("sha512sum", [join(d, asset)], { encoding: "utf8" }).stdout.split(" ")[0];
    Bun.write(
      join(d, "SHA512SUMS"),
      `${sums.map((l) => (l.endsWith(`  ${asset}`) ? `${h}  ${asset}` : l)).join("\n")}\n`,
    );
    const r = installFrom(d);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("does not verify");
    expect(r.installed).toBe(false);
  });

  test("no SHA512SUMS.sig: refused, unless GVISOR_DOCTOR_UNSIGNED=1 (then it says only the hashes were checked)", () => {
    const d = variant("unsigned");
    rmSync(join(d, "SHA512SUMS.sig"));
    const r = installFrom(d);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("has no SHA512SUMS.sig: the release is not signed");
    expect(r.installed).toBe(false);
    const ok = installFrom(d, { GVISOR_DOCTOR_UNSIGNED: "1" });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("GVISOR_DOCTOR_UNSIGNED=1: only the SHA-512 hashes are checked");
    expect(ok.installed).toBe(true);
  });

  test("a host without ssh-keygen: installed on the hashes, and it says so", () => {
    const path = toolbox(join(tmp, "no-ssh-keygen"), { exclude: ["ssh-keygen"] });
    const r = installFrom(signed, { PATH: path });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "warn: no ssh-keygen (OpenSSH client) on this host, so the signature SHA512SUMS.sig could not be checked: only the SHA-512 hashes were",
    );
    expect(r.installed).toBe(true);
  });

  test("an install.sh without a key (a development build) checks the hashes and says so", () => {
    const r = installFrom(signed, {}, INSTALL_SH);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("this install.sh names no release key: only the SHA-512 hashes were checked");
  });
});
