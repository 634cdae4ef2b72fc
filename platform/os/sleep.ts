// The one sleep: a timer that an AbortSignal can cut short. What an abort means differs by caller, so it
// is said at each call: "resolve" (a loop that stops on SIGTERM just ends its wait), "reject" (a download
// retry that was cancelled must not go on as if the wait had passed).

export interface SleepAbort {
  signal?: AbortSignal;
  /** On abort: resolve at once, or reject with the signal's reason. */
  onAbort: "resolve" | "reject";
}

/** Resolves after `ms` milliseconds, or as `abort.onAbort` says once `abort.signal` aborts (also if it already has). */
export function sleep(ms: number, abort?: SleepAbort): Promise<void> {
  const signal = abort?.signal;
  return new Promise((resolve, reject) => {
    const end = () => (abort!.onAbort === "reject" ? reject(signal!.reason) : resolve());
    if (signal?.aborted) return end();
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      end();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
