// Stream runsc's .deb into the staging directory: hash (sha256 and sha512, whichever the
// signed Packages entry lists) and unpack in one pass. As with the tarball, an unpack error
// lets the download run on for the hash: a mismatch explains a damaged file better.
import { createHash } from "node:crypto";
import { ActionError } from "../../os/errors.ts";
import { DecodeError } from "../decode.ts";
import { ArchiveError, type StagedMember } from "../extract.ts";
import { sniffer } from "../sniff.ts";
import type { Source } from "../source.ts";
import { DebStager } from "./deb.ts";

export interface StagedDeb {
  members: StagedMember[];
  bytes: number;
  sha256: string;
  sha512: string;
  decoder: string | null;
  unpackError: Error | null;
  synced: Promise<void>;
}

const MAGIC = Buffer.from("!<arch>\n");

export async function stageDeb(o: {
  source: Source;
  rel: string;
  url: string;
  staging: string;
  pathEnv?: string;
  onBytes(done: number, total: number | null): void;
}): Promise<StagedDeb> {
  const h256 = createHash("sha256");
  const h512 = createHash("sha512");
  const deb = new DebStager(o.staging, o.pathEnv);
  let unpackError: Error | null = null;
  let total: number | null = null;
  let done = 0;
  const fail = async (e: unknown) => {
    if (!(e instanceof ArchiveError || e instanceof DecodeError)) throw e;
    unpackError ??= e;
    await deb.abort();
  };
  // The magic is checked over the first 8 bytes, however the stream splits them.
  const sniff = sniffer(
    MAGIC.length,
    (head) => {
      if (head.length < MAGIC.length || !MAGIC.equals(Buffer.from(head.subarray(0, MAGIC.length)))) {
        throw new ActionError(
          `${o.url} is not a .deb package (it does not start with "!<arch>")`,
          "check --mirror; nothing was installed",
        );
      }
    },
    async (chunk) => {
      h256.update(chunk);
      h512.update(chunk);
      if (unpackError) return;
      try {
        await deb.write(chunk);
      } catch (e) {
        await fail(e);
      }
    },
  );
  try {
    const r = await o.source.stream(
      o.rel,
      async (chunk) => {
        await sniff.write(chunk);
        done += chunk.length;
        o.onBytes(done, total);
      },
      (s) => {
        total = s.total;
      },
    );
    await sniff.end();
    let members: StagedMember[] = [];
    if (!unpackError) {
      try {
        members = await deb.end();
      } catch (e) {
        await fail(e);
      }
    }
    const synced = unpackError ? Promise.resolve() : deb.synced();
    synced.catch(() => {});
    return {
      members,
      bytes: r.bytes,
      sha256: h256.digest("hex"),
      sha512: h512.digest("hex"),
      decoder: deb.decoderName,
      unpackError,
      synced,
    };
  } catch (e) {
    await deb.abort();
    throw e;
  }
}
