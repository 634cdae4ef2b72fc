// bench/preflight-size: what each preflight form adds to an application image. A busybox app
// image is built by a throwaway dockerd (the test bed), then the same image with each form
// COPY'd in, and `docker image inspect` gives each size. Goal (issue 18): ≤ 1 MB added.
// Run: npm run build && npx bun bench/preflight-size.ts
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { startDockerBed } from "../test/bed/bed.ts";
import { libsOf, removeStaticPreflight, staticPreflight, PREFLIGHT_SH } from "../test/helpers/doctor-image.ts";
import { BINARY } from "../test/helpers/cli.ts";
import { machine } from "./lib.ts";

const bed = await startDockerBed();
const ctx = mkdtempSync("/tmp/gvd-bench-preflight-");
try {
  // The app image: static busybox and an entry point, FROM scratch (imported: no registry).
  const root = join(ctx, "rootfs");
  for (const d of ["bin", "app", "usr/local/bin", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync("/bin/busybox", join(root, "bin/busybox"));
  for (const a of ["sh", "dmesg", "uname"]) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "app/start"), "#!/bin/sh\necho app\n", { mode: 0o755 });
  const tar = spawnSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
  const imp = bed.docker(["import", "--change", 'CMD ["/app/start"]', "-", "bench/app:base"], tar.stdout);
  if (imp.code !== 0) throw new Error(imp.stderr);

  // Each form as the README's Dockerfile adds it.
  const files = join(ctx, "files");
  mkdirSync(files);
  copyFileSync(PREFLIGHT_SH, join(files, "gvisor-preflight.sh"));
  copyFileSync(staticPreflight(), join(files, "gvisor-preflight"));
  copyFileSync(BINARY, join(files, "gvisor-doctor"));
  // The binary links glibc (ldd): on a busybox base it does not start without it.
  const libs = libsOf(BINARY);
  for (const lib of libs) {
    mkdirSync(join(files, "libs", dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(files, "libs", lib));
  }
  for (const f of ["gvisor-preflight.sh", "gvisor-preflight", "gvisor-doctor"]) chmodSync(join(files, f), 0o755);
  const forms: [string, string][] = [
    [
      "gvisor-preflight.sh",
      'COPY gvisor-preflight.sh /usr/local/bin/\nENTRYPOINT ["/usr/local/bin/gvisor-preflight.sh", "--require", "--"]',
    ],
    [
      "static gvisor-preflight",
      'COPY gvisor-preflight /gvisor-preflight\nENTRYPOINT ["/gvisor-preflight", "--require", "--"]',
    ],
    [
      "gvisor-doctor (binary only: a glibc base)",
      'COPY gvisor-doctor /usr/local/bin/\nENTRYPOINT ["gvisor-doctor", "preflight", "--require", "--"]',
    ],
    [
      "gvisor-doctor + the glibc it links",
      'COPY gvisor-doctor /usr/local/bin/\nCOPY libs/ /\nENTRYPOINT ["gvisor-doctor", "preflight", "--require", "--"]',
    ],
  ];
  const size = (tag: string) => Number(bed.docker(["image", "inspect", "-f", "{{.Size}}", tag]).stdout.trim());
  const base = size("bench/app:base");
  console.log(`\npreflight-size  (${new Date().toISOString().slice(0, 10)}, ${machine()})`);
  console.log(`  ${"busybox app image (base)".padEnd(44)} ${(base / 1e6).toFixed(2).padStart(8)} MB`);
  for (const [i, [name, lines]] of forms.entries()) {
    writeFileSync(join(files, "Dockerfile"), `FROM bench/app:base\n${lines}\nCMD ["/app/start"]\n`);
    const tag = `bench/app:form${i}`;
    const b = bed.docker(["build", "-q", "-t", tag, files]);
    if (b.code !== 0) throw new Error(`docker build (${name}): ${b.stderr}`);
    const r = bed.docker(["run", "--rm", "--runtime=runsc", tag]);
    const added = size(tag) - base;
    const verdict = added <= 1e6 ? "✓ ≤ 1 MB" : "✗ > 1 MB";
    console.log(
      `  ${`+ ${name}`.padEnd(44)} ${(size(tag) / 1e6).toFixed(2).padStart(8)} MB   adds ${added >= 1e5 ? `${(added / 1e6).toFixed(1)} MB` : `${(added / 1e3).toFixed(1)} KB`}  ${verdict}  (runsc: ${r.code === 0 ? `the app ran: ${r.stdout.trim()}` : `does not start (exit ${r.code})`})`,
    );
  }
} finally {
  await bed.stop();
  rmSync(ctx, { recursive: true, force: true });
  removeStaticPreflight();
}
