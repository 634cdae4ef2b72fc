// A local image holding the compiled gvisor-doctor (plus the glibc files it links and a
// static busybox) and the standalone preflights (gvisor-preflight.sh, the static C one),
// imported into a test-bed engine: containers can run the real binaries without any
// registry pull. And a FROM-scratch image holding nothing but the static preflight.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, copyFileSync, mkdirSync, symlinkSync, realpathSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { BINARY, ROOT } from "./cli.ts";
import { parseLdd } from "../../platform/probe/rootfs.ts";
import { buildStaticPreflight } from "../../scripts/build.ts";

export const PREFLIGHT_SH = join(ROOT, "dist", "gvisor-preflight.sh");
let staticBuilt: string | null = null;
/** The static preflight, built once per test process the way the release builds it. */
export function staticPreflight(): string {
  if (!staticBuilt) {
    const dir = mkdtempSync("/tmp/gvd-test-preflight-");
    buildStaticPreflight(join(dir, "gvisor-preflight"), "0.1.0-dev");
    staticBuilt = join(dir, "gvisor-preflight");
  }
  return staticBuilt;
}

/** Remove the static preflight staticPreflight() built (call from afterAll). */
export function removeStaticPreflight(): void {
  if (staticBuilt) rmSync(dirname(staticBuilt), { recursive: true, force: true });
  staticBuilt = null;
}

function tarOf(root: string): Buffer {
  const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
  if (tar.status !== 0) throw new Error(`tar of ${root} failed: ${tar.stderr}`);
  return tar.stdout;
}

function importTree(cli: string, env: NodeJS.ProcessEnv, root: string, tag: string): string {
  const imp = spawnSync(cli, ["import", "-", tag], { input: tarOf(root), env, encoding: "utf8" });
  if (imp.status !== 0) throw new Error(`${cli} import failed: ${imp.stderr}`);
  return tag;
}

/** An image FROM scratch with only /gvisor-preflight (the distroless case: no shell, no libc). */
export function importScratchPreflightImage(
  cli: string,
  env: NodeJS.ProcessEnv,
  tag = "local/gvisor-preflight-scratch:latest",
): string {
  const root = mkdtempSync("/tmp/gvd-test-rootfs-");
  try {
    copyFileSync(staticPreflight(), join(root, "gvisor-preflight"));
    chmodSync(join(root, "gvisor-preflight"), 0o755);
    return importTree(cli, env, root, tag);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function libsOf(bin: string): string[] {
  return parseLdd(spawnSync("ldd", [bin], { encoding: "utf8" }).stdout);
}

/** Import the image into the engine behind `cli` (docker/podman) with `env`; returns its tag. */
export function importDoctorImage(
  cli: string,
  env: NodeJS.ProcessEnv,
  tag = "local/gvisor-doctor-test:latest",
): string {
  const imp = spawnSync(cli, ["import", "-", tag], { input: doctorImageTar(), env, encoding: "utf8" });
  if (imp.status !== 0) throw new Error(`${cli} import failed: ${imp.stderr}`);
  return tag;
}

/** The image's root file system as a tar (for `docker import`, or a host of the matrix). */
export function doctorImageTar(): Buffer {
  const root = mkdtempSync("/tmp/gvd-test-rootfs-");
  try {
    for (const d of ["bin", "usr/local/bin", "tmp", "proc", "sys", "dev", "etc"])
      mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync(BINARY, join(root, "usr/local/bin/gvisor-doctor"));
    copyFileSync(PREFLIGHT_SH, join(root, "usr/local/bin/gvisor-preflight.sh"));
    copyFileSync(staticPreflight(), join(root, "usr/local/bin/gvisor-preflight"));
    for (const f of ["gvisor-doctor", "gvisor-preflight.sh", "gvisor-preflight"])
      chmodSync(join(root, "usr/local/bin", f), 0o755);
    for (const lib of libsOf(BINARY)) {
      const dest = join(root, lib);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(realpathSync(lib), dest);
    }
    copyFileSync("/bin/busybox", join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    for (const a of ["sh", "dmesg", "echo", "cat", "sleep", "true", "uname"])
      symlinkSync("busybox", join(root, "bin", a));
    return tarOf(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
