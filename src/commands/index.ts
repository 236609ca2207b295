// Every subcommand registers itself here. Later commands (up, down, rebuild, plan, status, addons, init)
// slot in as one more register function each.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { addonsGroup, registerAddonsCommands } from "./addons.js";
import { registerAddonsApplyCommands } from "./addons-apply.js";
import { registerCheckCommand } from "./check.js";
import { registerClusterCommands } from "./cluster.js";
import { registerUpgradeCommand } from "./upgrade.js";
import { registerCompletionCommand } from "./completion.js";
import { registerInitCommand } from "./init.js";
import { registerKubeconfigCommand } from "./kubeconfig.js";
import { registerLogsCommand } from "./logs.js";
import { registerVersionCommand } from "./version.js";
import { registerHostkeysCommands } from "./hostkeys.js";
import { registerStatusCommand } from "./status.js";
import { registerInventoryCommands } from "./inventory.js";
import { registerLabCommands } from "./lab.js";
import { registerCertsCommands } from "./certs.js";
import { registerEtcdCommands } from "./etcd.js";
import { registerRemoveNodeCommand } from "./remove-node.js";

export function registerCommands(program: Command, io: CliIo): void {
  registerInitCommand(program, io);
  registerClusterCommands(program, io);
  registerRemoveNodeCommand(program, io);
  registerUpgradeCommand(program, io);
  registerCheckCommand(program, io);
  registerInventoryCommands(program);
  registerLabCommands(program);
  registerAddonsCommands(program, io);
  registerAddonsApplyCommands(addonsGroup(program), io);
  registerStatusCommand(program, io);
  registerLogsCommand(program, io);
  registerHostkeysCommands(program, io);
  registerKubeconfigCommand(program, io);
  registerCertsCommands(program, io);
  registerEtcdCommands(program, io);
  registerVersionCommand(program, io);
  registerCompletionCommand(program, io);
}
