// The host matrix (issue 13): every user journey on real Debian hosts built from Debian's
// archive (test/hosts/trees.ts), booted in private namespaces (test/hosts/host.ts):
//   bookworm without init (daemons started by hand), trixie and sid with systemd as PID 1.
// Journeys assert on --json (check ids, statuses, rule ids), never on prose.
// GVD_MATRIX_HOSTS=sid-systemd,trixie (names or suites) runs a subset.
// Every host here has a cgroup2 mount without controllers (this machine's kernel is hybrid):
// runsc needs --ignore-cgroups, which --fix must find by itself (rule cgroup-controller-missing).
// Hosts have no network (their own namespace): the doctor runs with --offline, since a lookup of the
// latest release can only fail there, and on a loaded machine it pushed runsc.version past its 10 s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../helpers/cli.ts";
import { doctorImageTar } from "../helpers/doctor-image.ts";
import { bootHost, type Host } from "../hosts/host.ts";
import { liveIn } from "../hosts/lived-in.ts";
import { hostName, MATRIX_HOSTS } from "./hosts.ts";
import { putBucket, RELEASES } from "../hosts/bucket.ts";
import { treeAvailability } from "../hosts/trees.ts";
import { RESULTS } from "../../scripts/tested-on.ts";

const LONG = 900_000;
const wanted = (process.env.GVD_MATRIX_HOSTS ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const selected = MATRIX_HOSTS.filter((h) => !wanted.length || wanted.includes(hostName(h)) || wanted.includes(h.suite));

interface Check {
  id: string;
  status: "pass" | "warn" | "fail" | "skip";
  message: string;
  durationMs: number;
  diagnosis: { rule?: string; fix?: { id: string } | null } | null;
}
interface Doc {
  ok: boolean;
  checks: Check[];
  fix?: { applied: { id: string; status: string }[] };
}

function doc(r: { code: number; stdout: string; stderr: string }): Doc {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-3000)}`);
  }
}
const byId = (d: Doc) => new Map(d.checks.map((c) => [c.id, c]));
/** The failing checks, in a form that makes a failed expect() readable. */
const failures = (d: Doc) =>
  d.checks.filter((c) => c.status === "fail").map((c) => `${c.id}: ${c.message} [${c.diagnosis?.rule ?? "-"}]`);
/** The failures runsc's own random crash causes, as the doctor names it (sid's runsc: journey 1). */
const onlyTheCrash = (d: Doc) => {
  const failed = d.checks.filter((c) => c.status === "fail");
  return failed.length > 0 && failed.every((c) => c.diagnosis?.rule === "runsc-goroutine-panic");
};
const ENGINES = ["docker", "containerd", "podman"] as const;
/** The cells journey 1 requires green: each engine's runtime and hello, Docker's signature. */
const CELLS = [...ENGINES.flatMap((e) => [`${e}.runtime`, `${e}.hello`]), "docker.signature"];

/** Engine config files a journey must leave byte for byte (null: absent). */
const CONFIGS = [
  "/etc/docker/daemon.json",
  "/etc/containerd/config.toml",
  "/etc/containers/containers.conf",
  "/etc/containers/containers.conf.d/99-gvisor.conf",
];
function configBytes(h: Host): Record<string, string | null> {
  const bytes = (p: string) => (existsSync(join(h.root, p)) ? readFileSync(join(h.root, p), "latin1") : null);
  return Object.fromEntries(CONFIGS.map((p) => [p, bytes(p)]));
}

for (const spec of selected) {
  const name = hostName(spec);
  const avail = treeAvailability(spec.suite);
  const d = avail.ok ? describe : describe.skip;
  d(`host ${name}${avail.ok ? "" : ` (skipped: ${avail.reason})`}`, () => {
    // Journeys 1, 3 and 4 share one host, in that order (4 breaks what 1 repaired);
    // journey 2 starts from a blank host of its own.
    let host: Host;
    const result = {
      host: name,
      suite: spec.suite,
      init: spec.init,
      ...(spec.livedIn ? { livedIn: true } : {}),
      versions: {} as Record<string, string>,
      journeys: {} as Record<string, "pass" | "fail">,
      figures: {} as Record<string, number>,
    };
    // A journey passes when every test of it ran and passed (journey 4 has several).
    const started: Record<number, number> = {};
    const passed: Record<number, number> = {};
    /**
     * The doctor with --json on host `h`. On sid, runsc itself crashes at random (journey 1 asserts the doctor says
     * so: runsc-go-toolchain); a run whose only failures the doctor pins on that crash (runsc-goroutine-panic) runs
     * again, at most 3 more times. Any other failure stands, and every other host gets exactly one run.
     */
    const doctorJson = (h: Host, args: string[]) => {
      const once = () => h.run([h.doctor, ...args, "--json"]);
      let r = once();
      for (let i = 0; spec.runscPanics && onlyTheCrash(doc(r)) && i < 3; i++) r = once();
      return r;
    };
    const journey = (n: number, title: string, fn: () => Promise<void> | void) =>
      test(
        `journey ${n}: ${title}`,
        async () => {
          started[n] = (started[n] ?? 0) + 1;
          await fn();
          passed[n] = (passed[n] ?? 0) + 1;
        },
        LONG,
      );

    beforeAll(async () => {
      const t = Date.now();
      host = await bootHost(spec.suite, { init: spec.init, binary: BINARY });
      await host.waitReady(180_000);
      if (spec.livedIn) liveIn(host);
      result.versions = host.versions;
      result.figures.bootMs = Date.now() - t;
    }, LONG);
    afterAll(async () => {
      await host?.stop();
      for (const n of Object.keys(started).map(Number)) result.journeys[n] = passed[n] === started[n] ? "pass" : "fail";
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    }, LONG);

    journey(
      1,
      "blank host → --fix --yes exits 0 on the first run; " +
        "check passes every engine's runtime, hello and signature",
      () => {
        const before = doc(host.run([host.doctor, "check", "--offline", "--json"]));
        // Blank: runsc is not registered anywhere yet. Lived in: registered by an earlier install.
        for (const e of ["docker", "containerd"]) {
          expect([e, byId(before).get(`${e}.runtime`)?.status]).toEqual([e, spec.livedIn ? "pass" : "fail"]);
        }
        const t = Date.now();
        const fixed = doctorJson(host, ["--fix", "--yes", "--offline"]);
        result.figures.fixMs = Date.now() - t;
        const fd = doc(fixed);
        expect({ code: fixed.code, failures: failures(fd), log: fixed.code ? fixed.stderr.slice(-4000) : "" }).toEqual({
          code: 0,
          failures: [],
          log: "",
        });
        const after = doctorJson(host, ["check", "--offline"]);
        const ad = doc(after);
        const cells = byId(ad);
        expect(CELLS.map((id) => [id, cells.get(id)?.status])).toEqual(CELLS.map((id) => [id, "pass"]));
        expect({ code: after.code, failures: failures(ad) }).toEqual({ code: 0, failures: [] });
        result.figures.hellosMs = ENGINES.reduce((s, e) => s + (cells.get(`${e}.hello`)?.durationMs ?? 0), 0);
        // sid's own runsc crashes at random (go1.26 build of 20240729): the doctor names it, with the fix.
        const version = cells.get("runsc.version");
        if (spec.runscPanics)
          expect([version?.status, version?.diagnosis?.rule]).toEqual(["warn", "runsc-go-toolchain"]);
        else expect(version?.diagnosis?.rule).not.toBe("runsc-go-toolchain");
        // runsc directly works only with --ignore-cgroups here: a warning that says why, not a failure.
        const smoke = cells.get("runsc.smoke")!;
        expect([smoke.status, smoke.diagnosis?.rule]).toEqual(["warn", "cgroup-controller-missing"]);
      },
    );

    journey(
      3,
      "exec through docker, podman and runsc; " + "preflight --require under runsc (CMD's exit) and runc (exit 1)",
      () => {
        // On sid, runsc itself panics at random (journey 1 shows the doctor says so: runsc-go-toolchain), and a
        // pipeline starts several processes: about one exec in eight ends with the Go runtime's exit 2 and no
        // output. There, and only for that signature, an exec is tried again (at most 4 times); exec's own
        // behaviour (the command's exit code, sandboxed, gVisor's dmesg) is asserted on the run that got through.
        const crashed = (r: { code: number; stdout: string }) => {
          try {
            const out = JSON.parse(r.stdout);
            return r.code === 2 && out.exitCode === 2 && !out.stdout;
          } catch {
            return false;
          }
        };
        for (const via of ["docker", "podman", "runsc"]) {
          const exec = () =>
            host.run([host.doctor, "exec", "--via", via, "--json", "--", "sh", "-c", "dmesg | head -1; exit 7"]);
          let r = exec();
          for (let i = 0; spec.runscPanics && crashed(r) && i < 3; i++) r = exec();
          const out = JSON.parse(r.stdout || "{}");
          expect({
            via,
            code: r.code,
            sandboxed: out.sandboxed,
            stderr: r.code === 7 ? "" : r.stderr.slice(-2000),
          }).toEqual({ via, code: 7, sandboxed: true, stderr: "" });
          expect(out.stdout).toContain("gVisor");
        }
        writeFileSync(join(host.root, "opt/gvd-test/doctor-image.tar"), doctorImageTar());
        const imp = host.run(["docker", "import", "/opt/gvd-test/doctor-image.tar", "local/gvisor-doctor-test:latest"]);
        expect(imp.stderr).toBe("");
        const under = (runtime: string[]) =>
          host.run([
            "docker",
            "run",
            "--rm",
            ...runtime,
            "local/gvisor-doctor-test:latest",
            "gvisor-doctor",
            "preflight",
            "--require",
            "--",
            "sh",
            "-c",
            "echo app-ran; exit 7",
          ]);
        const gv = under(["--runtime=runsc"]);
        expect({ code: gv.code, stdout: gv.stdout.trim(), stderr: gv.code === 7 ? "" : gv.stderr }).toEqual({
          code: 7,
          stdout: "app-ran",
          stderr: "",
        });
        const runc = under([]);
        expect({ code: runc.code, ran: runc.stdout.includes("app-ran") }).toEqual({ code: 1, ran: false });
      },
    );

    describe("journey 4: broken hosts, each diagnosed by rule id and repaired by --fix", () => {
      /**
       * Break the host, expect `check` to fail `checkId` with the diagnosis `rule` (a rule id from
       * checks/rules.ts, or for states a check detects itself, the id of its fix), then --fix to repair it.
       */
      const scenario = (title: string, checkId: string, rule: string, breakIt: () => void) =>
        journey(4, title, () => {
          breakIt();
          const broken = doc(host.run([host.doctor, "check", "--offline", "--json"]));
          const c = byId(broken).get(checkId);
          expect({ status: c?.status, rule: c?.diagnosis?.rule ?? c?.diagnosis?.fix?.id }).toEqual({
            status: "fail",
            rule,
          });
          const fixed = doctorJson(host, ["--fix", "--yes", "--offline"]);
          const log = fixed.code ? fixed.stderr.slice(-3000) : "";
          expect({ code: fixed.code, failures: failures(doc(fixed)), log }).toEqual({ code: 0, failures: [], log: "" });
          const after = byId(doc(doctorJson(host, ["check", "--offline"])));
          // A cell that did not pass shows its message and rule (the expected side has none).
          const cell = (id: string) => {
            const c = after.get(id);
            return c?.status === "pass" ? [id, "pass"] : [id, c?.status, c?.message, c?.diagnosis?.rule];
          };
          expect(CELLS.map(cell)).toEqual(CELLS.map((id) => [id, "pass"]));
        });
      const daemonJson = () => join(host.root, "etc/docker/daemon.json");
      const reloadDocker = () => expect(host.reloadDocker().code).toBe(0);

      scenario("runtime registered but dockerd not reloaded", "docker.runtime", "runtime-unknown", () => {
        const registered = readFileSync(daemonJson(), "utf8");
        // dockerd keeps its runtimes on a reload of a file without the key: an empty map drops runsc.
        writeFileSync(daemonJson(), '{ "runtimes": {} }\n');
        reloadDocker();
        writeFileSync(daemonJson(), registered);
      });
      scenario("daemon.json with a BOM written after dockerd started", "docker.config", "docker.repair-config", () => {
        writeFileSync(daemonJson(), `\ufeff${readFileSync(daemonJson(), "utf8")}`);
      });
      scenario(
        "runtime path pointing at an HTML page (a captive portal saved as runsc)",
        "docker.runtime-path",
        "exec-format",
        () => {
          const html = "<!DOCTYPE html><html><body>Sign in</body></html>\n";
          writeFileSync(join(host.root, "usr/local/bin/runsc-html"), html, { mode: 0o755 });
          const cfg = JSON.parse(readFileSync(daemonJson(), "utf8"));
          cfg.runtimes.runsc.path = "/usr/local/bin/runsc-html";
          writeFileSync(daemonJson(), `${JSON.stringify(cfg, null, 2)}\n`);
          reloadDocker();
        },
      );
      scenario(
        "containerd config with runsc under the wrong plugin path for its version",
        "containerd.config",
        "containerd-plugin-path",
        () => {
          const p = join(host.root, "etc/containerd/config.toml");
          const toml = readFileSync(p, "utf8");
          // v2 files name the CRI runtimes io.containerd.grpc.v1.cri; v3 io.containerd.cri.v1.runtime. Swap them.
          const wrong = /version\s*=\s*3/.test(toml)
            ? toml.replaceAll('"io.containerd.cri.v1.runtime"', '"io.containerd.grpc.v1.cri"')
            : toml.replaceAll(
                '"io.containerd.grpc.v1.cri".containerd.runtimes.runsc',
                '"io.containerd.cri.v1.runtime".containerd.runtimes.runsc',
              );
          expect(wrong).not.toBe(toml);
          writeFileSync(p, wrong);
          expect(host.restartContainerd().code).toBe(0);
        },
      );
    });

    journey(
      2,
      "install from the fake bucket (both layouts) → registered → check → uninstall → " + "configs byte for byte",
      async () => {
        const blank = await bootHost(spec.suite, { init: spec.init, binary: BINARY });
        try {
          await blank.waitReady(180_000);
          // Lived in: what uninstall must give back is the host before gvisor-doctor ever served it.
          const original = configBytes(blank);
          if (spec.livedIn) liveIn(blank);
          const mirror = putBucket(blank);
          // The legacy layout (loose files), then an upgrade to the tarball layout. These hosts need
          // --ignore-cgroups (journey 1 shows --fix finds it); install takes it as a runtime argument.
          for (const version of [RELEASES.legacy, RELEASES.current]) {
            const r = blank.run([
              blank.doctor,
              "install",
              "--mirror",
              mirror,
              "--version",
              version,
              "--restart",
              "--runtime-arg=--ignore-cgroups",
              "--runtime-arg=--network=none",
              "--json",
            ]);
            expect({ version, code: r.code, err: r.code ? r.stderr.slice(-3000) : "" }).toEqual({
              version,
              code: 0,
              err: "",
            });
          }
          const checked = byId(doc(doctorJson(blank, ["check", "--offline"])));
          // The fake bucket's containerd-shim-runsc-v1 is a busybox stand-in (test/helpers/fake-bucket.ts),
          // so containerd's hello cannot run through it; registration is what this journey proves there.
          const cells = CELLS.filter((id) => id !== "containerd.hello");
          expect(cells.map((id) => [id, checked.get(id)?.status])).toEqual(cells.map((id) => [id, "pass"]));
          const un = blank.run([blank.doctor, "uninstall", "--restart", "--json"]);
          expect({ code: un.code, err: un.code ? un.stderr.slice(-3000) : "" }).toEqual({ code: 0, err: "" });
          expect(configBytes(blank)).toEqual(original);
          const gone = byId(doc(blank.run([blank.doctor, "check", "--offline", "--json"])));
          for (const e of ["docker", "containerd"]) expect([e, gone.get(`${e}.runtime`)?.status]).toEqual([e, "fail"]);
        } finally {
          await blank.stop();
        }
      },
    );
  });
}
