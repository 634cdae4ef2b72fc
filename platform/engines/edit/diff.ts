// Unified diffs of a plan, for --dry-run and -v: `--- a` / `+++ b` per file, /dev/null
// for created and deleted files, 3 lines of context.
import { createTwoFilesPatch } from "diff";
import type { FileChange } from "../types.ts";

export function fileDiff(c: FileChange): string {
  const oldName = c.before === null ? "/dev/null" : c.path;
  const newName = c.after === null ? "/dev/null" : c.path;
  const patch = createTwoFilesPatch(oldName, newName, c.before ?? "", c.after ?? "", "", "", { context: 3 });
  // Drop the "Index:" and "=====" banner lines; keep the ---/+++ headers without trailing tabs.
  const lines = patch.split("\n");
  let start = 0;
  while (start < lines.length && (lines[start].startsWith("Index: ") || /^=+$/.test(lines[start]))) start++;
  return lines
    .slice(start)
    .map((l) => (l.startsWith("--- ") || l.startsWith("+++ ") ? l.replace(/\t$/, "") : l))
    .join("\n");
}

export function planDiff(changes: FileChange[]): string {
  return changes.map(fileDiff).join("");
}
