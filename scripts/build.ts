// Build the single-file binaries with `bun build --compile`.
//   bun scripts/build.ts            → dist/gvisor-doctor (this host)
//   bun scripts/build.ts --outfile P → P (a private build for this host)
//   bun scripts/build.ts --all [--outdir DIR]
//                                   → the release in dist/ (or DIR): gvisor-doctor-linux-<target> for
//                                     every release target, a .xz and a .gz of each, install.sh,
//                                     gvisor-preflight.sh, the static gvisor-preflight-linux-<arch>
//                                     this host can build, VERSION, and SHA512SUMS over all of them
//                                     (`npm run release`; RELEASING.md)
// The version is stamped from `git describe` (package.json's version when there is no git).
// .env/bunfig.toml autoload is switched off: the binary runs as root in arbitrary directories.
import { spawn, spawnSync } from "node:child_process";
import { createSha512 } from "../platform/release/verify.ts";
import { preflightScript } from "../src/commands/preflight-script.ts";
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");

// dist/install.sh picks among exactly these names (gvisor-doctor-linux-<arch>[-musl][-baseline]).
// The default x64 builds need AVX2; -baseline runs on older CPUs and under QEMU.
export const RELEASE_TARGETS = [
  "linux-x64",
  "linux-x64-baseline",
  "linux-arm64",
  "linux-x64-musl",
  "linux-x64-musl-baseline",
  "linux-arm64-musl",
] as const;
export const INSTALL_SH = join(dist, "install.sh");
/** The standalone preflight for images with a shell (tracked in git; its version line is stamped). */
export const PREFLIGHT_SH = join(dist, "gvisor-preflight.sh");
/** ... and for images without one: a static C program (buildStaticPreflight). */
export const PREFLIGHT_C = join(root, "scripts", "preflight", "gvisor-preflight.c");

export function stampVersion(): string {
  // GVD_BUILD_VERSION: a build that claims another version (the self-update tests need two).
  if (process.env.GVD_BUILD_VERSION) return process.env.GVD_BUILD_VERSION;
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
  const r = spawnSync("git", ["describe", "--tags", "--always", "--dirty"], { cwd: root, encoding: "utf8" });
  const desc = r.status === 0 ? r.stdout.trim() : "";
  if (!desc) return pkg;
  // A tag like v0.2.0 is the version; otherwise "<pkg>+g<hash>[-dirty]".
  if (/^v?\d+\.\d+\.\d+/.test(desc)) return desc.replace(/^v/, "");
  return `${pkg}+g${desc}`;
}

/** The SSH namespace release signatures are made in (platform/self/sshsig.ts checks it). */
export const SIGN_NAMESPACE = "gvisor-doctor-release";

/** The public half of the signing key GVD_SIGNING_KEY names (an ssh-ed25519 private key file). */
export function signingPublicKey(keyPath: string): string {
  const r = spawnSync("ssh-keygen", ["-y", "-f", keyPath], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen -y -f ${keyPath}: ${r.stderr.trim()}`);
  const key = r.stdout.trim().split(/\s+/).slice(0, 2).join(" ");
  if (!key.startsWith("ssh-ed25519 ")) {
    throw new Error(`${keyPath} is not an ssh-ed25519 key (release signatures use ed25519)`);
  }
  return key;
}

/** DIR/SHA512SUMS.sig: `ssh-keygen -Y sign` over SHA512SUMS (verify: RELEASING.md). */
export function signSums(dir: string, keyPath: string): void {
  rmSync(join(dir, "SHA512SUMS.sig"), { force: true });
  const args = ["-q", "-Y", "sign", "-f", keyPath, "-n", SIGN_NAMESPACE, join(dir, "SHA512SUMS")];
  const r = spawnSync("ssh-keygen", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen -Y sign failed: ${r.stderr.trim()}`);
}

/** install.sh with the release key filled in (its GVD_RELEASE_PUBKEY= line). */
export function stampInstallSh(text: string, pubkey: string): string {
  if (!/^\s*GVD_RELEASE_PUBKEY=$/m.test(text)) {
    throw new Error("install.sh has no empty GVD_RELEASE_PUBKEY= line to stamp");
  }
  return text.replace(/^(\s*)GVD_RELEASE_PUBKEY=$/m, `$1GVD_RELEASE_PUBKEY='${pubkey}'`);
}

/** The release's `bun build` flags (bench/startup.ts builds Bun's floor binary with them too). */
export const COMPILE_FLAGS = [
  // --bytecode: precompiled JSC bytecode halves startup (measured: 19 ms vs 47 ms for --version);
  // it needs ESM output because the entry uses top-level await.
  // --splitting: each dynamically imported module is its own chunk in the binary, loaded (and its
  // bytecode read) only when imported; one bundle made every start pay for all of it: --version
  // 15 ms of CPU → 6 ms, Bun's floor (bench/startup.ts; test/unit/startup-imports.test.ts).
  "--compile",
  "--minify",
  "--sourcemap",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

export function compile(
  target: string | null,
  outfile: string,
  version: string,
  entry = join(root, "src/cli.ts"),
  pubkey = "",
): void {
  const bun = process.execPath; // the bun running this script
  // Built in a directory of its own: with --splitting bun writes a .map per chunk beside the outfile.
  const work = `${outfile}.build`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const args = [
    "build",
    entry,
    ...COMPILE_FLAGS,
    `--define`,
    `GVD_VERSION=${JSON.stringify(version)}`,
    // self-update fetches the same build (target) and trusts the key that signed this release.
    `--define`,
    `GVD_TARGET=${JSON.stringify(target ?? "")}`,
    `--define`,
    `GVD_RELEASE_PUBKEY=${JSON.stringify(pubkey)}`,
    "--outfile",
    join(work, "gvisor-doctor"),
    ...(target ? [`--target=bun-${target}`] : []),
  ];
  const r = spawnSync(bun, args, { stdio: "inherit", cwd: root });
  if (r.status !== 0) throw new Error(`bun build failed for ${target ?? "host"} (exit ${r.status})`);
  renameSync(join(work, "gvisor-doctor"), outfile); // never leave a half-written binary under the real name
  rmSync(work, { recursive: true, force: true }); // the maps are embedded in the binary; bun also writes copies
}

async function sha512(path: string): Promise<string> {
  const h = createSha512(); // the installer's hash, so SHA512SUMS and verification agree by construction
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.hex();
}

/** DIR/SHA512SUMS in `sha512sum -c` format, sorted by name. */
export async function writeSums(dir: string, files: string[]): Promise<void> {
  const lines: string[] = [];
  for (const f of [...files].sort()) lines.push(`${await sha512(join(dir, f))}  ${f}`);
  writeFileSync(join(dir, "SHA512SUMS.tmp"), `${lines.join("\n")}\n`);
  renameSync(join(dir, "SHA512SUMS.tmp"), join(dir, "SHA512SUMS"));
}

/** PATH.gz beside PATH (half the download: ~50 MB instead of ~110 MB), written under a temporary name first. */
export async function gzipFile(path: string, level = 9): Promise<void> {
  await pipeline(createReadStream(path), createGzip({ level }), createWriteStream(`${path}.gz.tmp`));
  renameSync(`${path}.gz.tmp`, `${path}.gz`);
}

/**
 * PATH.xz beside PATH with the host's xz (the smallest download: 40 MB for a 115 MB binary, Bun's
 * own runtime being 39 MB of it; bench/size.ts). One thread: the release compresses one file per core.
 */
export async function xzFile(path: string, level = 9): Promise<void> {
  const child = spawn("xz", [`-${level}`, "-T1", "-c", path], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((res, rej) => {
    child.on("error", (e) => rej(new Error(`xz: ${e.message} (the release needs xz: apt-get install xz-utils)`)));
    child.on("close", res);
  });
  const [code] = await Promise.all([exited, pipeline(child.stdout, createWriteStream(`${path}.xz.tmp`))]);
  if (code !== 0) throw new Error(`xz -${level} ${path} failed: ${err}`);
  renameSync(`${path}.xz.tmp`, `${path}.xz`);
}

/**
 * The static preflight for images without a shell: musl-gcc -static -Os (47 KB), or glibc's
 * gcc -static (690 KB) when musl-tools is missing. Returns the compiler used.
 */
export function buildStaticPreflight(outfile: string, version: string, cc = process.env.CC): string {
  const compilers = cc ? [cc] : ["musl-gcc", "gcc"];
  for (const c of compilers) {
    const flags = ["-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", `-DGVD_VERSION=${JSON.stringify(version)}`];
    const r = spawnSync(c, [...flags, "-o", `${outfile}.tmp`, PREFLIGHT_C], { encoding: "utf8" });
    if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") continue;
    if (r.status !== 0) throw new Error(`${c} failed to build ${PREFLIGHT_C}:\n${r.stderr}`);
    renameSync(`${outfile}.tmp`, outfile);
    return c;
  }
  throw new Error(`no C compiler (${compilers.join(", ")}) to build the static preflight: apt-get install musl-tools`);
}

/**
 * Turn a directory holding the release binaries into the release: a .xz and a .gz of each
 * binary, install.sh, gvisor-preflight.sh (stamped), VERSION, and SHA512SUMS covering every file
 * (`extra`: files already in the directory, e.g. the static preflight). Returns the file names,
 * sorted. The tests build their fixture releases with this too (xzLevel 0: fast).
 */
export async function assembleRelease(
  dir: string,
  binaries: string[],
  version: string,
  opts: { gzipLevel?: number; xzLevel?: number; extra?: string[]; pubkey?: string } = {},
): Promise<string[]> {
  // One compression per core: zlib runs on the thread pool, xz in its own process.
  const queue = binaries.flatMap((b) => [
    () => xzFile(join(dir, b), opts.xzLevel),
    () => gzipFile(join(dir, b), opts.gzipLevel),
  ]);
  const workers = Array.from({ length: Math.max(1, Math.min(queue.length, availableParallelism())) }, async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await job();
  });
  await Promise.all(workers);
  if (opts.pubkey) {
    writeFileSync(join(dir, "install.sh"), stampInstallSh(readFileSync(INSTALL_SH, "utf8"), opts.pubkey), {
      mode: 0o755,
    });
  } else if (resolve(dir, "install.sh") !== resolve(INSTALL_SH)) copyFileSync(INSTALL_SH, join(dir, "install.sh"));
  writeFileSync(join(dir, "gvisor-preflight.sh"), preflightScript(version), { mode: 0o755 });
  writeFileSync(join(dir, "VERSION"), `${version}\n`);
  const files = [
    ...binaries,
    ...binaries.flatMap((b) => [`${b}.gz`, `${b}.xz`]),
    ...(opts.extra ?? []),
    "install.sh",
    "gvisor-preflight.sh",
    "VERSION",
  ].sort();
  await writeSums(dir, files);
  return files;
}

if (import.meta.main) {
  const all = process.argv.includes("--all");
  const version = stampVersion();
  mkdirSync(dist, { recursive: true });
  const outIdx = process.argv.indexOf("--outfile");
  if (!all) {
    // --outfile PATH: a private build (e.g. for a developer testing while another builds dist/).
    const out = outIdx > 0 ? process.argv[outIdx + 1] : join(dist, "gvisor-doctor");
    mkdirSync(join(out, ".."), { recursive: true });
    compile(null, out, version);
    console.log(`built ${out} ${version}`);
  } else {
    // --sign: GVD_SIGNING_KEY is the maintainers' ssh-ed25519 private key (RELEASING.md).
    const signKey = process.argv.includes("--sign") ? process.env.GVD_SIGNING_KEY : undefined;
    if (process.argv.includes("--sign") && !signKey) {
      throw new Error("--sign needs GVD_SIGNING_KEY=<ssh-ed25519 private key file>");
    }
    const pubkey = signKey ? signingPublicKey(signKey) : "";
    const dirIdx = process.argv.indexOf("--outdir");
    const outdir = dirIdx > 0 ? resolve(process.argv[dirIdx + 1]) : dist;
    mkdirSync(outdir, { recursive: true });
    const names: string[] = [];
    for (const t of RELEASE_TARGETS) {
      const name = `gvisor-doctor-${t}`;
      compile(t, join(outdir, name), version, undefined, pubkey);
      names.push(name);
    }
    // The static preflight for this host's architecture (a cross compiler would add the other one).
    const arch = process.arch === "arm64" ? "arm64" : "x64";
    const pre = `gvisor-preflight-linux-${arch}`;
    const cc = buildStaticPreflight(join(outdir, pre), version);
    console.log(`built ${pre} with ${cc}`);
    const files = await assembleRelease(outdir, names, version, { extra: [pre], pubkey });
    if (signKey) {
      signSums(outdir, signKey);
      files.push("SHA512SUMS.sig");
    }
    console.log(
      `release ${version} in ${outdir}: ${files.length} files, SHA512SUMS covers them all\n  ${files.join("\n  ")}`,
    );
  }
}
