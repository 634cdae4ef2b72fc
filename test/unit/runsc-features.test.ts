// What the installed runsc knows, read from the real binaries: Debian's runsc 20221219 (this
// host's /usr/bin/runsc) and 20240729 (the trixie tree of the host matrix, when it is built).
// Fixes and `configure` never register a flag the runsc in use would reject.
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installFix, registerFix } from "../../checks/rules.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { onCommand } from "../../platform/os/spawn.ts";
import { inspectRunsc } from "../../platform/runsc/binaries.ts";
import {
  expectedSidecars,
  FEATURES_CACHE_DIR,
  RUNSC_FLAG_TABLE,
  runscFeatures,
  unknownFlags,
} from "../../platform/runsc/features.ts";
import { resolveRuntimeRequest } from "../../src/configure-engines.ts";
import { treePath } from "../hosts/trees.ts";

const HOST_RUNSC = "/usr/bin/runsc"; // Debian bookworm's 0.0~20221219.0
const TRIXIE_RUNSC = join(treePath("trixie"), "usr/bin/runsc"); // 0.0~20240729.0
const NEW_FLAGS = ["host-settings", "gvisor-marker-file", "sidecar-usage-policy"];
const OLD_FLAGS = ["network", "debug", "debug-log", "debug-command", "ignore-cgroups", "systemd-cgroup"];

describe("runsc features from the binary itself", () => {
  test.skipIf(!existsSync(HOST_RUNSC))("runsc 20221219 knows --ignore-cgroups, not --gvisor-marker-file", async () => {
    const f = (await runscFeatures(HOST_RUNSC))!;
    expect(f.source).toBe("runsc flags");
    for (const flag of OLD_FLAGS) expect(f.flags).toContain(flag);
    for (const flag of NEW_FLAGS) expect(f.flags).not.toContain(flag);
    const args = ["--network=none", "ignore-cgroups", "--sidecar-usage-policy=STRICT"];
    expect(unknownFlags(f, args)).toEqual(["--sidecar-usage-policy=STRICT"]);
  });

  test.skipIf(!existsSync(TRIXIE_RUNSC))("runsc 20240729 (trixie): the same old flags, none of the new", async () => {
    const f = (await runscFeatures(TRIXIE_RUNSC))!;
    expect(f.source).toBe("runsc flags");
    for (const flag of OLD_FLAGS) expect(f.flags).toContain(flag);
    for (const flag of NEW_FLAGS) expect(f.flags).not.toContain(flag);
    // The table records what these releases showed.
    for (const row of RUNSC_FLAG_TABLE) {
      if (row.knownIn && row.knownIn <= "20240729") expect(f.flags).toContain(row.flag);
      if (row.absentIn && row.absentIn >= "20240729") expect(f.flags).not.toContain(row.flag);
    }
  });

  test.skipIf(!existsSync(HOST_RUNSC))("cached per binary content: a copy elsewhere is not asked again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-features-"));
    try {
      await runscFeatures(HOST_RUNSC);
      const copy = join(dir, "runsc");
      copyFileSync(HOST_RUNSC, copy);
      const ran: string[][] = [];
      const stop = onCommand((r) => ran.push(r.cmd));
      const f = await runscFeatures(copy);
      stop();
      expect(f?.flags).toContain("ignore-cgroups");
      expect(ran).toEqual([]);
      // Kept on disk by the file's identity too (root can write the cache dir): the next run pays nothing.
      if (process.getuid?.() === 0) expect(readdirSync(FEATURES_CACHE_DIR).some((n) => n.endsWith(".json"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a binary that cannot list its flags falls back to the table, which never guesses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-features-"));
    try {
      const fake = join(dir, "runsc");
      await Bun.write(fake, "#!/bin/sh\nexit 1\n");
      chmodSync(fake, 0o755);
      const f = (await runscFeatures(fake, { date: "20221219" }))!;
      expect(f.source).toBe("table");
      expect(f.flags).toContain("ignore-cgroups");
      const args = ["--gvisor-marker-file", "--ignore-cgroups", "--some-flag-the-table-lacks"];
      expect(unknownFlags(f, args)).toEqual(["--gvisor-marker-file"]);
      // An unknown release: nothing is called unknown.
      expect(unknownFlags(await runscFeatures(fake, null), ["--gvisor-marker-file"])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sidecar set a release expects (runsc.sidecars)", () => {
  test("from the tarball layout on (20260721): the four of gvisor:runsc/gvisorbinaries; none before or unknown", () => {
    const four = ["checkpointgofer", "gvisor-sentry-prewarmer", "gvisor_sentry", "runsc-metric-server"];
    expect(expectedSidecars({ date: "20260907" })).toEqual(four);
    expect(expectedSidecars({ date: "20260721" })).toEqual(four);
    expect(expectedSidecars({ date: "20260720" })).toEqual([]);
    expect(expectedSidecars({ date: "20240729" })).toEqual([]); // Debian's trixie runsc
    expect(expectedSidecars(null)).toEqual([]);
    // runsc-fd-parking has no known first release: never required, so a good install never fails on a guess.
    expect(expectedSidecars({ date: "29991231" })).not.toContain("runsc-fd-parking");
  });
});

describe.skipIf(!existsSync(HOST_RUNSC))("fixes never add a flag the installed runsc does not know", () => {
  const factsWith = async () => ({ runsc: [await inspectRunsc(HOST_RUNSC, true)] }) as unknown as HostFacts;

  test("inspectRunsc carries the binary's features", async () => {
    const r = await inspectRunsc(HOST_RUNSC, true);
    expect(r.features?.flags).toContain("ignore-cgroups");
  });

  test("a flag runsc 20221219 knows is registered; one it lacks turns the fix into an upgrade", async () => {
    const c = { facts: await factsWith(), engine: "docker" as const, runtime: "runsc" };
    const ok = registerFix(c, undefined, ["--ignore-cgroups"]);
    expect(ok.id).toBe("docker.register-runtime");
    expect(ok.argv).toContain("--runtime-arg=--ignore-cgroups");
    const podman = registerFix({ ...c, engine: "podman" }, undefined, ["ignore-cgroups"]);
    expect(podman.id).toBe("podman.register-runtime");
    const up = registerFix(c, undefined, ["--sidecar-usage-policy=STRICT"]);
    expect(up.id).toBe(installFix(c, "").id);
    expect(up.summary).toContain("does not know --sidecar-usage-policy=STRICT");
    expect(up.argv).not.toContain("--runtime-arg=--sidecar-usage-policy=STRICT");
  });

  test("configure refuses a --runtime-arg the runsc it registers does not know (unless --force)", async () => {
    const req = { engines: ["docker"], runscPath: HOST_RUNSC, runtimeArgs: ["--gvisor-marker-file"] };
    const refused = resolveRuntimeRequest(req as never, process.env);
    await expect(refused).rejects.toThrow(/does not know --gvisor-marker-file/);
    const forced = await resolveRuntimeRequest({ ...req, force: true } as never, process.env);
    expect(forced.runtimeArgs).toEqual(["--gvisor-marker-file"]);
    const fine = await resolveRuntimeRequest({ ...req, runtimeArgs: ["network=none"] } as never, process.env);
    expect(fine.runtimeArgs).toEqual(["--network=none"]);
  });

  test("configure --marker is refused, by name, where runsc (20221219) has no --gvisor-marker-file", async () => {
    const req = { engines: ["docker"], runscPath: HOST_RUNSC, marker: true };
    const refused = resolveRuntimeRequest(req as never, process.env);
    const why = /^--marker: \/usr\/bin\/runsc \(\S+\) has no --gvisor-marker-file, so its sandboxes/;
    await expect(refused).rejects.toThrow(why);
  });
});

describe("configure --marker where runsc has --gvisor-marker-file", () => {
  test("adds it as a runtime argument after any --runtime-arg, once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-marker-"));
    try {
      // A runsc whose `runsc flags` lists the flag, as a current release does (none on this host has it).
      const fake = join(dir, "runsc");
      const flags = "  -gvisor-marker-file\n    \tcreate /proc/gvisor/kernel_is_gvisor\n  -network string\n";
      const version = "runsc version release-20260907.0";
      await Bun.write(fake, `#!/bin/sh\ncase $1 in flags) printf '${flags}' ;; *) echo '${version}' ;; esac\n`);
      chmodSync(fake, 0o755);
      const req = { engines: ["docker"], runscPath: fake, marker: true };
      expect((await resolveRuntimeRequest(req as never, process.env)).runtimeArgs).toEqual(["--gvisor-marker-file"]);
      const args = ["network=none", "--gvisor-marker-file"];
      const both = await resolveRuntimeRequest({ ...req, runtimeArgs: args } as never, process.env);
      expect(both.runtimeArgs).toEqual(["--network=none", "--gvisor-marker-file"]);
      await expect(resolveRuntimeRequest({ ...req, remove: true } as never, process.env)).rejects.toThrow(/contradict/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("configure asks the runsc it registers what it knows once, and not at all when the facts did", () => {
  test("--marker with runtime arguments: one runsc --version; with the facts' inspection of it: none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gvd-known-"));
    try {
      const fake = join(dir, "runsc");
      const flags = "  -gvisor-marker-file\n  -network string\n";
      await Bun.write(
        fake,
        `#!/bin/sh\ncase $1 in flags) printf '${flags}' ;; *) echo 'runsc version release-20260907.0' ;; esac\n`,
      );
      chmodSync(fake, 0o755);
      const req = { engines: ["docker"], runscPath: fake, marker: true, runtimeArgs: ["network=none"] };
      const ran: string[][] = [];
      const stop = onCommand((r) => ran.push(r.cmd));
      try {
        const got = await resolveRuntimeRequest(req as never, process.env);
        expect(got.runtimeArgs).toEqual(["--network=none", "--gvisor-marker-file"]);
        expect(ran.filter((c) => c.includes("--version"))).toHaveLength(1);
        ran.length = 0;
        // The facts say this runsc lacks the marker flag: configure believes them, without running it.
        const features = { sha256: "x", flags: ["network"], source: "runsc flags", release: null };
        const facts = { runsc: [{ path: fake, version: null, features }] };
        const refused = resolveRuntimeRequest({ ...req, facts } as never, process.env);
        await expect(refused).rejects.toThrow(/has no --gvisor-marker-file/);
        expect(ran).toEqual([]);
      } finally {
        stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
