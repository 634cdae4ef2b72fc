// Build the single-file binaries with `bun build --compile`.
//   bun scripts/build.ts            → dist/gvisor-doctor (this host)
//   bun scripts/build.ts --outfile P → P (a private build for this host)
//   bun scripts/build.ts --all [--outdir DIR]
//                                   → the release in dist/ (or DIR): gvisor-doctor-linux-<target> for
//                                     every release target, a .gz of each, install.sh, VERSION, and
//                                     SHA512SUMS over all of them (`npm run release`; RELEASING.md)
// The version is stamped from `git describe` (package.json's version when there is no git).
// .env/bunfig.toml autoload is switched off: the binary runs as root in arbitrary directories.
import { spawnSync } from "node:child_process";
import { createSha512 } from "../platform/release/verify.ts";
import { copyFileSync, createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

const root = join(import.meta.dirname, "..");
const dist = join(root, "dist");

// dist/install.sh picks among exactly these names (gvisor-doctor-linux-<arch>[-musl][-baseline]).
// The default x64 builds need AVX2; -baseline runs on older CPUs and under QEMU.
export const RELEASE_TARGETS = [
  "linux-x64", "linux-x64-baseline", "linux-arm64",
  "linux-x64-musl", "linux-x64-musl-baseline", "linux-arm64-musl",
] as const;
export const INSTALL_SH = join(dist, "install.sh");

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
  if (!key.startsWith("ssh-ed25519 ")) throw new Error(`${keyPath} is not an ssh-ed25519 key (release signatures use ed25519)`);
  return key;
}

/** DIR/SHA512SUMS.sig: `ssh-keygen -Y sign` over SHA512SUMS (verify: RELEASING.md). */
export function signSums(dir: string, keyPath: string): void {
  rmSync(join(dir, "SHA512SUMS.sig"), { force: true });
  const r = spawnSync("ssh-keygen", ["-q", "-Y", "sign", "-f", keyPath, "-n", SIGN_NAMESPACE, join(dir, "SHA512SUMS")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen -Y sign failed: ${r.stderr.trim()}`);
}

/** install.sh with the release key filled in (its GVD_RELEASE_PUBKEY= line). */
export function stampInstallSh(text: string, pubkey: string): string {
  if (!/^\s*GVD_RELEASE_PUBKEY=$/m.test(text)) throw new Error("install.sh has no empty GVD_RELEASE_PUBKEY= line to stamp");
  return text.replace(/^(\s*)GVD_RELEASE_PUBKEY=$/m, `$1GVD_RELEASE_PUBKEY='${pubkey}'`);
}

function compile(target: string | null, outfile: string, version: string, pubkey = ""): void {
  const bun = process.execPath; // the bun running this script
  const args = [
    "build", join(root, "src/cli.ts"),
    // --bytecode: precompiled JSC bytecode halves startup (measured: 19 ms vs 47 ms for --version);
    // it needs ESM output because the entry uses top-level await.
    "--compile", "--minify", "--sourcemap", "--bytecode", "--format=esm",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    `--define`, `GVD_VERSION=${JSON.stringify(version)}`,
    // self-update fetches the same build (target) and trusts the key that signed this release.
    `--define`, `GVD_TARGET=${JSON.stringify(target ?? "")}`,
    `--define`, `GVD_RELEASE_PUBKEY=${JSON.stringify(pubkey)}`,
    "--outfile", `${outfile}.tmp`,
    ...(target ? [`--target=bun-${target}`] : []),
  ];
  const r = spawnSync(bun, args, { stdio: "inherit", cwd: root });
  if (r.status !== 0) throw new Error(`bun build failed for ${target ?? "host"} (exit ${r.status})`);
  renameSync(`${outfile}.tmp`, outfile); // never leave a half-written binary under the real name
  rmSync(`${outfile}.tmp.map`, { force: true }); // the map is embedded in the binary; bun also writes a copy
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
 * Turn a directory holding the release binaries into the release: a .gz of each binary,
 * install.sh, VERSION, and SHA512SUMS covering every file. Returns the file names, sorted.
 * The tests build their fixture releases with this too.
 */
export async function assembleRelease(dir: string, binaries: string[], version: string, opts: { gzipLevel?: number; pubkey?: string } = {}): Promise<string[]> {
  // One compression per core: zlib runs on the thread pool.
  const queue = [...binaries];
  const workers = Array.from({ length: Math.max(1, Math.min(queue.length, availableParallelism())) }, async () => {
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) await gzipFile(join(dir, b), opts.gzipLevel);
  });
  await Promise.all(workers);
  if (opts.pubkey) writeFileSync(join(dir, "install.sh"), stampInstallSh(readFileSync(INSTALL_SH, "utf8"), opts.pubkey), { mode: 0o755 });
  else if (resolve(dir, "install.sh") !== resolve(INSTALL_SH)) copyFileSync(INSTALL_SH, join(dir, "install.sh"));
  writeFileSync(join(dir, "VERSION"), `${version}\n`);
  const files = [...binaries, ...binaries.map((b) => `${b}.gz`), "install.sh", "VERSION"].sort();
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
    if (process.argv.includes("--sign") && !signKey) throw new Error("--sign needs GVD_SIGNING_KEY=<ssh-ed25519 private key file>");
    const pubkey = signKey ? signingPublicKey(signKey) : "";
    const dirIdx = process.argv.indexOf("--outdir");
    const outdir = dirIdx > 0 ? resolve(process.argv[dirIdx + 1]) : dist;
    mkdirSync(outdir, { recursive: true });
    const names: string[] = [];
    for (const t of RELEASE_TARGETS) {
      const name = `gvisor-doctor-${t}`;
      compile(t, join(outdir, name), version, pubkey);
      names.push(name);
    }
    const files = await assembleRelease(outdir, names, version, { pubkey });
    if (signKey) {
      signSums(outdir, signKey);
      files.push("SHA512SUMS.sig");
    }
    console.log(`release ${version} in ${outdir}: ${files.length} files, SHA512SUMS covers them all\n  ${files.join("\n  ")}`);
  }
}
