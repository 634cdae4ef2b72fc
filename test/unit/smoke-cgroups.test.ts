// runsc.smoke on a host whose cgroups runsc cannot use: it retries with --ignore-cgroups. What that retry says
// decides the finding. Seen on sid: the retry hit runsc's random crash (a wordless exit 2), the check still
// reported the cgroup failure, and --fix applied "configure all --runtime-arg=--ignore-cgroups", which replaced
// every engine's runtime args (their --network=none was lost).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerFix } from "../../checks/rules.ts";
import { runscSmoke } from "../../checks/runsc.ts";
import type { Finding } from "../../checks/types.ts";
import type { HostFacts } from "../../platform/facts/host-facts.ts";
import { planFixes } from "../../src/fix.ts";
import { fakeFacts, runWithRunsc } from "../helpers/facts.ts";

const REAL = "/usr/bin/runsc";
const dir = mkdtempSync(join(tmpdir(), "gvd-smoke-cg-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const facts = fakeFacts({ user: { uid: 0, root: true }, runsc: [], docker: {} });
const CGROUP =
  'creating container: cannot set up cgroup for root: configuring cgroup: mandatory cgroup controller "memory" is missing';

/** A runsc that fails on cgroups without --ignore-cgroups, and with it runs `then` (a shell snippet). */
function fakeRunsc(name: string, then: string): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    `#!/bin/sh
case " $* " in *" do "*) ;; *) exec ${REAL} "$@";; esac
case " $* " in
  *" --ignore-cgroups "*) ${then} ;;
  *) echo '${CGROUP}' >&2; exit 128;;
esac
`,
    { mode: 0o755 },
  );
  return p;
}
const smoke = (runsc: string) => runWithRunsc(runscSmoke, runsc, facts);

describe.skipIf(process.getuid?.() !== 0 || !existsSync(REAL))("runsc.smoke and --ignore-cgroups", () => {
  test("the retry crashes once without a word: it is tried again, and the check warns as usual", async () => {
    const state = join(dir, "tries");
    const runsc = fakeRunsc(
      "crash-once",
      `n=$(cat ${state} 2>/dev/null || echo 0); echo $((n+1)) >${state}; [ "$n" = 0 ] && exit 2; exec ${REAL} "$@"`,
    );
    const o = await smoke(runsc);
    expect({ status: o.status, rule: o.diagnosis?.rule }).toEqual({
      status: "warn",
      rule: "cgroup-controller-missing",
    });
    expect(o.message).toContain("starts only with --ignore-cgroups");
  });

  test("the retry fails for another reason: that reason is the finding, not the cgroups again", async () => {
    const runsc = fakeRunsc("other", "echo 'cannot run with network enabled in root network namespace' >&2; exit 128");
    const o = await smoke(runsc);
    expect({ status: o.status, rule: o.diagnosis?.rule }).toEqual({ status: "fail", rule: "netns-root" });
    expect(o.details).toContain(`${"the sandbox did not start: "}${CGROUP} (exit 128)`);
  });
});

test("a runtime flag for all engines keeps each registered engine's own flags", () => {
  const runtime = (args: string[]) => ({ runtimes: { runsc: { path: "/nonexistent/runsc", args } } });
  const f = {
    ...facts,
    docker: { info: { runtimes: { runsc: { path: "/nonexistent/runsc", runtimeArgs: ["--network=none"] } } } },
    engines: {
      docker: { inspection: runtime(["--network=none"]) },
      containerd: { inspection: runtime(["--network=none"]) },
      podman: { inspection: runtime(["--network=none"]) },
    },
  } as unknown as HostFacts;
  const fix = registerFix({ facts: f, engine: "runsc", runtime: "runsc" }, "Run runsc with --ignore-cgroups", [
    "--ignore-cgroups",
  ]);
  expect(fix.argv).toEqual(["configure", "all", "--runtime-arg=--ignore-cgroups"]);
  const smoke: Finding = {
    id: "runsc.smoke",
    title: "",
    status: "fail",
    message: "",
    details: [],
    durationMs: 0,
    diagnosis: { cause: "", fix, rule: "cgroup-controller-missing" },
  };
  expect(planFixes([smoke], f).map((p) => p.fix.argv)).toEqual([
    ["configure", "docker", "--runtime-arg=--network=none", "--runtime-arg=--ignore-cgroups"],
    ["configure", "containerd", "--runtime-arg=--network=none", "--runtime-arg=--ignore-cgroups", "--restart"],
    ["configure", "podman", "--runtime-arg=--network=none", "--runtime-arg=--ignore-cgroups"],
  ]);
});
