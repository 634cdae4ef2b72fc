// Progress for long downloads on stderr. On a terminal (same rules as the spinner:
// a TTY that reports a width, no CI): one line rewritten in place with bytes, rate
// and ETA. Elsewhere: one line per phase. -v adds URLs, routes and timings.
import type { IO } from "../args.ts";
import { formatBytes } from "../../platform/release/http.ts";

export interface DownloadProgress {
  phase(text: string): void;
  detail(text: string): void;
  bytes(done: number, total: number | null): void;
  warn(text: string): void;
  /** Clear the progress line (before printing results or an error). */
  close(): void;
}

export function downloadProgress(io: IO, opts: { quiet?: boolean } = {}): DownloadProgress {
  const live = io.spinner && !io.json;
  const started = performance.now();
  let lineShown = false;
  let last = 0;
  let phaseText = "";
  let xferStart = 0;
  const clear = () => {
    if (lineShown) process.stderr.write("\r\x1b[2K");
    lineShown = false;
  };
  const stamp = () => io.ce.dim(`[${((performance.now() - started) / 1000).toFixed(1)}s]`);
  return {
    phase(text) {
      clear();
      phaseText = text;
      xferStart = 0;
      if (!opts.quiet && !(io.json && !io.verbose)) io.stderr(io.verbose ? `${stamp()} ${text}` : text);
    },
    detail(text) {
      if (!io.verbose) return;
      clear();
      io.stderr(`${stamp()}   ${io.ce.dim(text)}`);
    },
    bytes(done, total) {
      if (!live) return;
      const now = performance.now();
      if (!xferStart) xferStart = now;
      if (done !== total && now - last < 100) return;
      last = now;
      const secs = Math.max(0.001, (now - xferStart) / 1000);
      const rate = done / secs;
      const eta = total && rate > 0 ? ` ETA ${Math.max(0, (total - done) / rate).toFixed(1)}s` : "";
      const amount = total ? `${formatBytes(done)} / ${formatBytes(total)}` : formatBytes(done);
      const width = Math.max(20, (process.stderr.columns ?? 80) - 1);
      const name = phaseText.replace(/^downloading .*\//, "");
      const line = `  ${name}  ${amount}  ${formatBytes(rate)}/s${eta}`.slice(0, width);
      process.stderr.write(`\r\x1b[2K${line}`);
      lineShown = true;
    },
    warn(text) {
      clear();
      io.stderr(`${io.ce.yellow("warning:")} ${text}`);
    },
    close() {
      clear();
    },
  };
}
