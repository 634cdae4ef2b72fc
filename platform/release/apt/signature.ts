// OpenPGP verification of an apt Release file (InRelease, or Release + Release.gpg) with
// openpgp.js, loaded only when a signed install runs (start-up of every other command
// does not pay for it). A signature counts only when it is valid now, made by one of the
// trusted keys, and neither the signature nor the key has expired.
import { GVISOR_ARCHIVE_KEY, GVISOR_KEY_FINGERPRINT } from "../gvisor-key.ts";

export class SignatureError extends Error {}

export interface TrustedKeys {
  /** Where the keys came from, for messages: "gVisor's archive key (compiled in)" or the --keyring path. */
  from: string;
  fingerprints: string[];
  keys: unknown[];
}

export interface Verified {
  /** The signed text (InRelease) or bytes as text (Release): only this may be parsed. */
  text: string;
  /** Primary-key fingerprint of the signer (lower-case hex). */
  fingerprint: string;
  signedAt: string | null;
}

type OpenPGP = typeof import("openpgp");
let lib: Promise<OpenPGP> | null = null;
const openpgp = () => (lib ??= import("openpgp"));

/** The compiled-in gVisor key, or every key of `keyring` (armored or binary, e.g. a `gpg --dearmor` keyring). */
export async function loadTrustedKeys(keyring: { path: string; bytes: Uint8Array } | null): Promise<TrustedKeys> {
  const pgp = await openpgp();
  let keys;
  try {
    if (!keyring) keys = await pgp.readKeys({ armoredKeys: GVISOR_ARCHIVE_KEY });
    else {
      const text = Buffer.from(keyring.bytes).toString("latin1");
      keys = text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        ? await pgp.readKeys({ armoredKeys: text })
        : await pgp.readKeys({ binaryKeys: keyring.bytes });
    }
  } catch (e) {
    throw new SignatureError(
      `${keyring?.path ?? "the compiled-in key"} holds no OpenPGP public key: ${(e as Error).message}`,
    );
  }
  const fingerprints = keys.map((k) => k.getFingerprint().toLowerCase());
  if (!keyring && !fingerprints.includes(GVISOR_KEY_FINGERPRINT))
    throw new SignatureError("the compiled-in gVisor key is damaged");
  return { from: keyring ? keyring.path : "gVisor's archive key (compiled in)", fingerprints, keys };
}

/** Group a fingerprint as gpg prints it. */
export function formatFingerprint(fpr: string): string {
  return fpr
    .toUpperCase()
    .replace(/(.{4})/g, "$1 ")
    .trim()
    .replace(/^((?:\S{4} ){5})/, "$1 ");
}

async function check(
  pgp: OpenPGP,
  trusted: TrustedKeys,
  what: string,
  run: () => Promise<{ signatures: unknown[] }>,
  now: Date,
): Promise<{ fingerprint: string; signedAt: string | null }> {
  let res;
  try {
    res = await run();
  } catch (e) {
    throw new SignatureError(`${what}: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  for (const s of res.signatures as {
    keyID: { toHex(): string };
    verified: Promise<boolean>;
    signature: Promise<{ packets: { created: Date | null }[] }>;
  }[]) {
    try {
      await s.verified;
      const key = (trusted.keys as Awaited<ReturnType<OpenPGP["readKeys"]>>).find(
        (k) => k.getKeys(s.keyID as never).length > 0,
      );
      if (!key) continue;
      // openpgp checks expiry against `date`; the key's own expiry too (an expired key signs nothing).
      const exp = await key.getExpirationTime();
      if (exp instanceof Date && exp.getTime() <= now.getTime())
        throw new Error(`the key ${key.getFingerprint()} expired on ${exp.toISOString()}`);
      const created = (await s.signature).packets[0]?.created ?? null;
      return { fingerprint: key.getFingerprint().toLowerCase(), signedAt: created ? created.toISOString() : null };
    } catch (e) {
      problems.push(`signature by key ${s.keyID.toHex().toUpperCase()}: ${(e as Error).message}`);
    }
  }
  void pgp;
  throw new SignatureError(
    `${what} has no valid signature by ${trusted.from} (${trusted.fingerprints.map(formatFingerprint).join(", ")})` +
      (problems.length ? `: ${problems.join("; ")}` : ""),
  );
}

/** Verify a clearsigned InRelease; returns only the text that the signature covers. */
export async function verifyClearsigned(
  text: string,
  trusted: TrustedKeys,
  what: string,
  now = new Date(),
): Promise<Verified> {
  const pgp = await openpgp();
  let message;
  try {
    message = await pgp.readCleartextMessage({ cleartextMessage: text });
  } catch (e) {
    throw new SignatureError(`${what} is not a clearsigned OpenPGP message: ${(e as Error).message}`);
  }
  let data = "";
  const who = await check(
    pgp,
    trusted,
    what,
    async () => {
      const r = await pgp.verify({ message, verificationKeys: trusted.keys as never, date: now, expectSigned: false });
      data = r.data as string;
      return r;
    },
    now,
  );
  return { text: data, ...who };
}

/** Verify Release against a detached Release.gpg (armored or binary). */
export async function verifyDetached(
  data: Uint8Array,
  sig: Uint8Array,
  trusted: TrustedKeys,
  what: string,
  now = new Date(),
): Promise<Verified> {
  const pgp = await openpgp();
  let signature;
  try {
    const s = Buffer.from(sig).toString("latin1");
    signature = s.includes("-----BEGIN PGP SIGNATURE-----")
      ? await pgp.readSignature({ armoredSignature: s })
      : await pgp.readSignature({ binarySignature: sig });
  } catch (e) {
    throw new SignatureError(`${what}.gpg is not an OpenPGP signature: ${(e as Error).message}`);
  }
  const message = await pgp.createMessage({ binary: data });
  const who = await check(
    pgp,
    trusted,
    what,
    () => pgp.verify({ message, signature, verificationKeys: trusted.keys as never, date: now, format: "binary" }),
    now,
  );
  return { text: Buffer.from(data).toString("utf8"), ...who };
}
