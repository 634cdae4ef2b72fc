// `--host-root DIR` and `--restart-command CMD`: shared by install, configure, check and
// uninstall (and the flags' help text, so every command explains them the same way).
import { hostRootAt, type HostRoot } from "../platform/os/host-root.ts";
import { expandPrefix } from "../platform/release/invocation.ts";
import type { OptionSpec, Parsed } from "./args.ts";
import { echoInput } from "../platform/os/echo-input.ts";
import { UsageError } from "../platform/os/errors.ts";

export const HOST_ROOT_OPTIONS: OptionSpec = {
  "host-root": { type: "string" },
  "restart-command": { type: "string" },
};

/** The two options' help, aligned to the command's description column. */
export function hostRootHelp(col: number): string {
  const opt = (flag: string, lines: string[]) => {
    const pad = " ".repeat(col);
    const head = `  ${flag}`;
    return head.length < col
      ? [head.padEnd(col) + lines[0], ...lines.slice(1).map((l) => pad + l)]
      : [head, ...lines.map((l) => pad + l)];
  };
  return [
    ...opt("--host-root DIR", [
      "Operate on the node whose / is mounted at DIR (a Kubernetes pod's",
      "/host): files under DIR, the node's daemons (hostPID), its containerd",
      "and CRI-O configs; every path shown is the node's",
    ]),
    ...opt("--restart-command CMD", [
      "With --host-root: how to restart the engine on the node (default:",
      "nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl",
      "restart <unit>, when the pod has hostPID); run without a shell",
    ]),
  ].join("\n");
}

/**
 * Split a command line into words the way a POSIX shell would for plain words and
 * quotes (no expansion, no operators): it is run as an argument array, never by a shell.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`--restart-command: unterminated ' in "${echoInput(line)}"`);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new UsageError(`--restart-command: unterminated " in \"${echoInput(line)}\"`);
      i = j;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export interface HostRootFlags {
  root: HostRoot;
  restartCommand: string[] | null;
}

export function hostRootFlags(p: Pick<Parsed, "values">): HostRootFlags {
  const root = hostRootAt(p.values["host-root"] as string | undefined);
  const rc = p.values["restart-command"] as string | undefined;
  if (rc !== undefined && !root.foreign)
    throw new UsageError(
      "--restart-command applies to --host-root",
      "on the node itself gvisor-doctor restarts engines through systemd or by their pid (--restart)",
    );
  const restartCommand = rc === undefined ? null : splitCommandLine(rc);
  if (restartCommand && !restartCommand.length) throw new UsageError("--restart-command is empty");
  return { root, restartCommand };
}

/**
 * --prefix of install, rollback and uninstall: `host` as the node names it (shown, and
 * compared with runtime paths in configs), `local` where this process reaches it.
 */
export function prefixFlag(
  p: Pick<Parsed, "values">,
  root: HostRoot,
  env: NodeJS.ProcessEnv,
): { host: string; local: string } {
  const asked = (p.values.prefix as string | undefined) ?? "/usr/local";
  if (!root.foreign) {
    const local = expandPrefix(asked, env);
    return { host: local, local };
  }
  if (!asked.startsWith("/"))
    throw new UsageError(
      `--prefix ${echoInput(asked)}: with --host-root, give the node's absolute path (e.g. /usr/local)`,
    );
  return { host: asked, local: root.local(asked) };
}
