// What a test may compare on this machine: the state of host paths before and after, never
// an assumption that they are blank. A machine where gvisor-doctor was used (its engines
// registered, a release in /usr/local, its drop-ins present) must pass the suite too.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** Path → "absent", "dir MODE", "-> target" or "MODE sha256" for each path and everything under it. */
export function hostState(paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      out[p] = "absent";
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[p] = `-> ${readlinkSync(p)}`;
    else if (st.isDirectory()) {
      out[p] = `dir ${mode}`;
      for (const n of readdirSync(p).sort()) walk(join(p, n));
    } else if (st.isFile()) out[p] = `${mode} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
    else out[p] = `special ${mode}`;
  };
  for (const p of paths) walk(p);
  return out;
}
