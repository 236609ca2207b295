// `remove-node`, the work: the phases run like up's (lock, journal, report, interrupts) on the cluster
// without the hosts being removed (ClusterOptions.remove; cluster/leave.ts).
import type { CliIo } from "../cli/main.js";
import { applyAddons, renderAddons } from "../phases/addons.js";
import { connectApi } from "../phases/api.js";
import type { ClusterOptions } from "../phases/context.js";
import { controlPlaneEndpoint } from "../phases/controlplane.js";
import { gatherFacts } from "../phases/hosts.js";
import { removeNodes } from "../phases/remove-node.js";
import { runCluster, summary } from "./cluster-run.js";

/** Render the add-ons for the hosts that stay, look at them, remove the nodes, re-render the VIP's peers, apply the add-ons. */
export const REMOVE_NODE_PHASES = [renderAddons, gatherFacts, connectApi, removeNodes, controlPlaneEndpoint, applyAddons];

export async function runRemoveNode(opts: ClusterOptions, io: CliIo, output: "plain" | "json", plain: boolean): Promise<void> {
  await runCluster("remove-node", REMOVE_NODE_PHASES, opts, io, output, (ctx) => summary(ctx, io), plain);
}
