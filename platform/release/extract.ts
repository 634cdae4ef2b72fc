// Unpack the release tarball into a private staging directory while it streams.
// The `tar` package parses; every member is checked before a byte is written:
// only runsc, containerd-shim-runsc-v1 and gvisor-bin/<name> (plus their directories)
// are accepted; absolute paths, `..`, links that leave the directory, device files
// and anything unexpected abort the install. Files are written 0600: nothing here can
// run until the hash has matched and the installer marks them executable.
import { closeSync, constants, linkSync, mkdirSync, openSync, symlinkSync, writeSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { Parser, type ReadEntry } from "tar";
import { ActionError } from "../os/errors.ts";
import { RELEASE_BINARIES, SIDECAR_DIR } from "./channels.ts";
import { syncFile } from "./flush.ts";
import { echoInput } from "../os/echo-input.ts";

export class ArchiveError extends Error {}

/** The disk, not the archive, is at fault (full, over quota, out of descriptors): said as such. */
export class DiskError extends ActionError {}

/** fsyncs in flight at once: each holds a descriptor (20,000 members must not hit EMFILE). */
const MAX_PARALLEL_SYNCS = 16;

/** Blame what failed: a full disk or a descriptor limit is the host's problem, anything else the member's. */
export function writeFailure(err: unknown, dir: string, member: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DiskError(
      `no space left on the file system of ${dir} while writing ${member} ` +
        `(${code === "EDQUOT" ? "disk quota exceeded" : "the disk is full"})`,
      `free some space there (df -h ${dir}): a gVisor release needs about 500 MB unpacked; ` +
        "or choose another --prefix. Nothing was installed",
    );
  }
  if (code === "EMFILE" || code === "ENFILE") {
    return new DiskError(
      `too many open files while unpacking ${member} (${code})`,
      "raise the open-file limit (ulimit -n) and run the command again; nothing was installed",
    );
  }
  if (code === "EROFS" || code === "EIO") {
    return new DiskError(
      `cannot write ${member} in ${dir}: ${(err as Error).message}`,
      "check the disk; nothing was installed",
    );
  }
  return new ArchiveError(`cannot unpack "${member}": ${(err as Error).message}`);
}

export interface StagedMember {
  /** Path inside the version directory, e.g. "runsc", "gvisor-bin/gvisor_sentry". */
  path: string;
  type: "file" | "symlink" | "hardlink";
  size: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** A gVisor release unpacks to ~450 MB; anything past this is not one (or is a bomb). */
export const MAX_UNPACKED_BYTES = 4 * 1024 ** 3;

/** Normalised member path, or an ArchiveError saying why it is refused. */
export function checkMemberPath(raw: string): string {
  if (raw.startsWith("/")) throw new ArchiveError(`member "${echoInput(raw)}" has an absolute path`);
  if (raw.includes("\0")) throw new ArchiveError(`member "${echoInput(raw)}" has a NUL byte in its name`);
  const parts = raw.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new ArchiveError(`member "${echoInput(raw)}" climbs out of the directory with ".."`);
  return parts.join("/");
}

function allowedFile(rel: string): boolean {
  if ((RELEASE_BINARIES as readonly string[]).includes(rel)) return true;
  const [dir, name, ...more] = rel.split("/");
  return dir === SIDECAR_DIR && !!name && more.length === 0 && NAME.test(name);
}

export class TarStager {
  private parser: Parser;
  private error: Error | null = null;
  private members = new Map<string, StagedMember>();
  private fsyncs: Promise<void>[] = [];
  /** Files still open (an aborted entry never ends): closed by abort(). */
  private open = new Set<number>();
  private total = 0;
  private done: Promise<void>;

  /** `dir` must exist and be private (0700); `durable` fsyncs every file in the background. */
  /**
   * `mapPath` renames members (a .deb's usr/bin/runsc is the release's runsc); null skips one
   * unwritten. The release's member rules apply to the renamed path.
   */
  constructor(
    private readonly dir: string,
    private readonly durable = true,
    private readonly maxBytes = MAX_UNPACKED_BYTES,
    private readonly mapPath?: (rel: string) => string | null,
  ) {
    this.parser = new Parser({ strict: true, brotli: false, zstd: false } as ConstructorParameters<typeof Parser>[0]);
    this.parser.on("entry", (e: ReadEntry) => this.onEntry(e));
    this.done = new Promise<void>((resolve) => {
      this.parser.on("end", () => resolve());
      this.parser.on("error", (e: Error) => {
        this.fail(new ArchiveError(`the tarball is damaged: ${e.message}`));
        resolve();
      });
    });
  }

  private fail(e: Error): void {
    this.error ??= e;
  }

  private onEntry(e: ReadEntry): void {
    if (this.error) {
      e.resume();
      return;
    }
    try {
      this.stage(e);
    } catch (err) {
      this.fail(err instanceof ArchiveError ? err : writeFailure(err, dirname(this.dir), echoInput(e.path)));
      e.resume();
    }
  }

  private ensureDir(rel: string): void {
    if (rel) mkdirSync(join(this.dir, rel), { recursive: true, mode: 0o700 });
  }

  private stage(e: ReadEntry): void {
    const raw = checkMemberPath(e.path);
    if (["CharacterDevice", "BlockDevice", "FIFO"].includes(e.type as string)) {
      throw new ArchiveError(`member "${e.path}" is a device file (${e.type}): a gVisor release has none`);
    }
    const rel = this.mapPath ? this.mapPath(raw) : raw;
    if (rel === null) {
      e.resume();
      return;
    }
    const dest = join(this.dir, rel);
    switch (e.type) {
      case "Directory":
        if (rel !== "" && rel !== SIDECAR_DIR)
          throw new ArchiveError(
            `unexpected directory "${echoInput(e.path)}" (a gVisor release has only ${SIDECAR_DIR}/)`,
          );
        this.ensureDir(rel);
        e.resume();
        return;
      case "File":
      case "OldFile":
      case "ContiguousFile": {
        if (!allowedFile(rel))
          throw new ArchiveError(
            `unexpected member "${echoInput(e.path)}" (a gVisor release has only runsc, containerd-shim-runsc-v1 and ${SIDECAR_DIR}/*)`,
          );
        if (this.members.has(rel)) throw new ArchiveError(`member "${echoInput(e.path)}" appears twice`);
        this.ensureDir(dirname(rel) === "." ? "" : dirname(rel));
        const size = e.size ?? 0;
        this.total += size;
        if (this.total > this.maxBytes)
          throw new ArchiveError(`the tarball unpacks to more than ${this.maxBytes} bytes: not a gVisor release`);
        const fd = openSync(
          dest,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
          0o600,
        );
        this.open.add(fd);
        this.members.set(rel, { path: rel, type: "file", size });
        e.on("data", (c: Buffer) => {
          if (this.error) return;
          try {
            let off = 0;
            while (off < c.length) off += writeSync(fd, c, off, c.length - off);
          } catch (err) {
            this.fail(writeFailure(err, dirname(this.dir), echoInput(e.path)));
          }
        });
        e.on("end", () => {
          // Close the writer now (an executable open for writing cannot be run: ETXTBSY), then
          // sync it through a read-only descriptor in the background while later members stream
          // in. (Flushing while writing, as loose downloads do, measured slower for tarballs.)
          this.open.delete(fd);
          closeSync(fd);
          if (this.durable && !this.error) {
            const failed = (err: unknown) => this.fail(writeFailure(err, dirname(this.dir), echoInput(e.path)));
            this.fsyncs.push(this.limitedSync(dest).catch(failed));
          }
        });
        return;
      }
      case "SymbolicLink": {
        if (!allowedFile(rel))
          throw new ArchiveError(
            `unexpected member "${echoInput(e.path)}" (a symlink where a gVisor release has none)`,
          );
        const target = e.linkpath ?? "";
        const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
        if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../") || resolved === ".") {
          throw new ArchiveError(
            `member "${echoInput(e.path)}" is a symlink to "${echoInput(target)}", outside the release directory`,
          );
        }
        if (this.members.has(rel)) throw new ArchiveError(`member "${echoInput(e.path)}" appears twice`);
        this.ensureDir(dirname(rel) === "." ? "" : dirname(rel));
        symlinkSync(target, dest);
        this.members.set(rel, { path: rel, type: "symlink", size: 0 });
        e.resume();
        return;
      }
      case "Link": {
        if (!allowedFile(rel))
          throw new ArchiveError(
            `unexpected member "${echoInput(e.path)}" (a hard link where a gVisor release has none)`,
          );
        const linked = checkMemberPath(e.linkpath ?? "");
        const target = (this.mapPath ? this.mapPath(linked) : linked) ?? linked;
        if (this.members.get(target)?.type !== "file")
          throw new ArchiveError(
            `member "${echoInput(e.path)}" is a hard link to "${echoInput(e.linkpath ?? "")}", which is not a file of this release`,
          );
        if (this.members.has(rel)) throw new ArchiveError(`member "${echoInput(e.path)}" appears twice`);
        this.ensureDir(dirname(rel) === "." ? "" : dirname(rel));
        linkSync(join(this.dir, target), dest);
        this.members.set(rel, { path: rel, type: "hardlink", size: 0 });
        e.resume();
        return;
      }
      case "CharacterDevice":
      case "BlockDevice":
      case "FIFO":
        throw new ArchiveError(`member "${echoInput(e.path)}" is a device file (${e.type}): a gVisor release has none`);
      default:
        throw new ArchiveError(`member "${echoInput(e.path)}" has an unsupported type (${e.type})`);
    }
  }

  private syncing = 0;
  private syncWaiters: (() => void)[] = [];

  /** syncFile, at most MAX_PARALLEL_SYNCS at a time (each holds a descriptor until done). */
  private async limitedSync(path: string): Promise<void> {
    while (this.syncing >= MAX_PARALLEL_SYNCS) await new Promise<void>((r) => this.syncWaiters.push(r));
    this.syncing++;
    try {
      await syncFile(path);
    } finally {
      this.syncing--;
      this.syncWaiters.shift()?.();
    }
  }

  /** Feed decompressed tar bytes (synchronous: the parser and the writes run now). */
  write(chunk: Buffer): void {
    if (this.error) throw this.error;
    this.parser.write(chunk);
    if (this.error) throw this.error;
  }

  /** Finish: every member written, or the first problem as an ArchiveError. Syncing may still run: see synced(). */
  async end(): Promise<StagedMember[]> {
    if (!this.error) this.parser.end();
    await this.done;
    if (this.error) {
      await Promise.all(this.fsyncs);
      throw this.error;
    }
    if (this.members.size === 0) throw new ArchiveError("the tarball is empty");
    return [...this.members.values()];
  }

  /** Resolves when every file is on disk (the checks run meanwhile; the move waits for it). */
  async synced(): Promise<void> {
    await Promise.all(this.fsyncs);
    if (this.error) throw this.error;
  }

  /** Stop after a failure elsewhere (download, hash): let pending syncs finish so fds close. */
  async abort(): Promise<void> {
    this.fail(new ArchiveError("aborted"));
    try {
      this.parser.abort(new Error("aborted"));
    } catch {}
    await Promise.all(this.fsyncs);
    for (const fd of this.open) {
      try {
        closeSync(fd);
      } catch {}
    }
    this.open.clear();
  }
}
