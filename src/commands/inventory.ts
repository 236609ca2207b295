// `kubesmith inventory validate|schema`. Thin: errors are thrown (typed) and printed by the CLI main.
import { Option, type Command } from "commander";
import { formatIssue, UsageError } from "../errors.js";
import { parseSeconds, setConnectOverrides } from "../ssh/overrides.js";
import type { Inventory } from "../inventory/index.js";

// The inventory loader (zod, yaml) and the add-on checks (ajv) load when a command runs, not to define the
// commands: every kubesmith command imports this file (test/cli/startup.test.ts).
const loadInventory: typeof import("../inventory/index.js").loadInventory = async (...args) => (await import("../inventory/index.js")).loadInventory(...args);
const inventoryJsonSchema = async () => (await import("../inventory/index.js")).inventoryJsonSchema();
const addonChecks = async () => ({ ...(await import("../addons/catalog.js")), ...(await import("../addons/values.js")) });

export const DEFAULT_INVENTORY = "inventory.yaml";

/** The inventory to use: the -i flag, else $KUBESMITH_INVENTORY, else ./inventory.yaml (as given, not absolutised). */
export function resolveInventoryPath(opt?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (opt) return opt;
  const fromEnv = env.KUBESMITH_INVENTORY;
  return fromEnv ? fromEnv : `./${DEFAULT_INVENTORY}`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "4 hosts: 1 control plane, 2 workers, 1 frontend" — each host counted once, by its first role of
 *  control-plane > frontend > worker. */
export function summarizeInventory(inv: Inventory): string {
  const cps = inv.hosts.filter((h) => h.roles.includes("control-plane"));
  const fronts = inv.hosts.filter((h) => h.roles.includes("frontend") && !cps.includes(h));
  const workers = inv.hosts.filter((h) => h.roles.includes("worker") && !cps.includes(h) && !fronts.includes(h));
  const parts = [count(cps.length, "control plane"), count(workers.length, "worker")];
  if (fronts.length > 0) parts.push(count(fronts.length, "frontend"));
  return `${count(inv.hosts.length, "host")}: ${parts.join(", ")}`;
}

export function registerInventoryCommands(program: Command): void {
  const inventory = program.command("inventory").description("Check an inventory file or print its JSON schema");

  inventory
    .command("validate")
    // Also the add-ons (names and values), checked as plan checks them, against the same built-in catalog.
    .description("Validate an inventory: schema, ${VAR} secrets and cross-field rules; every problem with file:line:column")
    .option("-i, --inventory <file>", "inventory file (default: $KUBESMITH_INVENTORY, else ./inventory.yaml)")
    .action(async (opts: { inventory?: string }) => {
      const file = resolveInventoryPath(opts.inventory);
      const loaded = await loadInventory(file);
      const { loadCatalog, checkAddonSection } = await addonChecks();
      // The add-on section, with the code plan runs first (catalog names, values schemas, Calico's values).
      const catalog = await loadCatalog({});
      checkAddonSection(catalog, loaded.inventory, file, loaded.source);
      for (const w of loaded.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
      process.stdout.write(`inventory OK: ${file} (${summarizeInventory(loaded.inventory)})\n`);
    });

  inventory
    .command("schema")
    .description("Print the inventory's JSON schema (for editor completion; see inventories/schema.json)")
    .action(async () => {
      process.stdout.write(`${JSON.stringify(await inventoryJsonSchema(), null, 2)}\n`);
    });
}

/**
 * The options of every command that works on an inventory's hosts: -i, -c, --host-key-policy,
 * --connect-timeout, --retry-budget. The last two reach targetsFromInventory() through
 * src/ssh/overrides.ts, set before the command's action runs.
 */
export function hostCommandOptions(cmd: Command): Command {
  return cmd
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .option("-c, --concurrency <n>", "hosts worked on at once (default: every host, up to what open files and memory allow)")
    .addOption(new Option("--host-key-policy <policy>", "override the inventory's host key policy").choices(["strict", "accept-new", "off"]))
    .option("--connect-timeout <seconds>", "one SSH connection attempt (default: the inventory's ssh.connectTimeout, else 10)")
    .option("--retry-budget <seconds>", "how long a host that cannot be reached is retried (default: the inventory's ssh.retryBudget, else 20; 0: no retries)")
    .hook("preAction", (self) => {
      const o = self.opts<{ connectTimeout?: string; retryBudget?: string }>();
      const ms = (flag: string, v: string | undefined, min: number): number | undefined => {
        if (v === undefined) return undefined;
        const n = parseSeconds(v);
        if (n === undefined || n < min) throw new UsageError(`${flag} must be a number of seconds${min > 0 ? " above 0" : ""} like 10, or a duration like 500ms (got '${v}')`);
        return n;
      };
      const connectTimeoutMs = ms("--connect-timeout", o.connectTimeout, 1);
      const retryBudgetMs = ms("--retry-budget", o.retryBudget, 0);
      setConnectOverrides({
        ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
        ...(retryBudgetMs !== undefined ? { retryBudgetMs } : {}),
      });
    });
}
