// dist/install.sh without a network: its shape (POSIX, everything in functions, shellcheck),
// and which release file it picks for a machine, told by stub `uname`/`ldd` and a cpuinfo file.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { INSTALL_SH, toolbox } from "../helpers/release.ts";

const has = (cmd: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd]).status === 0;
const SHELLS = [["dash"], ["busybox", "sh"]].filter(([c]) => has(c));
const text = readFileSync(INSTALL_SH, "utf8");
const tmp = mkdtempSync("/tmp/gvd-installsh-unit-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("install.sh is portable POSIX sh", () => {
  test.skipIf(!has("shellcheck"))("passes shellcheck -s sh with no findings", () => {
    const r = spawnSync("shellcheck", ["-s", "sh", INSTALL_SH], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("parses under dash, busybox sh and bash --posix", () => {
    for (const sh of [["dash"], ["busybox", "sh"], ["bash", "--posix"]].filter(([c]) => has(c))) {
      const r = spawnSync(sh[0], [...sh.slice(1), "-n", INSTALL_SH], { encoding: "utf8" });
      expect({ sh: sh.join(" "), status: r.status, stderr: r.stderr }).toEqual({
        sh: sh.join(" "),
        status: 0,
        stderr: "",
      });
    }
  });

  test("defines functions only; the one call is the last line, braced so that no prefix of it runs", () => {
    const topLevel = text.split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith(" ") && l !== "}");
    const strays = topLevel.filter((l) => !/^[a-z_0-9]+\(\) \{( .*\})?$/.test(l) && l !== '{ main "$@"; }');
    expect(strays).toEqual([]);
    expect(text.trimEnd().split("\n").at(-1)).toBe('{ main "$@"; }');
    expect(topLevel.filter((l) => l.includes('main "$@"'))).toHaveLength(1);
    expect(text).toMatch(/\nmain\(\) \{\n  set -eu\n/);
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
  });

  test("every option is a GVISOR_DOCTOR_* environment variable, each documented in the header", () => {
    const header = text.slice(0, text.indexOf("set -eu"));
    const used = new Set(text.match(/GVISOR_DOCTOR_[A-Z_]+/g));
    used.delete("GVISOR_DOCTOR_CPUINFO"); // a test hook, documented in docs/distribution.md
    for (const v of used) expect(header).toContain(v);
  });
});

// --- target selection --------------------------------------------------------------------------

const stubs = join(tmp, "stubs");
toolbox(stubs, {
  scripts: {
    uname: `#!/bin/sh\ncase "$1" in -m) echo "$STUB_M" ;; -r) echo "$STUB_R" ;; *) echo "$STUB_S" ;; esac\n`,
    // glibc's ldd answers on stdout with exit 0; musl's on stderr with exit 1.
    ldd: `#!/bin/sh\ncase "$STUB_LDD" in *musl*) echo "$STUB_LDD" >&2; exit 1 ;; *) echo "$STUB_LDD" ;; esac\n`,
  },
});
const noLdd = toolbox(join(tmp, "no-ldd"), {
  exclude: ["ldd"],
  scripts: { uname: readFileSync(join(stubs, "uname"), "utf8") },
});
const AVX2 = join(tmp, "cpuinfo-avx2");
const NO_AVX2 = join(tmp, "cpuinfo-old");
writeFileSync(
  AVX2,
  "processor\t: 0\nflags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx avx2 bmi2\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n",
);
writeFileSync(NO_AVX2, "processor\t: 0\nflags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 popcnt\n");
const GLIBC = "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36";
const MUSL = "musl libc (x86_64)\nVersion 1.2.5";

interface Machine {
  s?: string;
  m: string;
  r?: string;
  ldd?: string;
  cpuinfo?: string;
  path?: string;
  env?: Record<string, string>;
}

// Debian's busybox sh runs its own `uname` applet before anything on PATH, so a stub uname only
// works under dash: machines that differ from this one in `uname` are simulated there.
const HOST_M = spawnSync("uname", ["-m"], { encoding: "utf8" }).stdout.trim();
const unameStubbable = (sh: readonly string[], mc: Machine) =>
  sh[0] !== "busybox" || ((mc.s ?? "Linux") === "Linux" && mc.m === HOST_M && !mc.r);

function print(sh: string[], mc: Machine) {
  const env: Record<string, string> = {
    PATH: mc.path ?? stubs,
    STUB_S: mc.s ?? "Linux",
    STUB_M: mc.m,
    STUB_R: mc.r ?? "6.1.0-18-amd64",
    STUB_LDD: mc.ldd ?? GLIBC,
    GVISOR_DOCTOR_CPUINFO: mc.cpuinfo ?? AVX2,
    GVISOR_DOCTOR_PRINT: "target",
    ...mc.env,
  };
  const r = spawnSync(sh[0], [...sh.slice(1), INSTALL_SH], { env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe.each(SHELLS.map((s) => [s.join(" "), s] as const))("target selection under %s", (_name, sh) => {
  const cases: [string, Machine, string][] = [
    ["x86_64, glibc, AVX2", { m: "x86_64" }, "gvisor-doctor-linux-x64"],
    ["x86_64, glibc, no AVX2 (old CPU, QEMU)", { m: "x86_64", cpuinfo: NO_AVX2 }, "gvisor-doctor-linux-x64-baseline"],
    [
      "x86_64, cpuinfo unreadable → baseline, which runs everywhere",
      { m: "x86_64", cpuinfo: "/nonexistent/cpuinfo" },
      "gvisor-doctor-linux-x64-baseline",
    ],
    ["x86_64, musl, AVX2", { m: "x86_64", ldd: MUSL }, "gvisor-doctor-linux-x64-musl"],
    ["x86_64, musl, no AVX2", { m: "x86_64", ldd: MUSL, cpuinfo: NO_AVX2 }, "gvisor-doctor-linux-x64-musl-baseline"],
    ["amd64 spelling", { m: "amd64" }, "gvisor-doctor-linux-x64"],
    [
      "aarch64, glibc (no baseline builds for arm64, whatever cpuinfo says)",
      { m: "aarch64", cpuinfo: NO_AVX2 },
      "gvisor-doctor-linux-arm64",
    ],
    ["arm64 spelling, musl", { m: "arm64", ldd: "musl libc (aarch64)" }, "gvisor-doctor-linux-arm64-musl"],
    ["no ldd: glibc told by getconf", { m: "x86_64", path: noLdd }, "gvisor-doctor-linux-x64"],
    [
      "WSL 2 still installs (with a warning)",
      { m: "x86_64", r: "5.15.153.1-microsoft-standard-WSL2" },
      "gvisor-doctor-linux-x64",
    ],
    [
      "GVISOR_DOCTOR_TARGET overrides the detection",
      { m: "x86_64", env: { GVISOR_DOCTOR_TARGET: "linux-arm64-musl" } },
      "gvisor-doctor-linux-arm64-musl",
    ],
  ];
  test.each(cases.filter(([, mc]) => unameStubbable(sh, mc)))("%s", (_title, mc, want) => {
    const r = print(sh, mc);
    expect(r).toMatchObject({ code: 0, stdout: want });
  });

  const wsl2: Machine = { m: "x86_64", r: "5.15.153.1-microsoft-standard-WSL2" };
  test.each([wsl2].filter((mc) => unameStubbable(sh, mc)))(
    "WSL 2: the warning names the upstream failure, on stderr",
    (mc) => {
      const r = print(sh, mc);
      expect(r.stderr).toContain("warn: WSL 2");
      expect(r.stderr).toContain("failed to create a syscall thread");
    },
  );

  const refusals: [string, Machine, RegExp][] = [
    [
      "32-bit ARM is refused, never guessed",
      { m: "armv7l" },
      /unsupported CPU architecture 'armv7l': gVisor and gvisor-doctor exist for x86_64 and aarch64 only/,
    ],
    ["i686 is refused", { m: "i686" }, /unsupported CPU architecture 'i686'/],
    [
      "macOS: explains that gVisor runs inside the Linux VM and how to get there",
      { s: "Darwin", m: "arm64" },
      /cannot run on macOS itself[\s\S]*colima ssh[\s\S]*limactl shell[\s\S]*podman machine ssh[\s\S]*Docker Desktop/,
    ],
    [
      "Windows (Git Bash/MSYS): points to a Linux VM or WSL 2",
      { s: "MINGW64_NT-10.0-19045", m: "x86_64" },
      /cannot run on Windows itself[\s\S]*WSL 2/,
    ],
    [
      "WSL 1 has no Linux kernel",
      { m: "x86_64", r: "4.4.0-19041-Microsoft" },
      /this is WSL 1 \(4\.4\.0-19041-Microsoft\)[\s\S]*wsl --set-version/,
    ],
    ["FreeBSD is refused", { s: "FreeBSD", m: "amd64" }, /unsupported operating system 'FreeBSD'/],
    [
      "an unknown GVISOR_DOCTOR_TARGET is refused with the list",
      { m: "x86_64", env: { GVISOR_DOCTOR_TARGET: "linux-riscv64" } },
      /GVISOR_DOCTOR_TARGET=linux-riscv64 is not a release target; use linux-x64, linux-x64-baseline, linux-arm64/,
    ],
    [
      "an unknown print mode is refused",
      { m: "x86_64", env: { GVISOR_DOCTOR_PRINT: "arch" } },
      /GVISOR_DOCTOR_PRINT=arch is not known/,
    ],
  ];
  test.each(refusals.filter(([, mc]) => unameStubbable(sh, mc)))("%s", (_title, mc, message) => {
    const r = print(sh, mc);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });
});

// --- functions on their own: the script without its last line (`{ main "$@"; }`) defines them only ---

const functionsOnly = text.split("\n").slice(0, -2).join("\n");
/** Run `body` after install.sh's function definitions, in `sh`; stderr carries say/warn/die. */
const withFunctions = (sh: string[], body: string, env: Record<string, string> = {}) =>
  spawnSync(sh[0], [...sh.slice(1), "-s"], {
    input: `${functionsOnly}\n${body}\n`,
    encoding: "utf8",
    env: { PATH: process.env.PATH!, ...env },
  });

describe.each(SHELLS.map((s) => [s.join(" "), s] as const))("under %s", (_name, sh) => {
  test.each([
    ["a $ and a space", "/home/a$x b/.local/bin"],
    ["a single quote", "/home/o'brien/.local/bin"],
    ["a double quote, a backquote and a backslash", '/home/q"`\\z/.local/bin'],
    ["nothing special (the familiar form)", "/home/plain/.local/bin"],
  ])("the PATH hint for a directory with %s works when pasted", (_what, dir) => {
    const hint = 'GVD_BIN=gvisor-doctor; _dest="$_dir/gvisor-doctor"; path_hint';
    const r = withFunctions(sh, hint, { _dir: dir, PATH: "/usr/bin:/bin" });
    expect(r.status).toBe(0);
    const lines = r.stderr.split("\n").map((l) => l.trim());
    const exportLine = lines.find((l) => l.startsWith("export PATH="))!;
    const profileLine = lines.find((l) => l.endsWith(">> ~/.profile"))!;
    const home = mkdtempSync(join(tmp, "home-"));
    // Pasted into a shell: PATH starts with the directory, exactly.
    const shell = (script: string, env: Record<string, string>) =>
      spawnSync(sh[0], [...sh.slice(1), "-c", script], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", ...env } });
    const pasted = shell(`${exportLine}\nprintf '%s' "$PATH"`, {});
    expect(pasted.stdout).toBe(`${dir}:/usr/bin:/bin`);
    // The ~/.profile line writes a line that does the same at the next login.
    const saved = shell(`${profileLine}\n. "$HOME/.profile"\nprintf '%s' "$PATH"`, { HOME: home });
    expect(saved.stdout).toBe(`${dir}:/usr/bin:/bin`);
    if (!/[^A-Za-z0-9/._-]/.test(dir)) expect(exportLine).toBe(`export PATH="${dir}:$PATH"`);
  });

  test("SHA512SUMS with upper-case hex and CRLF line ends verifies, as with `sha512sum -c`", () => {
    const d = mkdtempSync(join(tmp, "sums-"));
    writeFileSync(join(d, "gvisor-doctor-linux-x64"), "the binary\n");
    const sum = spawnSync("sha512sum", [join(d, "gvisor-doctor-linux-x64")], { encoding: "utf8" }).stdout.split(" ")[0];
    const sums = `${"0".repeat(128)}  other\r\n${sum.toUpperCase()}  gvisor-doctor-linux-x64\r\n`;
    writeFileSync(join(d, "SHA512SUMS"), sums);
    const check = spawnSync("sha512sum", ["-c", "--ignore-missing", "SHA512SUMS"], { cwd: d, encoding: "utf8" });
    expect(check.stdout).toContain("gvisor-doctor-linux-x64: OK");
    const setup = `_tmp=${d}; _base=test; _hasher=sha512sum; _sums=$(cat ${d}/SHA512SUMS)`;
    const r = withFunctions(sh, `${setup}; verify gvisor-doctor-linux-x64 && echo verified`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("verified\n");
  });

  test("a wrong hash in upper case is still a mismatch", () => {
    const d = mkdtempSync(join(tmp, "sums-"));
    writeFileSync(join(d, "f"), "the binary\n");
    const r = withFunctions(sh, `_tmp=${d}; _base=test; _hasher=sha512sum; _sums='${"AB".repeat(64)}  f'; verify f`);
    expect(r.stderr).toContain(`checksum mismatch for f from test: expected ${"ab".repeat(64)}`);
    expect(r.status).toBe(1);
  });
});
