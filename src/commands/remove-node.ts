// `kubesmith remove-node NAME…`: scale in. The command's definition; the work is in remove-node-run.ts
// (the phases in phases/remove-node.ts), loaded when the command runs.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { UsageError } from "../errors.js";
import { confirm } from "../ui/confirm.js";
import { clusterOptions, common, whichCluster, type ClusterFlags } from "./cluster.js";

export function registerRemoveNodeCommand(program: Command, io: CliIo): void {
  common(
    program
      .command("remove-node")
      // the names are read from the operands rather than declared, so the top-level command list keeps its width
      .usage("[options] <name...>")
      .allowExcessArguments()
      .description("drain and delete nodes and reset their hosts; a control plane also leaves etcd and the VIP's keepalived peers")
      .addHelpText(
        "after",
        `
<name...>: the node names to remove.

For each node (workers first, then control planes one at a time): cordon and drain it (Eviction API,
PodDisruptionBudgets honoured) and delete its Node; for a control plane, stop its keepalived (the VIP
moves) and remove its etcd member through a control plane that stays; then remove its host add-ons and
reset the host as 'down' does. Then the control planes that stay get keepalived configs without it, and
the add-ons are applied for the hosts that stay.

A control plane is refused (exit 16, nothing changed) when etcd would lose its majority without it:
removing one of two members, removing a healthy member while another is unhealthy, or the last one.

A name may be a host the inventory still lists, or a Node the inventory no longer lists: then its
address is the Node's InternalIP and its SSH settings are the inventory's ssh defaults. Take the hosts
out of the inventory afterwards, or the next 'up' joins them again ('up' warns about Nodes the
inventory does not list and never deletes them).`,
      ),
  )
    .option("--dry-run", "print what would change and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--drain-timeout <seconds>", "how long each node's pods may refuse eviction (PodDisruptionBudgets) before remove-node fails", "120")
    .option("--force", "delete the pods still refusing eviction when --drain-timeout is up (their disruption budgets are not honoured)")
    .action(async (f: ClusterFlags, cmd: Command) => {
      const names = cmd.args;
      if (!names.length) throw new UsageError("remove-node: name the nodes to remove, e.g. kubesmith remove-node -i inventory.yaml w3");
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) throw new UsageError(`remove-node: ${dup} is named twice`);
      const opts = { ...clusterOptions(f, !!f.dryRun), remove: names };
      if (!opts.dryRun) {
        await confirm(`Remove ${names.join(", ")} from ${await whichCluster(opts.inventory)}: drain, reset those hosts and delete their nodes?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      }
      const { runRemoveNode } = await import("./remove-node-run.js");
      await runRemoveNode(opts, io, f.output, !!f.plain);
    });
}
