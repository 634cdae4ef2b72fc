// Unpack runsc (and the shim and gvisor-bin/ sidecars) out of a runsc .deb while it streams:
// ar → data.tar.{gz,xz,zst} → the release's TarStager, with usr/bin/ as the release's top.
// Everything outside usr/bin/ (the conffile, docs) is skipped unwritten; the member rules
// (no "..", no absolute paths, no devices, only runsc, the shim and gvisor-bin/*) are the
// tarball path's.
import { ArchiveError, TarStager, type StagedMember } from "../extract.ts";
import { DecodeError, type Decoder } from "../decode.ts";
import { ArError, ArReader } from "./ar.ts";
import { compressionOf, createAptDecoder } from "./compression.ts";

/** usr/bin/X → X; the rest of the package → skipped. */
export function debPath(rel: string): string | null {
  if (rel === "usr/bin") return "";
  if (rel.startsWith("usr/bin/")) return rel.slice("usr/bin/".length);
  return null;
}

export class DebStager {
  private stager: TarStager;
  private ar: ArReader;
  private decoder: Decoder | null = null;
  private sawData = false;
  decoderName: string | null = null;

  constructor(dir: string, pathEnv?: string) {
    this.stager = new TarStager(dir, true, undefined, debPath);
    this.ar = new ArReader({
      begin: (m) => {
        if (m.name === "debian-binary" || m.name.startsWith("control.tar") || m.name.startsWith("_gpg")) return false;
        if (!m.name.startsWith("data.tar")) throw new ArchiveError(`unexpected member "${m.name}" in the .deb`);
        if (this.sawData) throw new ArchiveError("the .deb has two data.tar members");
        const c = compressionOf(m.name);
        if (!c) throw new ArchiveError(`the .deb's ${m.name} is compressed in a way this tool does not read`);
        this.sawData = true;
        this.decoder = createAptDecoder(c, (b) => this.stager.write(b), pathEnv);
        this.decoderName = this.decoder.name;
        return true;
      },
      data: (c) => this.decoder!.write(c),
      end: () => this.decoder!.end(),
    });
  }

  /** Feed .deb bytes; unpack errors surface as ArchiveError/DecodeError. */
  async write(chunk: Uint8Array): Promise<void> {
    try {
      await this.ar.write(chunk);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async end(): Promise<StagedMember[]> {
    try {
      this.ar.end();
      if (!this.sawData) throw new ArchiveError("the .deb has no data.tar member");
      return await this.stager.end();
    } catch (e) {
      throw this.wrap(e);
    }
  }

  synced(): Promise<void> {
    return this.stager.synced();
  }

  async abort(): Promise<void> {
    this.decoder?.destroy();
    await this.stager.abort();
  }

  private wrap(e: unknown): unknown {
    if (e instanceof ArError) return new ArchiveError(e.message);
    return e instanceof DecodeError || e instanceof ArchiveError ? e : e;
  }
}
