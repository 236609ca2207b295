// `kubesmith upgrade`: the command's definition; the work (plan first, confirmation, then the run) is in
// upgrade-run.ts, and the procedure itself in phases/upgrade.ts.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { UsageError } from "../errors.js";
import { common, drainOptions, type ClusterFlags } from "./cluster.js";

export interface UpgradeFlags extends ClusterFlags {
  to?: string;
  batch: string;
  addonsDir?: string;
}

export function registerUpgradeCommand(program: Command, io: CliIo): void {
  drainOptions(
    common(
      program
        .command("upgrade")
        .description("upgrade Kubernetes by one minor as kubeadm does: control planes one at a time, then the workers in batches (drained); shows the plan first"),
    ),
    "upgrade",
  )
    .option("--to <version>", "the version to upgrade to, e.g. 1.36 or 1.36.2 (default: the inventory's kubernetesVersion); one minor above the cluster's at most")
    .option("--batch <n>", "workers upgraded at once (each batch drained, upgraded, Ready and uncordoned before the next)", "1")
    .option("--addons-dir <dir>", "a directory of your own bundles: their declared Kubernetes ranges are checked too")
    .option("--dry-run", "show the plan and change nothing")
    .option("-y, --yes", "do not ask for confirmation after the plan (needed without a terminal)")
    .action(async (f: UpgradeFlags) => {
      if (!/^[1-9]\d*$/.test(f.batch.trim())) throw new UsageError(`--batch must be a whole number of workers, 1 or more (got '${f.batch}')`);
      const { runUpgrade } = await import("./upgrade-run.js");
      await runUpgrade(f, io);
    });
}
