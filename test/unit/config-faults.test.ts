// configure on a full disk or an immutable file: it says "nothing was changed", and nothing
// was: no backup is left behind (never a 0-byte one, none more per retry), and a backup
// keeps the owner, group, mode and mtime of the file it saves.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  chownSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { configureEngines } from "../../src/commands/configure.ts";
import { quietIO } from "../helpers/configure.ts";
import { backupFile } from "../../platform/os/fsutil.ts";

const root = process.getuid?.() === 0;
const BIG = `${JSON.stringify({ labels: Array.from({ length: 900 }, (_, i) => `label-number-${i}-xxxxxxxxxxxxxxxxxxxx`) }, null, 2)}\n`;
const configure = (f: string, dir: string) =>
  configureEngines(
    {
      engines: ["docker"],
      configPath: f,
      runscPath: "/bin/sh",
      runtimeArgs: [`--debug-log=/tmp/${Math.random()}`],
      reload: false,
      verify: false,
    },
    quietIO(dir),
  );
const backups = (dir: string) => readdirSync(dir).filter((n) => n.includes(".gvisor-doctor-"));

describe.skipIf(!root)("configure on a full disk", () => {
  let mnt: string;
  beforeAll(() => {
    mnt = mkdtempSync("/tmp/gvd-test-full-");
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt]);
    if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  });
  afterAll(() => {
    spawnSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const n of readdirSync(mnt)) rmSync(join(mnt, n), { recursive: true, force: true });
  });
  /** Fill the file system until `pages` 4 KiB pages are left. */
  const leave = (pages: number) => {
    const free = statfsSync(mnt).bavail * statfsSync(mnt).bsize;
    writeFileSync(join(mnt, "filler"), Buffer.alloc(Math.max(0, free - pages * 4096)));
  };

  test("no room for the backup: 'no space', nothing left behind (no 0-byte backup), file unchanged", async () => {
    const f = join(mnt, "daemon.json");
    writeFileSync(f, BIG);
    leave(2);
    for (let i = 0; i < 3; i++) {
      const r = await configure(f, mnt);
      expect(r.engines[0]).toMatchObject({ status: "failed", error: { code: "no-space" } });
      expect(r.engines[0].message).toContain("no space left");
    }
    expect(readFileSync(f, "utf8")).toBe(BIG);
    expect(readdirSync(mnt).sort()).toEqual(["daemon.json", "filler"]);
  });

  test("room for the backup but not for the new file: the backup is removed again, on every retry", async () => {
    const f = join(mnt, "daemon.json");
    writeFileSync(f, BIG);
    const pages = Math.ceil(Buffer.byteLength(BIG) / 4096);
    leave(pages + 1);
    for (let i = 0; i < 3; i++) {
      const r = await configure(f, mnt);
      expect(r.engines[0]).toMatchObject({ status: "failed", error: { code: "no-space" } });
    }
    expect(readFileSync(f, "utf8")).toBe(BIG);
    expect(backups(mnt)).toEqual([]);
    expect(readdirSync(mnt).filter((n) => n.includes("gvd-tmp"))).toEqual([]);
  });
});

describe.skipIf(!root)("configure on an immutable file (chattr +i)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/gvd-test-immutable-");
  });
  afterAll(() => {
    spawnSync("chattr", ["-i", join(dir, "daemon.json")]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("'permission' failure, no backup left (none per retry), file unchanged", async () => {
    const f = join(dir, "daemon.json");
    writeFileSync(f, BIG);
    const attr = spawnSync("chattr", ["+i", f]);
    if (attr.status !== 0) return; // not ext4 here: nothing to prove
    for (let i = 0; i < 3; i++) {
      const r = await configure(f, dir);
      expect(r.engines[0]).toMatchObject({ status: "failed", error: { code: "permission" } });
    }
    expect(readFileSync(f, "utf8")).toBe(BIG);
    expect(backups(dir)).toEqual([]);
  });
});

describe("backups", () => {
  test.skipIf(!root)("keep owner, group, mode and mtime (root:adm 0640 stays root:adm 0640)", () => {
    const dir = mkdtempSync("/tmp/gvd-test-backup-");
    try {
      const f = join(dir, "daemon.json");
      writeFileSync(f, "{}\n", { mode: 0o640 });
      chownSync(f, 0, 4);
      const b = backupFile(f, new Date("2026-01-01T00:00:00Z"));
      const [a, s] = [statSync(f), statSync(b)];
      expect([s.uid, s.gid, s.mode & 0o7777, Math.floor(s.mtimeMs / 1000)]).toEqual([
        a.uid,
        4,
        0o640,
        Math.floor(a.mtimeMs / 1000),
      ]);
      // A second backup in the same second gets its own name, never replaces the first.
      const b2 = backupFile(f, new Date("2026-01-01T00:00:00Z"));
      expect(b2).not.toBe(b);
      expect(b2).toMatch(/\.1\.bak$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
