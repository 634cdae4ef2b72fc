// Stamped at build time (`--define GVD_VERSION=...` from `git describe`); source runs
// (bun/deno run src/cli.ts) report the package version with a "-dev" suffix.
declare const GVD_VERSION: string | undefined;
export const VERSION: string = typeof GVD_VERSION === "string" ? GVD_VERSION : "0.1.0-dev";
