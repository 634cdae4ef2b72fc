// The pieces of self-update: SSH signature verification (checked against ssh-keygen's own
// signatures), package-manager detection by path, and the release location install.sh uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEd25519PublicKey, RELEASE_NAMESPACE, verifySshSig } from "../../platform/self/sshsig.ts";
import { managedBy } from "../../platform/self/package-manager.ts";
import { GVD_REPO } from "../../platform/self/update.ts";
import { SIGN_NAMESPACE } from "../../scripts/build.ts";
import { GVD_REPO as INSTALL_SH_REPO } from "../helpers/release.ts";

let dir: string;
const key = (name: string) => {
  const k = join(dir, name);
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", k]);
  return { path: k, pub: parseEd25519PublicKey(readFileSync(`${k}.pub`, "utf8")) };
};
const sign = (k: string, file: string, ns = RELEASE_NAMESPACE) => {
  rmSync(`${file}.sig`, { force: true });
  expect(spawnSync("ssh-keygen", ["-q", "-Y", "sign", "-f", k, "-n", ns, file]).status).toBe(0);
  return readFileSync(`${file}.sig`, "utf8");
};
beforeAll(() => {
  dir = mkdtempSync("/tmp/gvd-test-sshsig-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SSH signatures (ssh-keygen -Y sign)", () => {
  test("a signature by the release key over the exact bytes verifies; anything else is refused", () => {
    const a = key("a");
    const b = key("b");
    const msg = join(dir, "SHA512SUMS");
    writeFileSync(msg, `${"0".repeat(128)}  VERSION\n`);
    const sig = sign(a.path, msg);
    expect(() => verifySshSig(readFileSync(msg), sig, a.pub)).not.toThrow();
    expect(() => verifySshSig(Buffer.from(`${"1".repeat(128)}  VERSION\n`), sig, a.pub)).toThrow(
      /does not match SHA512SUMS/,
    );
    expect(() => verifySshSig(readFileSync(msg), sig, b.pub)).toThrow(/signed by another key/);
    expect(() => verifySshSig(readFileSync(msg), sign(a.path, msg, "file"), a.pub)).toThrow(
      /namespace "file", not "gvisor-doctor-release"/,
    );
    const body = sig
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    const cut = `-----BEGIN SSH SIGNATURE-----\n${body.slice(0, -24)}\n-----END SSH SIGNATURE-----\n`;
    expect(() => verifySshSig(readFileSync(msg), cut, a.pub)).toThrow(/truncated/);
    expect(() => verifySshSig(readFileSync(msg), "hello", a.pub)).toThrow(/not an SSH signature/);
    expect(SIGN_NAMESPACE).toBe(RELEASE_NAMESPACE);
  });

  test("public keys: ssh-ed25519 lines (with or without comment, or an allowed_signers line); others refused", () => {
    const a = key("c");
    const line = readFileSync(`${a.path}.pub`, "utf8");
    expect(parseEd25519PublicKey(line.split(" ").slice(0, 2).join(" "))).toEqual(a.pub);
    expect(parseEd25519PublicKey(`gvisor-doctor-release ${line}`)).toEqual(a.pub);
    expect(() => parseEd25519PublicKey("ssh-rsa AAAAB3NzaC1yc2E= x")).toThrow(/not an ssh-ed25519/);
  });
});

describe("who manages the binary", () => {
  test("Nix, snap, npm and Homebrew by path; a file install.sh placed is nobody's", async () => {
    expect((await managedBy(["/nix/store/abc-gvisor-doctor/bin/gvisor-doctor"]))?.manager).toBe("Nix");
    expect((await managedBy(["/snap/gvisor-doctor/12/bin/gvisor-doctor"]))?.manager).toBe("snap");
    expect((await managedBy(["/usr/lib/node_modules/gvisor-doctor/dist/gvisor-doctor"]))?.manager).toBe("npm");
    expect((await managedBy(["/home/linuxbrew/.linuxbrew/bin/gvisor-doctor"]))?.manager).toBe("Homebrew");
    const f = join(dir, "gvisor-doctor");
    writeFileSync(f, "");
    expect(await managedBy([f])).toBeNull();
  });

  test("a file dpkg owns is dpkg's", async () => {
    const owned = spawnSync("dpkg-query", ["-S", "/bin/busybox"]).status === 0 ? "/bin/busybox" : null;
    if (!owned) return;
    expect((await managedBy([owned]))?.manager).toBe("dpkg");
  });

  test("self-update fetches from the repository install.sh names", () => {
    expect(GVD_REPO).toBe(INSTALL_SH_REPO);
  });
});
