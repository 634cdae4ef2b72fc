// gVisor names architectures the way `uname -m` does; Bun/Node name them x64/arm64.
export type GvisorArch = "x86_64" | "aarch64";

export function unameArch(nodeArch: string = process.arch): string {
  switch (nodeArch) {
    case "x64":
      return "x86_64";
    case "arm64":
      return "aarch64";
    case "ia32":
      return "i386";
    case "arm":
      return "armv7l";
    default:
      return nodeArch;
  }
}

/** Normalise `uname -m` spellings; null for architectures gVisor does not support. */
export function gvisorArch(machine: string): GvisorArch | null {
  switch (machine) {
    case "x86_64":
    case "amd64":
    case "x64":
      return "x86_64";
    case "aarch64":
    case "arm64":
      return "aarch64";
    default:
      return null;
  }
}
