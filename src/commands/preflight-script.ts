// dist/gvisor-preflight.sh, the standalone preflight for images with a shell, embedded in the
// binary (`preflight --print-script`) and in the release, with its version line stamped.
// Its own module, imported only when asked for: preflight itself never loads the text.
import script from "../../dist/gvisor-preflight.sh" with { type: "text" };

export function preflightScript(version: string): string {
  if (!/^GVD_VERSION=.*$/m.test(script)) throw new Error("gvisor-preflight.sh has no GVD_VERSION= line");
  return script.replace(/^GVD_VERSION=.*$/m, `GVD_VERSION=${JSON.stringify(version)}`);
}
