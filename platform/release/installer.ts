// install: resolve the release, stream download → sha512 → decompress → unpack into
// a private staging directory, and only after the hash matched (and every binary is an
// ELF for this CPU and `runsc --version` runs) move it in and switch `current`.
// A failure at any point removes the staging directory and leaves the live version alone.
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeSync,
} from "node:fs";
import { Flusher, syncFile } from "./flush.ts";
import { dirname, join } from "node:path";
import { ActionError } from "../os/errors.ts";
import type { GvisorArch } from "../os/arch.ts";
import { readElf } from "../os/elf.ts";
import { backupName } from "../os/fsutil.ts";
import { LockBusyError, withLock } from "../os/flock.ts";
import { run, failureText } from "../os/spawn.ts";
import { parseGvisorVersion } from "../os/versions.ts";
import {
  artifactsFor,
  FORMAT_ORDER,
  MAX_DOWNLOAD_BYTES,
  objectPath,
  versionDirName,
  type ReleaseFormat,
  type VersionSpec,
} from "./channels.ts";
import { canDecode, createDecoder, DecodeError, type DecoderChoice } from "./decode.ts";
import { ArchiveError, TarStager, writeFailure, type StagedMember } from "./extract.ts";
import { DownloadError, formatBytes, NotFoundError } from "./http.ts";
import {
  activate,
  checkOwnDir,
  freeDirName,
  layoutFor,
  linkStatus,
  liveDir,
  makeStaging,
  markExecutable,
  mkdirs,
  placeVersion,
  previousDir,
  readState,
  removeStaleStaging,
  removeVersionDir,
  searchProblems,
  refuseUnsafeDirs,
  writeProblems,
  writeState,
  type DirIdentity,
  type InstallState,
  type Layout,
  type VersionRecord,
} from "./layout.ts";
import { insecureMirror, type Source } from "./source.ts";
import { ChecksumFileError, createSha512, parseSha512File, type Sha512 } from "./verify.ts";
import { proxyFor, redactProxy } from "./proxy.ts";
import { sniffer } from "./sniff.ts";
import { lockWaitMs, pauseForTest } from "./hooks.ts";
import type { Trust } from "./trust.ts";
import type { SignedChain } from "./apt/chain.ts";
import { checkDowngrade, checkReportedDowngrade, liveRelease } from "./apt/freshness.ts";

export interface Progress {
  /** A new phase (non-TTY: one line each). */
  phase(text: string): void;
  /** Details for -v (URLs, timings, route). */
  detail(text: string): void;
  /** Bytes of the current download (TTY: a progress line). */
  bytes(done: number, total: number | null): void;
  warn(text: string): void;
}

export interface InstallOptions {
  spec: VersionSpec;
  format: ReleaseFormat | null;
  source: Source;
  prefix: string;
  arch: GvisorArch;
  pinnedSha512: string | null;
  force: boolean;
  dryRun: boolean;
  decoder: DecoderChoice;
  env: NodeJS.ProcessEnv;
  root: boolean;
  signal?: AbortSignal;
  progress: Progress;
  /** The command to print when the prefix is not writable, e.g. "sudo /usr/local/bin/gvisor-doctor install …". */
  sudoCommand: string;
  /** The same install into ~/.local, for a user without root. */
  userCommand: string;
  /** --host-root: the node's / (permission walks stop there); "/" otherwise. */
  top?: string;
  /** sha512 (the bucket's .sha512 or --sha512) or signed (gVisor's signed apt chain). */
  verify?: "sha512" | "signed";
  /** --keyring: trust these OpenPGP keys instead of the compiled-in gVisor key. */
  keyring?: { path: string; bytes: Uint8Array } | null;
  /** Tarball path: also fetch the signed .deb of the same release; every file both have must be equal. */
  crossCheck?: boolean;
  /** Let an older release (or an older signed Release of a suite) replace the live one. */
  allowDowngrade?: boolean;
  /** The clock signatures and Valid-Until are checked against (tests). */
  now?: Date;
}

export interface PlannedArtifact {
  name: string;
  url: string;
  /** Expected hash, null until known (a pinned tarball's format is found by downloading). */
  sha512: string | null;
  /** Where the expected hash came from: a .sha512 URL or "--sha512". */
  hashFrom: string | null;
  installAs?: string;
  optional?: boolean;
}

export interface Plan {
  format: ReleaseFormat | "deb";
  artifacts: PlannedArtifact[];
  /** Every URL requested while resolving, in order (for the not-found message). */
  tried: string[];
  /** --verify signed: the verified chain down to the .deb. */
  signed?: SignedChain;
  /** --cross-check: the signed chain of the same release, to compare the tarball with. */
  crossCheck?: SignedChain;
}

export interface InstallResult {
  action: "installed" | "unchanged" | "would-install" | "would-do-nothing";
  requested: string;
  format: ReleaseFormat | "deb" | null;
  version: string | null;
  runscVersion: string | null;
  dir: string | null;
  url: string | null;
  sha512: string | null;
  pinned: boolean;
  previous: string | null;
  layout: Layout;
  links: string[];
  bytes: number;
  decoder: string | null;
  warnings: string[];
  tried: string[];
  timings: Record<string, number>;
  /** How far this install can be trusted (null on a dry run before anything was checked). */
  trust: Trust | null;
}

class ChecksumMismatch extends ActionError {}

const MAGIC: Record<ReleaseFormat, { bytes: number[]; what: string }> = {
  zstd: { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: "a zstd archive" },
  bz2: { bytes: [0x42, 0x5a, 0x68], what: "a bzip2 archive" },
  loose: { bytes: [0x7f, 0x45, 0x4c, 0x46], what: "an ELF executable" },
};

function describeStart(b: Uint8Array, contentType: string | null): string {
  const text = Buffer.from(b.subarray(0, 40)).toString("latin1");
  const printable = /^[\x09\x0a\x0d\x20-\x7e]*$/.test(text);
  const start = printable
    ? JSON.stringify(text.trim().slice(0, 40))
    : Buffer.from(b.subarray(0, 8)).toString("hex").replace(/(..)/g, "$1 ").trim();
  const html = /^\s*</.test(text) || /html/i.test(contentType ?? "");
  return `starts with ${start}${contentType ? `, Content-Type ${contentType}` : ""}${html ? ": an HTML page (a captive portal, a proxy's error page, or a wrong --mirror?)" : ""}`;
}

function notFoundMessage(o: InstallOptions, tried: string[]): ActionError {
  const what = o.spec.moving ? `the ${o.spec.requested} release` : `release ${o.spec.requested}`;
  const hint = o.spec.moving
    ? "check --mirror / GVISOR_MIRROR: it must have the bucket's layout (<base>/release/latest/<arch>/gvisor.tar.zstd)"
    : `gVisor may not have published ${o.spec.requested} for ${o.arch} (release/latest can lag, and some point releases were never uploaded): check the version, try --version ${o.spec.requested.replace(/\.\d+$/, "")} or --version latest`;
  return new ActionError(
    `${what} was not found for ${o.arch} at ${o.source.base}\ntried:\n${tried.map((t) => `  ${t}`).join("\n")}`,
    hint,
  );
}

/** Find the layout the mirror has: zstd, then bz2, then loose, following 404s on the .sha512 files. */
export async function resolvePlan(o: InstallOptions): Promise<Plan> {
  const tried: string[] = [];
  const formats = o.format
    ? [o.format]
    : FORMAT_ORDER.filter((f) => {
        if (canDecode(f, o.env.PATH)) return true;
        o.progress.detail(`skipping gvisor.tar.bz2: no lbzip2, bzip2 or busybox on PATH to decode it`);
        return false;
      });
  if (o.format && !canDecode(o.format, o.env.PATH)) {
    throw new ActionError(
      `--format ${o.format} needs lbzip2, bzip2 or busybox on PATH to decode gvisor.tar.bz2`,
      "install bzip2 (apt-get install bzip2) or use --format zstd",
    );
  }
  for (const format of formats) {
    const arts = artifactsFor(format);
    if (o.pinnedSha512 && arts.length > 1)
      o.progress.warn(
        `--sha512 pins ${arts[0].name} only: ${arts
          .slice(1)
          .map((a) => a.name)
          .join(", ")} ${arts.length > 2 ? "are" : "is"} not installed (no hash to pin)`,
      );
    const wanted = o.pinnedSha512 ? arts.slice(0, 1) : arts;
    const where = wanted.map((a) => {
      const rel = objectPath(o.spec, o.arch, a.name);
      return { a, rel, url: o.source.locate(rel), sumUrl: o.source.locate(`${rel}.sha512`) };
    });
    const pinned = (w: (typeof where)[number]): PlannedArtifact => ({
      name: w.a.name,
      url: w.url,
      sha512: o.pinnedSha512,
      hashFrom: "--sha512",
      installAs: w.a.installAs,
    });
    // The mirror's .sha512 is neither trusted nor fetched when the hash is pinned.
    if (o.pinnedSha512 && o.format) return { format, artifacts: where.map(pinned), tried };
    // The .sha512 files of one layout are fetched side by side (loose: runsc and the shim).
    const texts = await Promise.allSettled(where.map((w) => o.source.getText(`${w.rel}.sha512`)));
    const planned: PlannedArtifact[] = [];
    let missing = false;
    for (const [i, w] of where.entries()) {
      tried.push(w.sumUrl);
      const t = texts[i];
      if (t.status === "fulfilled") {
        // Pinned without --format: the .sha512 only shows which layout exists; its content is ignored.
        if (o.pinnedSha512) planned.push(pinned(w));
        else {
          try {
            planned.push({
              name: w.a.name,
              url: w.url,
              sha512: parseSha512File(t.value, w.sumUrl),
              hashFrom: w.sumUrl,
              installAs: w.a.installAs,
              optional: w.a.optional,
            });
          } catch (e) {
            if (e instanceof ChecksumFileError)
              throw new ActionError(e.message, "check --mirror, or pin the hash with --sha512");
            throw e;
          }
        }
        o.progress.detail(`found ${w.sumUrl}`);
        continue;
      }
      const e = t.reason;
      if (e instanceof NotFoundError) {
        o.progress.detail(`not found: ${w.sumUrl}`);
        if (i === 0) {
          missing = true;
          break;
        }
        if (w.a.optional) continue;
      }
      if (e instanceof DownloadError) throw new ActionError(e.message, e.hint);
      throw e;
    }
    if (!missing) return { format, artifacts: planned, tried };
  }
  throw notFoundMessage(o, tried);
}

function sameRelease(rec: VersionRecord | undefined, o: InstallOptions, plan: Plan | null): boolean {
  if (!rec) return false;
  if (plan?.signed)
    return rec.format === "deb" && rec.url === plan.artifacts[0].url && rec.release === plan.signed.deb.version;
  if (rec.format === "deb") return false;
  if (o.pinnedSha512) return rec.sha512 === o.pinnedSha512 && (o.spec.moving || rec.requested === o.spec.requested);
  const primary = plan?.artifacts[0];
  if (primary?.sha512 && rec.format === plan!.format && rec.sha512 === primary.sha512) return true;
  return !o.spec.moving && rec.requested === o.spec.requested && !o.format;
}

/** The live version is complete: each binary it has is linked from bin/, and nothing foreign sits there. */
function liveIsHealthy(l: Layout, live: string | null): boolean {
  if (!live) return false;
  return l.links.every((k) => {
    const st = linkStatus(k);
    return existsSync(join(l.root, live, k.name)) ? st === "ours" : st !== "foreign";
  });
}

/** Refuse early, before any download, when the install cannot be completed here. */
export function preflight(o: InstallOptions, l: Layout, warnings: string[]): void {
  const w = writeProblems(l);
  if (w.length) {
    const dirs = w.map((p) => p.dir).join(", ");
    if (w.some((p) => p.kind === "read-only")) {
      throw new ActionError(
        `cannot install into ${l.prefix}: ${dirs} is on a read-only file system`,
        `choose a writable prefix, e.g. --prefix /opt/gvisor or --prefix ~/.local`,
      );
    }
    throw new ActionError(
      `cannot install into ${l.prefix}: ${dirs} is not writable${o.root ? "" : " (you are not root)"}`,
      o.root
        ? `check the permissions of ${dirs}`
        : `run it as root:\n  ${o.sudoCommand}\nor install for yourself only:\n  ${o.userCommand}`,
    );
  }
  if (o.root) refuseUnsafeDirs(l, o.top);
  const s = searchProblems(l, o.top);
  if (s.length) {
    const dirs = s.map((p) => p.dir);
    const msg = `${dirs.join(", ")} ${dirs.length > 1 ? "are" : "is"} not readable and searchable by all users; runsc's sandbox runs as nobody and could not reach ${l.root}`;
    if (o.root)
      throw new ActionError(
        `cannot install into ${l.prefix}: ${msg}`,
        `allow it: chmod a+rx ${dirs.join(" ")}\nor choose another prefix, e.g. --prefix /usr/local`,
      );
    warnings.push(`${msg} (fine for rootless runsc; run 'chmod a+rx ${dirs.join(" ")}' for anything else)`);
  }
  const foreign = l.links.filter((k) => linkStatus(k) === "foreign");
  if (foreign.length && !o.force) {
    throw new ActionError(
      `${foreign.map((k) => k.path).join(" and ")} already exist${foreign.length > 1 ? "" : "s"} and ${foreign.length > 1 ? "were" : "was"} not installed by gvisor-doctor`,
      `remove or move ${foreign.length > 1 ? "them" : "it"}, or pass --force to keep ${foreign.length > 1 ? "them" : "it"} as ${backupName(foreign[0].path).replace(/^.*\//, "")} and install over ${foreign.length > 1 ? "them" : "it"}`,
    );
  }
}

interface Downloaded {
  members: StagedMember[];
  bytes: number;
  sha512: string;
  decoder: string;
  /** Why unpacking failed, if it did: reported only after the hash (a bad hash explains it better). */
  unpackError: Error | null;
  /** Resolves once the unpacked files are on disk. */
  synced: Promise<void>;
}

/** GVISOR_DOCTOR_MAX_DOWNLOAD_MB, else MAX_DOWNLOAD_BYTES. */
function maxDownloadBytes(env: NodeJS.ProcessEnv): number {
  const n = Number(env.GVISOR_DOCTOR_MAX_DOWNLOAD_MB);
  return env.GVISOR_DOCTOR_MAX_DOWNLOAD_MB && Number.isFinite(n) && n > 0 ? n * 1024 * 1024 : MAX_DOWNLOAD_BYTES;
}

function tooBig(url: string, bytes: number, max: number, announced: boolean): ActionError {
  const limit = formatBytes(max);
  const size = announced ? `is ${formatBytes(bytes)}, more than ${limit}` : `sent more than ${limit}`;
  return new ActionError(
    `${url} ${size}: ` + "a gVisor release file is far smaller; the download was stopped",
    "check --mirror; nothing was installed",
  );
}

/** How one artifact's bytes are reported: `start` once the size is known, `chunk` after each chunk. */
interface ByteReport {
  start?(total: number | null): void;
  chunk(n: number, done: number, total: number | null): void;
}

/**
 * Stream one release file into `sink`, hashing it on the way. Its first bytes must be the format's
 * magic number, and a file larger than the limit (announced or while streaming) is stopped.
 * Returns the number of bytes received.
 */
async function streamArtifact(
  o: InstallOptions,
  art: PlannedArtifact,
  rel: string,
  magic: { bytes: number[]; what: string },
  hash: Sha512,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  report: ByteReport,
): Promise<number> {
  let contentType: string | null = null;
  let total: number | null = null;
  let done = 0;
  const max = maxDownloadBytes(o.env);
  const sniff = sniffer(
    magic.bytes.length,
    (head) => {
      if (head.length < magic.bytes.length || magic.bytes.some((b, i) => head[i] !== b)) {
        const what = head.length ? describeStart(head, contentType) : "is empty";
        throw new ActionError(`${art.url} is not ${magic.what}: it ${what}`, "check --mirror; nothing was installed");
      }
    },
    (chunk) => {
      hash.update(chunk);
      return sink(chunk);
    },
  );
  const r = await o.source.stream(
    rel,
    async (chunk) => {
      done += chunk.length;
      if (done > max) throw tooBig(art.url, done, max, false);
      await sniff.write(chunk);
      report.chunk(chunk.length, done, total);
    },
    (s) => {
      contentType = s.contentType;
      total = s.total;
      if (total !== null && total > max) throw tooBig(art.url, total, max, true);
      report.start?.(total);
    },
  );
  await sniff.end();
  return r.bytes;
}

/**
 * Stream one tarball into `staging`, hashing the compressed bytes on the way. The first member
 * or block that cannot be unpacked stops the download (its hash is then unknown). A failure only
 * at the very end is reported after the hash: a mismatch is the real cause then.
 */
async function downloadTarball(
  o: InstallOptions,
  plan: Plan,
  art: PlannedArtifact,
  staging: string,
  rel: string,
): Promise<Downloaded> {
  const hash = createSha512();
  const stager = new TarStager(staging);
  const format = plan.format as ReleaseFormat;
  const decoder = createDecoder(format, (c) => stager.write(c), o.decoder, o.env.PATH);
  o.progress.detail(`decoding with ${decoder.name}, hashing with ${hash.impl}`);
  let unpackError: Error | null = null;
  let members: StagedMember[] = [];
  const failUnpack = (e: unknown) => {
    if (!(e instanceof DecodeError || e instanceof ArchiveError)) throw e;
    unpackError ??= e;
    decoder.destroy();
  };
  const unpack = async (chunk: Uint8Array) => {
    try {
      await decoder.write(chunk);
    } catch (e) {
      failUnpack(e);
      // Nothing after a bad block or member can make the release installable: stop downloading.
      throw new ActionError(
        `${art.url} cannot be installed safely: ${unpackError!.message}`,
        "the download was stopped there: the file is not a gVisor release, is malformed, or was damaged on the way " +
          "(run the command again, or check --mirror); nothing was installed",
      );
    }
  };
  try {
    const bytes = await streamArtifact(o, art, rel, MAGIC[format], hash, unpack, {
      start: (total) => o.progress.bytes(0, total),
      chunk: (_n, done, total) => o.progress.bytes(done, total),
    });
    if (!unpackError) {
      try {
        await decoder.end();
        members = await stager.end();
      } catch (e) {
        failUnpack(e);
      }
    }
    if (unpackError) await stager.abort();
    const synced = stager.synced();
    synced.catch(() => {});
    return { members, bytes, sha512: hash.hex(), decoder: decoder.name, unpackError, synced };
  } catch (e) {
    decoder.destroy();
    await stager.abort();
    throw e;
  }
}

/** Stream a loose binary into `staging/<installAs>`. */
async function downloadLoose(
  o: InstallOptions,
  art: PlannedArtifact,
  staging: string,
  rel: string,
  onBytes: (n: number, total: number | null) => void,
): Promise<{ bytes: number; sha512: string; synced: Promise<void> }> {
  const hash = createSha512();
  const member = art.installAs ?? art.name;
  const dest = join(staging, member);
  const fd = openSync(
    dest,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
    0o600,
  );
  const flusher = new Flusher(fd, dest);
  const write = (chunk: Uint8Array) => {
    let off = 0;
    try {
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (e) {
      throw writeFailure(e, dirname(staging), member);
    }
    flusher.wrote(chunk.length);
  };
  try {
    const bytes = await streamArtifact(o, art, rel, MAGIC.loose, hash, write, {
      chunk: (n, _done, total) => onBytes(n, total),
    });
    await flusher.settle();
    closeSync(fd);
    const synced = syncFile(dest);
    synced.catch(() => {});
    return { bytes, sha512: hash.hex(), synced };
  } catch (e) {
    await flusher.settle().catch(() => {});
    try {
      closeSync(fd);
    } catch {}
    throw e;
  }
}

function hostElfProblems(dir: string, members: string[], arch: GvisorArch): string[] {
  const problems: string[] = [];
  for (const m of members) {
    const p = join(dir, m);
    const elf = readElf(p);
    if (!elf) problems.push(`${m} is not an ELF executable`);
    else if (elf.arch !== arch) problems.push(`${m} is an ${elf.arch} binary; this host is ${arch}`);
  }
  return problems;
}

function versionWarning(o: InstallOptions, runscVersion: string | null, voucher: string): string | null {
  const v = runscVersion ? parseGvisorVersion(runscVersion) : null;
  if (o.spec.moving)
    return v && !v.distro
      ? null
      : `runsc reports "${runscVersion ?? "nothing"}", not a gVisor release version; installed anyway: ${voucher} vouches for the bytes`;
  const want = o.spec.requested.match(/(\d{8})(?:\.(\d+))?/);
  const wantDate = want?.[1] ?? o.spec.requested.replace(/^nightly\//, "").replace(/-/g, "");
  const same =
    v &&
    !v.distro &&
    v.date === wantDate &&
    (want?.[2] === undefined || v.point === Number(want[2]) || o.spec.requested.startsWith("nightly"));
  return same
    ? null
    : `runsc reports "${runscVersion ?? "nothing"}", not ${o.spec.requested} (a repackaging mirror or a distribution build?); installed anyway: ${voucher} vouches for the bytes`;
}

export async function install(o: InstallOptions): Promise<InstallResult> {
  try {
    return await installInner(o);
  } catch (e) {
    if (e instanceof DownloadError) throw new ActionError(`${e.message}\nnothing was installed`, e.hint);
    if (e instanceof NotFoundError)
      throw new ActionError(
        `${e.message}\nnothing was installed`,
        "the mirror lists a .sha512 for a file it does not serve: check --mirror",
      );
    if (e instanceof LockBusyError)
      throw new ActionError(
        `${e.message}; it is still installing`,
        `wait for it to finish (or stop process ${e.holder ?? "?"}), then run the command again`,
      );
    throw e;
  }
}

/** One install past preflight and resolving: what was asked, where, the plan, and what it has done so far. */
interface InstallRun {
  o: InstallOptions;
  l: Layout;
  plan: Plan;
  result: InstallResult;
  /** Directories this install made (a failed first install removes them again). */
  created: string[];
  /** performance.now() at the start, for totalMs. */
  t0: number;
}

/** The run under the install lock: the recorded state, the live version and the staging directory. */
interface LockedRun extends InstallRun {
  state: InstallState;
  live: string | null;
  staging: DirIdentity;
  /** The version directory once moved in: removed again unless it went live. */
  placed: string | null;
  activated: boolean;
}

/** What the download phase left in the staging directory. */
interface Staged {
  /** The files staged (no symlinks), relative to the staging directory. */
  members: string[];
  /** The primary artifact's. */
  sha512: string;
  /** Resolves once the staged files are on disk. */
  synced: Promise<unknown>;
}

function mark(timings: Record<string, number>, key: string, since: number): void {
  timings[key] = Math.round(performance.now() - since);
}

function warn(run: InstallRun, text: string): void {
  run.result.warnings.push(text);
  run.o.progress.warn(text);
}

async function installInner(o: InstallOptions): Promise<InstallResult> {
  const l = layoutFor(o.prefix);
  const result = newResult(o, l);
  const t0 = performance.now();
  preflightAndRoute(o, l, result.warnings);
  const plan = await resolveInstall(o, l, result);
  const run: InstallRun = { o, l, plan, result, created: [], t0 };
  if (o.dryRun) return dryRun(run);

  run.created = mkdirs(l.root);
  try {
    return await installLocked(run);
  } catch (e) {
    // A failed first install leaves no empty directories behind.
    for (const d of [...run.created].reverse()) {
      try {
        rmdirSync(d);
      } catch {}
    }
    throw e;
  }
}

function newResult(o: InstallOptions, l: Layout): InstallResult {
  return {
    action: o.dryRun ? "would-install" : "installed",
    requested: o.spec.requested,
    format: null,
    version: null,
    runscVersion: null,
    dir: null,
    url: null,
    sha512: null,
    pinned: !!o.pinnedSha512,
    previous: null,
    layout: l,
    links: l.links.map((k) => k.path),
    bytes: 0,
    decoder: null,
    warnings: [],
    tried: [],
    timings: {},
    trust: null,
  };
}

/** Refuse what cannot work here, then say what to know before anything is fetched: warnings, the route. */
function preflightAndRoute(o: InstallOptions, l: Layout, warnings: string[]): void {
  preflight(o, l, warnings);
  if (insecureMirror(o.source) && !o.pinnedSha512)
    warnings.push(
      `${o.source.base} is plain http: the .sha512 travels the same unprotected way as the file; pin the hash with --sha512 or use https`,
    );
  for (const w of warnings) o.progress.warn(w);
  if (o.source.kind === "http") {
    const route = proxyFor(o.source.base, o.env);
    o.progress.detail(
      route.proxy ? `via proxy ${redactProxy(route.proxy)} (${route.reason})` : `direct connection (${route.reason})`,
    );
  }
}

/** Find what to download, refuse a named downgrade before any download, and note the plan in the result. */
async function resolveInstall(o: InstallOptions, l: Layout, result: InstallResult): Promise<Plan> {
  o.progress.phase(`resolving ${o.spec.requested} for ${o.arch} at ${o.source.base}`);
  const t = performance.now();
  const plan = o.verify === "signed" ? await resolveSignedPlan(o, l) : await resolvePlan(o);
  if (o.crossCheck && !plan.signed) plan.crossCheck = (await resolveSignedPlan(o, l)).signed;
  mark(result.timings, "resolveMs", t);
  // Before any download: a named release older than the live one is refused (rollback attack).
  if (!o.allowDowngrade) {
    const liveRec = readState(l).versions[liveDir(l) ?? ""];
    const next = plan.signed ? plan.signed.deb.version : o.spec.moving ? null : o.spec.requested;
    checkDowngrade(liveRelease(liveRec), next, false, plan.signed ? "the signed release" : "release");
  }
  result.format = plan.format;
  result.tried = plan.tried;
  result.url = plan.artifacts[0].url;
  result.sha512 = plan.artifacts[0].sha512;
  const urls = plan.artifacts.map((a) => a.url).join(", ");
  o.progress.detail(`${plan.format} layout: ${urls} (${result.timings.resolveMs} ms)`);
  return plan;
}

/** The live version already is this release, and complete (--force reinstalls anyway). */
function isCurrent({ o, l, plan }: InstallRun, state: InstallState, live: string | null): boolean {
  return !o.force && sameRelease(live ? state.versions[live] : undefined, o, plan) && liveIsHealthy(l, live);
}

function dryRun(run: InstallRun): InstallResult {
  const { l, result } = run;
  const state = readState(l);
  const live = liveDir(l);
  if (isCurrent(run, state, live)) {
    result.action = "would-do-nothing";
    result.version = live;
    result.runscVersion = state.versions[live!]?.runscVersion ?? null;
    result.dir = join(l.root, live!);
  }
  result.previous = live;
  mark(run.result.timings, "totalMs", run.t0);
  return result;
}

/** Under the install lock: adopt the recorded state, then download → checkStaged → commit. */
function installLocked(run: InstallRun): Promise<InstallResult> {
  const { o, l } = run;
  return withLock(
    l.lock,
    async () => {
      const { state, live } = adoptState(run);
      if (isCurrent(run, state, live)) return unchanged(run, state, live!);
      const r: LockedRun = { ...run, state, live, staging: makeStaging(l), placed: null, activated: false };
      try {
        const staged = await download(r);
        const reported = await checkStaged(r, staged);
        return await commit(r, staged, reported);
      } catch (e) {
        if (r.placed && !r.activated) dropPlaced(r, r.placed);
        throw e;
      } finally {
        // rmSync does not follow a symlink put in its place: it would remove only the link.
        rmSync(r.staging.path, { recursive: true, force: true });
      }
    },
    lockWaitMs(o.env),
    (holder) => o.progress.phase(`waiting for another gvisor-doctor (pid ${holder ?? "?"}) that holds ${l.lock}`),
  );
}

/** Check the directories again, clear what killed installs left behind, and read the state. */
function adoptState({ o, l, created, result }: InstallRun): { state: InstallState; live: string | null } {
  // Again under the lock: directories made since preflight (by us or by someone racing us).
  if (o.root) refuseUnsafeDirs(l, o.top);
  removeStaleStaging(l);
  const state = readState(l);
  state.created = [...new Set([...state.created, ...created])];
  const live = liveDir(l);
  // A version recorded but never made live belongs to an install that was killed: drop it.
  for (const d of Object.keys(state.versions)) {
    if (d === live || state.history.includes(d)) continue;
    removeVersionDir(l, d);
    delete state.versions[d];
  }
  result.previous = live;
  return { state, live };
}

function unchanged(run: InstallRun, state: InstallState, live: string): InstallResult {
  const { l, result } = run;
  const rec = state.versions[live];
  if (run.created.length) writeState(l, state);
  Object.assign(result, {
    action: "unchanged",
    version: live,
    runscVersion: rec.runscVersion,
    dir: join(l.root, live),
    sha512: rec.sha512,
    format: rec.format,
    url: rec.url,
    trust: rec.trust ?? null,
  });
  mark(run.result.timings, "totalMs", run.t0);
  return result;
}

/** Download, hash, unpack: one pass per file, nothing executable yet. */
async function download(r: LockedRun): Promise<Staged> {
  const { o, plan, result } = r;
  const primary = plan.artifacts[0];
  const t = performance.now();
  const staged =
    plan.format === "loose"
      ? await stageLoose(r)
      : plan.signed
        ? await stageSignedDeb(r, plan.signed)
        : await stageTarball(r);
  if (plan.crossCheck) await crossCheck(o, r.l, plan.crossCheck, primary.url, r.staging.path, staged.members);
  mark(result.timings, "downloadMs", t);
  o.progress.detail(
    `downloaded ${formatBytes(result.bytes)} in ${result.timings.downloadMs} ms; sha512 ${staged.sha512.slice(0, 16)}… matches ${primary.hashFrom}`,
  );
  result.sha512 = staged.sha512;
  result.trust = trustOf(plan, o);
  return staged;
}

/** runsc and the shim download side by side; the progress line shows their sum. */
async function stageLoose(r: LockedRun): Promise<Staged> {
  const { o, plan, result } = r;
  o.progress.phase(`downloading ${plan.artifacts.map((a) => a.url).join(" and ")}`);
  let done = 0;
  const totals = new Map<string, number | null>();
  const gots = await Promise.all(
    plan.artifacts.map((art) =>
      downloadLoose(o, art, r.staging.path, objectPath(o.spec, o.arch, art.name), (n, total) => {
        done += n;
        totals.set(art.name, total);
        const all = [...totals.values()];
        o.progress.bytes(
          done,
          all.length === plan.artifacts.length && all.every((x) => x !== null)
            ? all.reduce((a, b) => a! + b!, 0)
            : null,
        );
      }),
    ),
  );
  // Handled now, awaited at commit: a hash check that throws first must not leave a failed fsync unhandled.
  const synced = Promise.all(gots.map((g) => g.synced));
  synced.catch(() => {});
  const members: string[] = [];
  plan.artifacts.forEach((art, i) => {
    result.bytes += gots[i].bytes;
    checkHash(art, gots[i].sha512);
    members.push(art.installAs ?? art.name);
  });
  result.decoder = "none";
  return { members, sha512: gots[0].sha512, synced };
}

/** --verify signed: the .deb must be exactly the one the signed Packages lists (hash and size). */
async function stageSignedDeb(r: LockedRun, signed: SignedChain): Promise<Staged> {
  const { o, result } = r;
  const primary = r.plan.artifacts[0];
  o.progress.phase(`downloading ${primary.url}`);
  const { stageDeb } = await import("./apt/stage-deb.ts");
  const deb = signed.deb;
  const got = await stageDeb({
    source: o.source,
    rel: signed.debRel,
    url: primary.url,
    staging: r.staging.path,
    pathEnv: o.env.PATH,
    onBytes: (d, tot) => o.progress.bytes(d, tot),
  });
  result.bytes = got.bytes;
  result.decoder = got.decoder;
  const { algo, want } = listedDigest(signed);
  const have = got[algo];
  if (want !== have || got.bytes !== deb.size) {
    throw new ChecksumMismatch(
      `${algo} mismatch for ${primary.url}\n  expected ${want} (${deb.size} bytes, from the signed ${signed.packagesUrl})\n  got      ${have} (${got.bytes} bytes)\nnothing was installed`,
      "the .deb is not the one gVisor's signed index lists: a corrupted download or a tampered mirror; check --mirror",
    );
  }
  if (got.unpackError) {
    throw new ActionError(
      `${primary.url} (signed) cannot be installed safely: ${got.unpackError.message}`,
      "the package is malformed; nothing was installed",
    );
  }
  signed.chain.push(listedLine(signed, primary.url));
  const members = got.members.filter((m) => m.type !== "symlink" && m.path !== "").map((m) => m.path);
  return { members, sha512: got.sha512, synced: got.synced };
}

/** The digest the signed Packages lists for the .deb: sha512 when it has one, else sha256. */
function listedDigest(c: SignedChain): { algo: "sha512" | "sha256"; want: string } {
  return c.deb.sha512 ? { algo: "sha512", want: c.deb.sha512 } : { algo: "sha256", want: c.deb.sha256! };
}

/** The chain line for a .deb whose digest matched the signed Packages. */
function listedLine(c: SignedChain, url: string): string {
  const { algo, want } = listedDigest(c);
  return `${url}: ${algo} ${want.slice(0, 16)}… as listed in the signed Packages (${c.deb.version})`;
}

/** The release tarball: checked against its .sha512 (or --sha512) before an unpack error is reported. */
async function stageTarball(r: LockedRun): Promise<Staged> {
  const { o, plan, result } = r;
  const primary = plan.artifacts[0];
  o.progress.phase(`downloading ${primary.url}`);
  const rel = objectPath(o.spec, o.arch, primary.name);
  const got = await downloadTarball(o, plan, primary, r.staging.path, rel);
  result.bytes = got.bytes;
  result.decoder = got.decoder;
  checkHash(primary, got.sha512);
  if (got.unpackError) {
    throw new ActionError(
      `${primary.url} (its sha512 matches) cannot be installed safely: ${got.unpackError.message}`,
      "the release archive is malformed or not a gVisor release; nothing was installed",
    );
  }
  const members = got.members.filter((m) => m.type !== "symlink").map((m) => m.path);
  return { members, sha512: got.sha512, synced: got.synced };
}

function checkHash(art: PlannedArtifact, got: string): void {
  if (art.sha512 && got !== art.sha512) {
    throw new ChecksumMismatch(
      `sha512 mismatch for ${art.url}\n  expected ${art.sha512} (from ${art.hashFrom})\n  got      ${got}\nnothing was installed`,
      art.hashFrom === "--sha512"
        ? "the file differs from the pinned hash: check --sha512 (it must be the hash of this exact file, e.g. gvisor.tar.zstd; use --format to pick another) and --mirror"
        : "the download was corrupted or the mirror serves a different file than its .sha512 describes: run the command again, or check --mirror",
    );
  }
}

/**
 * Checks before anything can go live: runsc is there, every binary is an ELF for this CPU, and the
 * staged runsc runs and is not older than the live one. Returns the version runsc reports.
 */
async function checkStaged(r: LockedRun, { members }: Staged): Promise<string | null> {
  const { o, plan } = r;
  const primary = plan.artifacts[0];
  const t = performance.now();
  o.progress.phase("checking the binaries");
  if (!members.includes("runsc"))
    throw new ActionError(
      `${primary.url} has no runsc in it (members: ${members.join(", ") || "none"})`,
      "this is not a gVisor release; nothing was installed",
    );
  markExecutable(r.staging);
  await pauseForTest("verified", o.env);
  const elfProblems = hostElfProblems(r.staging.path, members, o.arch);
  if (elfProblems.length)
    throw new ActionError(
      `${primary.url}: ${elfProblems.join("; ")}`,
      `the mirror serves the wrong files under ${o.arch}/; nothing was installed`,
    );
  const reported = await runStagedRunsc(r);
  const vw = versionWarning(o, reported, plan.signed ? "the signature" : "the sha512");
  if (vw) warn(r, vw);
  if (!members.includes("containerd-shim-runsc-v1"))
    warn(r, "this release has no containerd-shim-runsc-v1: containerd cannot use it (Docker and Podman can)");
  mark(r.result.timings, "checkMs", t);
  return reported;
}

/** `runsc --version` of the staged binary; the live release must not be replaced by an older one. */
async function runStagedRunsc(r: LockedRun): Promise<string | null> {
  const { o, result } = r;
  checkOwnDir(r.staging); // the binary about to run is the one just verified
  const v = await run(join(r.staging.path, "runsc"), ["--version"], {
    timeoutMs: 20_000,
    env: { PATH: o.env.PATH ?? "/usr/bin:/bin" },
  });
  if (v.code !== 0)
    throw new ActionError(
      `the downloaded runsc does not run: runsc --version: ${failureText(v)}`,
      "nothing was installed; check that this host can run gVisor (gvisor-doctor check)",
    );
  result.runscVersion = v.stdout.split("\n")[0].trim() || null;
  // What runsc itself reports counts too.
  const liveRec = r.live ? r.state.versions[r.live] : undefined;
  checkReportedDowngrade(liveRec?.runscVersion ?? null, result.runscVersion, !!o.allowDowngrade);
  return result.runscVersion?.match(/runsc version (\S+)/)?.[1] ?? null;
}

/** Move in, record, switch (unless interrupted: after this point the install completes). */
async function commit(r: LockedRun, staged: Staged, reported: string | null): Promise<InstallResult> {
  const { o, l, state, result } = r;
  await staged.synced;
  if (o.signal?.aborted) throw o.signal.reason;
  const t = performance.now();
  const name = record(r, staged, reported);
  r.placed = placeVersion(l, r.staging, name);
  state.created = [...new Set([...state.created, ...mkdirs(l.binDir)])];
  for (const k of l.links) {
    if (linkStatus(k) !== "foreign") continue;
    const backup = backupName(k.path);
    renameSync(k.path, backup);
    state.replaced.push({ path: k.path, backup });
    warn(r, `moved ${k.path} aside to ${backup} (--force)`);
  }
  writeState(l, state);
  await switchTo(r, name);
  mark(result.timings, "activateMs", t);
  Object.assign(result, { version: name, dir: r.placed });
  mark(result.timings, "totalMs", r.t0);
  return result;
}

/** Recorded before the move, so a kill in between leaves a directory the next run knows to remove. */
function record(r: LockedRun, staged: Staged, reported: string | null): string {
  const { o, l, plan, state, result } = r;
  const name = freeDirName(l, versionDirName(o.spec, reported, staged.sha512));
  state.versions[name] = {
    dir: name,
    requested: o.spec.requested,
    runscVersion: result.runscVersion,
    format: plan.format,
    url: plan.artifacts[0].url,
    sha512: staged.sha512,
    pinned: !!o.pinnedSha512,
    installedAt: new Date().toISOString(),
    files: staged.members,
    trust: result.trust ?? undefined,
    ...(plan.signed ? { release: plan.signed.deb.version } : {}),
  };
  writeState(l, state);
  return name;
}

/** Point `current` at the new version, then forget versions older than the previous one. */
async function switchTo(r: LockedRun, name: string): Promise<void> {
  const { o, l, plan, state } = r;
  await pauseForTest("before-switch", o.env);
  o.progress.phase(`activating ${name}`);
  activate(l, name);
  r.activated = true;
  await pauseForTest("after-switch", o.env);
  state.history.push(name);
  if (plan.signed?.release.date) (state.aptSeen ??= {})[aptSeenKey(o, plan.signed)] = plan.signed.release.date;
  gc(l, state, name);
  writeState(l, state);
}

/** A failed install removes the version it moved in but never made live (best effort). */
function dropPlaced({ l, state }: LockedRun, placed: string): void {
  try {
    const name = placed.slice(l.root.length + 1);
    removeVersionDir(l, name);
    delete state.versions[name];
    writeState(l, state);
  } catch {}
}

/**
 * --cross-check: unpack the signed .deb of the same release beside the staged tarball; runsc and
 * every other file both hold must be equal byte for byte. A mismatch names both sources.
 */
async function crossCheck(
  o: InstallOptions,
  l: Layout,
  c: SignedChain,
  tarballUrl: string,
  staged: string,
  members: string[],
): Promise<void> {
  const { stageDeb } = await import("./apt/stage-deb.ts");
  o.progress.phase(`cross-checking against the signed ${c.debUrl}`);
  const other = makeStaging(l);
  try {
    const got = await stageDeb({
      source: o.source,
      rel: c.debRel,
      url: c.debUrl,
      staging: other.path,
      pathEnv: o.env.PATH,
      onBytes: () => {},
    });
    const { algo, want } = listedDigest(c);
    const have = got[algo];
    if (want !== have) {
      throw new ActionError(
        `${algo} mismatch for ${c.debUrl} (the signed index lists ${want})\nnothing was installed`,
        "the apt mirror serves a tampered .deb; check --mirror",
      );
    }
    if (got.unpackError) {
      throw new ActionError(
        `${c.debUrl} (signed) cannot be unpacked: ${got.unpackError.message}\nnothing was installed`,
      );
    }
    await got.synced;
    const debFiles = new Set(got.members.filter((m) => m.type === "file").map((m) => m.path));
    const hash = (p: string) => {
      const h = createSha512();
      h.update(readFileSync(p));
      return h.hex();
    };
    const common = members.filter((m) => debFiles.has(m));
    if (!common.includes("runsc")) {
      throw new ActionError(
        `cross-check: the signed ${c.debUrl} has no runsc to compare with ${tarballUrl}\nnothing was installed`,
      );
    }
    const differ = common.filter((m) => hash(join(staged, m)) !== hash(join(other.path, m)));
    if (differ.length) {
      throw new ActionError(
        `cross-check failed: ${differ.join(", ")} from ${tarballUrl} ${differ.length > 1 ? "differ" : "differs"} ` +
          `from the signed ${c.debUrl} (${c.deb.version}, signed by ${c.signer.toUpperCase()})\nnothing was installed`,
        "the tarball is not what gVisor signed: do not use this mirror; " +
          "install --verify signed takes the signed package",
      );
    }
    c.chain.push(listedLine(c, c.debUrl));
    c.chain.push(`${tarballUrl}: ${common.join(", ")} equal byte for byte to the signed .deb's`);
  } finally {
    rmSync(other.path, { recursive: true, force: true });
  }
}

/** The trust level this install reached, and the checks that got it there. */
function trustOf(plan: Plan, o: InstallOptions): Trust {
  const a = plan.artifacts[0];
  if (plan.signed) return { level: "signed", key: plan.signed.signer, chain: plan.signed.chain };
  const files = plan.artifacts.map((x) => x.url).join(", ");
  const cross = plan.crossCheck ? plan.crossCheck.chain : [];
  if (o.pinnedSha512)
    return { level: "pinned-sha512", key: null, chain: [`${files}: sha512 matches --sha512`, ...cross] };
  const sums = plan.artifacts.map((x) => `${x.url}: sha512 matches ${x.hashFrom ?? a.hashFrom}`);
  return { level: "bucket-sha512", key: null, chain: [...sums, ...cross] };
}

/** state.json remembers the newest signed Release per repository and suite (replay protection). */
function aptSeenKey(o: InstallOptions, c: SignedChain): string {
  return `${o.source.base} ${c.target.suite}`;
}

/** --verify signed: walk the signed apt chain down to runsc's .deb (nothing downloaded beyond indexes). */
async function resolveSignedPlan(o: InstallOptions, l: Layout): Promise<Plan> {
  const [{ aptTarget }, { loadTrustedKeys, SignatureError }, { resolveSignedChain }, { checkReleaseFreshness }] =
    await Promise.all([
      import("./apt/plan.ts"),
      import("./apt/signature.ts"),
      import("./apt/chain.ts"),
      import("./apt/freshness.ts"),
    ]);
  const target = aptTarget(o.spec, o.arch);
  let trusted;
  try {
    trusted = await loadTrustedKeys(o.keyring ?? null);
  } catch (e) {
    if (e instanceof SignatureError)
      throw new ActionError(
        e.message,
        "--keyring takes an OpenPGP public key file (armored, or binary as gpg --export writes it)",
      );
    throw e;
  }
  const now = o.now ?? new Date();
  const chain = await resolveSignedChain({
    source: o.source,
    target,
    trusted,
    now,
    pathEnv: o.env.PATH,
    detail: (t) => o.progress.detail(t),
  });
  const seen = readState(l).aptSeen?.[aptSeenKey(o, chain)] ?? null;
  checkReleaseFreshness({
    what: chain.releaseUrl,
    date: chain.release.date,
    validUntil: chain.release.validUntil,
    seen,
    allowDowngrade: !!o.allowDowngrade,
    now,
  });
  o.progress.detail(chain.chain.join("\n"));
  return {
    format: "deb",
    tried: [chain.releaseUrl, chain.packagesUrl],
    signed: chain,
    artifacts: [{ name: "runsc.deb", url: chain.debUrl, sha512: chain.deb.sha512, hashFrom: chain.packagesUrl }],
  };
}

/** Keep the live version and the one before it; remove other versions this tool installed. */
function gc(l: Layout, state: InstallState, live: string): void {
  const keep = new Set([live, previousDir(l, state, live)].filter(Boolean) as string[]);
  for (const d of Object.keys(state.versions)) {
    if (keep.has(d)) continue;
    removeVersionDir(l, d);
    delete state.versions[d];
  }
  state.history = state.history.filter((d) => state.versions[d]);
}
