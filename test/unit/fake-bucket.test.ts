// The fake release bucket is shared by test files and by parallel runs from other checkouts: a run
// removes only what no run needs (its dead builds, buckets unused for a day), never a bucket in use.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeStaleBuckets, STALE_BUCKET_MS } from "../helpers/fake-bucket.ts";

const tmp = mkdtempSync("/tmp/gvd-test-buckets-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("another checkout's bucket in use and a live build stay; dead builds and day-old buckets go", () => {
  const bucket = (name: string, marker: string, ageMs: number) => {
    mkdirSync(join(tmp, name));
    writeFileSync(join(tmp, name, marker), "");
    const t = new Date(Date.now() - ageMs);
    utimesSync(join(tmp, name, marker), t, t);
  };
  bucket("gvd-fake-bucket-aaaaaaaaaaaa", ".complete", 0); // ours
  bucket("gvd-fake-bucket-bbbbbbbbbbbb", ".used", 60_000); // another worktree's, used a minute ago
  bucket("gvd-fake-bucket-cccccccccccc", ".used", STALE_BUCKET_MS + 60_000);
  bucket("gvd-fake-bucket-dddddddddddd", ".complete", STALE_BUCKET_MS + 60_000);
  mkdirSync(join(tmp, `gvd-fake-bucket-bbbbbbbbbbbb.build-${process.pid}-abc123`));
  mkdirSync(join(tmp, "gvd-fake-bucket-bbbbbbbbbbbb.build-999999999-abc123")); // no such process
  mkdirSync(join(tmp, "unrelated"));
  const removed = removeStaleBuckets(join(tmp, "gvd-fake-bucket-aaaaaaaaaaaa"), tmp);
  expect(removed.map((p) => p.slice(tmp.length + 1)).sort()).toEqual([
    "gvd-fake-bucket-bbbbbbbbbbbb.build-999999999-abc123",
    "gvd-fake-bucket-cccccccccccc",
    "gvd-fake-bucket-dddddddddddd",
  ]);
  expect(readdirSync(tmp).sort()).toEqual([
    "gvd-fake-bucket-aaaaaaaaaaaa",
    "gvd-fake-bucket-bbbbbbbbbbbb",
    `gvd-fake-bucket-bbbbbbbbbbbb.build-${process.pid}-abc123`,
    "unrelated",
  ]);
});
