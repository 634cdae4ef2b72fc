// Benchmark: `install --verify signed` (gVisor's signed apt chain: InRelease → Packages → the
// runsc .deb, ar → data.tar.gz) against the default tarball path (gvisor.tar.zstd + .sha512), on
// one realistic release (~450 MB unpacked, from real ELF binaries of this machine) holding the
// same files both ways, served on 127.0.0.1. Interleaved runs, medians, same-run ratio.
//   npx bun bench/install-signed.ts [--runs 3] [--binary PATH]
// The release is built once into $GVD_BENCH_CACHE (default ~/.cache/gvisor-doctor-bench).
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ARCH } from "../test/helpers/fake-bucket.ts";
import { DEB_ARCH, makeKey, writeSuite } from "../test/helpers/apt-repo.ts";
import { serveDir } from "../test/helpers/release.ts";
import { median, sh, writeReleaseTree } from "./lib.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : def);
const RUNS = Number(opt("--runs", "3"));
const ROOT = join(import.meta.dirname, "..");
const BINARY = opt("--binary", process.env.GVD_BINARY || join(ROOT, "dist", "gvisor-doctor"));
const CACHE = join(process.env.GVD_BENCH_CACHE || join(homedir(), ".cache", "gvisor-doctor-bench"), "signed-v1");
const REPO = join(CACHE, "repo");
const VERSION = "20260907.0";

/** The release tree (writeReleaseTree), then a tarball and a .deb of it, the .deb in a signed suite. */
function buildRelease(): void {
  if (existsSync(join(CACHE, "done"))) return;
  console.error(`building the benchmark release in ${CACHE} (once)…`);
  rmSync(CACHE, { recursive: true, force: true });
  const tree = join(CACHE, "debroot", "usr", "bin");
  writeReleaseTree(tree);
  const dir = join(REPO, "release", VERSION, ARCH);
  mkdirSync(dir, { recursive: true });
  const tar = join(CACHE, "gvisor.tar");
  sh("tar", ["-C", tree, "-cf", tar, "."]);
  sh("zstd", ["-10", "-T0", "-q", "-f", tar, "-o", join(dir, "gvisor.tar.zstd")]);
  rmSync(tar);
  sh("sha512sum", ["gvisor.tar.zstd"], { cwd: dir, stdout: join(dir, "gvisor.tar.zstd.sha512") });
  mkdirSync(join(CACHE, "debroot", "DEBIAN"));
  writeFileSync(
    join(CACHE, "debroot", "DEBIAN", "control"),
    `Package: runsc\nVersion: ${VERSION}\nArchitecture: ${DEB_ARCH}\nMaintainer: bench\nDescription: gVisor\n`,
  );
  const deb = join(CACHE, "runsc.deb");
  // gzip: what gVisor's bazel-built .deb carries (data.tar.gz), decoded in-process.
  sh("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z6", "--build", join(CACHE, "debroot"), deb]);
  rmSync(join(CACHE, "debroot"), { recursive: true, force: true });
  const key = makeKey(CACHE, "bench-archive");
  writeSuite(REPO, { suite: VERSION.split(".")[0], debs: [{ version: VERSION, path: deb }], key });
  key.close();
  rmSync(deb);
  writeFileSync(join(CACHE, "done"), key.publicKey);
}

function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    spawnSync("sync");
    const t = performance.now();
    const p = spawn(BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) =>
      code === 0
        ? resolve((performance.now() - t) / 1000)
        : reject(new Error(`${args.join(" ")}: exit ${code}\n${err}`)),
    );
  });
}

buildRelease();
const keyring = readFileSync(join(CACHE, "done"), "utf8").trim();
const served = serveDir(REPO);
const cases: Record<string, (prefix: string) => string[]> = {
  "tarball (gvisor.tar.zstd + .sha512)": (p) => [
    "install",
    "--mirror",
    served.url,
    "--prefix",
    p,
    "--no-configure",
    "--version",
    VERSION,
  ],
  "--verify signed (InRelease → Packages.gz → runsc.deb)": (p) => [
    "install",
    "--verify",
    "signed",
    "--keyring",
    keyring,
    "--mirror",
    served.url,
    "--prefix",
    p,
    "--no-configure",
    "--version",
    VERSION.split(".")[0],
  ],
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  const names = Object.keys(cases);
  for (const name of i % 2 ? names.reverse() : names) {
    const prefix = mkdtempSync("/tmp/gvd-bench-signed-");
    chmodSync(prefix, 0o755); // runsc's sandbox user must reach it
    try {
      times[name].push(await run(cases[name](prefix)));
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  }
}
served.close();
const [tarball, signed] = Object.keys(cases);
for (const [name, xs] of Object.entries(times)) {
  console.log(`${name.padEnd(56)} median ${median(xs).toFixed(2)} s  (${xs.map((x) => x.toFixed(2)).join(", ")})`);
}
const sizes = (rel: string) =>
  existsSync(join(REPO, rel)) ? (readFileSync(join(REPO, rel)).length / 1e6).toFixed(1) : "?";
console.log(
  `download: gvisor.tar.zstd ${sizes(`release/${VERSION}/${ARCH}/gvisor.tar.zstd`)} MB, ` +
    `runsc.deb ${sizes(`pool/${VERSION}/binary-${DEB_ARCH}/runsc.deb`)} MB`,
);
console.log(`ratio signed / tarball: ${(median(times[signed]) / median(times[tarball])).toFixed(2)}×`);
