// self-update: replace the running gvisor-doctor by a newer release, verified, atomically.
// SHA512SUMS must carry a valid SSH signature (SHA512SUMS.sig) by the release key, the file's
// hash must be in it, and the new binary must run and report the release's VERSION before it
// is renamed over the old one (same directory: one rename(2)). The old binary stays beside it
// as .gvisor-doctor.previous for `self-update --rollback`.
import { createHash } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import semver from "semver";
import { ActionError } from "../os/errors.ts";
import { run, failureText } from "../os/spawn.ts";
import { DownloadError, NotFoundError, type HttpOptions } from "../release/http.ts";
import { dirSource, httpSource, insecureMirror, type Source } from "../release/source.ts";
import { managedBy } from "./package-manager.ts";
import { releaseKey } from "./release-key.ts";
import { parseEd25519PublicKey, SshSigError, verifySshSig } from "./sshsig.ts";

/** install.sh's GVD_REPO: releases live at https://github.com/<repo>/releases. */
export const GVD_REPO = "gvisor-doctor/gvisor-doctor";
declare const GVD_TARGET: string | undefined;

export interface SelfUpdateOptions {
  env: NodeJS.ProcessEnv;
  /** The running binary (process.execPath) and the version it reports. */
  exe: string;
  current: string;
  version: string | null;
  check: boolean;
  rollback: boolean;
  allowDowngrade: boolean;
  http: HttpOptions;
  progress(text: string): void;
}

export interface SelfUpdateResult {
  action: "updated" | "up-to-date" | "update-available" | "rolled-back";
  path: string;
  from: string;
  to: string;
  base: string | null;
  previous: string | null;
  /** How the new release was verified: "ssh-signature" (by `key`) or "sha512-only" (GVISOR_DOCTOR_UNSIGNED=1). */
  verified: "ssh-signature" | "sha512-only" | null;
  key: string | null;
}

const previousOf = (exe: string) => join(dirname(exe), `.${basename(exe)}.previous`);

/** The release file for this binary: stamped at build time, else chosen the way install.sh chooses. */
export async function releaseTarget(env: NodeJS.ProcessEnv): Promise<string> {
  const forced = env.GVISOR_DOCTOR_TARGET?.replace(/^gvisor-doctor-/, "");
  if (forced) return forced;
  if (typeof GVD_TARGET === "string" && GVD_TARGET) return GVD_TARGET;
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  const ldd = await run("ldd", ["--version"], { timeoutMs: 5000 }).catch(() => null);
  const text = ldd ? ldd.stdout + ldd.stderr : "";
  const musl =
    /musl/.test(text) ||
    (!/GLIBC|GNU libc|GNU C Library/.test(text) &&
      existsSync(`/lib/ld-musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`));
  let avx2 = false;
  try {
    avx2 = /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {}
  return `linux-${arch}${musl ? "-musl" : ""}${arch === "x64" && !avx2 ? "-baseline" : ""}`;
}

function openBase(env: NodeJS.ProcessEnv, version: string | null, http: HttpOptions): Source {
  const b = env.GVISOR_DOCTOR_BASE?.trim();
  if (b && !/^[a-z]+:\/\//i.test(b)) return dirSource(b);
  const url =
    b ||
    (version
      ? `https://github.com/${GVD_REPO}/releases/download/v${version}`
      : `https://github.com/${GVD_REPO}/releases/latest/download`);
  const src = httpSource(url, http);
  if (insecureMirror(src))
    throw new ActionError(
      `GVISOR_DOCTOR_BASE=${url} is plain http: the binary and its signature could be swapped in transit`,
      "use https (or a local directory)",
    );
  return src;
}

function sumsEntry(sums: string, name: string): string | null {
  for (const line of sums.split("\n")) {
    const m = line.match(/^([0-9a-fA-F]{128}) [ *](.+)$/);
    if (m && m[2] === name) return m[1].toLowerCase();
  }
  return null;
}

/** Swap the live binary with `incoming` by renames in one directory; the old one becomes .previous. */
function swapIn(exe: string, incoming: string): void {
  const prev = previousOf(exe);
  const tmp = `${prev}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  linkSync(exe, tmp);
  renameSync(tmp, prev);
  renameSync(incoming, exe);
}

async function reportsVersion(bin: string): Promise<string> {
  const r = await run(bin, ["--version"], { timeoutMs: 20_000 });
  const v = r.stdout.trim().match(/^gvisor-doctor (\S+)/)?.[1];
  if (r.code !== 0 || !v) throw new ActionError(`${bin} does not run: ${failureText(r)}`, "nothing was changed");
  return v;
}

export async function selfUpdate(o: SelfUpdateOptions): Promise<SelfUpdateResult> {
  if (/^(bun|deno|node)(\.exe)?$/.test(basename(o.exe))) {
    throw new ActionError(
      "self-update replaces the compiled gvisor-doctor binary; this is a source run under a JavaScript runtime",
      "update the checkout instead (git pull)",
    );
  }
  const exe = realpathSync(o.exe);
  const owner = await managedBy([...new Set([o.exe, exe])], o.env.PATH);
  if (owner) {
    throw new ActionError(
      `${exe} is managed by ${owner.manager} (${owner.how}); self-update would fight the package manager`,
      `update it the way it was installed (e.g. your ${owner.manager} upgrade command), ` +
        "or install gvisor-doctor with install.sh into /usr/local/bin or ~/.local/bin",
    );
  }
  const dir = dirname(exe);
  // --check only reads: a user without write access to /usr/local/bin may still ask.
  try {
    if (!o.check) accessSync(dir, constants.W_OK);
  } catch {
    throw new ActionError(
      `cannot replace ${exe}: ${dir} is not writable${process.getuid?.() === 0 ? "" : " (you are not root)"}`,
      `run it as the owner of ${dir}, e.g. sudo ${exe} self-update`,
    );
  }
  const base: SelfUpdateResult = {
    action: "up-to-date",
    path: exe,
    from: o.current,
    to: o.current,
    base: null,
    previous: null,
    verified: null,
    key: null,
  };

  if (o.rollback) {
    const prev = previousOf(exe);
    if (!existsSync(prev))
      throw new ActionError(
        `there is no previous gvisor-doctor to roll back to (${prev})`,
        "self-update keeps one when it replaces the binary",
      );
    const to = await reportsVersion(prev);
    // The live binary becomes .previous, .previous goes live: a second rollback undoes the first.
    const tmp = `${prev}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    linkSync(exe, tmp);
    renameSync(prev, exe);
    renameSync(tmp, prev);
    return { ...base, action: "rolled-back", to, previous: prev };
  }

  const src = openBase(o.env, o.version, o.http);
  base.base = src.base;
  o.progress(`checking ${src.base}`);
  const get = async (rel: string) => {
    try {
      return await src.getText(rel);
    } catch (e) {
      if (e instanceof DownloadError) throw new ActionError(e.message, e.hint);
      throw e;
    }
  };
  const sums = await get("SHA512SUMS").catch((e) => {
    if (e instanceof NotFoundError)
      throw new ActionError(
        `${src.locate("SHA512SUMS")} was not found${o.version ? `: is ${o.version} a gvisor-doctor release?` : ""}`,
        "check --version and GVISOR_DOCTOR_BASE",
      );
    throw e;
  });
  const unsigned = o.env.GVISOR_DOCTOR_UNSIGNED === "1";
  const key = releaseKey(o.env);
  let sig: string | null = null;
  try {
    sig = await get("SHA512SUMS.sig");
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  if (sig && key) {
    try {
      verifySshSig(Buffer.from(sums), sig, parseEd25519PublicKey(key.key));
    } catch (e) {
      if (e instanceof SshSigError)
        throw new ActionError(
          `${src.locate("SHA512SUMS.sig")}: ${e.message} (key: ${key.from}); nothing was changed`,
          "the release is not the one the gvisor-doctor maintainers signed: check GVISOR_DOCTOR_BASE",
        );
      throw e;
    }
    Object.assign(base, { verified: "ssh-signature", key: key.key.split(/\s+/).slice(0, 2).join(" ") });
  } else if (unsigned) {
    base.verified = "sha512-only";
  } else {
    throw new ActionError(
      !sig
        ? `${src.locate("SHA512SUMS.sig")} is missing: the release is not signed; nothing was changed`
        : "this gvisor-doctor has no release key built in (a development build); nothing was changed",
      "GVISOR_DOCTOR_UNSIGNED=1 accepts a release checked by its SHA512SUMS only; " +
        "GVISOR_DOCTOR_RELEASE_PUBKEY='ssh-ed25519 AAAA…' names the key",
    );
  }

  const versionText = await get("VERSION");
  const vWant = sumsEntry(sums, "VERSION");
  if (!vWant || createHash("sha512").update(versionText).digest("hex") !== vWant)
    throw new ActionError(
      `${src.locate("VERSION")} does not match SHA512SUMS; nothing was changed`,
      "check GVISOR_DOCTOR_BASE",
    );
  const next = versionText.trim();
  base.to = next;
  const cmp =
    semver.valid(next) && semver.valid(o.current) ? semver.compare(next, o.current) : next === o.current ? 0 : 1;
  if (cmp === 0) return base;
  if (cmp < 0 && !o.allowDowngrade) {
    throw new ActionError(
      `the release at ${src.base} is ${next}, older than this gvisor-doctor ${o.current}: ` +
        "refusing to downgrade; nothing was changed",
      "pass --allow-downgrade to install it anyway",
    );
  }
  if (o.check) return { ...base, action: "update-available" };

  const name = `gvisor-doctor-${await releaseTarget(o.env)}`;
  const gzWant = sumsEntry(sums, `${name}.gz`);
  const rawWant = sumsEntry(sums, name);
  if (!rawWant)
    throw new ActionError(
      `SHA512SUMS of ${next} has no ${name}; nothing was changed`,
      "GVISOR_DOCTOR_TARGET picks another build (linux-x64, linux-x64-baseline, linux-arm64, with -musl)",
    );
  const file = gzWant ? `${name}.gz` : name;
  o.progress(`downloading ${src.locate(file)}`);
  const parts: Uint8Array[] = [];
  try {
    await src.stream(file, (c) => void parts.push(Buffer.from(c)));
  } catch (e) {
    if (e instanceof DownloadError || e instanceof NotFoundError)
      throw new ActionError(`${e.message}; nothing was changed`);
    throw e;
  }
  let bytes: Buffer = Buffer.concat(parts);
  const check = (b: Uint8Array, want: string, what: string) => {
    const got = createHash("sha512").update(b).digest("hex");
    if (got !== want)
      throw new ActionError(
        `sha512 mismatch for ${what}: expected ${want} (signed SHA512SUMS), got ${got}; nothing was changed`,
        "the download is truncated or was tampered with: run it again, or check GVISOR_DOCTOR_BASE",
      );
  };
  if (gzWant) {
    check(bytes, gzWant, src.locate(file));
    bytes = gunzipSync(bytes);
  }
  check(bytes, rawWant, name);

  const incoming = join(dir, `.${basename(exe)}.new-${process.pid}`);
  try {
    const fd = openSync(incoming, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o755);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const reported = await reportsVersion(incoming);
    if (reported !== next)
      throw new ActionError(
        `the new binary reports ${reported}, but the release is ${next}; nothing was changed`,
        "check GVISOR_DOCTOR_BASE",
      );
    swapIn(exe, incoming);
  } finally {
    rmSync(incoming, { force: true });
  }
  return { ...base, action: "updated", previous: previousOf(exe) };
}
