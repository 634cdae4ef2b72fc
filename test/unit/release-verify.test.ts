// sha512 while streaming, and reading `.sha512` files the way runsc's own verifier does.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { createSha512, parsePinnedSha512, parseSha512File } from "../../platform/release/verify.ts";

const HEX = "0123456789abcdef".repeat(8);

describe(".sha512 files", () => {
  test("the first token of a sha512sum line, lower-cased", () => {
    expect(parseSha512File(`${HEX}  gvisor.tar.zstd\n`, "u")).toBe(HEX);
    expect(parseSha512File(`${HEX.toUpperCase()} *runsc\r\n`, "u")).toBe(HEX);
    expect(parseSha512File(`\uFEFF${HEX}\n`, "u")).toBe(HEX);
  });
  test("an HTML page is named as such, with the URL", () => {
    expect(() => parseSha512File("<!DOCTYPE html><html>Sign in</html>", "https://x/runsc.sha512")).toThrow(
      /https:\/\/x\/runsc\.sha512 is an HTML page, not a checksum file/,
    );
  });
  test("anything else that is not 128 hex digits quotes what was there", () => {
    expect(() => parseSha512File("", "u")).toThrow("u is empty: no sha512 in it");
    expect(() => parseSha512File(`${HEX.slice(1)}  runsc`, "u")).toThrow(/does not start with a sha512/);
  });
  test("--sha512 takes the hex alone or a sha512sum line", () => {
    expect(parsePinnedSha512(HEX.toUpperCase())).toBe(HEX);
    expect(parsePinnedSha512(`${HEX}  gvisor.tar.zstd`)).toBe(HEX);
    expect(parsePinnedSha512("abc")).toBeNull();
  });
});

describe("streaming sha512", () => {
  test("the native hash and @noble/hashes agree over chunk boundaries", () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const a = createSha512("native");
    const b = createSha512("noble");
    expect(a.impl).toBe("node:crypto");
    expect(b.impl).toBe("@noble/hashes");
    for (let off = 0; off < data.length; off += 65_537) {
      a.update(data.subarray(off, off + 65_537));
      b.update(data.subarray(off, off + 65_537));
    }
    const hex = a.hex();
    expect(hex).toMatch(/^[0-9a-f]{128}$/);
    expect(b.hex()).toBe(hex);
  });
});
