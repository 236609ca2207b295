// `kubesmith addons diff | apply | remove`: the apply half of the add-on commands, added to the `addons`
// group (src/commands/addons.ts). The definitions; the work is in addons-apply-run.ts, loaded when a
// command runs.
import { Option, type Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { confirm } from "../ui/confirm.js";
import { clusterOptions, type ClusterFlags } from "./cluster.js";
import { hostCommandOptions } from "./inventory.js";
import { STATE_DIR_HELP } from "../cluster/state.js";
import { plainOption } from "../ui/output.js";

export interface Flags extends ClusterFlags {
  addonsDir?: string;
  release?: string;
}

function common(cmd: Command): Command {
  return hostCommandOptions(cmd)
    .option("--addons-dir <dir>", "a directory of your own bundles, used like the built-in ones")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .addOption(new Option("-o, --output <format>", "progress output").choices(["plain", "json"]).default("plain"))
    .addOption(plainOption())
    .option("--wait-timeout <duration>", "how long to wait for a release to roll out", "5m")
    .option("--api-tunnel", "reach the Kubernetes API through an SSH tunnel via the first control plane");
}

export function registerAddonsApplyCommands(addonsGroup: Command, io: CliIo): void {
  common(addonsGroup.command("diff").argument("[bundles...]", "bundles to compare (default: every enabled one)"))
    .description("show what 'addons apply' would change: + create, ~ update (with the fields), - prune; changes nothing")
    .option("--release <name>", "only this release")
    .action(async (bundles: string[], f: Flags) => {
      const { addonsDiff } = await import("./addons-apply-run.js");
      await addonsDiff(bundles, f, io);
    });

  common(addonsGroup.command("apply").argument("[bundles...]", "bundles to apply (default: every enabled one)"))
    .description("apply the enabled bundles (or the ones named): server-side apply, wait, prune; roll back a failed rollout")
    .option("--release <name>", "only this release")
    .option("--dry-run", "print what would change and change nothing")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .action(async (bundles: string[], f: Flags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      const { addonsApply } = await import("./addons-apply-run.js");
      await addonsApply(bundles, f, opts, io);
    });

  common(addonsGroup.command("remove").argument("<bundles...>", "bundles whose releases to remove"))
    .description("delete every object of the bundles' releases (found by their labels) and their history; host bundles: their files")
    .option("--release <name>", "only this release")
    .option("--dry-run", "print what would be deleted and delete nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .action(async (bundles: string[], f: Flags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Remove ${bundles.join(", ")}${f.release ? ` (release ${f.release})` : ""} and everything it created?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      const { addonsRemove } = await import("./addons-apply-run.js");
      await addonsRemove(bundles, f, opts, io);
    });
}
