// The signed chain of gVisor's apt repository, checked link by link before any package byte
// is trusted: dists/<suite>/InRelease (or Release + Release.gpg) signed by a trusted key →
// main/binary-<arch>/Packages by the hash the signed Release lists → runsc's .deb by the hash
// the Packages entry lists (checked while it streams: see installer.ts).
import { ActionError } from "../../os/errors.ts";
import { createHash } from "node:crypto";
import { NotFoundError } from "../http.ts";
import type { Source } from "../source.ts";
import { compareGvisor, parseGvisorVersion } from "../../os/versions.ts";
import { compressionOf, decodeAll, xzProgram } from "./compression.ts";
import { AptIndexError, findPackages, parseRelease, type PackageEntry, type ReleaseFile } from "./release-file.ts";
import { formatFingerprint, SignatureError, verifyClearsigned, verifyDetached, type TrustedKeys } from "./signature.ts";
import type { AptTarget } from "./plan.ts";

const MAX_RELEASE = 1 << 20;
const MAX_PACKAGES = 64 << 20;

export interface SignedChain {
  target: AptTarget;
  /** URL of the signed file (InRelease or Release). */
  releaseUrl: string;
  release: ReleaseFile;
  signer: string;
  signedAt: string | null;
  packagesUrl: string;
  deb: PackageEntry;
  debRel: string;
  debUrl: string;
  /** Human steps for the report and --json trust.chain. */
  chain: string[];
}

/** A whole (small) file from the source, refusing more than `max` bytes. */
export async function fetchAll(src: Source, rel: string, max: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  await src.stream(rel, (c) => {
    n += c.length;
    if (n > max)
      throw new ActionError(`${src.locate(rel)} is larger than ${max} bytes: not an apt index`, "check --mirror");
    parts.push(Buffer.from(c));
  });
  return Buffer.concat(parts);
}

function refuse(
  msg: string,
  hint = "check --mirror; the repository does not match what gVisor's key signed",
): ActionError {
  return new ActionError(`${msg}\nnothing was installed`, hint);
}

function safeRel(p: string): boolean {
  return (
    !p.startsWith("/") &&
    !p.includes("\\") &&
    !/^[a-z][a-z0-9+.-]*:/i.test(p) &&
    p.split("/").every((s) => s !== ".." && s !== "." && s !== "")
  );
}

export async function resolveSignedChain(o: {
  source: Source;
  target: AptTarget;
  trusted: TrustedKeys;
  now: Date;
  pathEnv?: string;
  detail(t: string): void;
}): Promise<SignedChain> {
  const { source, target, trusted } = o;
  const dists = `dists/${target.suite}`;
  const chain: string[] = [];
  let verified;
  let releaseUrl = source.locate(`${dists}/InRelease`);
  try {
    try {
      const text = (await fetchAll(source, `${dists}/InRelease`, MAX_RELEASE)).toString("utf8");
      verified = await verifyClearsigned(text, trusted, releaseUrl, o.now);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      o.detail(`no ${releaseUrl}; trying Release + Release.gpg`);
      releaseUrl = source.locate(`${dists}/Release`);
      const data = await fetchAll(source, `${dists}/Release`, MAX_RELEASE);
      const sig = await fetchAll(source, `${dists}/Release.gpg`, 64 << 10);
      verified = await verifyDetached(data, sig, trusted, releaseUrl, o.now);
    }
  } catch (e) {
    if (e instanceof SignatureError)
      throw refuse(
        e.message,
        "the repository is not signed by the trusted key: check --mirror" +
          (trusted.from.startsWith("gVisor") ? "" : " and --keyring"),
      );
    if (e instanceof NotFoundError) {
      throw refuse(
        `gVisor's apt repository has no suite ${target.suite} at ${source.base} (${e.message})`,
        "check --version and --mirror (apt suites: release, nightly, YYYYMMDD)",
      );
    }
    throw e;
  }
  chain.push(`${releaseUrl}: OpenPGP signature by ${formatFingerprint(verified.fingerprint)} (${trusted.from})`);
  let release: ReleaseFile;
  try {
    release = parseRelease(verified.text);
  } catch (e) {
    if (e instanceof AptIndexError) throw refuse(`${releaseUrl}: ${e.message}`);
    throw e;
  }
  // A Release signed for another suite (say, an old dated one) must not stand in for this one.
  if (release.suite !== target.suite && release.codename !== target.suite) {
    throw refuse(
      `${releaseUrl} is signed for suite ${release.suite ?? release.codename ?? "(none)"}, not ${target.suite}`,
    );
  }
  if (release.architectures.length && !release.architectures.includes(target.arch)) {
    throw refuse(
      `suite ${target.suite} has no ${target.arch} packages (Architectures: ${release.architectures.join(" ")})`,
      "check the host's architecture",
    );
  }

  // Packages: gz (decoded in-process), plain, then xz (needs the xz program).
  const base = `main/binary-${target.arch}/Packages`;
  const names = [`${base}.gz`, base, ...(xzProgram(o.pathEnv) ? [`${base}.xz`] : [])];
  const pick = names.find((n) => release.files.has(n));
  if (!pick) throw refuse(`${releaseUrl} lists no ${base}(.gz|.xz) for ${target.arch}`);
  const want = release.files.get(pick)!;
  const packagesUrl = source.locate(`${dists}/${pick}`);
  const raw = await fetchAll(source, `${dists}/${pick}`, MAX_PACKAGES);
  const [algo, expected] = want.sha512 ? (["sha512", want.sha512] as const) : (["sha256", want.sha256!] as const);
  const got = createHash(algo).update(raw).digest("hex");
  if (raw.length !== want.size || got !== expected) {
    throw refuse(
      `${packagesUrl} does not match the signed Release: ${algo} ${got} (${raw.length} bytes), ` +
        `signed ${expected} (${want.size} bytes)`,
    );
  }
  chain.push(`${packagesUrl}: ${algo} ${expected.slice(0, 16)}… as listed in the signed Release`);
  let entries: PackageEntry[];
  try {
    const text = (await decodeAll(compressionOf(pick)!, raw, MAX_PACKAGES * 4, o.pathEnv)).toString("utf8");
    entries = findPackages(text, "runsc", target.arch);
  } catch (e) {
    throw refuse(`${packagesUrl}: ${(e as Error).message}`);
  }
  if (target.version) entries = entries.filter((e) => e.version === target.version);
  if (!entries.length) {
    throw refuse(
      `${packagesUrl} has no runsc${target.version ? ` ${target.version}` : ""} for ${target.arch}`,
      "check --version: apt carries only some point releases",
    );
  }
  const newest = (e: PackageEntry) => parseGvisorVersion(e.version);
  entries.sort((a, b) => {
    const va = newest(a);
    const vb = newest(b);
    return va && vb ? compareGvisor(vb, va) : b.version.localeCompare(a.version);
  });
  const deb = entries[0];
  if (!safeRel(deb.filename))
    throw refuse(`${packagesUrl}: runsc's Filename ${JSON.stringify(deb.filename)} leaves the repository`);
  const debUrl = source.locate(deb.filename);
  return {
    target,
    releaseUrl,
    release,
    signer: verified.fingerprint,
    signedAt: verified.signedAt,
    packagesUrl,
    deb,
    debRel: deb.filename,
    debUrl,
    chain,
  };
}
