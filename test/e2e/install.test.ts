// `gvisor-doctor install`, `rollback` and `uninstall` through the compiled binary,
// against the fake release bucket on 127.0.0.1 (both layouts, mirrors, pinning).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ARCH, RELEASES, SIDECARS, startFakeBucket, type FakeBucket } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, leftovers, makePrefix, removePrefix, tree } from "../helpers/install-env.ts";

setDefaultTimeout(120_000);

let bucket: FakeBucket;
let prefix: string;
beforeAll(async () => {
  bucket = await startFakeBucket();
}, 180_000);
afterAll(() => bucket?.close());
beforeEach(() => {
  prefix = makePrefix();
});
afterEach(() => removePrefix(prefix));

const env = cleanEnv();
const rel = (version: string, file: string) =>
  `${version.startsWith("nightly/") ? version : `release/${version}`}/${ARCH}/${file}`;
const install = (...args: string[]) => gvd(["install", "--mirror", bucket.mirror(), "--prefix", prefix, ...args], env);
const runsc = () => spawnSync(join(prefix, "bin/runsc"), ["--version"], { encoding: "utf8" });
const liveDir = () => realpathSync(join(prefix, "lib/gvisor/current"));

describe("install", () => {
  test("latest: the zstd tarball is verified and installed; runsc runs from the link; sidecars sit next to the real runsc", async () => {
    const r = await install("--json", "--no-configure");
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const doc = r.json;
    expect(doc).toMatchObject({
      schemaVersion: 1,
      command: "install",
      ok: true,
      action: "installed",
      requested: "latest",
      format: "zstd",
      pinned: false,
      prefix,
      next: null,
    });
    expect(doc.url).toBe(`${bucket.mirror()}/${rel("latest", "gvisor.tar.zstd")}`);
    expect(doc.sha512).toBe(bucket.sha(rel("latest", "gvisor.tar.zstd")));
    expect(doc.runscVersion).toBe("runsc version 0.0~20221219.0");
    expect(doc.warnings.join("\n")).toContain('runsc reports "0.0~20221219.0", not a gVisor release version');

    const v = runsc();
    expect(v.status).toBe(0);
    expect(v.stdout).toStartWith("runsc version 0.0~20221219.0");
    expect(readlinkSync(join(prefix, "bin/runsc"))).toBe("../lib/gvisor/current/runsc");
    expect(readlinkSync(join(prefix, "bin/containerd-shim-runsc-v1"))).toBe(
      "../lib/gvisor/current/containerd-shim-runsc-v1",
    );
    expect(realpathSync(join(prefix, "bin/runsc"))).toBe(join(doc.dir, "runsc"));
    for (const s of SIDECARS) expect(statSync(join(doc.dir, "gvisor-bin", s)).mode & 0o777).toBe(0o755);
    for (const p of [
      doc.dir,
      join(doc.dir, "gvisor-bin"),
      join(prefix, "lib/gvisor"),
      join(prefix, "lib"),
      join(prefix, "bin"),
    ])
      expect(statSync(p).mode & 0o777).toBe(0o755);
    expect(statSync(join(doc.dir, "runsc")).mode & 0o777).toBe(0o755);
    expect(leftovers(prefix)).toEqual([]);
    const state = JSON.parse(readFileSync(join(prefix, "lib/gvisor/state.json"), "utf8"));
    expect(state.versions[doc.version]).toMatchObject({ format: "zstd", sha512: doc.sha512, requested: "latest" });
  });

  test("--dry-run without --no-configure says it would then register the new runsc (the engines are not touched)", async () => {
    const r = await install("--version", RELEASES.current, "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `then: register ${prefix}/bin/runsc with the container engines (gvisor-doctor configure --runsc ${prefix}/bin/runsc)`,
    );
  });

  test("legacy layout: no tarball, so the loose runsc and shim are installed (and the 404s are followed)", async () => {
    const r = await install("--version", RELEASES.legacy, "--json", "--no-configure");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ action: "installed", format: "loose", version: RELEASES.legacy });
    expect(r.json.tried).toEqual(
      ["gvisor.tar.zstd.sha512", "gvisor.tar.bz2.sha512", "runsc.sha512", "containerd-shim-runsc-v1.sha512"].map(
        (f) => `${bucket.mirror()}/${rel(RELEASES.legacy, f)}`,
      ),
    );
    expect(runsc().status).toBe(0);
    expect(existsSync(join(prefix, "bin/containerd-shim-runsc-v1"))).toBe(true);
    expect(r.json.warnings.join("\n")).toContain(`runsc reports "0.0~20221219.0", not ${RELEASES.legacy}`);
  });

  test("a release with only gvisor.tar.bz2 is decoded with the host's bzip2; --format bz2 picks it over zstd", async () => {
    const a = await install("--version", RELEASES.bz2only, "--json", "--no-configure");
    expect(a.code).toBe(0);
    expect(a.json.format).toBe("bz2");
    expect(a.json.decoder).toMatch(/bzip2|busybox/);
    const b = await install("--version", RELEASES.current, "--format", "bz2", "--json", "--no-configure");
    expect(b.code).toBe(0);
    expect(b.json.format).toBe("bz2");
    expect(b.json.sha512).toBe(bucket.sha(rel(RELEASES.current, "gvisor.tar.bz2")));
    expect(runsc().status).toBe(0);
  });

  test("both zstd decoders (the host's zstd and node:zlib) install the same bytes", async () => {
    const a = await gvd(
      [
        "install",
        "--mirror",
        bucket.mirror(),
        "--prefix",
        prefix,
        "--version",
        RELEASES.current,
        "--json",
        "--no-configure",
      ],
      cleanEnv({ GVISOR_DOCTOR_DECODER: "builtin" }),
    );
    expect(a.code).toBe(0);
    expect(a.json.decoder).toBe("node:zlib");
    const files = tree(prefix).filter((p) => p.includes(RELEASES.current));
    const b = await gvd(
      [
        "install",
        "--mirror",
        bucket.mirror(),
        "--prefix",
        prefix,
        "--version",
        RELEASES.current,
        "--json",
        "--no-configure",
        "--force",
      ],
      cleanEnv({ GVISOR_DOCTOR_DECODER: "system" }),
    );
    expect(b.code).toBe(0);
    expect(b.json.decoder).toEndWith("zstd");
    expect(
      tree(prefix)
        .filter((p) => p.includes(`${RELEASES.current}_2`))
        .map((p) => p.replace(`${RELEASES.current}_2`, RELEASES.current)),
    ).toEqual(files);
  });

  test("nightly/YYYY-MM-DD", async () => {
    const r = await install("--version", RELEASES.nightly, "--json", "--no-configure");
    expect(r.code).toBe(0);
    expect(r.json.version).toBe("nightly-2026-09-10");
  });

  test("a local directory mirror (air-gapped), a file:// URL and GVISOR_MIRROR work like the bucket", async () => {
    const a = await gvd(
      [
        "install",
        "--mirror",
        bucket.dir,
        "--prefix",
        prefix,
        "--version",
        RELEASES.current,
        "--json",
        "--no-configure",
      ],
      env,
    );
    expect(a.code).toBe(0);
    expect(a.json.url).toBe(join(bucket.dir, rel(RELEASES.current, "gvisor.tar.zstd")));
    const b = await gvd(
      [
        "install",
        "--mirror",
        pathToFileURL(bucket.dir).href,
        "--prefix",
        prefix,
        "--version",
        RELEASES.legacy,
        "--allow-downgrade",
        "--json",
        "--no-configure",
      ],
      env,
    );
    expect(b.code).toBe(0);
    expect(b.json.format).toBe("loose");
    const c = await gvd(
      ["install", "--prefix", prefix, "--version", RELEASES.nightly, "--json", "--no-configure"],
      cleanEnv({ GVISOR_MIRROR: bucket.mirror() }),
    );
    expect(c.code).toBe(0);
    expect(c.json.url).toStartWith(bucket.mirror());
  });

  test("installing the live version again is a no-op (no download) unless --force", async () => {
    expect((await install("--version", RELEASES.current, "--no-configure")).code).toBe(0);
    const before = tree(prefix);
    const tarball = rel(RELEASES.current, "gvisor.tar.zstd");
    const gets = () => bucket.requests.filter((q) => q.path === tarball).length;
    const n = gets();
    const again = await install("--version", RELEASES.current, "--no-configure");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `gVisor ${RELEASES.current} (runsc version 0.0~20221219.0) is already installed and live`,
    );
    expect(gets()).toBe(n);
    expect(tree(prefix)).toEqual(before);
    // release/latest is the same file here: same hash, so nothing to do either.
    const latest = await install("--json", "--no-configure");
    expect(latest.json.action).toBe("unchanged");
    expect(gets()).toBe(n);
    const forced = await install("--json", "--no-configure", "--force");
    expect(forced.json.action).toBe("installed");
    expect(runsc().status).toBe(0);
  });

  test("trust: bucket-sha512 by default, pinned-sha512 with --sha512 (json, human and state.json); an older release is refused before any download", async () => {
    const a = await install("--version", RELEASES.current, "--json", "--no-configure");
    expect(a.json.trust).toEqual({
      level: "bucket-sha512",
      key: null,
      chain: [`${a.json.url}: sha512 matches ${a.json.url}.sha512`],
    });
    const state = () => JSON.parse(readFileSync(join(prefix, "lib/gvisor/state.json"), "utf8"));
    expect(state().versions[a.json.version].trust.level).toBe("bucket-sha512");
    const sha = bucket.sha(rel(RELEASES.current, "gvisor.tar.zstd"));
    const b = await install(
      "--version",
      RELEASES.current,
      "--format",
      "zstd",
      "--sha512",
      sha,
      "--force",
      "--no-configure",
    );
    expect(b.stdout).toContain("trust: pinned-sha512 (the hash given with --sha512)");
    const before = tree(prefix);
    const n = bucket.requests.length;
    const old = await install("--version", RELEASES.legacy, "--no-configure");
    expect(old.code).toBe(1);
    expect(old.stderr).toContain(
      `release ${RELEASES.legacy} is older than the live ${RELEASES.current}: refusing to downgrade; nothing was installed`,
    );
    expect(old.stderr).toContain("--allow-downgrade");
    expect(
      bucket.requests
        .slice(n)
        .map((q) => q.path)
        .filter((p) => !p.endsWith(".sha512")),
    ).toEqual([]);
    expect(tree(prefix)).toEqual(before);
  });

  test("rollback switches back and forth atomically; the older versions are cleaned up", async () => {
    expect((await install("--version", RELEASES.legacy, "--no-configure")).code).toBe(0);
    expect((await install("--version", RELEASES.current, "--no-configure")).code).toBe(0);
    expect(liveDir()).toEndWith(`/${RELEASES.current}`);
    const dry = await gvd(["rollback", "--prefix", prefix, "--dry-run"], env);
    expect(dry.stdout).toContain(
      `rollback would switch ${prefix}/lib/gvisor/current from ${RELEASES.current} to ${RELEASES.legacy}`,
    );
    expect(liveDir()).toEndWith(`/${RELEASES.current}`);
    const r = await gvd(["rollback", "--prefix", prefix, "--json"], env);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, action: "rolled-back", from: RELEASES.current, to: RELEASES.legacy });
    expect(liveDir()).toEndWith(`/${RELEASES.legacy}`);
    expect(runsc().status).toBe(0);
    expect(existsSync(join(prefix, "bin/containerd-shim-runsc-v1"))).toBe(true);
    expect((await gvd(["rollback", "--prefix", prefix], env)).code).toBe(0);
    expect(liveDir()).toEndWith(`/${RELEASES.current}`);
    // A third version: the live one and the one before it are kept.
    expect((await install("--version", RELEASES.nightly, "--no-configure")).code).toBe(0);
    expect(tree(prefix).filter((p) => /^lib\/gvisor\/[^/]+\/$/.test(p))).toEqual([
      `lib/gvisor/${RELEASES.current}/`,
      "lib/gvisor/nightly-2026-09-10/",
    ]);
  });

  test("rollback with nothing to roll back to says so (exit 1)", async () => {
    const none = await gvd(["rollback", "--prefix", prefix], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`gvisor-doctor has not installed gVisor in ${prefix}`);
    await install("--version", RELEASES.current, "--no-configure");
    const one = await gvd(["rollback", "--prefix", prefix], env);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain(
      `no previous version to roll back to in ${prefix}/lib/gvisor (only ${RELEASES.current} is installed)`,
    );
  });

  test("uninstall removes what install created, and nothing else", async () => {
    mkdirSync(join(prefix, "bin"));
    writeFileSync(join(prefix, "bin/other-tool"), "keep me");
    expect((await install("--version", RELEASES.legacy, "--no-configure")).code).toBe(0);
    expect((await install("--version", RELEASES.current, "--no-configure")).code).toBe(0);
    const dry = await gvd(["uninstall", "--prefix", prefix, "--dry-run"], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`${prefix}/lib/gvisor/${RELEASES.legacy}`);
    expect(existsSync(join(prefix, "bin/runsc"))).toBe(true);
    const r = await gvd(["uninstall", "--prefix", prefix, "--json"], env);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ action: "uninstalled", removed: expect.arrayContaining([`${prefix}/bin/runsc`]) });
    // No engine's runtime pointed into this prefix, so no engine config was touched
    // (install-configure.test.ts covers the hand-off both ways).
    expect(r.json.configure).toBeNull();
    expect(tree(prefix)).toEqual(["bin/", "bin/other-tool 7 644"]);
    const again = await gvd(["uninstall", "--prefix", prefix, "--json"], env);
    expect(again.code).toBe(0);
    expect(again.json.action).toBe("nothing-installed");
  });

  test("--dry-run prints the release, URLs and paths and changes nothing", async () => {
    const r = await install("--version", RELEASES.current, "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("dry run: nothing was changed");
    expect(r.stdout).toContain(`${bucket.mirror()}/${rel(RELEASES.current, "gvisor.tar.zstd")}`);
    expect(r.stdout).toContain(`sha512 ${bucket.sha(rel(RELEASES.current, "gvisor.tar.zstd"))}`);
    expect(r.stdout).toContain(`${prefix}/bin/runsc -> ../lib/gvisor/current/runsc`);
    expect(tree(prefix)).toEqual([]);
    await install("--version", RELEASES.current, "--no-configure");
    const before = tree(prefix);
    const again = await install("--version", RELEASES.current, "--dry-run", "--json");
    expect(again.json.action).toBe("would-do-nothing");
    const other = await install("--version", RELEASES.legacy, "--allow-downgrade", "--dry-run", "--json");
    expect(other.json).toMatchObject({ action: "would-install", format: "loose", previous: RELEASES.current });
    expect(tree(prefix)).toEqual(before);
  });

  test("--sha512 pins the hash: the mirror's .sha512 is not fetched; a wrong pin changes nothing", async () => {
    const sha = bucket.sha(rel(RELEASES.current, "gvisor.tar.zstd"));
    const n = bucket.requests.length;
    const ok = await install(
      "--version",
      RELEASES.current,
      "--format",
      "zstd",
      "--sha512",
      sha.toUpperCase(),
      "--json",
      "--no-configure",
    );
    expect(ok.code).toBe(0);
    expect(ok.json.pinned).toBe(true);
    expect(bucket.requests.slice(n).map((q) => q.path)).toEqual([rel(RELEASES.current, "gvisor.tar.zstd")]);
    const before = tree(prefix);
    const bad = await install("--version", RELEASES.legacy, "--allow-downgrade", "--sha512", sha, "--no-configure");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`sha512 mismatch for ${bucket.mirror()}/${rel(RELEASES.legacy, "runsc")}`);
    expect(bad.stderr).toContain(`expected ${sha} (from --sha512)`);
    expect(bad.stderr).toContain(`got      ${bucket.sha(rel(RELEASES.legacy, "runsc"))}`);
    expect(tree(prefix)).toEqual(before);
    const usage = await install("--sha512", "abc");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--sha512 must be 128 hex digits");
  });

  test("a runsc that is not ours is refused; --force keeps it as a backup that uninstall puts back", async () => {
    mkdirSync(join(prefix, "bin"));
    writeFileSync(join(prefix, "bin/runsc"), "#!/bin/sh\necho mine\n", { mode: 0o755 });
    const r = await install("--version", RELEASES.current, "--no-configure");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${prefix}/bin/runsc already exists and was not installed by gvisor-doctor`);
    expect(r.stderr).toContain("--force");
    expect(tree(prefix)).toEqual(["bin/", "bin/runsc 20 755"]);
    const f = await install("--version", RELEASES.current, "--no-configure", "--force");
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/moved .*\/bin\/runsc aside to .*\/bin\/runsc\.gvisor-doctor-\d{8}T\d{6}Z\.bak/);
    expect(runsc().stdout).toContain("0.0~20221219.0");
    expect((await gvd(["uninstall", "--prefix", prefix], env)).code).toBe(0);
    expect(readFileSync(join(prefix, "bin/runsc"), "utf8")).toContain("echo mine");
    expect(tree(prefix)).toEqual(["bin/", "bin/runsc 20 755"]);
  });

  test("as root, a prefix that the sandbox user cannot reach is refused with the fix", async () => {
    if (process.getuid?.() !== 0) return;
    const hidden = join(prefix, "private");
    mkdirSync(hidden, { mode: 0o700 });
    chmodSync(hidden, 0o700);
    const r = await gvd(
      ["install", "--mirror", bucket.mirror(), "--prefix", join(hidden, "usr"), "--version", RELEASES.current],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${hidden} is not readable and searchable by all users; runsc's sandbox runs as nobody`);
    expect(r.stderr).toContain(`chmod a+rx ${hidden}`);
    expect(tree(prefix)).toEqual(["private/"]);
  });

  test("--help documents every flag; bad flags are usage errors (exit 2)", async () => {
    const h = await gvd(["install", "--help"], env);
    expect(h.code).toBe(0);
    for (const f of [
      "--version",
      "--mirror",
      "--prefix",
      "--sha512",
      "--format",
      "--no-configure",
      "--dry-run",
      "--force",
      "--json",
      "HTTPS_PROXY",
      "NO_PROXY",
      "GVISOR_MIRROR",
    ])
      expect(h.stdout).toContain(f);
    expect((await gvd(["--help"], env)).stdout).toMatch(/install .*\n(.*\n)*.*rollback.*\n.*uninstall/);
    expect((await gvd(["install", "--version", "yesterday"], env)).code).toBe(2);
    expect((await gvd(["install", "--format", "xz"], env)).code).toBe(2);
    expect((await gvd(["install", "--mirror", "ftp://x"], env)).code).toBe(2);
    expect((await gvd(["rollback", "--help"], env)).stdout).toContain("--prefix");
    expect((await gvd(["uninstall", "--help"], env)).stdout).toContain("--no-configure");
  });
});
