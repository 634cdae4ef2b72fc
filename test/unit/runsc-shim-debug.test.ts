// containerd.hello's debug rerun through the runsc shim: a one-off copy of the shim's ConfigPath with
// runsc's debug flags in [runsc_config] (this machine has no containerd-shim-runsc-v1 to run it on,
// so the file itself is what is tested: valid TOML, the user's keys kept, ours replacing theirs).
import { expect, test } from "bun:test";
import { withRunscConfig } from "../../checks/containerd.ts";
import { parseTomlStrict } from "../../platform/engines/edit/toml-check.ts";

const COMMANDS = "boot,gofer,create,start,run,do";
const DEBUG = ["--debug", "--debug-log=/tmp/gvd-runsc-debug-x/", `--debug-command=${COMMANDS}`];

test("no config: a [runsc_config] table with the debug flags", () => {
  const text = withRunscConfig("", DEBUG);
  expect(parseTomlStrict(text, "runsc.toml")).toEqual({
    runsc_config: { debug: "true", "debug-log": "/tmp/gvd-runsc-debug-x/", "debug-command": COMMANDS },
  });
});

test("the user's config: its keys stay, its own debug keys are replaced (TOML may not repeat a key)", () => {
  const user =
    'log_path = "/var/log/runsc/%ID%/shim.log"\nbinary_name = "/usr/local/bin/runsc"\n\n' +
    '[runsc_config]\n  network = "none"\n  debug = "false"\n  "debug-log" = "/var/log/runsc/"\n';
  const parsed = parseTomlStrict(withRunscConfig(user, DEBUG), "runsc.toml") as Record<string, any>;
  expect(parsed.log_path).toBe("/var/log/runsc/%ID%/shim.log");
  expect(parsed.binary_name).toBe("/usr/local/bin/runsc");
  expect(parsed.runsc_config).toEqual({
    network: "none",
    debug: "true",
    "debug-log": "/tmp/gvd-runsc-debug-x/",
    "debug-command": COMMANDS,
  });
});
