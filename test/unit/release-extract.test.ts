// Unpacking: only the members a gVisor release has, written 0600 until the hash matches.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ArchiveError, checkMemberPath, TarStager } from "../../platform/release/extract.ts";
import { Pax } from "tar";
import { buildTar } from "../helpers/fake-bucket.ts";

let dir: string;
let staging: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-extract-");
  staging = join(dir, "staging");
  mkdirSync(staging, { mode: 0o700 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = (path: string, text = path) => ({ path, data: Buffer.from(text) });

async function unpack(tar: Buffer, chunk = 700): Promise<string[]> {
  const s = new TarStager(staging);
  try {
    for (let off = 0; off < tar.length; off += chunk) s.write(tar.subarray(off, off + chunk));
  } catch (e) {
    await s.abort();
    throw e;
  }
  return (await s.end()).map((m) => `${m.type}:${m.path}:${m.size}`);
}

describe("a well-formed release", () => {
  test("runsc, the shim and gvisor-bin/* land in staging, private and not executable", async () => {
    const members = await unpack(
      buildTar([
        { path: "./", type: "Directory" },
        file("./runsc", "RUNSC"),
        file("./containerd-shim-runsc-v1"),
        { path: "./gvisor-bin/", type: "Directory" },
        file("./gvisor-bin/gvisor_sentry"),
        file("gvisor-bin/checkpointgofer"),
      ]),
    );
    expect(members).toEqual([
      "file:runsc:5",
      "file:containerd-shim-runsc-v1:26",
      "file:gvisor-bin/gvisor_sentry:26",
      "file:gvisor-bin/checkpointgofer:26",
    ]);
    expect(readFileSync(join(staging, "runsc"), "utf8")).toBe("RUNSC");
    expect(statSync(join(staging, "runsc")).mode & 0o777).toBe(0o600);
    expect(statSync(join(staging, "gvisor-bin")).mode & 0o777).toBe(0o700);
  });
  test("a link between members that stays inside is kept", async () => {
    await unpack(
      buildTar([
        file("runsc"),
        { path: "gvisor-bin/runsc-alias", type: "SymbolicLink", linkpath: "../runsc" },
        { path: "gvisor-bin/hard", type: "Link", linkpath: "./runsc" },
      ]),
    );
    expect(lstatSync(join(staging, "gvisor-bin/runsc-alias")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(staging, "gvisor-bin/hard"), "utf8")).toBe("runsc");
  });
  test("large members arrive intact across many small writes", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 123, 7);
    await unpack(buildTar([{ path: "runsc", data: big }]), 4096);
    expect(readFileSync(join(staging, "runsc")).equals(big)).toBe(true);
  });
});

describe("members that are refused (nothing is written outside staging)", () => {
  const cases: [string, Parameters<typeof buildTar>[0], RegExp][] = [
    ["a ../ path", [file("runsc"), file("../escaped")], /"..\/escaped" climbs out of the directory/],
    ["a ../ hidden in the middle", [file("gvisor-bin/../../escaped")], /climbs out/],
    ["an absolute path", [file("/tmp/gvd-absolute")], /"\/tmp\/gvd-absolute" has an absolute path/],
    [
      "a symlink out of the directory",
      [file("runsc"), { path: "gvisor-bin/x", type: "SymbolicLink", linkpath: "../../etc/passwd" }],
      /symlink to "..\/..\/etc\/passwd", outside the release directory/,
    ],
    [
      "an absolute symlink",
      [{ path: "runsc", type: "SymbolicLink", linkpath: "/bin/sh" }],
      /symlink to "\/bin\/sh", outside/,
    ],
    ["a hard link to a file outside", [{ path: "runsc", type: "Link", linkpath: "/etc/shadow" }], /absolute path/],
    [
      "a device file",
      [file("runsc"), { path: "gvisor-bin/console", type: "CharacterDevice" }],
      /"gvisor-bin\/console" is a device file/,
    ],
    ["an unexpected file", [file("runsc"), file("etc/cron.d/x")], /unexpected member "etc\/cron.d\/x"/],
    ["an unexpected directory", [{ path: "usr/", type: "Directory" }], /unexpected directory "usr\/"/],
    ["a nested sidecar", [file("gvisor-bin/a/b")], /unexpected member/],
    ["a duplicate member", [file("runsc"), file("./runsc")], /appears twice/],
  ];
  test.each(cases)("%s", async (_name, members, message) => {
    const err = await unpack(buildTar(members)).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(message);
    expect(existsSync(join(dir, "escaped"))).toBe(false);
    expect(readdirSync(dir)).toEqual(["staging"]);
  });
  test("a truncated tarball is an error, not a short file", async () => {
    const tar = buildTar([{ path: "runsc", data: Buffer.alloc(100_000, 1) }]);
    const err = await unpack(tar.subarray(0, 50_000)).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveError);
  });
  test("garbage is not a tarball", async () => {
    const err = await unpack(Buffer.alloc(4096, 0x41)).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveError);
  });
  test("a 6 KB member name is echoed cut to its start and length, without terminal escapes (issue 14)", async () => {
    const name = `gvisor-bin/${"n".repeat(6000)}\u001b]0;title\u0007`;
    // A long name travels in a pax extended header before the member's own.
    const pax = new Pax({ path: `${name}/x` }).encode();
    const tar = buildTar([file("runsc"), file("short-name")]);
    const second = tar.indexOf(Buffer.from("short-name"), 512);
    const err = await unpack(Buffer.concat([tar.subarray(0, second), pax, tar.subarray(second)])).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as Error).message).toMatch(
      /^unexpected member "gvisor-bin\/n+… \(6023 characters\)" \(a gVisor release has only/,
    );
    expect((err as Error).message.length).toBeLessThan(300);
    expect(() => checkMemberPath(`/${name}`)).toThrow(
      /^member "\/gvisor-bin\/n+… \(6022 characters\)" has an absolute path$/,
    );
  });
  test("path checks: ./ prefixes and doubled slashes are normalised", () => {
    expect(checkMemberPath("./gvisor-bin//gvisor_sentry")).toBe("gvisor-bin/gvisor_sentry");
    expect(() => checkMemberPath("a/../../b")).toThrow(ArchiveError);
  });
});

describe("many members", () => {
  test("20,000 members unpack under a 256-descriptor limit (syncs are bounded, no EMFILE)", () => {
    // A child with `ulimit -n 256` runs the stager; before, one sync per member held a descriptor each.
    const script = join(dir, "many.ts");
    const root = join(import.meta.dir, "../..");
    require("node:fs").writeFileSync(
      script,
      `
      import { mkdirSync } from "node:fs";
      import { TarStager } from "${root}/platform/release/extract.ts";
      import { buildTar } from "${root}/test/helpers/fake-bucket.ts";
      const members = [{ path: "runsc", data: Buffer.from("x") }];
      for (let i = 0; i < 20000; i++) members.push({ path: "gvisor-bin/f" + i, data: Buffer.from("y") });
      const tar = buildTar(members);
      const dir = process.argv[2];
      mkdirSync(dir, { mode: 0o700 });
      const s = new TarStager(dir);
      for (let off = 0; off < tar.length; off += 1 << 20) s.write(tar.subarray(off, off + (1 << 20)));
      const got = await s.end();
      await s.synced();
      console.log(got.length);
    `,
    );
    const argv = ["sh", "-c", 'ulimit -n 256 && exec "$0" "$@"', process.execPath, script, join(dir, "many")];
    const r = Bun.spawnSync(argv, { stderr: "pipe" });
    expect(r.stderr.toString()).not.toContain("EMFILE");
    expect(r.stdout.toString().trim()).toBe("20001");
    expect(r.exitCode).toBe(0);
  }, 120_000);
});
