// bench/exec: what `gvisor-doctor exec` costs over running the sandbox by hand.
//  1. `exec --via docker -- true` vs `docker run --rm --runtime=runsc IMG true`
//     against a throwaway dockerd (the test bed, runsc registered); same image.
//  2. `exec --via runsc -- true` vs `runsc --network=none do true` (root; the default
//     `runsc do` network cannot start on this kernel, see docs/exec.md).
// Goals: both ≤ 1.1×. Plus exec's own peak RSS.   Run: npx bun bench/exec.ts [runs]   (GVD_BINARY=… for another build)
import { join } from "node:path";
import { ensureProbeImage } from "../platform/probe/images.ts";
import { BED, startDockerBed } from "../test/bed/bed.ts";
import { interleaved, peakRssMb, ratio, report } from "./lib.ts";

const runs = Number(process.argv[2] ?? 15);
const bin = process.env.GVD_BINARY ?? join(import.meta.dirname, "..", "dist", "gvisor-doctor");
if (!BED.ok) throw new Error(`bench/exec needs the test bed: ${BED.reason}`);

const bed = await startDockerBed();
try {
  const env = bed.env;
  const { tag } = await ensureProbeImage("docker", env); // the image exec uses; built before timing
  const docker = interleaved(
    [
      { name: "gvisor-doctor exec --via docker -- true", argv: [bin, "exec", "--via", "docker", "--", "true"], env },
      {
        name: "docker run --rm --runtime=runsc IMG true",
        argv: ["docker", "run", "--rm", "--runtime=runsc", tag, "true"],
        env,
      },
    ],
    runs,
  );
  const md = report("exec via docker (test-bed dockerd, runsc runtime with --network=none)", docker);
  ratio(
    "exec --via docker / docker run",
    md["gvisor-doctor exec --via docker -- true"],
    md["docker run --rm --runtime=runsc IMG true"],
    1.1,
  );

  const runsc = interleaved(
    [
      { name: "gvisor-doctor exec --via runsc -- true", argv: [bin, "exec", "--via", "runsc", "--", "true"], env },
      { name: "runsc --network=none do true", argv: ["runsc", "--network=none", "do", "true"], env },
    ],
    runs,
  );
  const mr = report("exec via runsc (root)", runsc);
  ratio(
    "exec --via runsc / runsc do",
    mr["gvisor-doctor exec --via runsc -- true"],
    mr["runsc --network=none do true"],
    1.1,
  );
  const rss = (via: string) =>
    peakRssMb({ name: via, argv: [bin, "exec", "--via", via, "--", "true"], env })?.toFixed(0) ?? "n/a";
  // GNU time: the largest process of the tree it waited for (gvisor-doctor, or a child it waited for).
  console.log(`  peak RSS: exec --via docker ${rss("docker")} MB, --via runsc ${rss("runsc")} MB (max of 3)`);
} finally {
  await bed.stop();
}
