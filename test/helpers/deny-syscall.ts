// Build test/helpers/deny-syscall.c once per process (gcc or musl-gcc): a real seccomp filter that
// refuses chosen system calls to a command, for faults this kernel cannot be given otherwise.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { which } from "../../platform/os/which.ts";

let built: string | null | undefined;

/** Path of the deny-syscall tool, or null (no compiler, not root, or not x86_64/aarch64). */
export function denySyscallTool(): string | null {
  if (built !== undefined) return built;
  built = null;
  if (process.getuid?.() !== 0) return built;
  const cc = which("gcc") ? "gcc" : which("musl-gcc") ? "musl-gcc" : null;
  if (!cc) return built;
  const dir = mkdtempSync(join(tmpdir(), "gvd-deny-"));
  chmodSync(dir, 0o755); // runsc re-executes itself as nobody: the tool's dir must stay reachable
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "deny-syscall");
  const r = spawnSync(cc, ["-O2", "-Wall", "-Werror", "-o", out, join(import.meta.dir, "deny-syscall.c")]);
  if (r.status === 0) built = out;
  return built;
}
