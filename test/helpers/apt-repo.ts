// A signed apt repository shaped like gVisor's (dists/<suite>/{InRelease,Release,Release.gpg},
// main/binary-<arch>/Packages(.gz), pool/<version>/binary-<arch>/runsc.deb), built with
// Debian's own tools: gpg (a key generated here), dpkg-deb and apt-ftparchive. The runsc in
// the .deb is the host's.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildTar, BUSYBOX, RUNSC } from "./fake-bucket.ts";

export const DEB_ARCH = process.arch === "arm64" ? "arm64" : "amd64";

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface TestKey {
  home: string;
  fingerprint: string;
  /** Armored public key file (what --keyring takes). */
  publicKey: string;
  /** Binary keyring, as `gpg --export` (or `gpg --dearmor`) writes it. */
  binaryKey: string;
  /** Extra gpg arguments for signing (e.g. a faked clock). */
  sign(file: string, mode: "clear" | "detached", extra?: string[]): void;
  /** Stop the gpg-agent that signing started. */
  close(): void;
}

/** A fresh signing key in its own GNUPGHOME. `ageDays` backdates its creation. */
export function makeKey(dir: string, name: string, ageDays = 0): TestKey {
  const home = join(dir, `gnupg-${name}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  const faked = ageDays ? [`--faked-system-time`, `${Math.floor(Date.now() / 1000) - ageDays * 86400}!`] : [];
  sh(
    "gpg",
    [
      "--batch",
      "--quiet",
      ...faked,
      "--passphrase",
      "",
      "--quick-gen-key",
      `${name} <${name}@test.invalid>`,
      "ed25519",
      "sign",
      "never",
    ],
    { env },
  );
  const fpr = sh("gpg", ["--batch", "--with-colons", "--list-keys"], { env }).match(/^fpr:+([0-9A-F]{40}):/m)![1];
  const publicKey = join(dir, `${name}.asc`);
  const binaryKey = join(dir, `${name}.gpg`);
  writeFileSync(publicKey, sh("gpg", ["--batch", "--armor", "--export", fpr], { env }));
  spawnSync("gpg", ["--batch", "--export", "--output", binaryKey, fpr], { env });
  return {
    home,
    fingerprint: fpr.toLowerCase(),
    publicKey,
    binaryKey,
    sign(file, mode, extra = []) {
      const out = mode === "clear" ? file.replace(/Release$/, "InRelease") : `${file}.gpg`;
      rmSync(out, { force: true });
      sh(
        "gpg",
        [
          "--batch",
          "--yes",
          "--quiet",
          "--digest-algo",
          "SHA512",
          "--local-user",
          fpr,
          ...extra,
          mode === "clear" ? "--clearsign" : "--detach-sign",
          "--armor",
          "--output",
          out,
          file,
        ],
        { env },
      );
    },
    close: () => void spawnSync("gpgconf", ["--kill", "gpg-agent"], { env }),
  };
}

/** runsc's .deb, built by dpkg-deb from the host's runsc (a busybox stands in for the shim and a sidecar). */
export function buildDeb(dir: string, version: string): string {
  const root = mkdtempSync(join(dir, "debroot-"));
  mkdirSync(join(root, "DEBIAN"));
  mkdirSync(join(root, "usr/bin/gvisor-bin"), { recursive: true });
  mkdirSync(join(root, "etc/containerd"), { recursive: true });
  copyFileSync(RUNSC, join(root, "usr/bin/runsc"));
  copyFileSync(BUSYBOX, join(root, "usr/bin/containerd-shim-runsc-v1"));
  copyFileSync(BUSYBOX, join(root, "usr/bin/gvisor-bin/runsc-metric-server"));
  writeFileSync(join(root, "etc/containerd/runsc.toml"), "# runsc\n[runsc_config]\n");
  writeFileSync(join(root, "DEBIAN/conffiles"), "/etc/containerd/runsc.toml\n");
  writeFileSync(
    join(root, "DEBIAN/control"),
    [
      "Package: runsc",
      `Version: ${version}`,
      `Architecture: ${DEB_ARCH}`,
      "Maintainer: The gVisor Authors <gvisor-bot@google.com>",
      "Description: gVisor container sandbox runtime",
      "",
    ].join("\n"),
  );
  sh("chmod", ["-R", "go-w", root]);
  const out = join(dir, `runsc_${version}_${DEB_ARCH}.deb`);
  sh("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", root, out]);
  rmSync(root, { recursive: true, force: true });
  return out;
}

function arMember(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(60, " ");
  h.write(name, 0, "latin1");
  h.write("0", 16);
  h.write("0", 28);
  h.write("0", 34);
  h.write("100644", 40);
  h.write(String(data.length), 48);
  h.write("`\n", 58, "latin1");
  return Buffer.concat([h, data, data.length % 2 ? Buffer.from("\n") : Buffer.alloc(0)]);
}

/** A .deb whose data.tar holds runsc and a member that climbs out with "..": signed like any other. */
export function buildEvilDeb(dir: string, version: string, evilPath: string): string {
  const control = gzipSync(
    buildTar([
      {
        path: "./control",
        data: Buffer.from(`Package: runsc\nVersion: ${version}\nArchitecture: ${DEB_ARCH}\n`),
        mode: 0o644,
      },
    ]),
  );
  const data = gzipSync(
    buildTar([
      { path: "./usr/bin/", type: "Directory" },
      { path: "./usr/bin/runsc", data: readFileSync(RUNSC) },
      { path: evilPath, data: Buffer.from("#!/bin/sh\necho pwned\n") },
    ]),
  );
  const out = join(dir, `evil_${version}.deb`);
  writeFileSync(
    out,
    Buffer.concat([
      Buffer.from("!<arch>\n"),
      arMember("debian-binary", Buffer.from("2.0\n")),
      arMember("control.tar.gz", control),
      arMember("data.tar.gz", data),
    ]),
  );
  return out;
}

export interface SuiteSpec {
  suite: string;
  debs: { version: string; path: string }[];
  /** The Release Date (default now). */
  date?: Date;
  key: TestKey;
  /** gpg arguments for signing (a faked clock, an expiry). */
  signArgs?: string[];
  /** Also write Release.gpg next to Release (InRelease is always written unless `inRelease` is false). */
  inRelease?: boolean;
}

/** Write (or rewrite) one suite into `root`; returns the suite's dists directory. */
export function writeSuite(root: string, s: SuiteSpec): string {
  for (const d of s.debs) {
    const pool = join(root, "pool", d.version, `binary-${DEB_ARCH}`);
    mkdirSync(pool, { recursive: true });
    copyFileSync(d.path, join(pool, "runsc.deb"));
  }
  const dists = join(root, "dists", s.suite);
  const bin = join(dists, "main", `binary-${DEB_ARCH}`);
  mkdirSync(bin, { recursive: true });
  const packages = s.debs.map((d) => sh("apt-ftparchive", ["packages", `pool/${d.version}`], { cwd: root })).join("");
  writeFileSync(join(bin, "Packages"), packages);
  writeFileSync(join(bin, "Packages.gz"), gzipSync(packages));
  const release = sh(
    "apt-ftparchive",
    [
      "-o",
      `APT::FTPArchive::Release::Suite=${s.suite}`,
      "-o",
      `APT::FTPArchive::Release::Codename=${s.suite}`,
      "-o",
      `APT::FTPArchive::Release::Architectures=${DEB_ARCH}`,
      "-o",
      "APT::FTPArchive::Release::Components=main",
      "release",
      ".",
    ],
    { cwd: dists },
  );
  const date = (s.date ?? new Date()).toUTCString().replace("GMT", "UTC");
  writeFileSync(join(dists, "Release"), release.replace(/^Date: .*$/m, `Date: ${date}`));
  if (s.inRelease !== false) s.key.sign(join(dists, "Release"), "clear", s.signArgs);
  else rmSync(join(dists, "InRelease"), { force: true });
  s.key.sign(join(dists, "Release"), "detached", s.signArgs);
  return dists;
}
