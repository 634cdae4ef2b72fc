// Durable writes: background flushes while writing, and a final fsync through a read-only descriptor.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Flusher, syncFile } from "../../platform/release/flush.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/gvd-test-flush-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a file written through a Flusher and synced at the end is complete", async () => {
  const p = join(dir, "runsc");
  const fd = openSync(p, "w", 0o600);
  const f = new Flusher(fd, p);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < 12; i++) {
    writeSync(fd, chunk);
    f.wrote(chunk.length);
  }
  await f.settle();
  closeSync(fd);
  await syncFile(p);
  expect(readFileSync(p).length).toBe(12 * 1024 * 1024);
});

test("syncing a file that is gone says which file", async () => {
  await expect(syncFile(join(dir, "missing"))).rejects.toThrow(`cannot sync ${join(dir, "missing")}`);
});
