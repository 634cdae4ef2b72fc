// Color policy: --no-color and NO_COLOR turn color off, FORCE_COLOR forces it,
// otherwise only a TTY gets color. chalk ignores NO_COLOR, so the decision is ours.
// Without color (pipes, NO_COLOR: every container entrypoint) chalk is not even loaded: its
// import costs ~5 ms of a ~20 ms start (bench/startup.ts).
import type { ChalkInstance } from "chalk";

export function colorLevel(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColorFlag: boolean): 0 | 1 | 2 | 3 {
  if (noColorFlag) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") {
    if (force === "0" || force === "false") return 0;
    const n = Number(force);
    return n >= 1 && n <= 3 ? (n as 1 | 2 | 3) : 1;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return 0;
  if (!stream.isTTY || env.TERM === "dumb") return 0;
  return env.COLORTERM === "truecolor" || env.COLORTERM === "24bit" ? 3 : 2;
}

/**
 * chalk at level 0 without chalk: every style (chained too: c.bold.red) returns its text.
 * Not a thenable (no `then`), so a promise can resolve to it; symbols are left alone.
 */
export const PLAIN: ChalkInstance = new Proxy(function plain() {} as unknown as ChalkInstance, {
  get: (_t, key) => (key === "level" ? 0 : key === "then" || typeof key === "symbol" ? undefined : PLAIN),
  apply: (_t, _this, args: unknown[]) => args.join(" "),
});

export async function makeChalk(level: 0 | 1 | 2 | 3): Promise<ChalkInstance> {
  if (level === 0) return PLAIN;
  const { Chalk } = await import("chalk");
  return new Chalk({ level });
}
