// bench/docker-api: the two ways the doctor talks to dockerd, side by side in one run against a
// throwaway dockerd (test/bed): `docker info` (spawning the CLI) vs GET /info on the socket (a
// fresh client each time, so the /_ping negotiation is included), and the hello probe as
// `docker run --rm` vs the Engine API's create/start/wait/logs/remove. In-process, through the
// same functions the checks use (platform/engines/docker/client.ts, platform/probe/images.ts).
// The faster path is the one dockerEndpoint picks when both reach the same daemon.
// Run: npx bun bench/docker-api.ts [runs]
import { startDockerBed } from "../test/bed/bed.ts";
import { dockerCli, dockerInfoVia, type DockerEndpoint } from "../platform/engines/docker/client.ts";
import { unixSocketOf } from "../platform/engines/docker/api.ts";
import { runDockerProbe } from "../platform/probe/images.ts";
import { median, machine } from "./lib.ts";

const runs = Number(process.argv[2] ?? 10);
const bed = await startDockerBed();
try {
  const env = bed.env;
  const cli = dockerCli(env);
  if (!cli) throw new Error("the bench compares both paths: it needs the docker CLI");
  const viaCli: DockerEndpoint = { via: "cli", probe: "cli", cli, api: unixSocketOf(bed.host), why: null };
  const viaApi: DockerEndpoint = { ...viaCli, via: "api", probe: "api" };
  const probe = (ep: DockerEndpoint) => async () => {
    const r = await runDockerProbe(ep, { runtime: "runsc", networkNone: true, cmd: ["dmesg"], env });
    const ok = r.result.code === 0 && r.result.stdout.includes("gVisor");
    if (!ok) throw new Error(`${ep.probe} probe: ${r.result.stderr}`);
  };
  const info = (ep: DockerEndpoint) => async () => {
    const r = await dockerInfoVia(ep, env);
    if (!r.info?.runtimes.runsc) throw new Error(`${ep.via} info: ${r.error}`);
  };
  const cases: [string, () => Promise<void>][] = [
    ["docker info --format '{{json .}}' (CLI)", info(viaCli)],
    ["GET /_ping + GET /info (Engine API)", info(viaApi)],
    ["docker run --rm --runtime=runsc IMG dmesg (CLI)", probe(viaCli)],
    ["create/start/wait/logs/remove (Engine API)", probe(viaApi)],
  ];
  const times = new Map(cases.map(([n]) => [n, [] as number[]]));
  for (const [, f] of cases) await f(); // warm-up: loads the probe image, fills caches
  for (let i = 0; i < runs; i++) {
    for (const [name, f] of cases) {
      const t0 = performance.now();
      await f();
      times.get(name)!.push(performance.now() - t0);
    }
  }
  console.log(`\nbench/docker-api (${new Date().toISOString().slice(0, 10)}, ${machine()}, dockerd at ${bed.host})`);
  const med: number[] = [];
  for (const [name, xs] of times) {
    med.push(median(xs));
    const spread = `(n=${xs.length}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
    console.log(`  ${name.padEnd(52)} median ${median(xs).toFixed(1).padStart(8)} ms   ${spread}`);
  }
  console.log(`  ${"info: API / CLI".padEnd(52)} ${(med[1] / med[0]).toFixed(2)}×`);
  console.log(`  ${"hello probe: API / CLI".padEnd(52)} ${(med[3] / med[2]).toFixed(2)}×`);
} finally {
  await bed.stop();
}
