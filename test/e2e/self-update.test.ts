// `gvisor-doctor self-update` through the compiled binary, installed the way install.sh puts it
// (a file in a bin directory), against releases served on 127.0.0.1 and signed with an SSH key
// made in the test: good update, bad signature, truncated download, downgrade, unsigned, rollback.
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { signSums } from "../../scripts/build.ts";
import { BINARY, ROOT } from "../helpers/cli.ts";
import { cleanEnv } from "../helpers/install-env.ts";
import { hostAsset, makeRelease, serveDir, type Served } from "../helpers/release.ts";

setDefaultTimeout(120_000);

let dir: string;
let bin: string;
let exe: string;
let served: Served;
let pubkey: string;
let current: string;
let asset: string;
let newBinary: string;
const NEW = "9.9.9";

const sha = (p: string) => createHash("sha512").update(readFileSync(p)).digest("hex");
const versionOf = (p: string) => spawnSync(p, ["--version"], { encoding: "utf8" }).stdout.trim();
const sshKey = (name: string) => {
  const k = join(dir, name);
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", k]);
  if (r.status !== 0) throw new Error(String(r.stderr));
  return k;
};

beforeAll(async () => {
  dir = mkdtempSync("/tmp/gvd-test-self-update-");
  const key = sshKey("release-key");
  const other = sshKey("other-key");
  pubkey = readFileSync(`${key}.pub`, "utf8").trim();
  current = versionOf(BINARY).replace(/^gvisor-doctor /, "");
  asset = hostAsset();
  // A real gvisor-doctor that says it is 9.9.9: the release to update to.
  newBinary = join(dir, "build", "gvisor-doctor");
  const b = spawnSync(process.execPath, [join(ROOT, "scripts/build.ts"), "--outfile", newBinary], {
    env: { ...process.env, GVD_BUILD_VERSION: NEW },
    encoding: "utf8",
  });
  if (b.status !== 0) throw new Error(b.stderr);
  await makeRelease(join(dir, "new"), { assets: [asset], binary: { path: newBinary }, version: NEW });
  signSums(join(dir, "new"), key);
  await makeRelease(join(dir, "old"), { assets: [asset], binary: { path: BINARY }, version: current });
  signSums(join(dir, "old"), key);
  await makeRelease(join(dir, "other"), { assets: [asset], binary: { path: newBinary }, version: NEW });
  signSums(join(dir, "other"), other);
  await makeRelease(join(dir, "unsigned"), { assets: [asset], binary: { path: newBinary }, version: NEW });
  served = serveDir(dir);
}, 300_000);
afterAll(() => {
  served?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  bin = mkdtempSync(join(dir, "bin-"));
  exe = join(bin, "gvisor-doctor");
  copyFileSync(BINARY, exe);
  served.reset();
});

const env = (release: string, extra: Record<string, string> = {}) =>
  cleanEnv({ GVISOR_DOCTOR_BASE: `${served.url}/${release}`, GVISOR_DOCTOR_RELEASE_PUBKEY: pubkey, ...extra });
/** Run a binary without blocking this process: the release server lives in it. */
async function run(binary: string, args: string[], e: NodeJS.ProcessEnv) {
  const p = Bun.spawn([binary, ...args], { env: e, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  let json: any = null;
  try {
    json = JSON.parse(stdout);
  } catch {}
  return { code, stdout, stderr, json };
}

/** Refused: exit 1, the message, and the installed binary byte for byte as before, nothing left beside it. */
function refused(r: Awaited<ReturnType<typeof run>>, re: RegExp, before: string): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(re);
  expect(sha(exe)).toBe(before);
  expect(readdirSync(bin)).toEqual(["gvisor-doctor"]);
}

describe("self-update", () => {
  test("--check reports the newer signed release and changes nothing", async () => {
    const before = sha(exe);
    const r = await run(exe, ["self-update", "--check", "--json"], env("new"));
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      action: "update-available",
      from: current,
      to: NEW,
      verified: "ssh-signature",
    });
    expect(sha(exe)).toBe(before);
    expect(served.requests).toEqual(["GET /new/SHA512SUMS", "GET /new/SHA512SUMS.sig", "GET /new/VERSION"]);
  });

  test("a good update: signature and hashes verified, the binary replaced by rename, the old one kept; rollback and back", async () => {
    const before = sha(exe);
    const r = await run(exe, ["self-update"], env("new"));
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `updated ${exe}: ${current} → ${NEW} (signature by ${pubkey.split(" ").slice(0, 2).join(" ")} and sha512 verified)`,
    );
    expect(versionOf(exe)).toBe(`gvisor-doctor ${NEW}`);
    expect(sha(exe)).toBe(sha(newBinary));
    expect(sha(join(bin, ".gvisor-doctor.previous"))).toBe(before);
    expect(readdirSync(bin).sort()).toEqual([".gvisor-doctor.previous", "gvisor-doctor"]);
    expect(served.requests).toContain(`GET /new/${asset}.gz`);

    const back = await run(exe, ["self-update", "--rollback", "--json"], cleanEnv());
    expect(back.code).toBe(0);
    expect(back.json).toMatchObject({ action: "rolled-back", from: NEW, to: current });
    expect(sha(exe)).toBe(before);
    const again = await run(exe, ["self-update", "--rollback"], cleanEnv());
    expect(again.code).toBe(0);
    expect(versionOf(exe)).toBe(`gvisor-doctor ${NEW}`);
  });

  test("a release signed by another key is refused", async () => {
    refused(
      await run(exe, ["self-update"], env("other")),
      /SHA512SUMS\.sig: signed by another key than the release key/,
      sha(exe),
    );
  });

  test("a SHA512SUMS changed after signing is refused", async () => {
    const sums = readFileSync(join(dir, "new", "SHA512SUMS"), "utf8");
    served.override("/new/SHA512SUMS", () => new Response(sums.replace(/^[0-9a-f]/m, (c) => (c === "0" ? "1" : "0"))));
    refused(await run(exe, ["self-update"], env("new")), /the signature does not match SHA512SUMS/, sha(exe));
  });

  test("a truncated download is refused by its signed hash", async () => {
    const gz = readFileSync(join(dir, "new", `${asset}.gz`));
    served.override(`/new/${asset}.gz`, () => new Response(gz.subarray(0, gz.length >> 1)));
    refused(
      await run(exe, ["self-update"], env("new")),
      /sha512 mismatch for .*\.gz: expected [0-9a-f]{128} \(signed SHA512SUMS\)/,
      sha(exe),
    );
  });

  test("an older release is refused unless --allow-downgrade", async () => {
    copyFileSync(newBinary, exe);
    refused(
      await run(exe, ["self-update"], env("old")),
      new RegExp(`is ${current.replace(/[.+]/g, "\\$&")}, older than this gvisor-doctor ${NEW}: refusing to downgrade`),
      sha(exe),
    );
    const r = await run(exe, ["self-update", "--allow-downgrade", "--json"], env("old"));
    expect(r.code).toBe(0);
    expect(versionOf(exe)).toBe(`gvisor-doctor ${current}`);
  });

  test("an unsigned release is refused unless GVISOR_DOCTOR_UNSIGNED=1 (then the hashes alone vouch)", async () => {
    refused(
      await run(exe, ["self-update"], env("unsigned")),
      /SHA512SUMS\.sig is missing: the release is not signed/,
      sha(exe),
    );
    const r = await run(exe, ["self-update", "--json"], env("unsigned", { GVISOR_DOCTOR_UNSIGNED: "1" }));
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ action: "updated", verified: "sha512-only" });
  });

  test("a user who cannot write the binary's directory may --check, but not replace it", async () => {
    for (const d of [dir, bin]) chmodSync(d, 0o755);
    const asNobody = (args: string[]) =>
      run("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", exe, ...args], env("new"));
    const check = await asNobody(["self-update", "--check", "--json"]);
    expect(check.code).toBe(0);
    expect(check.json).toMatchObject({ action: "update-available", to: NEW });
    const before = sha(exe);
    refused(await asNobody(["self-update"]), /cannot replace .*: .* is not writable \(you are not root\)/, before);
  });

  test("already the release: nothing to do", async () => {
    const r = await run(exe, ["self-update", "--json"], env("old"));
    expect(r.code).toBe(0);
    expect(r.json.action).toBe("up-to-date");
    expect(readdirSync(bin)).toEqual(["gvisor-doctor"]);
  });
});
