// Build every tree of the host matrix at once (or those named: bun test/hosts/prebuild.ts sid).
// test/run.sh starts this in the background before the unit tests, so the builds (minutes,
// mostly download and dpkg) overlap them; the matrix tests then find the trees cached.
import { ensureTree, SUITES, treeAvailability, type Suite } from "./trees.ts";

const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : SUITES) as Suite[];
const started = Date.now();
const results = await Promise.allSettled(
  wanted.map(async (s) => {
    const a = treeAvailability(s);
    if (!a.ok) throw new Error(`${s}: skipped: ${a.reason}`);
    return ensureTree(s, (l) => console.log(`[hosts] ${l}`));
  }),
);
let failed = 0;
for (const r of results) {
  if (r.status === "rejected") {
    failed++;
    console.error(`[hosts] ${r.reason instanceof Error ? r.reason.message : r.reason}`);
  }
}
const secs = Math.round((Date.now() - started) / 1000);
console.log(`[hosts] ${wanted.length - failed}/${wanted.length} trees ready in ${secs} s`);
process.exit(failed ? 1 : 0);
