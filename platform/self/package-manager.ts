// Is this binary owned by a package manager? Then self-update must leave it alone: the next
// upgrade of the package would put the old file back, or fail on a file that changed under it.
import { existsSync } from "node:fs";
import { run } from "../os/spawn.ts";
import { which } from "../os/which.ts";

const PATH_RULES: [RegExp, string][] = [
  [/^\/nix\/store\//, "Nix"],
  [/^\/snap\//, "snap"],
  [/\/node_modules\//, "npm"],
  [/^(\/home\/linuxbrew\/\.linuxbrew|\/opt\/homebrew|\/usr\/local\/Cellar)\//, "Homebrew"],
];

/** The package manager that owns `path` (its real path, and the path it was run by), or null. */
export async function managedBy(
  paths: string[],
  pathEnv = process.env.PATH ?? "",
): Promise<{ manager: string; how: string } | null> {
  for (const p of paths) {
    for (const [re, manager] of PATH_RULES)
      if (re.test(p)) return { manager, how: `${p} is under ${manager}'s directory` };
  }
  const path = `${pathEnv}:/usr/bin:/bin:/sbin:/usr/sbin`;
  const probes: [string, string[], string][] = [
    ["dpkg-query", ["-S"], "dpkg"],
    ["rpm", ["-qf"], "rpm"],
    ["apk", ["info", "--who-owns"], "apk"],
    ["pacman", ["-Qo"], "pacman"],
  ];
  for (const [tool, args, manager] of probes) {
    const bin = which(tool, path);
    if (!bin) continue;
    for (const p of paths) {
      if (!existsSync(p)) continue;
      const r = await run(bin, [...args, p], { timeoutMs: 10_000 });
      // apk prints "… is owned by pkg" with exit 0 and "ERROR: … Could not find owner" otherwise.
      if (r.code === 0 && !/not find|no package|not owned/i.test(r.stdout + r.stderr)) {
        return {
          manager,
          how: `${tool} ${[...args, p].join(" ")}: ${(r.stdout.trim().split("\n")[0] || "owned").slice(0, 120)}`,
        };
      }
    }
  }
  return null;
}
