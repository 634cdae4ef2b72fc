// Benchmark: `gvisor-doctor install` against gVisor's documented snippet and a C-tools
// pipeline, on a realistic release (~450 MB unpacked, from real ELF binaries) served by
// the fake bucket on 127.0.0.1. Interleaved runs, medians, same-run ratios.
//   npx bun bench/install.ts [--runs N] [--legacy-runs N] [--binary PATH]
// The release is built once into ~/.cache/gvisor-doctor-bench (GVD_BENCH_CACHE) and reused.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ARCH, startFakeBucket } from "../test/helpers/fake-bucket.ts";
import { median, sh, writeReleaseTree } from "./lib.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const RUNS = Number(opt("--runs", "5"));
const LEGACY_RUNS = Number(opt("--legacy-runs", "7"));
const ROOT = join(import.meta.dirname, "..");
const BINARY = opt("--binary", process.env.GVD_BINARY || join(ROOT, "dist", "gvisor-doctor"));
const CACHE = process.env.GVD_BENCH_CACHE || join(homedir(), ".cache", "gvisor-doctor-bench");
const BUCKET = join(CACHE, "release-v1", "bucket");
const VERSION = "20260907.0";
const LEGACY = "20260817.0";
const dirOf = (v: string) => join(BUCKET, "release", v, ARCH);

/** The realistic release (writeReleaseTree), as gvisor.tar.zstd (zstd -19) and gvisor.tar.bz2 (bzip2 -9). */
function buildRelease(): void {
  const d = dirOf(VERSION);
  if (!existsSync(join(d, "gvisor.tar.zstd.sha512")) || !existsSync(join(d, "gvisor.tar.bz2.sha512"))) {
    console.error(`building the benchmark release in ${d} (zstd -19 takes a few minutes, once)…`);
    const tree = join(CACHE, "release-v1", "tree");
    rmSync(tree, { recursive: true, force: true });
    writeReleaseTree(tree);
    mkdirSync(d, { recursive: true });
    const tar = join(CACHE, "release-v1", "gvisor.tar");
    sh("tar", ["-C", tree, "-cf", tar, "."]);
    sh("zstd", ["-19", "-T0", "-q", "-f", tar, "-o", join(d, "gvisor.tar.zstd")]);
    sh("bzip2", ["-9", "-c", tar], { stdout: join(d, "gvisor.tar.bz2") });
    for (const f of ["gvisor.tar.zstd", "gvisor.tar.bz2"])
      sh("sha512sum", [f], { cwd: d, stdout: join(d, `${f}.sha512`) });
    rmSync(tar);
    rmSync(tree, { recursive: true, force: true });
  }
  const l = dirOf(LEGACY);
  if (!existsSync(join(l, "runsc.sha512"))) {
    mkdirSync(l, { recursive: true });
    copyFileSync("/usr/bin/runsc", join(l, "runsc"));
    sh("sha512sum", ["runsc"], { cwd: l, stdout: join(l, "runsc.sha512") });
  }
}

interface Sample {
  ms: number;
  maxRssKb?: number;
}

/** Run a command (async: the bucket server lives in this process), return wall time. */
function timed(cmd: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd[0], cmd.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (b) => (err += b));
    child.on("close", (code) => {
      const ms = performance.now() - t;
      if (code !== 0) return reject(new Error(`${cmd.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      const rss = err.match(/GVD_MAXRSS (\d+)/);
      resolve({ ms, maxRssKb: rss ? Number(rss[1]) : undefined });
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: npm run build (or --binary PATH)`);
  buildRelease();
  const bucket = await startFakeBucket({ dir: BUCKET });
  const base = bucket.mirror();
  const url = (v: string, f: string) => `${base}/release/${v}/${ARCH}/${f}`;
  const work = mkdtempSync("/tmp/gvd-bench-install-");
  chmodSync(work, 0o755); // the sandbox user must reach the prefix (install checks)
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "GVISOR_MIRROR"]) delete env[k];
  const time = existsSync("/usr/bin/time") ? ["/usr/bin/time", "-f", "GVD_MAXRSS %M"] : [];
  const sizes = Object.fromEntries(
    ["gvisor.tar.zstd", "gvisor.tar.bz2"].map((f) => [f, statSync(join(dirOf(VERSION), f)).size]),
  );

  // Each case prepares a fresh target (not timed), then runs.
  const fresh = (name: string) => {
    const d = join(work, name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
    return d;
  };
  const shc = (script: string) => ["bash", "-c", script];
  const cases: Record<string, () => Promise<Sample>> = {
    "gvisor-doctor install": () =>
      timed(
        [
          ...time,
          BINARY,
          "install",
          "--mirror",
          base,
          "--version",
          VERSION,
          "--prefix",
          fresh("gvd"),
          "--no-configure",
        ],
        env,
      ),
    "gvisor-doctor install (node:zlib)": () =>
      timed([BINARY, "install", "--mirror", base, "--version", VERSION, "--prefix", fresh("gvdz"), "--no-configure"], {
        ...env,
        GVISOR_DOCTOR_DECODER: "builtin",
      }),
    "documented snippet (wget, sha512sum -c, tar -xjf)": () => {
      const d = fresh("snippet");
      mkdirSync(join(d, "bin"));
      return timed(
        shc(
          `set -e; cd ${d}; wget -q ${url(VERSION, "gvisor.tar.bz2")} ${url(VERSION, "gvisor.tar.bz2.sha512")}; sha512sum -c --quiet gvisor.tar.bz2.sha512; tar -xjf gvisor.tar.bz2 -C bin`,
        ),
        env,
      );
    },
    "C pipeline (curl | tee >(sha512sum) | zstd -d | tar -x)": () => {
      const d = fresh("cpipe");
      return timed(
        shc(
          `set -eo pipefail; curl -fsS ${url(VERSION, "gvisor.tar.zstd")} | tee >(sha512sum > ${d}.sum) | zstd -d | tar -x -C ${d}`,
        ),
        env,
      );
    },
  };
  const legacy: Record<string, () => Promise<Sample>> = {
    "gvisor-doctor install --format loose (24 MB runsc)": () =>
      timed(
        [
          BINARY,
          "install",
          "--mirror",
          base,
          "--version",
          LEGACY,
          "--format",
          "loose",
          "--prefix",
          fresh("gvdl"),
          "--no-configure",
        ],
        env,
      ),
    "wget + sha512sum -c + mv": () => {
      const d = fresh("wgetl");
      mkdirSync(join(d, "bin"));
      return timed(
        shc(
          `set -e; cd ${d}; wget -q ${url(LEGACY, "runsc")} ${url(LEGACY, "runsc.sha512")}; sha512sum -c --quiet runsc.sha512; chmod 755 runsc; mv runsc bin/runsc`,
        ),
        env,
      );
    },
  };

  async function interleave(
    set: Record<string, () => Promise<Sample>>,
    runs: number,
  ): Promise<Record<string, Sample[]>> {
    const names = Object.keys(set);
    const out: Record<string, Sample[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (const n of names) await set[n](); // warm-up: page cache, binaries
    for (let i = 0; i < runs; i++) {
      // Rotate the order so no case always runs after the same one.
      for (let j = 0; j < names.length; j++) {
        const n = names[(i + j) % names.length];
        spawnSync("sync"); // earlier runs' dirty pages must not be written back during this one
        out[n].push(await set[n]());
        process.stderr.write(".");
      }
    }
    process.stderr.write("\n");
    return out;
  }

  console.log(`gvisor-doctor install benchmark — ${new Date().toISOString()}`);
  console.log(
    `release: gvisor.tar.zstd ${(sizes["gvisor.tar.zstd"] / 1e6).toFixed(1)} MB, gvisor.tar.bz2 ${(sizes["gvisor.tar.bz2"] / 1e6).toFixed(1)} MB, unpacked ~456 MB; served from 127.0.0.1`,
  );
  console.log(`binary: ${BINARY}; runs: ${RUNS} (legacy ${LEGACY_RUNS}), interleaved, medians`);
  let main: Record<string, Sample[]>;
  let leg: Record<string, Sample[]>;
  try {
    main = await interleave(cases, RUNS);
    leg = await interleave(legacy, LEGACY_RUNS);
  } finally {
    await bucket.close();
    rmSync(work, { recursive: true, force: true });
  }

  const row = (name: string, s: Sample[]) => {
    const ms = s.map((x) => x.ms);
    console.log(
      `  ${name.padEnd(56)} median ${(median(ms) / 1000).toFixed(2)} s   (min ${(Math.min(...ms) / 1000).toFixed(2)}, max ${(Math.max(...ms) / 1000).toFixed(2)})`,
    );
  };
  console.log("\nfull release (new layout):");
  for (const [n, s] of Object.entries(main)) row(n, s);
  console.log("legacy loose runsc:");
  for (const [n, s] of Object.entries(leg)) row(n, s);

  const m = (set: Record<string, Sample[]>, n: string) => median(set[n].map((x) => x.ms));
  const gvd = m(main, "gvisor-doctor install");
  const cpipe = m(main, "C pipeline (curl | tee >(sha512sum) | zstd -d | tar -x)");
  const snippet = m(main, "documented snippet (wget, sha512sum -c, tar -xjf)");
  const zlibRatio = m(main, "gvisor-doctor install (node:zlib)") / gvd;
  const legacyRatio = m(leg, "gvisor-doctor install --format loose (24 MB runsc)") / m(leg, "wget + sha512sum -c + mv");
  const rss = main["gvisor-doctor install"].map((x) => x.maxRssKb ?? 0);
  const peakMb = Math.max(...rss) / 1024;
  const goal = (ok: boolean) => (ok ? "goal met" : "GOAL MISSED");
  console.log("\nratios (same run, medians):");
  console.log(
    `  install / C pipeline          ${(gvd / cpipe).toFixed(2)}×   (goal ≤ 1.3×: ${goal(gvd / cpipe <= 1.3)})`,
  );
  console.log(
    `  install / documented snippet  ${(gvd / snippet).toFixed(3)}×  (goal ≤ 0.1×: ${goal(gvd / snippet <= 0.1)})`,
  );
  console.log(
    `  legacy install / wget+mv      ${legacyRatio.toFixed(2)}×   (goal ≤ 1.0×: ${goal(legacyRatio <= 1.0)})`,
  );
  console.log(
    `  node:zlib decoder / default   ${zlibRatio.toFixed(2)}×   (why the host's zstd is the default when present)`,
  );
  console.log(
    `  peak RSS of install           ${rss.length && rss[0] ? `${peakMb.toFixed(0)} MB (max of ${rss.length} runs; goal ≤ 150 MB: ${goal(peakMb <= 150)})` : "n/a (/usr/bin/time missing)"}`,
  );
}

await main();
process.exit(0);
