// A spinner on stderr only where it cannot misbehave: a TTY that reports a width
// (ora loops forever on 0 columns), no CI, and stdin left alone (discardStdin: false).
// ora (and its dozen dependencies) is loaded only when a spinner is shown: every start of the
// binary reads this module (spinnerAllowed), few of them spin.
import type { Ora } from "ora";

export interface Progress {
  update(text: string): void;
  stop(): void;
}

const NOOP: Progress = { update() {}, stop() {} };

export function spinnerAllowed(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return !!stream.isTTY && (stream.columns ?? 0) > 0 && !("CI" in env) && env.TERM !== "dumb";
}

export function startProgress(text: string, enabled: boolean): Progress {
  if (!enabled) return NOOP;
  let s: Ora | null = null;
  let stopped = false;
  void import("ora").then(({ default: ora }) => {
    if (!stopped) s = ora({ text, stream: process.stderr, discardStdin: false, isEnabled: true }).start();
  });
  return {
    update: (t) => {
      text = t;
      if (s) s.text = t;
    },
    stop: () => {
      stopped = true;
      s?.stop();
    },
  };
}
