// Every command the CLI knows, in the order `--help` lists them.
// A command that does not work yet is not listed here (no stubs).
import type { Command } from "../args.ts";
import { checkCommand } from "./check.ts";
import { configureCommand } from "./configure.ts";
import { execCommand } from "./exec.ts";
import { installCommand } from "./install.ts";
import { k8sCommand } from "./k8s.ts";
import { preflightCommand } from "./preflight.ts";
import { rollbackCommand } from "./rollback.ts";
import { selfUpdateCommand } from "./self-update.ts";
import { uninstallCommand } from "./uninstall.ts";

export const COMMANDS: Command[] = [
  checkCommand,
  preflightCommand,
  execCommand,
  configureCommand,
  installCommand,
  rollbackCommand,
  uninstallCommand,
  selfUpdateCommand,
  k8sCommand,
];
