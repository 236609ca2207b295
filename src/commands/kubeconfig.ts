// `kubesmith kubeconfig`: print the cluster's admin kubeconfig (<state>/<cluster>/kubeconfig as `up` wrote
// it, or admin.conf fetched from the first control plane when that file is missing), or merge it into
// ~/.kube/config as a context named after the cluster.
// The command's definition; the work is in kubeconfig-run.ts, loaded when the command runs.
import { Option, type Command } from "commander";
import type { CliIo } from "../cli/main.js";
import type { HostKeyPolicy } from "../ssh/types.js";
import { STATE_DIR_HELP } from "../cluster/state.js";

export interface KubeconfigOptions {
  inventory?: string;
  merge?: boolean;
  /** Where --merge writes (default ~/.kube/config). */
  into?: string;
  kubeconfig?: string;
  /** Fetch admin.conf from the first control plane even when <state>/<cluster>/kubeconfig exists. */
  fetch?: boolean;
  stateDir?: string;
  hostKeyPolicy?: HostKeyPolicy;
}

export function registerKubeconfigCommand(program: Command, io: CliIo): void {
  program
    .command("kubeconfig")
    .description("print the cluster's admin kubeconfig, or merge it into ~/.kube/config as a context")
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .option("--merge", "add (or replace) the cluster, user and context named after the cluster in ~/.kube/config")
    .option("--kubeconfig <file>", "with --merge: the kubeconfig file to merge into (default: the first file of $KUBECONFIG, else ~/.kube/config)")
    .option("--into <file>", "the same as --kubeconfig")
    .option("--fetch", "fetch admin.conf from the first control plane even when up's copy (<state>/<cluster>/kubeconfig) exists")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .addOption(new Option("--host-key-policy <policy>", "override the inventory's host key policy").choices(["strict", "accept-new", "off"]))
    .action(async (opts: KubeconfigOptions) => {
      const { runKubeconfig } = await import("./kubeconfig-run.js");
      await runKubeconfig(opts, io);
    });
}
