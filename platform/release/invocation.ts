// How the installer commands name themselves in advice: the exact command to re-run
// under sudo (keeping the proxy and mirror variables sudo would drop), the same
// install into ~/.local, and `--prefix ~/...` expansion when no shell did it.
import { homedir } from "node:os";
import { resolve } from "node:path";
import { shellQuote } from "../os/shell.ts";

const KEEP_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "GVISOR_MIRROR"];

/** `~`/`~/x` → home directory (for `--prefix=~/.local`, which shells leave alone). */
export function expandPrefix(p: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (p === "~") return home;
  if (p.startsWith("~/")) return resolve(home, p.slice(2));
  return resolve(p);
}

/** This program as the user would type it again: the compiled binary, or runtime + script. */
export function selfCommand(argv = process.argv, execPath = process.execPath): string[] {
  const script = argv[1] ?? "";
  if (!script || script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/")) return [execPath];
  const g = globalThis as { Deno?: unknown };
  if (g.Deno !== undefined) return [execPath, "run", "-A", script];
  return [execPath, script];
}

/** `sudo [--preserve-env=…] <self> <args>` with the arguments of this run. */
export function sudoCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  argv = process.argv,
  execPath = process.execPath,
): string {
  const keep = KEEP_ENV.filter((k) => env[k]);
  const parts = [
    "sudo",
    ...(keep.length ? [`--preserve-env=${keep.join(",")}`] : []),
    ...selfCommand(argv, execPath),
    ...args,
  ];
  return parts.map(shellQuote).join(" ");
}

/** The same command with `--prefix ~/.local` instead of any --prefix. */
export function userPrefixCommand(args: string[], argv = process.argv, execPath = process.execPath): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--prefix") {
      i++;
      continue;
    }
    if (args[i].startsWith("--prefix=")) continue;
    out.push(args[i]);
  }
  return [...selfCommand(argv, execPath), ...out, "--prefix", "~/.local"]
    .map((s) => (s === "~/.local" ? s : shellQuote(s)))
    .join(" ");
}
