// A local image holding the compiled gvisor-doctor (plus the glibc files it links and a
// static busybox), imported into a test-bed engine: containers can run the real binary
// without any registry pull.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, copyFileSync, mkdirSync, symlinkSync, realpathSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { BINARY } from "./cli.ts";
import { parseLdd } from "../../platform/rootfs.ts";

export function libsOf(bin: string): string[] {
  return parseLdd(spawnSync("ldd", [bin], { encoding: "utf8" }).stdout);
}

/** Import the image into the engine behind `cli` (docker/podman) with `env`; returns its tag. */
export function importDoctorImage(cli: string, env: NodeJS.ProcessEnv, tag = "local/gvisor-doctor-test:latest"): string {
  const imp = spawnSync(cli, ["import", "-", tag], { input: doctorImageTar(), env, encoding: "utf8" });
  if (imp.status !== 0) throw new Error(`${cli} import failed: ${imp.stderr}`);
  return tag;
}

/** The image's root file system as a tar (for `docker import`). */
export function doctorImageTar(): Buffer {
  const root = mkdtempSync("/tmp/gvd-test-rootfs-");
  try {
    for (const d of ["bin", "usr/local/bin", "tmp", "proc", "sys", "dev", "etc"]) mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync(BINARY, join(root, "usr/local/bin/gvisor-doctor"));
    chmodSync(join(root, "usr/local/bin/gvisor-doctor"), 0o755);
    for (const lib of libsOf(BINARY)) {
      const dest = join(root, lib);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(realpathSync(lib), dest);
    }
    copyFileSync("/bin/busybox", join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    for (const a of ["sh", "dmesg", "echo", "cat", "sleep", "true", "uname"]) symlinkSync("busybox", join(root, "bin", a));
    const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`tar of the doctor image failed: ${tar.stderr}`);
    return tar.stdout;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
