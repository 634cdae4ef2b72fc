// uninstall takes back what configure wrote for the prefix's runsc outside <prefix>/bin: the wrapper
// scripts in <prefix>/libexec/gvisor-doctor. One an engine's config still names is left in place and
// the engine is named, so no engine is silently left pointing at a file that is gone.
import { afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { bucketDir, RELEASES } from "../helpers/fake-bucket.ts";
import { cleanEnv, gvdAsync as gvd, makePrefix, removePrefix } from "../helpers/install-env.ts";

setDefaultTimeout(120_000);

let mirror: string;
let prefix: string;
beforeAll(() => {
  mirror = bucketDir();
}, 180_000);
beforeEach(async () => {
  prefix = makePrefix();
  const argv = ["install", "--mirror", mirror, "--prefix", prefix, "--version", RELEASES.legacy, "--no-configure"];
  const r = await gvd(argv, cleanEnv());
  expect(r.code).toBe(0);
});
afterEach(() => removePrefix(prefix));

const wrappers = () => join(prefix, "libexec/gvisor-doctor");
const conf = () => join(prefix, "containers.conf");
/** configure podman (4.3: runtime args only through a wrapper) for the prefix's runsc, with CONTAINERS_CONF. */
async function configureWithWrapper(): Promise<string> {
  writeFileSync(conf(), "");
  const argv = [
    "configure",
    "podman",
    "--runsc",
    join(prefix, "bin/runsc"),
    "--runtime-arg=--network=none",
    "--wrapper-dir",
    wrappers(),
    "--no-verify",
  ];
  const r = await gvd(argv, cleanEnv({ CONTAINERS_CONF: conf() }));
  expect(r.code).toBe(0);
  const w = join(wrappers(), "podman-runsc");
  expect(readFileSync(conf(), "utf8")).toContain(w);
  return w;
}

describe("uninstall and the wrappers configure wrote", () => {
  test("a wrapper no engine names any more is removed; a script gvisor-doctor did not write stays", async () => {
    const w = await configureWithWrapper();
    writeFileSync(conf(), ""); // the engine's entry went (by hand, or with another tool)
    const other = join(wrappers(), "podman-other");
    writeFileSync(other, '#!/bin/sh\nexec /usr/bin/runsc "$@"\n', { mode: 0o755 }); // not ours: stays
    const r = await gvd(["uninstall", "--prefix", prefix, "--no-configure"], cleanEnv({ CONTAINERS_CONF: conf() }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`removed ${w}`);
    expect(existsSync(w)).toBe(false);
    expect(readdirSync(wrappers())).toEqual(["podman-other"]);
  });

  test("with nothing else there, <prefix>/libexec/gvisor-doctor goes too", async () => {
    const w = await configureWithWrapper();
    writeFileSync(conf(), ""); // no config names it any more
    const r = await gvd(["uninstall", "--prefix", prefix, "--no-configure"], cleanEnv());
    expect(r.code).toBe(0);
    expect(existsSync(w)).toBe(false);
    expect(existsSync(wrappers())).toBe(false);
  });

  test("a wrapper an engine still names (uninstall --no-configure) is kept, and the engine is named", async () => {
    const w = await configureWithWrapper();
    const argv = ["uninstall", "--prefix", prefix, "--no-configure", "--json"];
    const r = await gvd(argv, cleanEnv({ CONTAINERS_CONF: conf() }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${w} runs ${prefix}'s runsc, which is gone, and podman still uses it`);
    expect(r.stderr).toContain("gvisor-doctor configure podman --remove");
    expect(r.json.wrappersInUse).toEqual([{ path: w, engines: ["podman"] }]);
    expect(existsSync(w)).toBe(true);
  });

  test("by default uninstall unregisters podman first, which takes its wrapper with it", async () => {
    const w = await configureWithWrapper();
    const r = await gvd(["uninstall", "--prefix", prefix], cleanEnv({ CONTAINERS_CONF: conf() }));
    expect(r.code).toBe(0);
    expect(existsSync(w)).toBe(false);
    expect(readFileSync(conf(), "utf8")).not.toContain(w);
  });

  test("configure's rule: a wrapper whose config (not an engine's default one) still names it is kept", async () => {
    const w = await configureWithWrapper();
    // Without CONTAINERS_CONF uninstall reads podman's default config; the wrapper says which config it serves.
    const r = await gvd(["uninstall", "--prefix", prefix, "--no-configure", "--json"], cleanEnv());
    expect(r.code).toBe(0);
    expect(r.json.wrappersInUse).toEqual([{ path: w, engines: ["podman"] }]);
    expect(existsSync(w)).toBe(true);
  });

  test("uninstall and configure's writes exclude each other: while one holds the lock, uninstall removes nothing", async () => {
    const w = await configureWithWrapper();
    writeFileSync(conf(), "");
    const script = join(prefix, "hold.ts");
    const flock = join(import.meta.dirname, "../../platform/os/flock.ts");
    writeFileSync(
      script,
      `import { withLock, wrappersLockPath } from ${JSON.stringify(flock)};
      await withLock(wrappersLockPath(), async () => { console.log("held"); await new Promise(() => {}); });`,
    );
    const holder = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((ok) => holder.stdout!.on("data", (b: Buffer) => b.toString().includes("held") && ok()));
      const argv = ["uninstall", "--prefix", prefix, "--no-configure"];
      const r = await gvd(argv, cleanEnv({ GVISOR_DOCTOR_LOCK_WAIT: "1" }));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`another gvisor-doctor (pid ${holder.pid}) holds`);
      expect(r.stderr).toContain("nothing was removed");
      expect(existsSync(w)).toBe(true);
      expect(existsSync(join(prefix, "bin/runsc"))).toBe(true);
    } finally {
      holder.kill("SIGKILL");
    }
    const again = await gvd(["uninstall", "--prefix", prefix, "--no-configure"], cleanEnv());
    expect(again.code).toBe(0);
    expect(existsSync(w)).toBe(false);
  });
});
