// Golden tests over the fixture corpus: every engine config shape × every scenario,
// compared byte for byte with test/fixtures/engines/golden/<engine>/<file>.<scenario>.out.
// After a deliberate change, regenerate with GVD_UPDATE_GOLDEN=1 and review the diff.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  attempt,
  FIXTURES,
  MemFs,
  planFor,
  render,
  request,
  SHIM,
  type Engine,
  type PlanEnv,
} from "../../helpers/engines.ts";
import type { RuntimeRequest } from "../../../platform/engines/types.ts";

const UPDATE = process.env.GVD_UPDATE_GOLDEN === "1";
const GOLDEN = join(FIXTURES, "golden");

interface Scenario {
  name: string;
  req: RuntimeRequest;
  shim?: string | null;
  /** Plan `req` on the result of `first` (round trips). */
  first?: RuntimeRequest;
}

const add = request();
const SCENARIOS: Record<Engine, Scenario[]> = {
  docker: [
    { name: "add", req: add },
    { name: "keep-args", req: request({ runtimeArgs: null }) },
    { name: "default", req: request({ makeDefault: true }) },
    { name: "remove", req: request({ remove: true }) },
    { name: "add-remove", first: add, req: request({ remove: true }) },
  ],
  containerd: [
    { name: "add-runc-shim", req: add, shim: null },
    { name: "add-runsc-shim", req: add, shim: SHIM },
    { name: "default", req: request({ runtimeArgs: null, makeDefault: true }), shim: null },
    { name: "remove", req: request({ remove: true }) },
    { name: "add-remove", first: add, req: request({ remove: true }), shim: null },
  ],
  podman: [
    { name: "add", req: add },
    { name: "add-no-args", req: request({ runtimeArgs: [] }) },
    { name: "default", req: request({ makeDefault: true }) },
    { name: "remove", req: request({ remove: true }) },
    { name: "add-remove", first: add, req: request({ remove: true }) },
  ],
  crio: [
    { name: "add-runsc-shim", req: add, shim: SHIM },
    { name: "add-oci", req: add, shim: null },
    { name: "default", req: request({ makeDefault: true }), shim: SHIM },
    { name: "remove", req: request({ remove: true }) },
    { name: "add-remove", first: add, req: request({ remove: true }), shim: SHIM },
  ],
};

/** Where each fixture sits on the virtual host, and with which containerd. */
function envFor(engine: Engine, file: string | null): PlanEnv {
  const text = file ? readFileSync(join(FIXTURES, engine, file), "utf8") : null;
  const at = (target: string, extra: Record<string, string> = {}) => ({
    fs: new MemFs({ ...(text === null ? {} : { [target]: text }), ...extra }),
    target,
  });
  switch (engine) {
    case "docker":
      return at("/etc/docker/daemon.json");
    case "containerd":
      return { ...at("/etc/containerd/config.toml"), containerdVersion: file?.startsWith("v3") ? "2.0.0" : "1.6.20" };
    case "podman":
      return file ? at("/etc/containers/containers.conf") : at("/etc/containers/containers.conf.d/99-gvisor.conf");
    case "crio":
      return file === "crio.conf" ? at("/etc/crio/crio.conf") : at(`/etc/crio/crio.conf.d/${file ?? "99-gvisor.conf"}`);
  }
}

function check(engine: Engine, label: string, actual: string): void {
  const path = join(GOLDEN, engine, `${label}.out`);
  if (UPDATE) {
    mkdirSync(join(GOLDEN, engine), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`missing golden file ${path}: run with GVD_UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

for (const engine of ["docker", "containerd", "podman", "crio"] as Engine[]) {
  const files: (string | null)[] = readdirSync(join(FIXTURES, engine)).sort();
  if (engine === "podman" || engine === "crio") files.push(null); // a drop-in that does not exist yet
  describe(`${engine} golden`, () => {
    for (const file of files) {
      for (const sc of SCENARIOS[engine]) {
        const label = `${file ?? "new-dropin"}.${sc.name}`;
        test(label, () => {
          const env = envFor(engine, file);
          env.shim = sc.shim ?? null;
          if (sc.first) {
            const first = attempt(() => planFor(engine, env, sc.first!));
            if (!("changes" in first)) return check(engine, label, render(first));
            env.fs.apply(first.changes);
          }
          check(engine, label, render(attempt(() => planFor(engine, env, sc.req))));
        });
      }
    }
  });
}

describe("every golden file belongs to a scenario", () => {
  test("no stale goldens", () => {
    for (const engine of ["docker", "containerd", "podman", "crio"] as Engine[]) {
      const expected = new Set<string>();
      const files: (string | null)[] = readdirSync(join(FIXTURES, engine));
      if (engine === "podman" || engine === "crio") files.push(null);
      for (const f of files) for (const sc of SCENARIOS[engine]) expected.add(`${f ?? "new-dropin"}.${sc.name}.out`);
      const present = existsSync(join(GOLDEN, engine)) ? readdirSync(join(GOLDEN, engine)) : [];
      expect(present.filter((p) => !expected.has(p))).toEqual([]);
    }
  });
});
