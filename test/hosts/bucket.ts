// The fake gVisor bucket (test/helpers/fake-bucket.ts: both layouts, built from real binaries)
// made available inside a host as a directory, for `install --mirror DIR`. A directory, not a
// server: a host has its own network namespace, and a local mirror is a real user path too
// (air-gapped hosts, docs/install.md).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { bucketDir, RELEASES } from "../helpers/fake-bucket.ts";
import type { Host } from "./host.ts";

export { RELEASES };
/** Where the bucket is inside a host. */
export const BUCKET_IN_HOST = "/srv/gvisor-bucket";

/** Copy the bucket into the host; returns the --mirror value to use inside it. */
export function putBucket(host: Host): string {
  const src = bucketDir();
  const dest = join(host.root, BUCKET_IN_HOST);
  mkdirSync(dest, { recursive: true });
  const r = spawnSync("cp", ["-a", `${src}/.`, dest], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`copying the fake bucket into ${host.name}: ${r.stderr}`);
  return BUCKET_IN_HOST;
}
