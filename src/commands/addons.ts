// `kubesmith addons list|render`: the commands' definitions; the work (flags -> inventory + catalog ->
// values -> render -> print) is in addons-run.ts, loaded when a command runs.
// The `addons` group is shared: diff/apply/remove attach to the same Command through addonsGroup().
import { outputOption, type OutputFormat } from "../ui/output.js";
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";

/** The `addons` command group of a program, created on first use (whoever registers first). */
export function addonsGroup(program: Command): Command {
  const found = program.commands.find((c) => c.name() === "addons");
  if (found) return found;
  return program.command("addons").description("Add-on bundles: list, render, diff, apply, remove");
}

export interface AddonsCommonOptions {
  inventory?: string;
  addonsDir?: string;
  output?: OutputFormat;
}

/** -i and --addons-dir, as every addons subcommand takes them. */
export function withAddonsOptions(cmd: Command): Command {
  return cmd
    .option("-i, --inventory <file>", "inventory file (default: $KUBESMITH_INVENTORY, else ./inventory.yaml)")
    .option("--addons-dir <dir>", "your own bundles (same format as addons/<name>/); a bundle named like a built-in one replaces it");
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export interface RenderCommandOptions extends AddonsCommonOptions {
  set: string[];
  release?: string;
  namespace?: string;
  showSecrets?: boolean;
}

export function registerAddonsCommands(program: Command, io: CliIo): Command {
  const group = addonsGroup(program);
  if (group.commands.some((c) => c.name() === "list")) return group; // registered already

  withAddonsOptions(group.command("list"))
    .addOption(outputOption())
    .description("List the add-on bundles (built in and --addons-dir) and whether the inventory enables them")
    .action(async (opts: AddonsCommonOptions) => {
      const { listAddons } = await import("./addons-run.js");
      await listAddons(opts, io);
    });

  withAddonsOptions(group.command("render"))
    .description("Print a bundle as it would be applied: objects as YAML (--- separated), or each host's files. Offline, as helm template does: without -i (and no ./inventory.yaml) against the example inventory; generated secrets as placeholders unless --show-secrets finds them in the cluster's state")
    .argument("<name>", "bundle name (kubesmith addons list)")
    .option("--set <key.path=value>", "override a value (repeatable; the value is read as YAML)", collect, [] as string[])
    .option("--release <name>", "release name (default: the bundle name)")
    .option("--namespace <ns>", "release namespace (default: the bundle's)")
    .option("--show-secrets", "print the content of secret host files too, and the generated secrets kept in the state (not placeholders)")
    .action(async (name: string, opts: RenderCommandOptions) => {
      const { renderAddon } = await import("./addons-run.js");
      await renderAddon(name, opts, io);
    });

  return group;
}
