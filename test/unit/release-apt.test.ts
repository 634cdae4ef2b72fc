// The pieces of `install --verify signed`: gVisor's pinned key, OpenPGP verification, the
// Release and Packages parsers, the ar and gzip readers (in any chunking; truncation is an
// error, never a hang), the .deb's member rules, and rollback protection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as openpgp from "openpgp";
import { GVISOR_ARCHIVE_KEY, GVISOR_KEY_FINGERPRINT } from "../../platform/release/gvisor-key.ts";
import {
  formatFingerprint,
  loadTrustedKeys,
  SignatureError,
  verifyClearsigned,
  verifyDetached,
} from "../../platform/release/apt/signature.ts";
import { findPackages, parseRelease } from "../../platform/release/apt/release-file.ts";
import { ArReader, type ArMember } from "../../platform/release/apt/ar.ts";
import { createAptDecoder, decodeAll } from "../../platform/release/apt/compression.ts";
import { debPath, DebStager } from "../../platform/release/apt/deb.ts";
import { stageDeb } from "../../platform/release/apt/stage-deb.ts";
import type { Source } from "../../platform/release/source.ts";
import { checkDowngrade, checkReleaseFreshness } from "../../platform/release/apt/freshness.ts";
import { aptTarget } from "../../platform/release/apt/plan.ts";
import { parseVersionSpec } from "../../platform/release/channels.ts";
import { buildDeb, buildEvilDeb } from "../helpers/apt-repo.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync("/tmp/gvd-test-apt-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RELEASE = `Origin: gVisor
Suite: release
Codename: release
Date: Mon, 17 Aug 2026 12:00:00 UTC
Architectures: amd64 arm64
Components: main
SHA256:
 ${"a".repeat(64)} 519 main/binary-amd64/Packages
 ${"b".repeat(64)} 383 main/binary-amd64/Packages.gz
SHA512:
 ${"c".repeat(128)} 519 main/binary-amd64/Packages
`;

async function keyPair(name: string) {
  return openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name }], format: "object" });
}

describe("gVisor's archive key", () => {
  test("the compiled-in key is gVisor's: fingerprint 6F1D F85E 3A71 C249 18E7 27D5 6FC6 D554 E32B D943", async () => {
    const key = await openpgp.readKey({ armoredKey: GVISOR_ARCHIVE_KEY });
    expect(key.getFingerprint()).toBe(GVISOR_KEY_FINGERPRINT);
    expect(formatFingerprint(GVISOR_KEY_FINGERPRINT)).toBe("6F1D F85E 3A71 C249 18E7  27D5 6FC6 D554 E32B D943");
    expect((await key.getPrimaryUser()).user.userID?.userID).toBe("The gVisor Authors <gvisor-bot@google.com>");
    expect(await key.getExpirationTime()).toBe(Infinity);
    const trusted = await loadTrustedKeys(null);
    expect(trusted.fingerprints).toEqual([GVISOR_KEY_FINGERPRINT]);
  });
});

describe("OpenPGP signatures", () => {
  test("a clearsigned Release verifies against its key; only the signed text comes back", async () => {
    const { privateKey, publicKey } = await keyPair("archive");
    const signed = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text: RELEASE }),
      signingKeys: privateKey,
    });
    const trusted = await loadTrustedKeys({ path: "k.asc", bytes: Buffer.from(publicKey.armor()) });
    const v = await verifyClearsigned(`junk before\n${signed}\nSuite: nightly\n`, trusted, "InRelease");
    expect(v.fingerprint).toBe(publicKey.getFingerprint());
    expect(parseRelease(v.text).suite).toBe("release");
    expect(v.text).not.toContain("nightly");
  });

  test("a modified text, another key, or the compiled-in key against a test signature are refused", async () => {
    const a = await keyPair("archive");
    const b = await keyPair("attacker");
    const signed = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text: RELEASE }),
      signingKeys: a.privateKey,
    });
    const trustA = await loadTrustedKeys({ path: "a.gpg", bytes: a.publicKey.write() });
    await expect(verifyClearsigned(signed.replace("519 main", "520 main"), trustA, "InRelease")).rejects.toThrow(
      SignatureError,
    );
    const trustB = await loadTrustedKeys({ path: "b.asc", bytes: Buffer.from(b.publicKey.armor()) });
    await expect(verifyClearsigned(signed, trustB, "InRelease")).rejects.toThrow(/no valid signature by b\.asc/);
    await expect(verifyClearsigned(signed, await loadTrustedKeys(null), "InRelease")).rejects.toThrow(
      /6F1D F85E 3A71 C249 18E7  27D5 6FC6 D554 E32B D943/,
    );
  });

  test("detached: Release + Release.gpg; an expired signature is refused", async () => {
    const { privateKey, publicKey } = await keyPair("archive");
    const trusted = await loadTrustedKeys({ path: "k.asc", bytes: Buffer.from(publicKey.armor()) });
    const data = Buffer.from(RELEASE);
    const sig = await openpgp.sign({
      message: await openpgp.createMessage({ binary: data }),
      signingKeys: privateKey,
      detached: true,
    });
    expect((await verifyDetached(data, Buffer.from(sig as string), trusted, "Release")).fingerprint).toBe(
      publicKey.getFingerprint(),
    );
    await expect(
      verifyDetached(
        Buffer.from(RELEASE.replace("amd64 arm64", "amd64")),
        Buffer.from(sig as string),
        trusted,
        "Release",
      ),
    ).rejects.toThrow(SignatureError);
    // A key that expired: made a week ago, valid for one day; its old signature counts no more.
    const weekAgo = new Date(Date.now() - 7 * 86400_000);
    const old = await openpgp.generateKey({
      type: "ecc",
      curve: "ed25519Legacy",
      userIDs: [{ name: "old" }],
      date: weekAgo,
      keyExpirationTime: 86400,
      format: "object",
    });
    const message = await openpgp.createCleartextMessage({ text: RELEASE });
    const stale = await openpgp.sign({
      message,
      signingKeys: old.privateKey,
      date: new Date(weekAgo.getTime() + 3600_000),
    });
    const trustOld = await loadTrustedKeys({ path: "old.asc", bytes: Buffer.from(old.publicKey.armor()) });
    await expect(verifyClearsigned(stale, trustOld, "InRelease")).rejects.toThrow(/expired/);
    expect(
      (await verifyClearsigned(stale, trustOld, "InRelease", new Date(weekAgo.getTime() + 7200_000))).fingerprint,
    ).toBe(old.publicKey.getFingerprint());
  });
});

describe("Release and Packages", () => {
  test("the Release lists each index with size, sha256 and sha512; its Date is read as UTC", () => {
    const r = parseRelease(RELEASE);
    expect(r).toMatchObject({
      suite: "release",
      architectures: ["amd64", "arm64"],
      components: ["main"],
      date: "2026-08-17T12:00:00.000Z",
      validUntil: null,
    });
    expect(r.files.get("main/binary-amd64/Packages")).toEqual({
      size: 519,
      sha256: "a".repeat(64),
      sha512: "c".repeat(128),
    });
    expect(r.files.get("main/binary-amd64/Packages.gz")).toEqual({ size: 383, sha256: "b".repeat(64) });
    expect(() => parseRelease("Suite: release\n")).toThrow(/no SHA256 or SHA512/);
    expect(() => parseRelease(RELEASE.replace(`${"a".repeat(64)} 519`, `${"a".repeat(63)} 519`))).toThrow(
      /bad SHA256 hash/,
    );
  });

  test("Packages: runsc entries for the architecture, with Filename, Size and hashes", () => {
    const text = [
      `Package: runsc\nVersion: 20260817.0\nArchitecture: amd64\nFilename: pool/20260817.0/binary-amd64/runsc.deb\nSize: 10\nSHA256: ${"d".repeat(64)}\nDescription: gVisor\n multi-line\n`,
      `Package: runsc\nVersion: 20260817.0\nArchitecture: arm64\nFilename: pool/20260817.0/binary-arm64/runsc.deb\nSize: 11\nSHA256: ${"e".repeat(64)}\n`,
      `Package: other\nVersion: 1\nArchitecture: amd64\nFilename: x.deb\nSize: 1\nSHA256: ${"f".repeat(64)}\n`,
    ].join("\n");
    expect(findPackages(text, "runsc", "amd64")).toEqual([
      {
        package: "runsc",
        version: "20260817.0",
        architecture: "amd64",
        filename: "pool/20260817.0/binary-amd64/runsc.deb",
        size: 10,
        sha256: "d".repeat(64),
        sha512: null,
      },
    ]);
    expect(() => findPackages("Package: runsc\nArchitecture: amd64\nFilename: a\nSize: 1\n", "runsc", "amd64")).toThrow(
      /no usable SHA256/,
    );
  });

  test("suites: latest → release, nightly → nightly, a date → its suite, a point release pins the Version", () => {
    expect(aptTarget(parseVersionSpec("latest"), "x86_64")).toEqual({ suite: "release", arch: "amd64", version: null });
    expect(aptTarget(parseVersionSpec("nightly"), "aarch64")).toEqual({
      suite: "nightly",
      arch: "arm64",
      version: null,
    });
    expect(aptTarget(parseVersionSpec("20260817.1"), "x86_64")).toEqual({
      suite: "20260817",
      arch: "amd64",
      version: "20260817.1",
    });
    expect(() => aptTarget(parseVersionSpec("nightly/2026-09-10"), "x86_64")).toThrow(
      /no suite for nightly\/2026-09-10/,
    );
  });
});

describe("ar and gzip readers", () => {
  test("a .deb's ar members come out the same in odd-sized and whole chunks; a cut-off archive is an error", async () => {
    const deb = readFileSync(buildDeb(dir, "20260817.0"));
    const read = async (chunk: number) => {
      const seen: string[] = [];
      let size = 0;
      const r = new ArReader({
        begin: (m: ArMember) => (seen.push(`${m.name}:${m.size}`), true),
        data: (c) => void (size += c.length),
        end: () => {},
      });
      for (let o = 0; o < deb.length; o += chunk) await r.write(deb.subarray(o, o + chunk));
      r.end();
      return { seen, size };
    };
    const whole = await read(deb.length);
    expect(whole.seen.map((s) => s.split(":")[0])).toEqual(["debian-binary", "control.tar.gz", "data.tar.gz"]);
    expect(await read(997)).toEqual(whole);
    const cut = new ArReader({ begin: () => true, data: () => {}, end: () => {} });
    for (const b of deb.subarray(0, 200)) await cut.write(Uint8Array.of(b));
    expect(() => cut.end()).toThrow(/truncated/);
  });

  test("truncated gzip is an error, not a hang; a gzip bomb stops at the limit", async () => {
    const z = gzipSync(Buffer.alloc(1 << 20, 1));
    const started = Date.now();
    await expect(decodeAll("gz", z.subarray(0, z.length >> 1), 1 << 22)).rejects.toThrow(/gzip/);
    await expect(decodeAll("gz", z.subarray(0, z.length - 4), 1 << 22)).rejects.toThrow(/gzip/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await decodeAll("gz", z, 1 << 22)).length).toBe(1 << 20);
    await expect(decodeAll("gz", z, 1000)).rejects.toThrow(/more than 1000 bytes/);
  });

  test("the host's gzip (GVISOR_DOCTOR_DECODER=system) also fails on a cut-off stream, and decodes a whole one", async () => {
    const z = gzipSync(Buffer.alloc(1 << 20, 2));
    const run = async (data: Buffer) => {
      let n = 0;
      const d = createAptDecoder("gz", (b) => void (n += b.length), process.env.PATH, "system");
      expect(d.name).toMatch(/gzip|pigz/);
      await d.write(data);
      await d.end();
      return n;
    };
    expect(await run(z)).toBe(1 << 20);
    await expect(run(z.subarray(0, z.length >> 1))).rejects.toThrow(/gzip/);
  });
});

describe("the .deb's members", () => {
  test("usr/bin/ becomes the release's top; the conffile and docs are skipped unwritten", async () => {
    expect(debPath("usr/bin/runsc")).toBe("runsc");
    expect(debPath("usr/bin/gvisor-bin/gvisor_sentry")).toBe("gvisor-bin/gvisor_sentry");
    expect(debPath("etc/containerd/runsc.toml")).toBeNull();
    const staging = join(dir, "s1");
    mkdirSync(staging, { mode: 0o700 });
    const s = new DebStager(staging);
    await s.write(readFileSync(buildDeb(dir, "20260817.0")));
    const files = (await s.end())
      .filter((m) => m.type === "file")
      .map((m) => m.path)
      .sort();
    expect(files).toEqual(["containerd-shim-runsc-v1", "gvisor-bin/runsc-metric-server", "runsc"]);
    expect(readdirSync(staging).sort()).toEqual(["containerd-shim-runsc-v1", "gvisor-bin", "runsc"]);
  });

  test('a member that climbs out with ".." is refused and nothing lands outside staging', async () => {
    const staging = join(dir, "s2");
    mkdirSync(staging, { mode: 0o700 });
    const s = new DebStager(staging);
    const unpack = async () => {
      await s.write(readFileSync(buildEvilDeb(dir, "20260817.0", "./usr/bin/../../../tmp/gvd-evil-unit")));
      await s.end();
    };
    await expect(unpack()).rejects.toThrow(/climbs out of the directory/);
    await s.abort();
    expect(existsSync("/tmp/gvd-evil-unit")).toBe(false);
  });
});

/** A Source that serves `bytes` for any file, its first `first` bytes as a chunk of their own (as a slow link may). */
function splitSource(bytes: Uint8Array, first: number): Source {
  return {
    kind: "dir",
    base: "/split",
    locate: (rel) => `/split/${rel}`,
    getText: async () => "",
    async stream(_rel, sink, onStart) {
      onStart?.({ total: bytes.length, contentType: null });
      for (const c of [bytes.subarray(0, first), bytes.subarray(first)]) if (c.length) await sink(c);
      return { bytes: bytes.length, attempts: 1, resumes: 0, ms: 0 };
    },
  };
}

describe("streaming the .deb", () => {
  const stage = (bytes: Uint8Array, first: number, name: string) => {
    const staging = join(dir, name);
    mkdirSync(staging, { mode: 0o700 });
    return stageDeb({ source: splitSource(bytes, first), rel: "runsc.deb", url: "runsc.deb", staging, onBytes() {} });
  };

  test("a .deb whose first chunk is 5 bytes stages like a whole one: its 8-byte ar magic spans two chunks", async () => {
    const deb = readFileSync(buildDeb(dir, "20260817.0"));
    const whole = await stage(deb, deb.length, "c1");
    const chunked = await stage(deb, 5, "c2");
    expect(chunked.unpackError).toBeNull();
    expect(chunked.sha512).toBe(whole.sha512);
    expect(chunked.members.map((m) => m.path).sort()).toEqual(whole.members.map((m) => m.path).sort());
  });

  test("a file that is not a .deb, or is empty, is refused by its first bytes", async () => {
    await expect(stage(Buffer.from("<html>captive portal</html>"), 3, "c3")).rejects.toThrow(/is not a \.deb package/);
    await expect(stage(Buffer.alloc(0), 1, "c4")).rejects.toThrow(/is not a \.deb package/);
  });
});

describe("rollback protection", () => {
  const now = new Date("2026-09-01T00:00:00Z");
  test("an older release than the live one is refused unless allowed", () => {
    expect(() => checkDowngrade("runsc version release-20260817.0", "20260101.0", false, "release")).toThrow(
      /older than the live release-20260817.0/,
    );
    expect(() => checkDowngrade("runsc version release-20260817.0", "20260101.0", true, "release")).not.toThrow();
    expect(() => checkDowngrade("20260817.0", "20260817.1", false, "release")).not.toThrow();
    expect(() => checkDowngrade(null, "20260101.0", false, "release")).not.toThrow();
  });

  test("a Release older than the newest seen (a replay) or past Valid-Until is refused", () => {
    const base = { what: "InRelease", validUntil: null, allowDowngrade: false, now };
    expect(() =>
      checkReleaseFreshness({ ...base, date: "2026-08-01T00:00:00.000Z", seen: "2026-08-17T00:00:00.000Z" }),
    ).toThrow(/replayed Release/);
    expect(() =>
      checkReleaseFreshness({ ...base, date: "2026-08-17T00:00:00.000Z", seen: "2026-08-17T00:00:00.000Z" }),
    ).not.toThrow();
    expect(() =>
      checkReleaseFreshness({
        ...base,
        date: "2026-08-01T00:00:00.000Z",
        seen: "2026-08-17T00:00:00.000Z",
        allowDowngrade: true,
      }),
    ).not.toThrow();
    expect(() =>
      checkReleaseFreshness({ ...base, date: null, seen: null, validUntil: "2026-08-20T00:00:00.000Z" }),
    ).toThrow(/Valid-Until/);
  });
});
