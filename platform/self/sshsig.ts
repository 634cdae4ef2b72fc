// SSH signatures (OpenSSH's SSHSIG format, `ssh-keygen -Y sign`), verified in-process for
// ssh-ed25519 keys: the scheme gvisor-doctor releases are signed with (RELEASING.md), so
// anyone can check a release with `ssh-keygen -Y verify` and without this binary.
// Format: PROTOCOL.sshsig in OpenSSH's source tree.
import { createHash, createPublicKey, verify } from "node:crypto";

export class SshSigError extends Error {}

/** Signatures over SHA512SUMS use this namespace (`-n`); a signature for another purpose does not count. */
export const RELEASE_NAMESPACE = "gvisor-doctor-release";

class Reader {
  private off = 0;
  constructor(private readonly b: Buffer) {}
  bytes(n: number): Buffer {
    if (this.off + n > this.b.length) throw new SshSigError("the signature is truncated");
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u32(): number {
    return this.bytes(4).readUInt32BE(0);
  }
  string(): Buffer {
    return this.bytes(this.u32());
  }
  done(): boolean {
    return this.off === this.b.length;
  }
}

const sshString = (b: Buffer | string) => {
  const data = typeof b === "string" ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
};

/** The raw 32-byte key of an `ssh-ed25519 AAAA… [comment]` line (or an allowed_signers line). */
export function parseEd25519PublicKey(line: string): Buffer {
  const m = line.trim().match(/(?:^|\s)ssh-ed25519\s+([A-Za-z0-9+/=]+)/);
  if (!m) throw new SshSigError(`not an ssh-ed25519 public key: ${JSON.stringify(line.slice(0, 40))}`);
  const r = new Reader(Buffer.from(m[1], "base64"));
  if (r.string().toString() !== "ssh-ed25519") throw new SshSigError("the public key blob is not ssh-ed25519");
  const pk = r.string();
  if (pk.length !== 32) throw new SshSigError("an ed25519 key is 32 bytes");
  return Buffer.from(pk);
}

/** `ssh-keygen -Y verify` for ed25519: the armored signature over `message` by `publicKey` in `namespace`. */
export function verifySshSig(
  message: Uint8Array,
  armored: string,
  publicKey: Buffer,
  namespace = RELEASE_NAMESPACE,
): void {
  const m = armored.match(/-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/);
  if (!m) throw new SshSigError("not an SSH signature (no BEGIN SSH SIGNATURE block)");
  const r = new Reader(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
  if (r.bytes(6).toString() !== "SSHSIG") throw new SshSigError("not an SSHSIG blob");
  if (r.u32() !== 1) throw new SshSigError("unknown SSHSIG version");
  const keyBlob = new Reader(r.string());
  const ns = r.string().toString();
  const reserved = r.string();
  const hashAlg = r.string().toString();
  const sigBlob = new Reader(r.string());
  if (!r.done()) throw new SshSigError("trailing bytes after the signature");
  if (keyBlob.string().toString() !== "ssh-ed25519") throw new SshSigError("signed with a key that is not ssh-ed25519");
  if (!keyBlob.string().equals(publicKey)) throw new SshSigError("signed by another key than the release key");
  if (ns !== namespace) throw new SshSigError(`the signature is for namespace "${ns}", not "${namespace}"`);
  if (hashAlg !== "sha512" && hashAlg !== "sha256") throw new SshSigError(`unknown hash algorithm ${hashAlg}`);
  if (sigBlob.string().toString() !== "ssh-ed25519") throw new SshSigError("not an ssh-ed25519 signature");
  const sig = sigBlob.string();
  const signed = Buffer.concat([
    Buffer.from("SSHSIG"),
    sshString(ns),
    sshString(reserved),
    sshString(hashAlg),
    sshString(createHash(hashAlg).update(message).digest()),
  ]);
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: publicKey.toString("base64url") },
    format: "jwk",
  });
  if (!verify(null, signed, key, sig))
    throw new SshSigError("the signature does not match SHA512SUMS (modified, or signed by another key)");
}
