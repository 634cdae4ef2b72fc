// Every process a plain subprocess left behind, found and killed. Its process group and session are not
// enough: `setsid` (or a daemon's double fork) leaves both, and such a process can hold exec's stdout open
// for as long as it lives. So the command starts with a marker in its environment, which its descendants
// inherit, and the sweep also kills every process that carries it. (One that clears its environment, or
// runs as another user, escapes the marker: exec then stops waiting for the pipes instead — see run.ts.)
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";

/** The environment variable that marks a run's processes. */
export const EXEC_ID_ENV = "GVISOR_DOCTOR_EXEC_ID";

export function newExecId(): string {
  return `${process.pid}-${randomBytes(8).toString("hex")}`;
}

/** Live processes (not zombies) in the group or session that `leader` started, or marked with `id`. */
export function findRunProcesses(leader: number | undefined, id: string): number[] {
  const needle = Buffer.from(`\0${EXEC_ID_ENV}=${id}\0`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      // pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${e}/stat`, "latin1");
      const [state, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" || state === "X") continue;
      if (leader !== undefined && (Number(pgrp) === leader || Number(session) === leader)) {
        found.push(Number(e));
        continue;
      }
      // Only our own processes' (or, as root, everyone's) environments are readable; the rest throw.
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${e}/environ`)]);
      if (env.includes(needle)) found.push(Number(e));
    } catch {}
  }
  return found;
}

/**
 * SIGKILL the run's process group and every process findRunProcesses sees, until a sweep finds none that
 * was not killed already: one may fork between a sweep and its kill, but not once SIGKILL is pending (a
 * dying process still shows for a moment). Bounded, so a fork bomb cannot keep exec here.
 */
export function killRun(leader: number | undefined, id: string): void {
  const killed = new Set<number>();
  for (let round = 0; round < 50; round++) {
    if (leader) {
      try {
        process.kill(-leader, "SIGKILL");
      } catch {}
    }
    const left = findRunProcesses(leader, id).filter((pid) => !killed.has(pid));
    if (!left.length) return;
    for (const pid of left) {
      killed.add(pid);
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
}
