// A streaming reader of `ar` archives (the container of a .deb): bytes in, in any chunking;
// each member's header, then its data, handed on as it arrives. Nothing is buffered beyond
// one 60-byte header.
export class ArError extends Error {}

export interface ArMember {
  name: string;
  size: number;
}

export interface ArSink {
  /** A member starts; return false to skip its data. */
  begin(m: ArMember): boolean | Promise<boolean>;
  data(chunk: Uint8Array): void | Promise<void>;
  end(m: ArMember): void | Promise<void>;
}

const MAGIC = "!<arch>\n";

export class ArReader {
  private head = Buffer.alloc(0);
  private magicSeen = false;
  private cur: { m: ArMember; left: number; want: boolean; pad: number } | null = null;
  private pad = 0;
  readonly members: ArMember[] = [];

  constructor(private readonly sink: ArSink) {}

  async write(chunk: Uint8Array): Promise<void> {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (buf.length) {
      if (this.cur) {
        const n = Math.min(this.cur.left, buf.length);
        if (this.cur.want && n) await this.sink.data(buf.subarray(0, n));
        this.cur.left -= n;
        buf = buf.subarray(n);
        if (this.cur.left === 0) {
          const done = this.cur;
          this.cur = null;
          this.pad = done.pad;
          if (done.want) await this.sink.end(done.m);
        }
        continue;
      }
      if (this.pad) {
        // Members start at even offsets: one "\n" after an odd-sized member.
        buf = buf.subarray(1);
        this.pad = 0;
        continue;
      }
      const need = (this.magicSeen ? 60 : MAGIC.length) - this.head.length;
      this.head = Buffer.concat([this.head, buf.subarray(0, need)]);
      buf = buf.subarray(Math.min(need, buf.length));
      if (this.head.length < (this.magicSeen ? 60 : MAGIC.length)) break;
      if (!this.magicSeen) {
        if (this.head.toString("latin1") !== MAGIC)
          throw new ArError('not an ar archive (a .deb starts with "!<arch>")');
        this.magicSeen = true;
        this.head = Buffer.alloc(0);
        continue;
      }
      const h = this.head.toString("latin1");
      this.head = Buffer.alloc(0);
      if (h.slice(58, 60) !== "`\n") throw new ArError("damaged ar member header");
      const name = h.slice(0, 16).trim().replace(/\/$/, "");
      const sizeText = h.slice(48, 58).trim();
      if (!/^\d+$/.test(sizeText)) throw new ArError(`ar member ${JSON.stringify(name)} has no size`);
      const m = { name, size: Number(sizeText) };
      this.members.push(m);
      const want = await this.sink.begin(m);
      this.cur = { m, left: m.size, want, pad: m.size % 2 };
      if (m.size === 0) {
        this.cur = null;
        if (want) await this.sink.end(m);
      }
    }
  }

  /** The archive is complete: no member cut short, no half header. */
  end(): void {
    if (this.cur) throw new ArError(`the archive ends inside member ${this.cur.m.name} (truncated)`);
    if (this.head.length || !this.magicSeen) throw new ArError("the archive is truncated");
  }
}
