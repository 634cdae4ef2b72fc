// The one sleep: waits its time, and an abort either ends the wait or fails it, as the caller says.
import { describe, expect, test } from "bun:test";
import { sleep } from "../../platform/os/sleep.ts";

const elapsed = async (p: Promise<unknown>) => {
  const t = performance.now();
  const r = await p.then(
    () => "resolved",
    (e) => e,
  );
  return { r, ms: performance.now() - t };
};

describe("sleep", () => {
  test("waits its time without a signal, and with one that does not abort", async () => {
    expect((await elapsed(sleep(40))).ms).toBeGreaterThanOrEqual(35);
    const { r, ms } = await elapsed(sleep(40, { signal: new AbortController().signal, onAbort: "reject" }));
    expect(r).toBe("resolved");
    expect(ms).toBeGreaterThanOrEqual(35);
  });

  test('onAbort "resolve": an abort ends the wait at once (the agent stops between rounds on SIGTERM)', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 10);
    const { r, ms } = await elapsed(sleep(10_000, { signal: ac.signal, onAbort: "resolve" }));
    expect(r).toBe("resolved");
    expect(ms).toBeLessThan(2000);
    expect(await sleep(10_000, { signal: ac.signal, onAbort: "resolve" })).toBeUndefined(); // already aborted
  });

  test('onAbort "reject": an abort fails the wait with the signal\'s reason (a cancelled download retry)', async () => {
    const ac = new AbortController();
    const reason = new Error("cancelled");
    setTimeout(() => ac.abort(reason), 10);
    const { r, ms } = await elapsed(sleep(10_000, { signal: ac.signal, onAbort: "reject" }));
    expect(r).toBe(reason);
    expect(ms).toBeLessThan(2000);
    expect(await elapsed(sleep(10_000, { signal: ac.signal, onAbort: "reject" })).then((x) => x.r)).toBe(reason);
  });

  test("a finished wait no longer listens to the signal", async () => {
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal),
      remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => (listeners++, add(...a))) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (listeners--, remove(...a))) as typeof remove;
    await sleep(5, { signal: ac.signal, onAbort: "resolve" });
    expect(listeners).toBe(0);
  });
});
