// The install layout: one atomic switch of `current`, links made once, rollback
// history, leftovers of killed installs, and what the sudo advice says.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  activate,
  emptyState,
  freeDirName,
  layoutFor,
  linkStatus,
  liveDir,
  makeStaging,
  markExecutable,
  mkdirs,
  placeVersion,
  previousDir,
  readState,
  removeStaleStaging,
  writeState,
} from "../../platform/release/layout.ts";
import { expandPrefix, sudoCommand, userPrefixCommand } from "../../platform/release/invocation.ts";

let prefix: string;
beforeEach(() => {
  prefix = mkdtempSync("/tmp/gvd-test-layout-");
});
afterEach(() => rmSync(prefix, { recursive: true, force: true }));

function fakeVersion(name: string, files = ["runsc", "containerd-shim-runsc-v1"]): void {
  const l = layoutFor(prefix);
  mkdirSync(join(l.root, name), { recursive: true });
  for (const f of files) writeFileSync(join(l.root, name, f), name);
}

describe("layout", () => {
  test("links are relative and go through current", () => {
    const l = layoutFor("/usr/local");
    expect(l.root).toBe("/usr/local/lib/gvisor");
    expect(l.links.map((k) => [k.path, k.target])).toEqual([
      ["/usr/local/bin/runsc", "../lib/gvisor/current/runsc"],
      ["/usr/local/bin/containerd-shim-runsc-v1", "../lib/gvisor/current/containerd-shim-runsc-v1"],
    ]);
  });
  test("activate switches both binaries with one rename, and the links resolve to the version", () => {
    const l = layoutFor(prefix);
    fakeVersion("A");
    fakeVersion("B");
    expect(activate(l, "A")).toEqual([]);
    expect(realpathSync(join(prefix, "bin/runsc"))).toBe(join(l.root, "A/runsc"));
    activate(l, "B");
    expect(readlinkSync(l.current)).toBe("B");
    expect(realpathSync(join(prefix, "bin/containerd-shim-runsc-v1"))).toBe(join(l.root, "B/containerd-shim-runsc-v1"));
    expect(liveDir(l)).toBe("B");
    expect(readdirSync(l.root).sort()).toEqual(["A", "B", "current"]);
  });
  test("a release without a shim drops our shim link; a foreign file is never touched", () => {
    const l = layoutFor(prefix);
    fakeVersion("A");
    fakeVersion("C", ["runsc"]);
    activate(l, "A");
    activate(l, "C");
    expect(existsSync(join(prefix, "bin/containerd-shim-runsc-v1"))).toBe(false);
    writeFileSync(join(prefix, "bin/containerd-shim-runsc-v1"), "mine");
    expect(activate(l, "A")).toEqual([join(prefix, "bin/containerd-shim-runsc-v1")]);
    expect(linkStatus(l.links[1])).toBe("foreign");
  });
  test("previous is the newest other version in the history that still exists", () => {
    const l = layoutFor(prefix);
    fakeVersion("A");
    fakeVersion("B");
    const s = emptyState();
    for (const d of ["A", "B"]) s.versions[d] = { dir: d } as never;
    s.history = ["A", "B", "A"];
    expect(previousDir(l, s, "A")).toBe("B");
    rmSync(join(l.root, "B"), { recursive: true });
    expect(previousDir(l, s, "A")).toBeNull();
  });
  test("state round-trips; a damaged state says how to get out", () => {
    const l = layoutFor(prefix);
    mkdirs(l.root);
    const s = emptyState();
    s.history.push("A");
    writeState(l, s);
    expect(readState(l).history).toEqual(["A"]);
    writeFileSync(l.state, "{not json");
    expect(() => readState(l)).toThrow(/state.json is damaged .* move it aside/);
  });
  test("mkdirs makes 0755 directories whatever the umask, and says which it made", () => {
    const old = process.umask(0o077);
    try {
      const made = mkdirs(join(prefix, "a/b/c"));
      expect(made).toEqual([join(prefix, "a"), join(prefix, "a/b"), join(prefix, "a/b/c")]);
      expect(statSync(join(prefix, "a/b")).mode & 0o777).toBe(0o755);
    } finally {
      process.umask(old);
    }
  });
  test("mkdirs racing another install's mkdirs: neither fails, each directory is claimed by exactly one", async () => {
    // Four processes create the same 150 fresh trees at once (two installs into a new prefix
    // race like this; one used to die with EEXIST).
    const roots = Array.from({ length: 150 }, (_, i) => join(prefix, `race-${i}`, "lib", "gvisor"));
    const script = `const { mkdirs } = await import(${JSON.stringify(join(import.meta.dirname, "../../platform/release/layout.ts"))}); const out = []; for (const r of ${JSON.stringify(roots)}) out.push(...mkdirs(r)); console.log(JSON.stringify(out));`;
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            let err = "";
            child.stdout.on("data", (b) => (out += b));
            child.stderr.on("data", (b) => (err += b));
            child.on("close", (code) => resolve({ code, out, err }));
          }),
      ),
    );
    for (const r of runs) expect(r.err).toBe("");
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const claimed = runs.flatMap((r) => JSON.parse(r.out) as string[]).sort();
    expect(claimed).toEqual(roots.flatMap((r) => [dirname(dirname(r)), dirname(r), r]).sort());
  });
  test("leftovers of dead installs are removed, those of live ones kept", () => {
    const l = layoutFor(prefix);
    mkdirs(l.root);
    mkdirs(l.binDir);
    mkdirSync(join(l.root, ".staging-999999-abcd1234"));
    mkdirSync(join(l.root, `.staging-${process.ppid}-abcd1234`));
    symlinkSync("x", join(l.root, ".current.gvd-link-999999-00ff00ff"));
    symlinkSync("x", join(l.binDir, ".runsc.gvd-link-999999-00ff00ff"));
    writeFileSync(join(l.binDir, ".other.gvd-link-999999-00ff00ff"), "");
    removeStaleStaging(l);
    expect(readdirSync(l.root)).toEqual([`.staging-${process.ppid}-abcd1234`]);
    expect(readdirSync(l.binDir)).toEqual([".other.gvd-link-999999-00ff00ff"]);
  });
  test("freeDirName never reuses an existing directory or 'current'", () => {
    const l = layoutFor(prefix);
    fakeVersion("20260817.0");
    expect(freeDirName(l, "20260907.0")).toBe("20260907.0");
    expect(freeDirName(l, "20260817.0")).toBe("20260817.0_2");
    expect(freeDirName(l, "current")).toBe("current_2");
  });
});

describe("advice for a user without root", () => {
  test("the exact sudo command, keeping the proxy variables sudo would drop", () => {
    const cmd = sudoCommand(
      ["install", "--version", "20260817.0", "--mirror", "https://m.example/a b"],
      { HTTPS_PROXY: "http://p:3128", no_proxy: "x" },
      ["/usr/local/bin/gvisor-doctor", "/$bunfs/root/gvisor-doctor"],
      "/usr/local/bin/gvisor-doctor",
    );
    expect(cmd).toBe(
      "sudo --preserve-env=HTTPS_PROXY,no_proxy /usr/local/bin/gvisor-doctor install --version 20260817.0 --mirror 'https://m.example/a b'",
    );
  });
  test("the same install into ~/.local, replacing any --prefix", () => {
    expect(
      userPrefixCommand(["install", "--prefix", "/usr/local", "--force"], ["bun", "/$bunfs/root/x"], "/opt/gvd"),
    ).toBe("/opt/gvd install --force --prefix ~/.local");
    expect(userPrefixCommand(["install", "--prefix=/opt"], ["bun", "/$bunfs/root/x"], "/opt/gvd")).toBe(
      "/opt/gvd install --prefix ~/.local",
    );
  });
  test("--prefix=~/.local is expanded even when no shell did it", () => {
    expect(expandPrefix("~/.local", { HOME: "/home/ann" })).toBe("/home/ann/.local");
    expect(expandPrefix("/usr/local/", {})).toBe("/usr/local");
  });
});

describe("the staging directory is used only while it is the one this run made", () => {
  test("swapped for a symlink to another directory: markExecutable and placeVersion refuse, and chmod nothing there", () => {
    const l = layoutFor(prefix);
    mkdirs(l.root);
    const staging = makeStaging(l);
    writeFileSync(join(staging.path, "runsc"), "x", { mode: 0o600 });
    const other = join(prefix, "other");
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(join(other, "secret"), "s", { mode: 0o600 });
    renameSync(staging.path, `${staging.path}.moved`);
    symlinkSync(other, staging.path);
    expect(() => markExecutable(staging)).toThrow(`${staging.path} was replaced while installing (now a symlink)`);
    expect(() => placeVersion(l, staging, "20260817.0")).toThrow("was replaced while installing");
    expect(statSync(join(other, "secret")).mode & 0o777).toBe(0o600);
    expect(statSync(other).mode & 0o777).toBe(0o700);
    expect(existsSync(join(l.root, "20260817.0"))).toBe(false);
  });

  test("markExecutable does not follow a symlink inside staging", () => {
    const l = layoutFor(prefix);
    mkdirs(l.root);
    const staging = makeStaging(l);
    const other = join(prefix, "other");
    writeFileSync(other, "s", { mode: 0o600 });
    chmodSync(other, 0o600);
    symlinkSync(other, join(staging.path, "runsc"));
    mkdirSync(join(staging.path, "gvisor-bin"), { mode: 0o700 });
    writeFileSync(join(staging.path, "gvisor-bin", "gvisor_sentry"), "x", { mode: 0o600 });
    markExecutable(staging);
    expect(statSync(other).mode & 0o777).toBe(0o600);
    expect(statSync(join(staging.path, "gvisor-bin", "gvisor_sentry")).mode & 0o777).toBe(0o755);
    expect(statSync(staging.path).mode & 0o777).toBe(0o755);
  });
});
