// `install --verify signed` through the compiled binary against a loopback apt repository
// signed with a key made by gpg during the test (built with dpkg-deb and apt-ftparchive, the
// host's runsc inside). Each tampering is refused and leaves the prefix exactly as it was.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GVISOR_KEY_FINGERPRINT } from "../../platform/release/gvisor-key.ts";
import { buildDeb, buildEvilDeb, DEB_ARCH, makeKey, writeSuite, type TestKey } from "../helpers/apt-repo.ts";
import { ARCH, buildTar, BUSYBOX, RUNSC } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, makePrefix, removePrefix, tree } from "../helpers/install-env.ts";
import { serveDir, type Served } from "../helpers/release.ts";

setDefaultTimeout(120_000);

let dir: string;
let key: TestKey;
let other: TestKey;
let repo: string;
let served: Served;
let evil: Served;
let prefix: string;
const DAY = 86400_000;
const bins = `main/binary-${DEB_ARCH}`;

beforeAll(() => {
  dir = mkdtempSync("/tmp/gvd-test-apt-e2e-");
  // Made ten days ago, so a signature can be backdated and expired.
  key = makeKey(dir, "archive", 10);
  other = makeKey(dir, "attacker");
  const debA = buildDeb(dir, "20260817.0");
  const debB = buildDeb(dir, "20260101.0");
  repo = join(dir, "repo");
  writeSuite(repo, {
    suite: "release",
    debs: [{ version: "20260817.0", path: debA }],
    key,
    date: new Date(Date.now() - DAY),
  });
  writeSuite(repo, { suite: "20260817", debs: [{ version: "20260817.0", path: debA }], key });
  writeSuite(repo, { suite: "20260101", debs: [{ version: "20260101.0", path: debB }], key });
  // The bucket's tarball of the same release, holding the same files as the .deb.
  writeTarball(join(repo, "release/20260817.0", ARCH), readFileSync(RUNSC));
  served = serveDir(repo);
  const evilRepo = join(dir, "evil");
  writeSuite(evilRepo, {
    suite: "release",
    debs: [
      { version: "20260817.0", path: buildEvilDeb(dir, "20260817.0", "./usr/bin/../../../../../tmp/gvd-evil-e2e") },
    ],
    key,
  });
  evil = serveDir(evilRepo);
}, 180_000);
afterAll(() => {
  key?.close();
  other?.close();
  served?.close();
  evil?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  prefix = makePrefix();
  served.reset();
});
afterEach(() => removePrefix(prefix));

/** gvisor.tar.zstd (+ .sha512) with `runsc` and the .deb's shim and sidecar. */
function writeTarball(d: string, runsc: Buffer): { tar: Buffer; sum: string } {
  mkdirSync(d, { recursive: true });
  const bb = readFileSync(BUSYBOX);
  const plain = buildTar([
    { path: "./", type: "Directory" },
    { path: "./runsc", data: runsc },
    { path: "./containerd-shim-runsc-v1", data: bb },
    { path: "./gvisor-bin/", type: "Directory" },
    { path: "./gvisor-bin/runsc-metric-server", data: bb },
  ]);
  const tar = spawnSync("zstd", ["-q", "-1", "-c"], { input: plain, maxBuffer: 1 << 27 }).stdout as Buffer;
  writeFileSync(join(d, "gvisor.tar.zstd"), tar);
  const sum = `${createHash("sha512").update(tar).digest("hex")}  gvisor.tar.zstd\n`;
  writeFileSync(join(d, "gvisor.tar.zstd.sha512"), sum);
  return { tar, sum };
}

const env = cleanEnv();
const install = (...args: string[]) =>
  gvd(
    ["install", "--verify", "signed", "--mirror", served.url, "--prefix", prefix, "--no-configure", "--json", ...args],
    env,
  );
const withKey = (...args: string[]) => install("--keyring", key.publicKey, ...args);
const file = (rel: string) => readFileSync(join(repo, rel));
const serve = (rel: string, body: string | Uint8Array) => served.override(`/${rel}`, () => new Response(body));

/** The install fails with `re`, and the prefix is exactly as before. */
async function refused(re: RegExp, run: () => ReturnType<typeof install>): Promise<string> {
  const before = tree(prefix);
  const r = await run();
  expect(r.code).toBe(1);
  expect(r.json).toMatchObject({ ok: false });
  expect(r.json.error.message).toMatch(re);
  expect(r.json.error.message).toContain("nothing was installed");
  expect(tree(prefix)).toEqual(before);
  return r.json.error.message;
}

describe("install --verify signed", () => {
  test("InRelease signed by the trusted key → Packages → .deb: installed at trust level signed, recorded in state.json", async () => {
    const r = await withKey();
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      action: "installed",
      format: "deb",
      url: `${served.url}/pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`,
    });
    expect(r.json.trust.level).toBe("signed");
    expect(r.json.trust.key).toBe(key.fingerprint);
    expect(r.json.trust.chain).toHaveLength(3);
    expect(r.json.trust.chain[0]).toContain(`${served.url}/dists/release/InRelease: OpenPGP signature by`);
    expect(r.json.trust.chain[1]).toContain(`${bins}/Packages.gz: sha512`);
    expect(r.json.trust.chain[2]).toContain("runsc.deb: sha512");
    expect(served.requests).toEqual([
      "GET /dists/release/InRelease",
      `GET /dists/release/${bins}/Packages.gz`,
      `GET /pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`,
    ]);
    expect(spawnSync(join(prefix, "bin/runsc"), ["--version"]).status).toBe(0);
    expect(existsSync(join(r.json.dir, "gvisor-bin/runsc-metric-server"))).toBe(true);
    expect(existsSync(join(r.json.dir, "runsc.toml"))).toBe(false);
    const state = JSON.parse(readFileSync(join(prefix, "lib/gvisor/state.json"), "utf8"));
    expect(state.versions[r.json.version]).toMatchObject({
      format: "deb",
      release: "20260817.0",
      trust: { level: "signed", key: key.fingerprint },
    });
    expect(Object.keys(state.aptSeen)).toEqual([`${served.url} release`]);
    // check's runsc.binary shows the live install's trust level.
    const c = await gvd(
      ["check", "--only", "runsc.binary", "--offline", "--json"],
      cleanEnv({ PATH: `${prefix}/bin:${process.env.PATH}` }),
    );
    const bin = c.json.checks.find((x: { id: string }) => x.id === "runsc.binary");
    expect(bin.details).toContain(`trust: signed (OpenPGP key ${key.fingerprint.toUpperCase()})`);
    // The same again: nothing to do; human output names the trust level.
    const again = await gvd(
      [
        "install",
        "--source",
        "apt",
        "--mirror",
        served.url,
        "--prefix",
        prefix,
        "--no-configure",
        "--keyring",
        key.binaryKey,
      ],
      env,
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already installed");
  });

  test("without --keyring only gVisor's own key is trusted: the test repository is refused, naming the pinned fingerprint", async () => {
    const msg = await refused(/has no valid signature by gVisor's archive key/, () => install());
    expect(msg).toContain("6F1D F85E 3A71 C249 18E7  27D5 6FC6 D554 E32B D943");
    expect(GVISOR_KEY_FINGERPRINT).toBe("6f1df85e3a71c24918e727d56fc6d554e32bd943");
  });

  test("Release + Release.gpg when there is no InRelease", async () => {
    served.override("/dists/release/InRelease", () => new Response("no", { status: 404 }));
    const r = await withKey();
    expect(r.code).toBe(0);
    expect(r.json.trust.chain[0]).toContain("/dists/release/Release: OpenPGP signature by");
  });
});

describe("tampering is refused with nothing installed", () => {
  test("InRelease modified after signing", async () => {
    const text = file("dists/release/InRelease")
      .toString()
      .replace(/^(Date: .*)$/m, "$1 ");
    serve("dists/release/InRelease", text.replace("Components: main", "Components: main contrib"));
    await refused(/InRelease has no valid signature/, () => withKey());
  });

  test("a signature by another key", async () => {
    const d = mkdtempSync(join(dir, "other-"));
    writeSuite(d, { suite: "release", debs: [{ version: "20260817.0", path: buildDeb(d, "20260817.0") }], key: other });
    serve("dists/release/InRelease", readFileSync(join(d, "dists/release/InRelease")));
    const msg = await refused(/no valid signature by .*archive\.asc/, () => withKey());
    expect(msg).toContain(other.fingerprint.slice(-16).toUpperCase());
  });

  test("an expired signature (made three days ago, valid for one)", async () => {
    const d = mkdtempSync(join(dir, "expired-"));
    const past = `${Math.floor((Date.now() - 3 * DAY) / 1000)}!`;
    writeSuite(d, {
      suite: "release",
      debs: [{ version: "20260817.0", path: buildDeb(d, "20260817.0") }],
      key,
      signArgs: ["--faked-system-time", past, "--default-sig-expire", "1d"],
    });
    serve("dists/release/InRelease", readFileSync(join(d, "dists/release/InRelease")));
    await refused(/expired/i, () => withKey());
  });

  test("Packages that do not match the hash in the signed Release", async () => {
    const { gzipSync } = await import("node:zlib");
    serve(
      `dists/release/${bins}/Packages.gz`,
      gzipSync(
        Buffer.from(
          file(`dists/release/${bins}/Packages`)
            .toString()
            .replace(/^SHA256: .*$/m, `SHA256: ${"0".repeat(64)}`),
        ),
      ),
    );
    await refused(/Packages\.gz does not match the signed Release/, () => withKey());
  });

  test("a .deb that does not match the hash in the signed Packages", async () => {
    serve(`pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`, file(`pool/20260101.0/binary-${DEB_ARCH}/runsc.deb`));
    await refused(/sha512 mismatch for .*runsc\.deb[\s\S]*from the signed/, () => withKey());
  });

  test('a correctly signed .deb whose data.tar climbs out with ".."', async () => {
    const before = tree(prefix);
    const r = await gvd(
      [
        "install",
        "--verify",
        "signed",
        "--keyring",
        key.publicKey,
        "--mirror",
        evil.url,
        "--prefix",
        prefix,
        "--no-configure",
        "--json",
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.json.error.message).toMatch(/cannot be installed safely: member ".*" climbs out of the directory/);
    expect(tree(prefix)).toEqual(before);
    expect(existsSync("/tmp/gvd-evil-e2e")).toBe(false);
  });

  test("a replayed older Release (validly signed) after a newer one was installed", async () => {
    expect((await withKey()).code).toBe(0);
    const d = mkdtempSync(join(dir, "replay-"));
    writeSuite(d, {
      suite: "release",
      debs: [{ version: "20260817.0", path: buildDeb(d, "20260817.0") }],
      key,
      date: new Date(Date.now() - 30 * DAY),
    });
    for (const f of ["InRelease", `${bins}/Packages.gz`])
      serve(`dists/release/${f}`, readFileSync(join(d, "dists/release", f)));
    served.override(
      `/pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`,
      () => new Response(readFileSync(join(d, `pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`))),
    );
    await refused(/older \(Date .*\) than the one this prefix already verified .*: a replayed Release/, () =>
      withKey("--force"),
    );
  });

  test("an older release than the live one, unless --allow-downgrade", async () => {
    expect((await withKey("--version", "20260817")).code).toBe(0);
    await refused(/the signed release 20260101\.0 is older than the live 20260817\.0: refusing to downgrade/, () =>
      withKey("--version", "20260101"),
    );
    const r = await withKey("--version", "20260101", "--allow-downgrade");
    expect(r.code).toBe(0);
    expect(r.json.trust.chain[2]).toContain("(20260101.0)");
  });
});

describe("--cross-check: the bucket's tarball against the signed .deb of the same release", () => {
  const cross = (...args: string[]) =>
    gvd(
      [
        "install",
        "--cross-check",
        "--keyring",
        key.publicKey,
        "--mirror",
        served.url,
        "--prefix",
        prefix,
        "--no-configure",
        "--json",
        "--version",
        "20260817.0",
        ...args,
      ],
      env,
    );

  test("equal files: installed from the tarball, the comparison recorded in the trust chain", async () => {
    const r = await cross();
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ format: "zstd", trust: { level: "bucket-sha512" } });
    expect(r.json.trust.chain.at(-1)).toBe(
      `${served.url}/release/20260817.0/${ARCH}/gvisor.tar.zstd: runsc, containerd-shim-runsc-v1, gvisor-bin/runsc-metric-server equal byte for byte to the signed .deb's`,
    );
    expect(served.requests).toContain(`GET /pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`);
  });

  test("a tarball whose runsc differs (its .sha512 rewritten to match) is a hard failure naming both sources", async () => {
    const other = writeTarball(
      mkdtempSync(join(dir, "swapped-")),
      Buffer.concat([readFileSync(RUNSC), Buffer.from("\nbackdoor\n")]),
    );
    served.override(`/release/20260817.0/${ARCH}/gvisor.tar.zstd`, () => new Response(other.tar));
    served.override(`/release/20260817.0/${ARCH}/gvisor.tar.zstd.sha512`, () => new Response(other.sum));
    const msg = await refused(
      /cross-check failed: runsc from .*gvisor\.tar\.zstd differs from the signed .*runsc\.deb \(20260817\.0, signed by/,
      () => cross(),
    );
    expect(msg).toContain(`${served.url}/release/20260817.0/${ARCH}/gvisor.tar.zstd`);
    expect(msg).toContain(`${served.url}/pool/20260817.0/binary-${DEB_ARCH}/runsc.deb`);
  });
});
