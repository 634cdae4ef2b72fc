// Docker without the docker CLI (Debian 13's docker.io ships dockerd, the CLI is docker-cli):
// the compiled binary against a real throwaway dockerd, with every docker CLI out of reach —
// PATH is a directory of symlinks to everything except docker, and the system directories'
// docker (which the doctor also looks in) is covered by an empty non-executable file in a
// private mount namespace. The doctor then talks to dockerd's Engine API on the socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { recordMode } from "../helpers/mode-results.ts";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { BED, startDockerBed, type DockerBed } from "../bed/bed.ts";
import { BINARY, ROOT, finding } from "../helpers/cli.ts";
import { assertReportSchema } from "../helpers/schema.ts";
import { SYSTEM_BIN_DIRS, isExecutableFile, which } from "../../platform/os/which.ts";

const NOT_OTHER_ENGINES = ["--skip", "podman,containerd,crio,k8s"];
const RUNSC_LOADED = "runsc → /usr/bin/runsc --network=none";
const SPAWN = { encoding: "utf8" as const, timeout: 180_000, maxBuffer: 64 << 20 };
const RUNSC_JSON = JSON.stringify({ runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] } } });

describe.skipIf(!BED.ok)("Docker checks with the docker CLI hidden", () => {
  let bed: DockerBed;
  let dir: string;
  let farm: string;
  let mounts: string;
  beforeAll(async () => {
    bed = await startDockerBed();
    dir = mkdtempSync("/tmp/gvd-nocli-");
    chmodSync(dir, 0o755); // runsc is found through the farm: runsc.permissions checks the way there
    farm = join(dir, "bin");
    mkdirSync(farm);
    for (const d of (process.env.PATH ?? "").split(":").filter((p) => p && existsSync(p))) {
      for (const name of readdirSync(d)) {
        if (name === "docker" || existsSync(join(farm, name))) continue;
        symlinkSync(join(d, name), join(farm, name));
      }
    }
    const empty = join(dir, "no-docker");
    writeFileSync(empty, "", { mode: 0o644 });
    const covered = [
      ...new Set(
        [...SYSTEM_BIN_DIRS, ...(process.env.PATH ?? "").split(":")]
          .map((d) => join(d || "/", "docker"))
          .filter(isExecutableFile)
          .map((p) => realpathSync(p)),
      ),
    ];
    mounts = covered.map((p) => `mount --bind ${empty} ${p} && `).join("");
  });
  afterAll(async () => {
    await bed?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The binary in a private mount namespace where no docker CLI can be found. */
  function noCli(args: string[], env: NodeJS.ProcessEnv = {}) {
    const script = `${mounts}exec "$@"`;
    const argv = ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", BINARY, ...args];
    const r = spawnSync(which("unshare")!, argv, { env: { ...bed.env, PATH: farm, ...env }, ...SPAWN });
    let json: any;
    try {
      json = JSON.parse(r.stdout);
    } catch {}
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "", json };
  }
  const withCli = (args: string[]) => {
    const r = spawnSync(BINARY, args, { env: { ...bed.env, GVISOR_DOCTOR_DOCKER_VIA: "cli" }, ...SPAWN });
    return { code: r.status ?? -1, json: JSON.parse(r.stdout), stderr: r.stderr };
  };

  test("the hidden CLI really is out of reach", () => {
    expect(mounts).not.toBe(""); // this machine has a docker CLI to hide (the bed needs one)
    const r = noCli(["check", "--json", "--only", "docker.daemon"]);
    expect(r.json.host.docker).toMatchObject({ cli: null, via: "api" });
  });

  let version = "";
  const cells = ["docker.daemon", "docker.runtime", "docker.hello", "docker.signature"];
  test("docker.daemon/runtime/hello/signature pass as with the CLI; the probe image is loaded through the API", () =>
    recordMode(
      cells,
      () => ({
        id: "docker-without-cli",
        engine: "Docker",
        version,
        mode: "every docker CLI hidden (as Debian 13's docker.io without docker-cli)",
        registered: "runsc, checked and probed through the Engine API on dockerd's unix socket",
      }),
      () => {
        const api = noCli(["check", "--json", ...NOT_OTHER_ENGINES]);
        version = /^Docker (\S+)/.exec(finding(api.json, "docker.daemon").message)?.[1] ?? "?";
        assertReportSchema(api.json);
        const daemon = finding(api.json, "docker.daemon");
        expect(daemon.status).toBe("pass");
        const sock = bed.host.slice("unix://".length);
        expect(daemon.details).toContain(`via: the Engine API on ${sock} (no docker CLI on PATH)`);
        expect(daemon.details).toContain(`config: ${bed.configFile}`);
        expect(finding(api.json, "docker.runtime")).toMatchObject({ status: "pass", message: RUNSC_LOADED });
        const hello = finding(api.json, "docker.hello");
        expect(hello.status).toBe("pass");
        const how = "create (Runtime=runsc, NetworkMode=none), start, wait, logs, remove";
        expect(hello.details[0]).toStartWith(`via the Engine API at ${sock}: ${how}`);
        expect(hello.details.join("\n")).toContain("built now"); // a fresh dockerd: POST /images/load ran
        expect(hello.details).toContain("dmesg: [   0.000000] Starting gVisor...");
        expect(finding(api.json, "docker.signature").status).toBe("pass");
        const failed = api.json.checks.filter((c: any) => c.status === "fail");
        expect(failed.map((c: any) => `${c.id}: ${c.message}`)).toEqual([]);
        expect(api.code).toBe(0);
        // The image the API loaded is the tag the CLI path imports, and no probe container is left.
        expect(bed.docker(["images", "-q", "gvisor-doctor/hello"]).stdout.trim().split("\n")).toHaveLength(1);
        expect(bed.docker(["ps", "-aq"]).stdout.trim()).toBe("");

        const cli = withCli(["check", "--json", ...NOT_OTHER_ENGINES]);
        expect(cli.json.host.docker.via).toBe("cli");
        for (const id of ["docker.daemon", "docker.runtime", "docker.hello", "docker.signature", "docker.network"]) {
          const a = finding(api.json, id);
          const c = finding(cli.json, id);
          expect({ id, status: a.status }).toEqual({ id, status: c.status });
          if (id !== "docker.hello") expect(a.message).toBe(c.message);
        }
        expect(finding(cli.json, "docker.hello").details[0]).toMatch(/^\$ docker run --pull=never .*--runtime=runsc/);
      },
    ));

  test("a runtime dockerd has not loaded: docker.runtime fails with the same diagnosis as with the CLI", async () => {
    writeFileSync(bed.configFile, '{ "runtimes": {} }\n');
    await bed.reload();
    try {
      const api = noCli(["check", "--json", "--only", "docker.runtime"]);
      const cli = withCli(["check", "--json", "--only", "docker.runtime"]);
      const diagnosis = { fix: { id: "docker.register-runtime" } };
      expect(finding(api.json, "docker.runtime")).toMatchObject({ status: "fail", diagnosis });
      expect(finding(api.json, "docker.runtime").message).toBe(finding(cli.json, "docker.runtime").message);
    } finally {
      writeFileSync(bed.configFile, RUNSC_JSON);
      await bed.reload();
    }
  });

  test("a sandbox that does not start (runsc without --network=none): the same failure and diagnosis", async () => {
    writeFileSync(bed.configFile, JSON.stringify({ runtimes: { runsc: { path: "/usr/bin/runsc" } } }));
    await bed.reload();
    try {
      const only = ["check", "--json", "--only", "docker.hello"];
      const api = finding(noCli(only).json, "docker.hello");
      const cli = finding(withCli(only).json, "docker.hello");
      // Seen here: both fail with rule netns-root ("cannot run with network enabled in root network namespace").
      expect(api.status).toBe(cli.status);
      expect(api.diagnosis?.rule).toBe(cli.diagnosis?.rule);
      expect(api.diagnosis?.fix).toEqual(cli.diagnosis?.fix);
      const said = "the container did not start: Error response from daemon: ";
      if (api.status === "fail") expect(api.message).toContain(said);
    } finally {
      writeFileSync(bed.configFile, RUNSC_JSON);
      await bed.reload();
    }
  });

  test("configure docker reloads dockerd and verifies the runtime through the API", async () => {
    writeFileSync(bed.configFile, "{}\n");
    await bed.reload();
    try {
      const wrappers = join(dir, "wrappers");
      const args = ["configure", "docker", "--runsc", "/usr/bin/runsc", "--runtime-arg=--network=none", "--json"];
      const r = noCli(args, { GVISOR_DOCTOR_WRAPPER_DIR: wrappers });
      expect(r.code).toBe(0);
      const engine = r.json.engines[0];
      expect(engine.reload).toMatchObject({ action: "reloaded", method: `SIGHUP to dockerd pid ${bed.dockerdPid}` });
      expect(engine.verify).toMatchObject({ ok: true, message: `dockerd's GET /info lists ${RUNSC_LOADED}` });
    } finally {
      writeFileSync(bed.configFile, RUNSC_JSON);
      await bed.reload();
    }
  });

  test("under Deno too: node:http over the unix socket reads the runtimes and runs the probe", () => {
    const deno = join(ROOT, "node_modules", ".bin", "deno");
    const only = ["--only", "docker.runtime,docker.hello,docker.signature"];
    const r = spawnSync(deno, ["run", "-A", join(ROOT, "src/cli.ts"), "check", "--json", ...only], {
      cwd: ROOT,
      env: { ...bed.env, GVISOR_DOCTOR_DOCKER_VIA: "api" },
      ...SPAWN,
    });
    const doc = JSON.parse(r.stdout);
    expect(doc.host.docker).toMatchObject({ via: "api", probeVia: "api" });
    expect(finding(doc, "docker.runtime")).toMatchObject({ status: "pass", message: RUNSC_LOADED });
    expect(finding(doc, "docker.hello").status).toBe("pass");
    expect(finding(doc, "docker.signature").status).toBe("pass");
  });

  test("DOCKER_HOST over tcp without the CLI: docker.daemon says the CLI is needed, and how to do without it", () => {
    const r = noCli(["check", "--json", "--only", "docker.daemon"], { DOCKER_HOST: "tcp://127.0.0.1:2375" });
    const d = finding(r.json, "docker.daemon");
    expect(d).toMatchObject({ status: "fail", diagnosis: { fix: { id: "docker.install-cli" } } });
    const why =
      "dockerd runs but the docker CLI is not on PATH, and DOCKER_HOST=tcp://127.0.0.1:2375 " + "is not a unix socket";
    expect(d.message).toBe(why);
  });
});
