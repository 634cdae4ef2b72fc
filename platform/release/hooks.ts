// Knobs read from the environment that are not worth a flag: how long to wait for
// another install's lock, and pause points that let the crash tests SIGKILL an
// install at an exact step (GVISOR_DOCTOR_TEST_PAUSE=verified|before-switch|after-switch).

/** GVISOR_DOCTOR_LOCK_WAIT seconds (default 600): how long to queue behind another install. */
export function lockWaitMs(env: NodeJS.ProcessEnv): number {
  const n = Number(env.GVISOR_DOCTOR_LOCK_WAIT);
  return (
    (Number.isFinite(n) && n >= 0 && env.GVISOR_DOCTOR_LOCK_WAIT !== "" && env.GVISOR_DOCTOR_LOCK_WAIT !== undefined
      ? n
      : 600) * 1000
  );
}

/** At the named step, say so on stderr and wait to be killed (test use only). */
export async function pauseForTest(step: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (env.GVISOR_DOCTOR_TEST_PAUSE !== step) return;
  process.stderr.write(`gvisor-doctor: test pause at ${step} (pid ${process.pid})\n`);
  await new Promise<void>(() => setInterval(() => {}, 60_000));
}
