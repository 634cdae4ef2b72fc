// The build context of the Kubernetes installer image (examples/k8s/Dockerfile):
// a root filesystem holding the compiled gvisor-doctor, the two tools host-root mode
// runs (platform/os/host-exec.ts: chroot runs the node's own programs — runsc, ctr,
// docker — against the node's libraries; nsenter restarts the node's containerd/CRI-O
// through its PID 1), and exactly the shared libraries `ldd` says they load, copied
// from this machine. No base image, no shell, no package manager, nothing pulled.
//
//   bun scripts/k8s-image.ts DIR [--binary PATH]
//     → DIR/rootfs/… and DIR/Dockerfile; then:
//   docker build -t ghcr.io/gvisor-doctor/gvisor-doctor:<version> DIR
//
// The image is for this machine's CPU: build it on an arm64 host for arm64 nodes.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { readElf } from "../platform/os/elf.ts";
import { parseLdd } from "../platform/probe/rootfs.ts";
import { which, SYSTEM_BIN_DIRS } from "../platform/os/which.ts";

const root = join(import.meta.dirname, "..");
export const DOCKERFILE = join(root, "examples", "k8s", "Dockerfile");
/** Where the image keeps the binary: the Dockerfile's ENTRYPOINT and the manifests' command (via PATH). */
export const IMAGE_BINARY = "usr/local/bin/gvisor-doctor";
/** Tools the pod needs besides gvisor-doctor (host-exec.ts's ownTool), copied to usr/bin/. */
export const IMAGE_TOOLS = ["chroot", "nsenter"];

export interface ImageContext {
  dir: string;
  rootfs: string;
  /** Every file put in the rootfs, relative to it, sorted. */
  files: string[];
}

/** The shared libraries `bin` loads (empty for a static binary, where ldd says "not a dynamic executable"). */
export function sharedLibraries(bin: string): string[] {
  const r = spawnSync("ldd", [bin], { encoding: "utf8" });
  if (r.error) throw new Error(`ldd is needed to find the libraries of ${bin}: ${r.error.message}`);
  return parseLdd(r.stdout ?? "");
}

export function assembleImageContext(dir: string, opts: { binary?: string; tools?: string[] } = {}): ImageContext {
  const binary = resolve(opts.binary ?? join(root, "dist", "gvisor-doctor"));
  const elf = readElf(binary);
  if (!elf) throw new Error(`${binary} is not an ELF executable (build it first: npm run build)`);
  const here = process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : process.arch;
  // ldd runs the host's loader: it cannot list a foreign binary's libraries.
  if (elf.arch !== here)
    throw new Error(`${binary} is for ${elf.arch}, this machine is ${here}: build the image on a ${elf.arch} machine`);

  const rootfs = join(dir, "rootfs");
  rmSync(rootfs, { recursive: true, force: true });
  const files = new Set<string>();
  const put = (src: string, rel: string, mode: number) => {
    const dest = join(rootfs, rel);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(src), dest); // a library path is often a symlink: copy the bytes under the loader's name
    chmodSync(dest, mode);
    files.add(rel);
  };

  put(binary, IMAGE_BINARY, 0o755);
  const programs = [binary];
  for (const tool of opts.tools ?? IMAGE_TOOLS) {
    const p = which(tool) ?? which(tool, SYSTEM_BIN_DIRS.join(":"));
    if (!p)
      throw new Error(
        `${tool} is not installed here; the installer image needs it (Debian: coreutils has chroot, util-linux nsenter)`,
      );
    put(p, `usr/bin/${tool}`, 0o755);
    programs.push(p);
  }
  for (const lib of new Set(programs.flatMap(sharedLibraries)))
    put(lib, lib.replace(/^\/+/, ""), statSync(lib).mode & 0o777);

  // /tmp for temporary files; passwd so "nobody" (runsc's sandbox user) resolves.
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n",
  );
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  files.add("etc/passwd").add("etc/group");
  copyFileSync(DOCKERFILE, join(dir, "Dockerfile"));
  return { dir, rootfs, files: [...files].sort() };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const b = args.indexOf("--binary");
  const binary = b >= 0 ? args[b + 1] : undefined;
  const dir = args.find((a, i) => !a.startsWith("-") && (b < 0 || i !== b + 1));
  if (!dir) {
    console.error("usage: bun scripts/k8s-image.ts DIR [--binary PATH]   (then: docker build -t IMAGE DIR)");
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  const ctx = assembleImageContext(resolve(dir), { binary });
  console.log(
    `installer image context in ${ctx.dir}:\n  ${ctx.files.join("\n  ")}\nnext: docker build -t ghcr.io/gvisor-doctor/gvisor-doctor:<version> ${dir}`,
  );
}
