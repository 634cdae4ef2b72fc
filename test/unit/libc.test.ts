// Which libc the host runs: the one its own shell loads. musl-tools on a glibc host puts
// /lib/ld-musl-*.so.1 there too, which once made host.platform say "(musl)" on Debian.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectLibc } from "../../platform/facts/host-facts.ts";
import { hostRootAt } from "../../platform/os/host-root.ts";
import { readElf } from "../../platform/os/elf.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
/** A node tree with a glibc /bin/sh (this machine's) and musl's loader in /lib, as musl-tools leaves it. */
function tree(link: "relative" | "absolute"): string {
  const d = mkdtempSync(join(tmpdir(), "gvd-libc-"));
  dirs.push(d);
  for (const p of ["bin", "etc", "lib"]) mkdirSync(join(d, p));
  writeFileSync(join(d, "lib/ld-musl-x86_64.so.1"), "");
  copyFileSync("/bin/dash", join(d, "bin/gvd-test-sh")); // absent from this machine's /bin: a link that escaped fails
  symlinkSync(link === "relative" ? "gvd-test-sh" : "/bin/gvd-test-sh", join(d, "bin/sh"));
  return d;
}

test.skipIf(!readElf("/bin/dash")?.interpreter?.includes("ld-linux"))(
  "a glibc host with musl's loader in /lib is glibc (its shell says so), also behind an absolute link",
  () => {
    expect(detectLibc(hostRootAt(tree("relative")))).toBe("glibc");
    expect(detectLibc(hostRootAt(tree("absolute")))).toBe("glibc");
  },
);

test("without a shell to read, musl's loader in /lib still says musl", () => {
  const d = mkdtempSync(join(tmpdir(), "gvd-libc-"));
  dirs.push(d);
  for (const p of ["etc", "lib"]) mkdirSync(join(d, p));
  writeFileSync(join(d, "lib/ld-musl-x86_64.so.1"), "");
  expect(detectLibc(hostRootAt(d))).toBe("musl");
});
