// Every subcommand registers itself here. Later commands (up, down, rebuild, plan, status, addons, init)
// slot in as one more register function each.
import type { Command } from "commander";
import { registerCheckCommand } from "./check.js";
import { registerInventoryCommands } from "./inventory.js";
import { registerLabCommands } from "./lab.js";

export function registerCommands(program: Command): void {
  registerCheckCommand(program);
  registerInventoryCommands(program);
  registerLabCommands(program);
}
