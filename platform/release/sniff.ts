// A release file is refused by its first bytes (the format's magic number) before any of it is
// hashed or unpacked: an HTML error page or a wrong --mirror says so at once. Shared by the
// tarball, loose-binary and .deb downloads.

/**
 * Waits until the first `n` bytes have arrived (a first chunk can be shorter than a magic number),
 * checks them, then passes every byte on, in order.
 */
export function sniffer(n: number, check: (head: Uint8Array) => void, next: (c: Uint8Array) => Promise<void> | void) {
  let head: Uint8Array[] | null = [];
  let len = 0;
  const release = async () => {
    const buf = Buffer.concat(head!);
    head = null;
    check(buf);
    if (buf.length) await next(buf);
  };
  return {
    async write(c: Uint8Array): Promise<void> {
      if (!head) return next(c);
      head.push(c);
      len += c.length;
      if (len >= n) await release();
    },
    /** At the end of the stream: a file shorter than the magic is checked (and refused) now. */
    async end(): Promise<void> {
      if (head) await release();
    },
  };
}
