// Stamped at build time (`--define GVD_VERSION=...` from `git describe`); source runs
// (bun/deno run src/cli.ts) report the package version with a "-dev" suffix.
declare const GVD_VERSION: string | undefined;
export const VERSION: string = typeof GVD_VERSION === "string" ? GVD_VERSION : "0.1.0-dev";

/** Who wrote a --json document: the `tool` field of every report (and `--version --json`). */
export const TOOL = { name: "gvisor-doctor", version: VERSION } as const;

/** What `--version` prints (the entry answers it before loading any other module). */
export function versionText(json: boolean): string {
  return json ? JSON.stringify(TOOL) : `gvisor-doctor ${VERSION}`;
}
