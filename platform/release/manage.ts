// rollback and uninstall of what `install` put under a prefix. Both hold the install
// lock, trust only state.json and the links that point into <prefix>/lib/gvisor, and
// never touch a file this tool did not create.
import { existsSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { ActionError } from "../os/errors.ts";
import { removeStaleTemps } from "../os/fsutil.ts";
import { LockBusyError, withLock } from "../os/flock.ts";
import { lockWaitMs } from "./hooks.ts";
import {
  activate,
  layoutFor,
  linkStatus,
  liveDir,
  previousDir,
  readState,
  removeStaleStaging,
  removeVersionDir,
  writeProblems,
  writeState,
  type Layout,
} from "./layout.ts";

export interface ManageOptions {
  prefix: string;
  dryRun: boolean;
  env: NodeJS.ProcessEnv;
  root: boolean;
  sudoCommand: string;
  onWait?: (holder: number | null) => void;
}

export interface RollbackResult {
  action: "rolled-back" | "would-roll-back";
  from: string | null;
  to: string;
  runscVersion: string | null;
  layout: Layout;
  warnings: string[];
}

export interface UninstallResult {
  action: "uninstalled" | "would-uninstall" | "nothing-installed";
  removed: string[];
  restored: string[];
  layout: Layout;
}

function requireWritable(l: Layout, o: ManageOptions, verb: string): void {
  const w = writeProblems(l);
  if (!w.length) return;
  const dirs = w.map((p) => p.dir).join(", ");
  throw new ActionError(
    `cannot ${verb} in ${l.prefix}: ${dirs} is ${w[0].kind === "read-only" ? "on a read-only file system" : "not writable"}${o.root ? "" : " (you are not root)"}`,
    o.root ? undefined : `run it as root:\n  ${o.sudoCommand}`,
  );
}

async function locked<T>(l: Layout, o: ManageOptions, fn: () => T): Promise<T> {
  try {
    return await withLock(l.lock, fn, lockWaitMs(o.env), o.onWait);
  } catch (e) {
    if (e instanceof LockBusyError)
      throw new ActionError(`${e.message}; an install is running`, `wait for it to finish, then run the command again`);
    throw e;
  }
}

export async function rollback(o: ManageOptions): Promise<RollbackResult> {
  const l = layoutFor(o.prefix);
  const plan = () => {
    const state = readState(l);
    const live = liveDir(l);
    if (!live && !Object.keys(state.versions).length)
      throw new ActionError(
        `gvisor-doctor has not installed gVisor in ${l.prefix} (no ${l.current})`,
        `install it: gvisor-doctor install --prefix ${l.prefix}`,
      );
    const prev = previousDir(l, state, live);
    if (!prev)
      throw new ActionError(
        `no previous version to roll back to in ${l.root} (only ${live ?? "nothing"} is installed)`,
        "install another version with: gvisor-doctor install --version <version>",
      );
    return { state, live, prev };
  };
  if (o.dryRun) {
    const { state, live, prev } = plan();
    return {
      action: "would-roll-back",
      from: live,
      to: prev,
      runscVersion: state.versions[prev]?.runscVersion ?? null,
      layout: l,
      warnings: [],
    };
  }
  if (!existsSync(l.root)) plan();
  requireWritable(l, o, "roll back");
  return locked(l, o, () => {
    const { state, live, prev } = plan();
    const foreign = activate(l, prev);
    state.history.push(prev);
    writeState(l, state);
    const warnings = foreign.map(
      (p) => `${p} is not a gvisor-doctor link and was left alone: it does not follow the rollback`,
    );
    return {
      action: "rolled-back" as const,
      from: live,
      to: prev,
      runscVersion: state.versions[prev]?.runscVersion ?? null,
      layout: l,
      warnings,
    };
  });
}

export async function uninstall(o: ManageOptions): Promise<UninstallResult> {
  const l = layoutFor(o.prefix);
  const survey = () => {
    const state = readState(l);
    const removed: string[] = [];
    const restored: string[] = [];
    for (const k of l.links) if (linkStatus(k) === "ours") removed.push(k.path);
    for (const r of state.replaced) if (existsSync(r.backup)) restored.push(r.path);
    if (existsSync(l.current)) removed.push(l.current);
    for (const d of Object.keys(state.versions)) if (existsSync(join(l.root, d))) removed.push(join(l.root, d));
    if (existsSync(l.state)) removed.push(l.state);
    return { state, removed, restored };
  };
  const first = survey();
  if (!first.removed.length && !first.restored.length)
    return { action: "nothing-installed", removed: [], restored: [], layout: l };
  if (o.dryRun) return { action: "would-uninstall", removed: first.removed, restored: first.restored, layout: l };
  requireWritable(l, o, "uninstall");
  const { state, removed, restored } = await locked(l, o, () => {
    const s = survey();
    for (const k of l.links) if (linkStatus(k) === "ours") rmSync(k.path, { force: true });
    for (const r of s.state.replaced) {
      if (existsSync(r.backup) && !existsSync(r.path)) renameSync(r.backup, r.path);
    }
    rmSync(l.current, { force: true });
    for (const d of Object.keys(s.state.versions)) removeVersionDir(l, d);
    removeStaleStaging(l);
    removeStaleTemps(l.state);
    rmSync(l.state, { force: true });
    return s;
  });
  // The lock file is gone now; remove the directories install created, deepest first, if empty.
  for (const d of [...state.created].sort((a, b) => b.length - a.length)) {
    try {
      if (existsSync(d) && readdirSync(d).length === 0) {
        rmdirSync(d);
        if (!removed.includes(d)) removed.push(d);
      }
    } catch {}
  }
  return { action: "uninstalled", removed, restored, layout: l };
}
