// runsc checks: is there a usable runsc binary, and can the sandbox user run it?
import { gvisorArch } from "../platform/arch.ts";
import { primaryRunsc } from "../platform/runsc.ts";
import { fail, pass, warn, type Check } from "./types.ts";

const INSTALL_FIX = { id: "runsc.install", summary: "Install gVisor (runsc and its shim) for this host", command: "sudo gvisor-doctor install", automatic: true };

export const runscBinary: Check = {
  id: "runsc.binary",
  title: "runsc binary",
  needs: ["host.platform"],
  run({ facts }) {
    const r = primaryRunsc(facts.runsc);
    if (!r) return fail("runsc not found on PATH or in /usr/local/bin, /usr/bin, /usr/sbin, /bin, /sbin", { cause: "gVisor is not installed on this host.", fix: INSTALL_FIX });
    const where = r.realPath !== r.path ? `${r.path} → ${r.realPath}` : r.path;
    const others = facts.runsc.filter((o) => o !== r).map((o) => `also found: ${o.path}${o.realPath !== o.path ? ` → ${o.realPath}` : ""} (${o.versionText})`);
    if (!r.elf) {
      return fail(`${where} is not an ELF executable`, { cause: "The file is not a Linux program: often an HTML or XML error page saved by a failed download.", fix: { ...INSTALL_FIX, summary: "Reinstall runsc from a verified download" } }, others);
    }
    const want = gvisorArch(facts.arch);
    if (r.elf.arch !== want) {
      return fail(`${where} is built for ${r.elf.arch}, this host is ${facts.arch}`, { cause: "A runsc for another CPU architecture fails with \"exec format error\".", fix: { ...INSTALL_FIX, summary: `Reinstall runsc for ${facts.arch}` } }, others);
    }
    if (!r.versionOk) {
      return fail(`${where} does not run: ${r.versionText}`, { cause: "`runsc --version` failed; the binary is damaged, not executable, or the CPU lacks a required feature.", fix: { ...INSTALL_FIX, summary: "Reinstall runsc" } }, others);
    }
    const details = [`path: ${where}`, `version: ${r.versionText}`, ...others];
    if (!r.version) return warn(`${where}: unrecognised version "${r.versionText}"`, null, details, r);
    return pass(`${r.version.raw} at ${where}`, details, r);
  },
};

export const runscPermissions: Check = {
  id: "runsc.permissions",
  title: "runsc is readable and executable by the sandbox user (nobody)",
  needs: ["runsc.binary"],
  run({ facts }) {
    const r = primaryRunsc(facts.runsc)!;
    const bad = r.permissions.filter((p) => !p.worldOk);
    if (bad.length === 0) return pass(`${r.realPath} and every parent directory are world-readable and executable`);
    const cmd = `sudo chmod a+rx ${bad.map((b) => b.path).join(" ")}`;
    return fail(`not accessible to the sandbox user: ${bad.map((b) => `${b.path} (${b.mode})`).join(", ")}`, {
      cause: "runsc re-executes itself as nobody; without a+rx on the file and every parent directory the sandbox fails with \"unable to attach: operation not permitted\" or \"fork/exec /proc/self/exe: invalid argument\".",
      fix: { id: "runsc.fix-permissions", summary: "Make runsc and its parent directories world-readable and executable", command: cmd, automatic: true },
    }, bad.map((b) => `${b.mode} ${b.path}`));
  },
};
