// isatty for every start of the binary without loading node:tty where the answer is already
// known: node:tty costs ~5 ms of CPU to load in the compiled binary (more than the rest of
// `preflight`), while a pipe, a file, a socket or /dev/null (a container's stdout, a script's
// redirect) is never a terminal, and one fstat says so. Only another character device asks isatty.
import { fstatSync, statSync } from "node:fs";

/** isatty(fd) for each of `fds`. */
export async function isattys(fds: number[]): Promise<boolean[]> {
  const maybe = fds.map(mayBeTTY);
  if (!maybe.includes(true)) return fds.map(() => false);
  const { isatty } = await import("node:tty");
  return fds.map((fd, i) => maybe[i] && isatty(fd));
}

let devNull: number | null | undefined;

/** False when fstat proves fd is no terminal (a terminal is a character device, and not /dev/null). */
export function mayBeTTY(fd: number): boolean {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return false; // not an open descriptor: isatty says false too
  }
  if (!st.isCharacterDevice()) return false;
  if (devNull === undefined) {
    try {
      devNull = statSync("/dev/null").rdev;
    } catch {
      devNull = null;
    }
  }
  return st.rdev !== devNull;
}
