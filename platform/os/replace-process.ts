// Hand the process over to another program: execve(2) where the runtime offers it
// (Bun, Node ≥ 23.11), so the program keeps our PID (PID 1 in a container) and gets
// signals directly; elsewhere (Deno) a child with inherited stdio, signals forwarded,
// and its exit status passed through.
import { which } from "./which.ts";

export class CommandNotFoundError extends Error {}

/** Never returns normally when execve is available; otherwise resolves with the exit code to use. */
export async function replaceProcess(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const file = which(argv[0], env.PATH ?? "");
  if (!file) throw new CommandNotFoundError(`${argv[0]}: command not found (PATH=${env.PATH ?? ""})`);
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never })
    .execve;
  if (typeof execve === "function") execve(file, argv, env);
  // Only here, without execve: the preflight that hands over with execve never loads node:child_process.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = spawn(file, argv.slice(1), { stdio: "inherit", env, argv0: argv[0] });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const sigs: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
    const handlers = sigs.map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    child.on("exit", (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      // Shell convention for death by signal: 128 + signal number.
      const signo: Record<string, number> = {
        SIGHUP: 1,
        SIGINT: 2,
        SIGQUIT: 3,
        SIGKILL: 9,
        SIGUSR1: 10,
        SIGUSR2: 12,
        SIGTERM: 15,
      };
      resolve(code ?? 128 + (signo[signal ?? ""] ?? 1));
    });
    child.on("error", () => resolve(127));
  });
}
