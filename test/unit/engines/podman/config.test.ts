// Podman's containers.conf files: which ones Podman reads, which one configure writes, and
// the runtimes they declare (platform/engines/podman/).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inspectContainersConf, podmanConfigFiles, podmanTarget } from "../../../../platform/engines/podman/adapter.ts";
import { FIXTURES } from "../../../helpers/engines.ts";

const fixture = (engine: string, name: string) => readFileSync(join(FIXTURES, engine, name), "utf8");

describe("podman's config files", () => {
  test("CONTAINERS_CONF replaces every other file; root reads /etc drop-ins, rootless its own too", () => {
    expect(podmanConfigFiles({ CONTAINERS_CONF: "/x.conf" }, 0)).toEqual(["/x.conf"]);
    const list = (d: string) => (d.endsWith("containers.conf.d") ? ["b.conf", "a.conf", "notes.txt"] : []);
    expect(podmanConfigFiles({}, 0, list)).toEqual([
      "/usr/share/containers/containers.conf",
      "/etc/containers/containers.conf",
      "/etc/containers/containers.conf.d/a.conf",
      "/etc/containers/containers.conf.d/b.conf",
    ]);
    expect(podmanConfigFiles({ HOME: "/home/u" }, 1000, list).slice(-3)).toEqual([
      "/home/u/.config/containers/containers.conf",
      "/home/u/.config/containers/containers.conf.d/a.conf",
      "/home/u/.config/containers/containers.conf.d/b.conf",
    ]);
  });
  test("the target: --config file or directory, CONTAINERS_CONF, else the system or user drop-in", () => {
    expect(podmanTarget("/etc/x.conf", {}, 0, "runsc")).toMatchObject({ path: "/etc/x.conf", dropIn: false });
    expect(podmanTarget("/tmp/conf.d/", {}, 0, "runsc")).toMatchObject({
      path: "/tmp/conf.d/99-gvisor.conf",
      dropIn: true,
    });
    expect(podmanTarget(undefined, { CONTAINERS_CONF: "/c.conf" }, 0, "runsc").path).toBe("/c.conf");
    expect(podmanTarget(undefined, {}, 0, "gvisor").path).toBe(
      "/etc/containers/containers.conf.d/99-gvisor-gvisor.conf",
    );
    expect(podmanTarget(undefined, { HOME: "/home/u" }, 1000, "runsc").path).toBe(
      "/home/u/.config/containers/containers.conf.d/99-gvisor.conf",
    );
  });
  test("runtimes as declared", () => {
    expect(inspectContainersConf(fixture("podman", "runtimes-multiline.conf"), "f")).toMatchObject({
      runtimes: { runsc: ["/opt/gvisor/runsc", "/usr/bin/runsc"], crun: ["/usr/bin/crun"] },
      defaultRuntime: "runsc",
    });
  });
});
