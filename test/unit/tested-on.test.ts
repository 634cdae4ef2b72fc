import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { END, START, testedOnSection, upstream } from "../../scripts/tested-on.ts";

test("README's Tested on table is exactly what the committed matrix results generate (bun scripts/tested-on.ts --write)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  expect(a).toBeGreaterThan(0);
  expect(readme.slice(a, b + END.length)).toBe(testedOnSection());
});

test("Debian package versions are shown as upstream versions", () => {
  expect(upstream("28.5.2+dfsg4-1")).toBe("28.5.2");
  expect(upstream("0.0~20240729.0-2+b3")).toBe("20240729.0");
  expect(upstream("2.1.9~ds1-1")).toBe("2.1.9");
  expect(upstream("252.39-1~deb12u2")).toBe("252.39");
  expect(upstream(undefined)).toBe("–");
});

test("the Kubernetes distributions' node-mode results get their own table, k3s first", () => {
  const section = testedOnSection(
    [],
    [
      {
        distribution: "microk8s",
        title: "microk8s",
        containerd: "1.6.20~ds1",
        file: "/var/snap/microk8s/7394/args/containerd-template.toml",
        journeys: { configure: "pass", check: "pass", remove: "fail" },
      },
      {
        distribution: "k3s",
        title: "k3s",
        containerd: "2.1.9+unknown",
        file: "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl",
        journeys: { configure: "pass", check: "pass", remove: "pass" },
      },
    ],
    [],
  );
  const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Distribution"));
  expect(rows).toEqual([
    "| k3s | 2.1.9 | `/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl` | 3/3 |",
    "| microk8s | 1.6.20 | `/var/snap/microk8s/7394/args/containerd-template.toml` | 2/3 (failed: remove) |",
  ]);
  expect(testedOnSection([], [], [])).not.toContain("Kubernetes distributions");
});

test("rootless engines and Docker without its CLI get their own table, with what failed", () => {
  const section = testedOnSection(
    [],
    [],
    [
      {
        id: "podman-rootless",
        engine: "Podman",
        version: "5.4.2",
        mode: "rootless, as an unprivileged user",
        registered: "a wrapper",
        journeys: { check: "pass", "--fix": "pass", "hello under runsc": "fail" },
      },
    ],
  );
  const rows = section.split("\n").filter((l) => l.startsWith("| Podman"));
  expect(rows).toEqual([
    "| Podman 5.4.2 | rootless, as an unprivileged user | a wrapper | check, --fix, hello under runsc | 2/3 (failed: hello under runsc) |",
  ]);
  expect(testedOnSection([], [], [])).not.toContain("Engine modes");
});
