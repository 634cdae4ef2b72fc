// The documented one-liner, end to end: dist/install.sh and a release laid out like the real
// one, served over real HTTP on 127.0.0.1, fetched by curl or wget and piped into dash or
// busybox sh, as root and as nobody. "Nothing installed" means: no binary, no temporary
// directory left, and the downloaded program never ran.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { BINARY } from "../helpers/cli.ts";
import { selfSignedCert } from "../helpers/fake-bucket.ts";
import {
  DEFAULT_BASE,
  FAKE_VERSION,
  GVD_REPO,
  INSTALL_SH,
  NOBODY,
  cleanEnv,
  fakeDoctor,
  hostAsset,
  makeRelease,
  oneLiner,
  runShell,
  serveDir,
  startProxy,
  stdinLoggingWrapper,
  toolbox,
  type Served,
} from "../helpers/release.ts";

const has = (cmd: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd]).status === 0;
const ROOT_USER = process.getuid?.() === 0;
const MISSING = ["dash", "busybox", "curl", "wget", "gzip", "sha512sum"].filter((c) => !has(c));
if (MISSING.length)
  console.warn(`[installsh] tests skipped: missing ${MISSING.join(", ")} (test/bed/setup.sh installs them)`);
if (!ROOT_USER) console.warn("[installsh] root-only tests skipped (nobody via setpriv, private mount namespaces)");

// The compressed copy install.sh fetches on this machine: .xz when xz is installed, else .gz.
const PACKED = has("xz") ? "xz" : "gz";
const PACKER = PACKED === "xz" ? "xz" : "gzip";

const realVersion = () =>
  spawnSync(BINARY, ["--version"], { encoding: "utf8" })
    .stdout.trim()
    .replace(/^gvisor-doctor /, "");

describe.skipIf(MISSING.length > 0)("install.sh end to end", () => {
  let tmp: string;
  let asset: string;
  let real: Served; // a release holding the real compiled gvisor-doctor
  let fake: Served; // the same release shape with a logging stand-in binary
  let fakeDir: string;
  let log: string; // the stand-in's (and the wrappers') log
  let n = 0;

  /** A fresh directory (owned by nobody when asked). */
  const fresh = (name: string, owner?: number) => {
    const d = join(tmp, `${name}-${++n}`);
    mkdirSync(d, { recursive: true });
    if (owner !== undefined) chownSync(d, owner, owner);
    return d;
  };
  const entries = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  const logLines = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
  /** Everything the stand-in binary was asked to do ("--version", "check --quick", …). */
  const doctorCalls = () =>
    logLines()
      .filter((l) => /^\d+\|/.test(l))
      .map((l) => l.split("|").slice(2).join("|"));

  beforeAll(async () => {
    tmp = mkdtempSync("/tmp/gvd-installsh-");
    chmodSync(tmp, 0o755); // nobody must reach its home and the log below
    asset = hostAsset();
    await makeRelease(join(tmp, "real"), { assets: [asset], binary: { path: BINARY }, version: realVersion() });
    fakeDir = join(tmp, "fake");
    await makeRelease(fakeDir, { assets: [asset], binary: { script: fakeDoctor() } });
    real = serveDir(join(tmp, "real"));
    fake = serveDir(fakeDir);
    log = join(tmp, "calls.log");
  }, 120_000);
  afterAll(() => {
    real?.close();
    fake?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => {
    real.reset();
    fake.reset();
    writeFileSync(log, "");
    chmodSync(log, 0o666);
  });

  const expectNothingInstalled = (dir: string) => {
    expect(entries(dir)).toEqual([]);
    expect(doctorCalls()).toEqual([]);
  };

  describe("the one-liner with the real gvisor-doctor", () => {
    test.skipIf(!ROOT_USER)(
      "root: `curl -fsSL …/install.sh | sh` installs to /usr/local/bin, runs `check --quick` and prints next steps",
      async () => {
        // /usr/local/bin is a bind mount of a scratch directory in a private mount namespace.
        const ulb = fresh("usr-local-bin");
        const r = await runShell(`mount --bind "$ULB" /usr/local/bin && ${oneLiner("curl", "sh")}`, [], {
          env: cleanEnv({ GVD_URL: real.url, GVISOR_DOCTOR_BASE: real.url, ULB: ulb }),
          wrap: ["unshare", "-m", "--propagation", "private"],
        });
        expect(r.stderr).toContain(`info: downloading ${asset}.${PACKED} from ${real.url}`);
        expect(r.stderr).toContain(`info: installed gvisor-doctor ${realVersion()} to /usr/local/bin/gvisor-doctor`);
        expect(r.stdout).toMatch(/✓ host\.platform +Linux/); // the quick check ran
        expect(r.stderr).toContain("Next steps:");
        expect(r.stderr).toContain("  gvisor-doctor install "); // root: no sudo in the advice
        expect(r.stderr).not.toContain("not on your PATH");
        expect(r.code).toBe(0);
        expect(entries(ulb)).toEqual(["gvisor-doctor"]); // no temporary directory left behind
        expect(readFileSync(join(ulb, "gvisor-doctor")).equals(readFileSync(BINARY))).toBe(true);
        expect(statSync(join(ulb, "gvisor-doctor")).mode & 0o777).toBe(0o755);
        // The .xz is preferred when xz exists (else the .gz); the raw file is never fetched.
        expect(real.requests).toEqual(["GET /install.sh", "GET /SHA512SUMS", `GET /${asset}.${PACKED}`]);
      },
    );

    // Without ldd or getconf the loaders decide: Debian's `musl` package adds /lib/ld-musl-* to a glibc
    // host, and the glibc build is still the one it needs (the second case adds that loader, by overlay).
    const MUSL_LOADER = `/usr/lib/ld-musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`;
    test.skipIf(!ROOT_USER).each(["as this host is", "with Debian's musl loader also present"])(
      "nobody: `wget -qO- … | busybox sh -s -- --version` on a busybox-only PATH installs to ~/.local/bin and passes the arguments (%s)",
      async (variant) => {
        const home = fresh("home", NOBODY);
        const path = toolbox(fresh("busybox-bin"), { busybox: true });
        const ovl = fresh("usr-lib-overlay");
        const withMusl = [
          "unshare",
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          `mkdir "$1/u" "$1/w" "$1/m" && ` +
            `mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$1/u,workdir=$1/w" "$1/m" && ` +
            `touch "$1/m/${MUSL_LOADER.slice("/usr/lib/".length)}" && mount --bind "$1/m" /usr/lib && shift && exec "$@"`,
          "sh",
          ovl,
        ];
        const r = await runShell(oneLiner("wget", "busybox sh"), ["--version"], {
          env: cleanEnv({ PATH: path, HOME: home, GVD_URL: real.url, GVISOR_DOCTOR_BASE: real.url }),
          user: "nobody",
          wrap: variant.startsWith("with") ? withMusl : undefined,
        });
        expect(r.stdout).toBe(`gvisor-doctor ${realVersion()}\n`); // stdout is gvisor-doctor's alone
        expect(r.stderr).toContain(
          `info: installed gvisor-doctor ${realVersion()} to ${home}/.local/bin/gvisor-doctor`,
        );
        expect(r.stderr).toContain(`${home}/.local/bin is not on your PATH`);
        expect(r.stderr).toContain(`export PATH="${home}/.local/bin:$PATH"`);
        expect(r.code).toBe(0);
        const st = statSync(join(home, ".local/bin/gvisor-doctor"));
        expect([st.uid, st.gid]).toEqual([NOBODY, NOBODY]);
        expect(entries(join(home, ".local/bin"))).toEqual(["gvisor-doctor"]);
      },
    );

    test.skipIf(!ROOT_USER)(
      "nobody: `curl … | sh -s -- check --json --quick` leaves stdout to gvisor-doctor: one JSON document",
      async () => {
        const home = fresh("home", NOBODY);
        const r = await runShell(oneLiner("curl", "dash"), ["check", "--json", "--quick"], {
          env: cleanEnv({ HOME: home, GVD_URL: real.url, GVISOR_DOCTOR_BASE: real.url }),
          user: "nobody",
        });
        const doc = JSON.parse(r.stdout);
        expect(doc.tool).toEqual({ name: "gvisor-doctor", version: realVersion() });
        expect(doc.host.user).toEqual({ uid: NOBODY, root: false, subIds: false });
        expect(r.stderr).toContain("info: installed gvisor-doctor");
        expect([0, 1]).toContain(r.code!); // check's own verdict on this host passes through
      },
    );

    test("root or not: with curl missing, GNU wget downloads (`wget -qO- … | dash`)", async () => {
      const dir = fresh("bin");
      const path = toolbox(fresh("no-curl"), { exclude: ["curl"] });
      const r = await runShell(oneLiner("wget", "dash"), ["--version"], {
        env: cleanEnv({ PATH: path, GVD_URL: real.url, GVISOR_DOCTOR_BASE: real.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
      });
      expect(r.stdout).toBe(`gvisor-doctor ${realVersion()}\n`);
      expect(r.code).toBe(0);
      expect(entries(dir)).toEqual(["gvisor-doctor"]);
    });

    test("`curl … | busybox sh`: busybox's own gzip and sha512sum verify and unpack", async () => {
      const dir = fresh("bin");
      const r = await runShell(oneLiner("curl", "busybox sh"), ["--version"], {
        env: cleanEnv({ GVD_URL: real.url, GVISOR_DOCTOR_BASE: real.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
      });
      expect(r.stdout).toBe(`gvisor-doctor ${realVersion()}\n`);
      expect(r.code).toBe(0);
      expect(readFileSync(join(dir, "gvisor-doctor")).equals(readFileSync(BINARY))).toBe(true);
    });
  });

  describe("arguments, exit codes and the quick check (stand-in binary)", () => {
    const install = (args: string[], extra: Record<string, string> = {}, shell: "dash" | "busybox sh" = "dash") => {
      const dir = fresh("bin");
      return runShell(oneLiner("curl", shell), args, {
        env: cleanEnv({
          GVD_URL: fake.url,
          GVISOR_DOCTOR_BASE: fake.url,
          GVISOR_DOCTOR_INSTALL_DIR: dir,
          GVD_FAKE_LOG: log,
          ...extra,
        }),
      }).then((r) => ({ ...r, dir }));
    };

    test.each(["dash", "busybox sh"] as const)(
      "arguments after `sh -s --` reach gvisor-doctor verbatim, and its exit code is the installer's (%s)",
      async (shell) => {
        const dir = fresh("bin");
        const r = await runShell(oneLiner("curl", shell), ["install", "--mirror", "/srv/a b", "--no-configure"], {
          env: cleanEnv({
            GVD_URL: fake.url,
            GVISOR_DOCTOR_BASE: fake.url,
            GVISOR_DOCTOR_INSTALL_DIR: dir,
            GVD_FAKE_LOG: log,
          }),
        });
        expect(doctorCalls()).toEqual(["--version", "--version", "install --mirror /srv/a b --no-configure"]);
        expect(r.stdout).toBe("fake gvisor-doctor ran: install --mirror /srv/a b --no-configure\n");
        expect(r.code).toBe(0);
      },
    );

    test("a failing command after install makes the one-liner fail with its exit code", async () => {
      const failing = fresh("fake-exit3");
      await makeRelease(failing, { assets: [asset], binary: { script: fakeDoctor({ exit: 3 }) } });
      const srv = serveDir(failing);
      try {
        const dir = fresh("bin");
        const r = await runShell(oneLiner("curl", "dash"), ["install"], {
          env: cleanEnv({ GVD_URL: srv.url, GVISOR_DOCTOR_BASE: srv.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
        });
        expect(r.code).toBe(3);
        expect(entries(dir)).toEqual(["gvisor-doctor"]); // installed; the command after it failed
      } finally {
        srv.close();
      }
    });

    test("without arguments: `check --quick` runs; when it finds problems the install still succeeds and says so", async () => {
      const failing = fresh("fake-check-fails");
      await makeRelease(failing, { assets: [asset], binary: { script: fakeDoctor({ exit: 1 }) } });
      const srv = serveDir(failing);
      try {
        const dir = fresh("bin");
        const r = await runShell(oneLiner("curl", "dash"), [], {
          env: cleanEnv({
            GVD_URL: srv.url,
            GVISOR_DOCTOR_BASE: srv.url,
            GVISOR_DOCTOR_INSTALL_DIR: dir,
            GVD_FAKE_LOG: log,
          }),
        });
        expect(doctorCalls()).toEqual(["--version", "--version", "check --quick"]);
        expect(r.stderr).toContain("the quick check above found things to fix (exit 1)");
        expect(r.stderr).toContain("Next steps:");
        expect(r.code).toBe(0);
      } finally {
        srv.close();
      }
    });

    test("every child reads /dev/null, never the piped script (stdin theft)", async () => {
      // Wrappers for the download, unpack and hash tools log what their stdin is; so does the stand-in.
      const path = toolbox(fresh("wrapped"), {
        scripts: {
          curl: stdinLoggingWrapper("curl", "/usr/bin/curl"),
          gzip: stdinLoggingWrapper("gzip", "/usr/bin/gzip"),
          sha512sum: stdinLoggingWrapper("sha512sum", "/usr/bin/sha512sum"),
          ...(has("xz") ? { xz: stdinLoggingWrapper("xz", "/usr/bin/xz") } : {}),
        },
      });
      const dir = fresh("bin");
      // The outer curl (fetching the script) is the real one, so its stdin is not logged.
      const r = await runShell(`/usr/bin/curl -fsSL "$GVD_URL/install.sh" | dash -s -- check`, [], {
        env: cleanEnv({
          PATH: path,
          GVD_URL: fake.url,
          GVISOR_DOCTOR_BASE: fake.url,
          GVISOR_DOCTOR_INSTALL_DIR: dir,
          GVD_FAKE_LOG: log,
        }),
      });
      expect(r.code).toBe(0);
      const lines = logLines();
      const who = lines.map((l) => l.split("|")[0].replace(/^\d+$/, "gvisor-doctor"));
      expect(new Set(who)).toEqual(new Set(["curl", PACKER, "sha512sum", "gvisor-doctor"]));
      for (const l of lines)
        expect(`${l.split("|")[0]} stdin=${l.split("|")[1]}`).toBe(`${l.split("|")[0]} stdin=/dev/null`);
    });

    test("reinstalling replaces the binary by rename (a new inode), and the new version answers", async () => {
      const v2 = fresh("fake-v2");
      await makeRelease(v2, { assets: [asset], binary: { script: fakeDoctor({ version: "9.9.10-fake" }) } });
      const srv = serveDir(v2);
      try {
        const dir = fresh("bin");
        const env = { GVISOR_DOCTOR_INSTALL_DIR: dir };
        expect(
          (
            await runShell(oneLiner("curl", "dash"), ["--version"], {
              env: cleanEnv({ ...env, GVD_URL: fake.url, GVISOR_DOCTOR_BASE: fake.url }),
            })
          ).stdout,
        ).toContain(FAKE_VERSION);
        const before = statSync(join(dir, "gvisor-doctor")).ino;
        const r = await runShell(oneLiner("curl", "dash"), ["--version"], {
          env: cleanEnv({ ...env, GVD_URL: srv.url, GVISOR_DOCTOR_BASE: srv.url }),
        });
        expect(r.stdout).toContain("gvisor-doctor 9.9.10-fake");
        expect(r.stderr).toContain("info: installed gvisor-doctor 9.9.10-fake");
        expect(statSync(join(dir, "gvisor-doctor")).ino).not.toBe(before);
        expect(entries(dir)).toEqual(["gvisor-doctor"]);
      } finally {
        srv.close();
      }
    });

    test("a local release directory works without curl or wget (air-gapped hosts, Docker build contexts)", async () => {
      const dir = fresh("bin");
      const path = toolbox(fresh("offline"), { exclude: ["curl", "wget"] });
      const r = await runShell("dash -s -- --version", [], {
        input: readFileSync(INSTALL_SH),
        env: cleanEnv({ PATH: path, GVISOR_DOCTOR_BASE: fakeDir, GVISOR_DOCTOR_INSTALL_DIR: dir }),
      });
      expect(r.stderr).toContain(`info: downloading ${asset}.${PACKED} from ${fakeDir}`);
      expect(r.stdout).toBe(`gvisor-doctor ${FAKE_VERSION}\n`);
      expect(r.code).toBe(0);
    });

    // The smallest download the machine can unpack, and the installer says which it took.
    // busybox sh runs its own xz applet whatever PATH holds, so it always takes the .xz.
    test.each([
      ["dash", "xz and gzip", [], "xz", "(xz: the smallest download)"],
      ["dash", "gzip only", ["xz"], "gz", "(gzip; with xz installed the download is ~25% smaller)"],
      ["busybox sh", "xz and gzip", [], "xz", "(xz: the smallest download)"],
      ["busybox sh", "no xz on PATH", ["xz"], "xz", "(xz: the smallest download)"],
      ["dash", "neither", ["xz", "gzip"], "", "(uncompressed: neither xz nor gzip is installed)"],
    ] as const)("under %s with %s: fetches the .%s copy and says so", async (shell, _what, exclude, ext, why) => {
      if (!(exclude as readonly string[]).includes("xz") && !has("xz")) return;
      const path = toolbox(fresh("tools"), { exclude: [...exclude] });
      const dir = fresh("bin");
      const r = await runShell(oneLiner("curl", shell), ["--version"], {
        env: cleanEnv({ PATH: path, GVD_URL: fake.url, GVISOR_DOCTOR_BASE: fake.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
      });
      const file = ext ? `${asset}.${ext}` : asset;
      expect(r.stderr).toContain(`info: downloading ${file} from ${fake.url} ${why}`);
      expect(fake.requests).toEqual(["GET /install.sh", "GET /SHA512SUMS", `GET /${file}`]);
      expect(r.stdout).toBe(`gvisor-doctor ${FAKE_VERSION}\n`);
      expect(r.code).toBe(0);
      expect(entries(dir)).toEqual(["gvisor-doctor"]);
    });

    test("a busybox-only machine unpacks the .xz with busybox's own xz", async () => {
      const path = toolbox(fresh("busybox-bin"), { busybox: true });
      const dir = fresh("bin");
      const r = await runShell(oneLiner("wget", "busybox sh"), ["--version"], {
        env: cleanEnv({ PATH: path, GVD_URL: fake.url, GVISOR_DOCTOR_BASE: fake.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
      });
      expect(r.stderr).toContain(`info: downloading ${asset}.xz from ${fake.url}`);
      expect(r.stdout).toBe(`gvisor-doctor ${FAKE_VERSION}\n`);
      expect(r.code).toBe(0);
    });

    test("GVISOR_DOCTOR_VERSION is checked against what the binary reports", async () => {
      const r = await install(["--version"], { GVISOR_DOCTOR_VERSION: "v1.2.3" });
      expect(r.stderr).toContain(
        `GVISOR_DOCTOR_VERSION=1.2.3 was asked for, but the release at ${fake.url} is ${FAKE_VERSION}; nothing was installed`,
      );
      expect(r.code).toBe(1);
      expect(entries(r.dir)).toEqual([]);
      const ok = await install(["--version"], { GVISOR_DOCTOR_VERSION: FAKE_VERSION });
      expect(ok.code).toBe(0);
    });

    test("the default base is the GitHub release's latest download; a version pins releases/download/v<version>", async () => {
      const path = toolbox(fresh("curl-logger"), {
        scripts: { curl: `#!/bin/sh\nfor a; do url=$a; done\necho "curl-stub $url" >>"$GVD_FAKE_LOG"\nexit 22\n` },
      });
      const env = (v?: string) =>
        cleanEnv({
          PATH: path,
          GVISOR_DOCTOR_INSTALL_DIR: fresh("bin"),
          GVD_FAKE_LOG: log,
          ...(v ? { GVISOR_DOCTOR_VERSION: v } : {}),
        });
      const latest = await runShell("dash -s", [], { input: readFileSync(INSTALL_SH), env: env() });
      expect(latest.stderr).toContain(`could not download ${DEFAULT_BASE}/SHA512SUMS with curl`);
      expect(latest.code).toBe(1);
      const pinned = await runShell("dash -s", [], { input: readFileSync(INSTALL_SH), env: env("0.2.0") });
      expect(pinned.stderr).toContain(
        `could not download https://github.com/${GVD_REPO}/releases/download/v0.2.0/SHA512SUMS`,
      );
      expect(logLines()).toEqual([
        `curl-stub ${DEFAULT_BASE}/SHA512SUMS`,
        `curl-stub https://github.com/${GVD_REPO}/releases/download/v0.2.0/SHA512SUMS`,
      ]);
    });

    test("on GitHub Actions, an install directory that is not on PATH is added to $GITHUB_PATH", async () => {
      const ghPath = join(fresh("gh"), "path");
      writeFileSync(ghPath, "");
      const r = await install(["--version"], { GITHUB_PATH: ghPath });
      expect(r.code).toBe(0);
      expect(readFileSync(ghPath, "utf8")).toBe(`${r.dir}\n`);
    });
  });

  /** The environment of a run against the stand-in release, installing into `dir`. */
  const env = (dir: string, extra: Record<string, string> = {}) =>
    cleanEnv({
      GVD_URL: fake.url,
      GVISOR_DOCTOR_BASE: fake.url,
      GVISOR_DOCTOR_INSTALL_DIR: dir,
      GVD_FAKE_LOG: log,
      ...extra,
    });

  describe("refusals: nothing is installed", () => {
    const flipByte = (b: Uint8Array) => {
      const c = new Uint8Array(b);
      c[c.length >> 1] ^= 0xff;
      return c;
    };
    const fileBytes = (name: string) => new Uint8Array(readFileSync(join(fakeDir, name)));

    // (busybox sh always has xz: its own applet)
    test.each([
      ["dash", "gz"],
      ["dash", "xz"],
      ["busybox sh", "xz"],
    ] as const)("a corrupted download → checksum mismatch (%s, .%s)", async (shell, ext) => {
      if (ext === "xz" && !has("xz")) return;
      fake.override(`/${asset}.${ext}`, () => new Response(flipByte(fileBytes(`${asset}.${ext}`))));
      const dir = fresh("bin");
      // .gz: a machine without xz
      const r = await runShell(oneLiner("curl", shell), [], {
        env: env(dir, ext === "gz" ? { PATH: toolbox(fresh("no-xz"), { exclude: ["xz"] }) } : {}),
      });
      expect(r.stderr).toMatch(
        new RegExp(
          `error: checksum mismatch for ${asset}\\.${ext} from ${fake.url}: expected [0-9a-f]{128}, got [0-9a-f]{128}\\. The download is corrupt or was tampered with; nothing was installed\\.`,
        ),
      );
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
    });

    test("a corrupted binary without xz or gzip on the machine (raw download) → checksum mismatch", async () => {
      fake.override(`/${asset}`, () => new Response(flipByte(fileBytes(asset))));
      const dir = fresh("bin");
      const path = toolbox(fresh("no-gzip"), { exclude: ["gzip", "xz"] });
      const r = await runShell(oneLiner("curl", "dash"), [], { env: env(dir, { PATH: path }) });
      expect(r.stderr).toContain(`error: checksum mismatch for ${asset} from ${fake.url}`);
      expect(fake.requests).toEqual(["GET /install.sh", "GET /SHA512SUMS", `GET /${asset}`]);
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
    });

    test("a SHA512SUMS whose hash for the binary is wrong → refused", async () => {
      const sums = readFileSync(join(fakeDir, "SHA512SUMS"), "utf8").replace(
        new RegExp(`^[0-9a-f]{128}(?=  \\S+\\.${PACKED}$)`, "m"),
        "0".repeat(128),
      );
      fake.override("/SHA512SUMS", () => new Response(sums));
      const dir = fresh("bin");
      const r = await runShell(oneLiner("wget", "dash"), [], { env: env(dir) });
      expect(r.stderr).toContain(`error: checksum mismatch for ${asset}.${PACKED}`);
      expect(r.stderr).toContain(`expected ${"0".repeat(128)}`);
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
    });

    test("a SHA512SUMS without the binary's entry → refused, never installed unverified", async () => {
      const sums = readFileSync(join(fakeDir, "SHA512SUMS"), "utf8")
        .split("\n")
        .filter((l) => !l.endsWith(`  ${asset}`))
        .join("\n");
      fake.override("/SHA512SUMS", () => new Response(sums));
      const dir = fresh("bin");
      const r = await runShell(oneLiner("curl", "dash"), [], { env: env(dir) });
      expect(r.stderr).toContain(
        `error: SHA512SUMS from ${fake.url} has no entry for ${asset}; refusing to install an unverified file`,
      );
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
    });

    test("an HTML error page served as SHA512SUMS → refused", async () => {
      fake.override(
        "/SHA512SUMS",
        () => new Response("<html><body>Rate limited</body></html>\n", { headers: { "content-type": "text/html" } }),
      );
      const dir = fresh("bin");
      const r = await runShell(oneLiner("curl", "dash"), [], { env: env(dir) });
      expect(r.stderr).toContain("has no entry for");
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
    });

    test.each(["curl", "wget"] as const)(
      "SHA512SUMS missing (404) → a message naming the URL (%s)",
      async (fetcher) => {
        fake.override("/SHA512SUMS", () => new Response("not found", { status: 404 }));
        const dir = fresh("bin");
        const path = fetcher === "wget" ? toolbox(fresh("no-curl"), { exclude: ["curl"] }) : cleanEnv().PATH;
        const r = await runShell(oneLiner(fetcher, "dash"), [], { env: env(dir, { PATH: path }) });
        const rc = fetcher === "curl" ? 22 : 8;
        expect(r.stderr).toContain(
          `error: could not download ${fake.url}/SHA512SUMS with ${fetcher} (exit ${rc}: the server answered with an HTTP error). A 404 means this release has no such file: check GVISOR_DOCTOR_VERSION and GVISOR_DOCTOR_BASE.`,
        );
        expect(r.code).toBe(1);
        expectNothingInstalled(dir);
      },
    );

    test("a binary that does not start is not installed", async () => {
      const broken = fresh("fake-broken");
      await makeRelease(broken, { assets: [asset], binary: { script: fakeDoctor({ versionExit: 1 }) } });
      const srv = serveDir(broken);
      try {
        const dir = fresh("bin");
        const r = await runShell(oneLiner("curl", "dash"), [], {
          env: cleanEnv({ GVD_URL: srv.url, GVISOR_DOCTOR_BASE: srv.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
        });
        expect(r.stderr).toContain(`error: the downloaded ${asset} does not start (exit 1`);
        expect(r.stderr).toContain("Nothing was installed.");
        expect(r.code).toBe(1);
        expect(entries(dir)).toEqual([]);
      } finally {
        srv.close();
      }
    });

    test("no SHA-512 tool at all → refused, not skipped", async () => {
      const path = toolbox(fresh("no-hash"), { exclude: ["sha512sum", "shasum", "openssl"] });
      const dir = fresh("bin");
      const r = await runShell(oneLiner("curl", "dash"), [], { env: env(dir, { PATH: path }) });
      expect(r.stderr).toContain(
        "error: no SHA-512 tool (sha512sum, shasum or openssl) is installed, and the installer does not install unverified binaries.",
      );
      expect(r.code).toBe(1);
      expectNothingInstalled(dir);
      expect(fake.requests).toEqual(["GET /install.sh"]);
    });

    test.each([
      ["shasum", ["sha512sum", "openssl"]],
      ["openssl", ["sha512sum", "shasum"]],
    ] as const)("without sha512sum, %s verifies (and still refuses a corrupted file)", async (_tool, exclude) => {
      const path = toolbox(fresh("hash"), { exclude: [...exclude] });
      const ok = fresh("bin");
      expect((await runShell(oneLiner("curl", "dash"), ["--version"], { env: env(ok, { PATH: path }) })).code).toBe(0);
      expect(entries(ok)).toEqual(["gvisor-doctor"]);
      fake.override(`/${asset}.${PACKED}`, () => new Response(flipByte(fileBytes(`${asset}.${PACKED}`))));
      const bad = fresh("bin");
      const r = await runShell(oneLiner("curl", "dash"), [], { env: env(bad, { PATH: path }) });
      expect(r.stderr).toContain("checksum mismatch");
      expect(r.code).toBe(1);
      expect(entries(bad)).toEqual([]);
    });

    test("no curl and no wget → a clear message, before anything is created", async () => {
      const path = toolbox(fresh("no-downloader"), { exclude: ["curl", "wget"] });
      const dir = join(fresh("parent"), "bin");
      const r = await runShell('cat "$1" | dash', [INSTALL_SH], { env: env(dir, { PATH: path }) });
      expect(r.stderr).toContain(
        "error: neither curl nor wget is installed, so nothing can be downloaded. Install one (apt-get install curl / dnf install curl / apk add curl), or download the release files yourself and point GVISOR_DOCTOR_BASE at their directory.",
      );
      expect(r.code).toBe(1);
      expect(existsSync(dir)).toBe(false);
    });

    test("plain http to anything but loopback is refused before any download", async () => {
      const dir = fresh("bin");
      const r = await runShell("dash -s", [], {
        input: readFileSync(INSTALL_SH),
        env: env(dir, { GVISOR_DOCTOR_BASE: "http://mirror.example.com/gvd" }),
      });
      expect(r.stderr).toContain("GVISOR_DOCTOR_BASE=http://mirror.example.com/gvd is plain http");
      expect(r.code).toBe(1);
      expect(entries(dir)).toEqual([]);
    });

    test("not root and the install directory is not writable → says how to proceed", async () => {
      const dir = fresh("root-owned");
      const r = await runShell("dash -s", [], {
        input: readFileSync(INSTALL_SH),
        env: env(dir, { HOME: fresh("home", NOBODY) }),
        user: "nobody",
      });
      expect(r.stderr).toContain(
        `error: cannot write to ${dir} as nobody. Run as root, set GVISOR_DOCTOR_SUDO=1 to use sudo, or pick a directory with GVISOR_DOCTOR_INSTALL_DIR`,
      );
      expect(r.code).toBe(1);
      expect(fake.requests).toEqual([]);
    });

    test("not root without HOME → asks for GVISOR_DOCTOR_INSTALL_DIR", async () => {
      const r = await runShell("dash -s", [], {
        input: readFileSync(INSTALL_SH),
        env: cleanEnv({ GVISOR_DOCTOR_BASE: fake.url }),
        user: "nobody",
      });
      expect(r.stderr).toContain("error: HOME is not set, so there is no ~/.local/bin; set GVISOR_DOCTOR_INSTALL_DIR");
      expect(r.code).toBe(1);
    });

    test.each(["dash", "busybox sh"] as const)("a truncated script runs nothing, wherever it is cut (%s)", (shell) => {
      // Stub downloaders log any call; the install directory must never appear.
      const path = toolbox(fresh("loggers"), {
        scripts: {
          curl: `#!/bin/sh\necho curl >>"$GVD_FAKE_LOG"\nexit 1\n`,
          wget: `#!/bin/sh\necho wget >>"$GVD_FAKE_LOG"\nexit 1\n`,
          uname: `#!/bin/sh\necho uname >>"$GVD_FAKE_LOG"\nexec /usr/bin/uname "$@"\n`,
        },
      });
      const dir = join(fresh("parent"), "bin");
      const script = readFileSync(INSTALL_SH);
      const cuts = new Set<number>();
      for (let i = 0, start = 0; i < script.length; i++) {
        if (script[i] === 0x0a) {
          cuts.add(i + 1); // after a whole line
          cuts.add((start + i) >> 1); // in the middle of it
          start = i + 1;
        }
      }
      // Only the complete script (its last line `main "$@"` whole) may run.
      const complete = script.length - 1;
      const ran: number[] = [];
      const sh = shell.split(" ");
      for (const cut of [...cuts].filter((c) => c < complete).sort((a, b) => a - b)) {
        const r = spawnSync(sh[0], [...sh.slice(1), "-s"], {
          input: script.subarray(0, cut),
          env: env(dir, { PATH: path }),
          encoding: "utf8",
        });
        if (r.stdout !== "" || existsSync(dir) || readFileSync(log, "utf8") !== "") ran.push(cut);
      }
      expect(cuts.size).toBeGreaterThan(500);
      expect(ran).toEqual([]);
      // The check can see a run: the whole script does call the (stub) downloader.
      spawnSync(sh[0], [...sh.slice(1), "-s"], { input: script, env: env(dir, { PATH: path }) });
      expect(readFileSync(log, "utf8")).toContain("curl");
    });

    test("SIGINT during the download removes the temporary directory; nothing is installed", async () => {
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      fake.override(
        `/${asset}.${PACKED}`,
        () =>
          new Response(
            new ReadableStream({
              async start(c) {
                c.enqueue(new Uint8Array(1024)); // the first bytes, then the server stalls
                await held;
                c.close();
              },
            }),
          ),
      );
      const dir = fresh("bin");
      let pid = 0;
      const done = runShell("exec dash -s", [], {
        input: readFileSync(INSTALL_SH),
        env: env(dir),
        detached: true,
        onSpawn: (p) => (pid = p),
      });
      try {
        // Wait until the download is under way: its request seen, the temporary directory made.
        while (!fake.requests.includes(`GET /${asset}.${PACKED}`) || entries(dir).length === 0) await Bun.sleep(20);
        expect(entries(dir)[0]).toMatch(/^\.gvisor-doctor-install\.\w+$/);
        expect(statSync(join(dir, entries(dir)[0])).mode & 0o777).toBe(0o700);
        process.kill(-pid, "SIGINT"); // Ctrl-C: the whole process group, as a terminal does
        const r = await done;
        expect(r.code).toBe(130);
        expect(entries(dir)).toEqual([]);
        expect(doctorCalls()).toEqual([]);
      } finally {
        release();
      }
    });
  });

  describe.skipIf(!ROOT_USER)("privileges", () => {
    // A stand-in sudo that logs its arguments and runs the command (as the same user).
    const sudoStub = `#!/bin/sh\necho "sudo $*" >>"$GVD_FAKE_LOG"\n[ "$1" = -E ] && shift\nexec "$@"\n`;

    test("GVISOR_DOCTOR_SUDO=1: every step in the install directory and the final command go through `sudo -E`", async () => {
      const path = toolbox(fresh("with-sudo"), { scripts: { sudo: sudoStub } });
      const dir = fresh("bin", NOBODY);
      const r = await runShell(oneLiner("curl", "dash"), ["install", "--no-configure"], {
        env: cleanEnv({
          PATH: path,
          HOME: fresh("home", NOBODY),
          GVD_URL: fake.url,
          GVISOR_DOCTOR_BASE: fake.url,
          GVISOR_DOCTOR_INSTALL_DIR: dir,
          GVISOR_DOCTOR_SUDO: "1",
          GVD_FAKE_LOG: log,
        }),
        user: "nobody",
      });
      expect(r.code).toBe(0);
      const sudo = logLines().filter((l) => l.startsWith("sudo "));
      expect(sudo.every((l) => l.startsWith("sudo -E "))).toBe(true);
      const programs = sudo.map((l) => l.split(" ")[2].replace(/^.*\//, ""));
      for (const p of ["mkdir", "mktemp", "curl", PACKER, "sha512sum", "mv", "rm"]) expect(programs).toContain(p);
      expect(sudo.at(-1)).toBe(`sudo -E ${dir}/gvisor-doctor install --no-configure`); // an absolute path: sudo's secure_path may lack the directory
    });

    test("without GVISOR_DOCTOR_SUDO, sudo is never called", async () => {
      const path = toolbox(fresh("with-sudo"), { scripts: { sudo: sudoStub } });
      const home = fresh("home", NOBODY);
      const r = await runShell(oneLiner("curl", "dash"), [], {
        env: cleanEnv({ PATH: path, HOME: home, GVD_URL: fake.url, GVISOR_DOCTOR_BASE: fake.url, GVD_FAKE_LOG: log }),
        user: "nobody",
      });
      expect(r.code).toBe(0);
      expect(logLines().filter((l) => l.startsWith("sudo"))).toEqual([]);
      expect(r.stderr).toContain(`  sudo ${home}/.local/bin/gvisor-doctor install `); // an absolute path: sudo's secure_path lacks ~/.local/bin
    });

    test("GVISOR_DOCTOR_SUDO=1 without sudo → a clear error", async () => {
      const path = toolbox(fresh("no-sudo"), { exclude: ["sudo"] });
      const r = await runShell("dash -s", [], {
        input: readFileSync(INSTALL_SH),
        env: cleanEnv({
          PATH: path,
          HOME: fresh("home", NOBODY),
          GVISOR_DOCTOR_BASE: fake.url,
          GVISOR_DOCTOR_SUDO: "1",
        }),
        user: "nobody",
      });
      expect(r.stderr).toContain(
        "error: GVISOR_DOCTOR_SUDO=1 but there is no sudo on PATH; run the installer as root instead",
      );
      expect(r.code).toBe(1);
    });

    test("an install directory on a noexec mount: the binary is not installed and the message says why", async () => {
      const dir = fresh("noexec");
      const r = await runShell(
        `mount -t tmpfs -o noexec tmpfs "$GVISOR_DOCTOR_INSTALL_DIR" && ${oneLiner("curl", "dash")}`,
        [],
        {
          env: env(dir),
          wrap: ["unshare", "-m", "--propagation", "private"],
        },
      );
      expect(r.stderr).toContain(
        `the downloaded binary cannot be executed in ${dir} (exit 126); is that directory on a noexec mount?`,
      );
      expect(r.code).toBe(1);
    });

    test("Alpine without libstdc++/libgcc: the exact apk command, before any download", async () => {
      // A private mount namespace whose /etc says Alpine, and an ldd that says musl.
      const etc = fresh("etc");
      spawnSync("cp", ["-a", "/etc/.", etc]);
      writeFileSync(join(etc, "alpine-release"), "3.20.3\n");
      const path = toolbox(fresh("musl"), { scripts: { ldd: `#!/bin/sh\necho 'musl libc (x86_64)' >&2\nexit 1\n` } });
      const r = await runShell(`mount --bind "$ETC" /etc && ${oneLiner("curl", "dash")}`, [], {
        env: env(fresh("bin"), { PATH: path, ETC: etc }),
        wrap: ["unshare", "-m", "--propagation", "private"],
      });
      expect(r.stderr).toContain(
        "error: the musl build of gvisor-doctor needs libstdc++.so.6 libgcc_s.so.1, which this Alpine system lacks. Install them first: apk add libstdc++ libgcc (as root), then run this installer again.",
      );
      expect(r.code).toBe(1);
      expect(fake.requests).toEqual(["GET /install.sh"]);
    });
  });

  describe("proxies (HTTPS_PROXY / HTTP_PROXY, either case)", () => {
    let tls: Served;
    let certFile: string;
    beforeAll(() => {
      const c = selfSignedCert(fresh("tls"));
      certFile = c.certFile;
      tls = serveDir(fakeDir, c);
    });
    afterAll(() => tls?.close());
    // No NO_PROXY here: loopback has to go through the proxy.
    const proxied = (extra: Record<string, string>) =>
      cleanEnv({ NO_PROXY: undefined, no_proxy: undefined, GVD_FAKE_LOG: log, ...extra });

    test.each([
      ["curl", "HTTPS_PROXY"],
      ["curl", "https_proxy"],
      ["wget", "HTTPS_PROXY"], // wget reads only https_proxy: the installer exports it
    ] as const)("%s through a CONNECT proxy from %s, to an https release", async (fetcher, variable) => {
      const proxy = await startProxy();
      try {
        const dir = fresh("bin");
        const path = fetcher === "wget" ? toolbox(fresh("no-curl"), { exclude: ["curl"] }) : cleanEnv().PATH;
        const wgetrc = join(fresh("wgetrc"), "wgetrc");
        writeFileSync(wgetrc, `ca_certificate = ${certFile}\n`);
        // The script itself comes from disk: only the installer's own downloads are under test.
        const r = await runShell("dash -s -- --version", [], {
          input: readFileSync(INSTALL_SH),
          env: proxied({
            PATH: path,
            [variable]: proxy.url,
            CURL_CA_BUNDLE: certFile,
            WGETRC: wgetrc,
            GVISOR_DOCTOR_BASE: tls.url,
            GVISOR_DOCTOR_INSTALL_DIR: dir,
          }),
        });
        expect(r.stdout).toBe(`gvisor-doctor ${FAKE_VERSION}\n`);
        expect(r.code).toBe(0);
        const hostPort = tls.url.replace("https://", "");
        expect(proxy.log).toEqual([`CONNECT ${hostPort} HTTP/1.1`, `CONNECT ${hostPort} HTTP/1.1`]);
        expect(tls.requests.slice(-2)).toEqual(["GET /SHA512SUMS", `GET /${asset}.${PACKED}`]);
      } finally {
        proxy.close();
      }
    });

    test("curl through an http proxy given as upper-case HTTP_PROXY (curl alone reads only http_proxy)", async () => {
      const proxy = await startProxy();
      try {
        const dir = fresh("bin");
        const r = await runShell("dash -s -- --version", [], {
          input: readFileSync(INSTALL_SH),
          env: proxied({ HTTP_PROXY: proxy.url, GVISOR_DOCTOR_BASE: fake.url, GVISOR_DOCTOR_INSTALL_DIR: dir }),
        });
        expect(r.code).toBe(0);
        expect(proxy.log).toEqual([
          `GET ${fake.url}/SHA512SUMS HTTP/1.1`,
          `GET ${fake.url}/${asset}.${PACKED} HTTP/1.1`,
        ]);
      } finally {
        proxy.close();
      }
    });
  });
});
