// Color policy: --no-color and NO_COLOR turn color off, FORCE_COLOR forces it,
// otherwise only a TTY gets color. chalk ignores NO_COLOR, so the decision is ours.
import { Chalk, type ChalkInstance } from "chalk";

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

export function makeChalk(level: 0 | 1 | 2 | 3): ChalkInstance {
  return new Chalk({ level });
}
