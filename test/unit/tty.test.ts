// makeIO asks isatty of stdin/stdout/stderr at every start. src/ui/tty.ts answers for pipes, files
// and /dev/null from fstat (node:tty costs ~5 ms to load); its answers are isatty's.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isatty } from "node:tty";
import { isattys, mayBeTTY } from "../../src/ui/tty.ts";

test("a file, /dev/null, a pipe and a closed descriptor are no terminal, told without node:tty", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gvd-tty-"));
  const fds = [openSync(join(dir, "f"), "w"), openSync("/dev/null", "r")];
  try {
    for (const fd of fds) expect(mayBeTTY(fd)).toBe(false);
    expect(mayBeTTY(987)).toBe(false);
    expect(await isattys([...fds, 987])).toEqual([...fds, 987].map((fd) => isatty(fd)));
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  // stdin, stdout and stderr of a child: three pipes.
  const code = `const { isattys, mayBeTTY } = await import(${JSON.stringify(join(import.meta.dirname, "../../src/ui/tty.ts"))});
    console.log(JSON.stringify([[0, 1, 2].map(mayBeTTY), await isattys([0, 1, 2])]));`;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  expect(JSON.parse(r.stdout)).toEqual([
    [false, false, false],
    [false, false, false],
  ]);
});

test.skipIf(spawnSync("script", ["--version"]).status !== 0)("a terminal (a pty from script(1)) is one", () => {
  const code = `const { isattys } = await import(${JSON.stringify(join(import.meta.dirname, "../../src/ui/tty.ts"))});
    console.log("ttys=" + JSON.stringify(await isattys([0, 1, 2])));`;
  const r = spawnSync("script", ["-qec", `${process.execPath} -e '${code}'`, "/dev/null"], {
    encoding: "utf8",
    input: "",
  });
  expect(r.stdout).toContain("ttys=[true,true,true]");
});
