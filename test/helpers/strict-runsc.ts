// A runsc that says it knows --sidecar-usage-policy. No runsc on this machine does (Debian ships
// 20221219 and 20240729; the flag is newer), so this wrapper lists it in `runsc flags`, records
// every command line it gets, and drops the flag before it runs the real /usr/bin/runsc.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Write the wrapper into `dir` (which must be reachable by nobody: runsc re-executes itself).
 * `onStrict` is shell run instead of runsc when the probe passes STRICT (default: run runsc).
 */
export function strictAwareRunsc(dir: string, opts: { onStrict?: string; extra?: string } = {}) {
  const path = join(dir, "runsc");
  const log = join(dir, "argv.log");
  writeFileSync(
    path,
    `#!/bin/sh
echo "$*" >> ${log}
if [ "$1" = flags ]; then
  /usr/bin/runsc flags
  printf '  -sidecar-usage-policy string\\n    \\tSTRICT: no embedded sidecar fallback\\n'
  exit 0
fi
strict=
for a do
  shift
  case "$a" in --sidecar-usage-policy=STRICT) strict=1 ;; *) set -- "$@" "$a" ;; esac
done
${opts.onStrict ? `[ -z "$strict" ] || { ${opts.onStrict}; }\n` : ""}exec /usr/bin/runsc ${opts.extra ?? ""} "$@"
`,
  );
  chmodSync(path, 0o755);
  return { path, log };
}
