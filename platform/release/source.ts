// Where release files come from: the bucket (or an HTTP mirror of its layout), or a
// local directory with the same layout for air-gapped hosts. Both hand bytes to a
// sink in order and report a missing file as NotFoundError, so the installer does
// not care which one it has.
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { echoInput } from "../os/echo-input.ts";
import { UsageError } from "../os/errors.ts";
import { DEFAULT_BASE } from "./channels.ts";
import {
  httpGetText,
  httpStream,
  NotFoundError,
  type HttpOptions,
  type StreamResult,
  type StreamStart,
} from "./http.ts";

export interface Source {
  kind: "http" | "dir";
  /** The base as given (URL or directory). */
  base: string;
  /** Full URL or path of a file, for messages. */
  locate(rel: string): string;
  getText(rel: string): Promise<string>;
  stream(
    rel: string,
    sink: (chunk: Uint8Array) => void | Promise<void>,
    onStart?: (s: StreamStart) => void,
  ): Promise<StreamResult>;
}

export function httpSource(base: string, opts: HttpOptions): Source {
  const root = base.replace(/\/+$/, "");
  const locate = (rel: string) => `${root}/${rel}`;
  return {
    kind: "http",
    base: root,
    locate,
    getText: (rel) => httpGetText(locate(rel), opts),
    stream: (rel, sink, onStart) => httpStream(locate(rel), opts, sink, onStart),
  };
}

export function dirSource(dir: string): Source {
  const locate = (rel: string) => join(dir, rel);
  return {
    kind: "dir",
    base: dir,
    locate,
    async getText(rel) {
      const p = locate(rel);
      try {
        if (statSync(p).size > 64 * 1024) throw new Error(`${p} is larger than 64 KB: not a checksum file`);
        return readFileSync(p, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(p, 404);
        throw e;
      }
    },
    async stream(rel, sink, onStart) {
      const p = locate(rel);
      const started = performance.now();
      let size: number;
      try {
        size = statSync(p).size;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(p, 404);
        throw e;
      }
      onStart?.({ total: size, contentType: null });
      let bytes = 0;
      for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 })) {
        await sink(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      return { bytes, attempts: 1, resumes: 0, ms: Math.round(performance.now() - started) };
    },
  };
}

/**
 * `--mirror` / GVISOR_MIRROR: an http(s) URL of the bucket's layout, a file:// URL,
 * or a local directory. Without either, the official bucket.
 */
export function openSource(mirror: string | undefined, opts: HttpOptions, cwd = process.cwd()): Source {
  const m = mirror?.trim();
  if (!m) return httpSource(DEFAULT_BASE, opts);
  if (/^https?:\/\//i.test(m)) {
    try {
      new URL(m);
    } catch {
      throw new UsageError(
        `--mirror ${echoInput(m)} is not a valid URL`,
        "e.g. --mirror https://mirror.example.com/gvisor/releases or --mirror /srv/gvisor-releases",
      );
    }
    return httpSource(m, opts);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(m) && !/^file:\/\//i.test(m)) {
    throw new UsageError(
      `--mirror ${echoInput(m)}: only http://, https://, file:// or a directory are supported`,
      "e.g. --mirror https://mirror.example.com/gvisor/releases or --mirror /srv/gvisor-releases",
    );
  }
  const dir = /^file:\/\//i.test(m) ? fileURLToPath(m) : isAbsolute(m) ? m : resolve(cwd, m);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(
      `--mirror ${echoInput(m)}: ${echoInput(dir)} is not a directory`,
      "a local mirror is a directory laid out like the bucket: <dir>/release/<version>/<arch>/gvisor.tar.zstd (+ .sha512)",
    );
  }
  return dirSource(dir);
}

/** True for http:// to a host other than loopback: the checksum travels the same unprotected way. */
export function insecureMirror(src: Source): boolean {
  if (src.kind !== "http" || !/^http:\/\//i.test(src.base)) return false;
  const host = new URL(src.base).hostname;
  return !(host === "localhost" || host === "[::1]" || /^127\./.test(host));
}
