// `kubesmith upgrade`, the work: the plan (the same phases in a dry run: every change through the gate),
// then the confirmation, then the run with the cluster lock. Loaded by the command's action (upgrade.ts).
import type { CliIo } from "../cli/main.js";
import { interruptible } from "../cli/main.js";
import { nodeReady } from "../kube/client.js";
import type { ClusterContext } from "../phases/context.js";
import { gatherFacts } from "../phases/hosts.js";
import type { Phase } from "../phases/run.js";
import { inventoryReminder, setUpgradeOptions, upgradeCheck, upgradeControlPlanes, upgradeWorkers } from "../phases/upgrade.js";
import { confirm } from "../ui/confirm.js";
import { table } from "../ui/table.js";
import { clusterOptions, whichCluster } from "./cluster.js";
import { runCluster } from "./cluster-run.js";
import type { UpgradeFlags } from "./upgrade.js";

export const UPGRADE_PHASES: Phase<ClusterContext>[] = [gatherFacts, upgradeCheck, upgradeControlPlanes, upgradeWorkers];

/** The phases with the command's options bound to each run's context. */
function phasesFor(f: UpgradeFlags): Phase<ClusterContext>[] {
  const bind: Phase<ClusterContext> = {
    title: "connect and gather facts",
    run: async (ctx) => {
      setUpgradeOptions(ctx, { ...(f.to ? { to: f.to } : {}), ...(f.addonsDir ? { addonsDir: f.addonsDir } : {}), batch: Number(f.batch) });
      await gatherFacts.run(ctx);
    },
  };
  return [bind, ...UPGRADE_PHASES.slice(1)];
}

async function nodesTable(ctx: ClusterContext, io: CliIo): Promise<void> {
  if (ctx.dryRun) {
    io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s) planned; nothing was changed.\n` : "\nNothing to do: every node runs the target version.\n");
    return;
  }
  if (!ctx.kube) return;
  const nodes = await ctx.kube.list("v1", "Node").catch(() => []);
  const rows = nodes.map((n) => [n.metadata.name, nodeReady(n) ? "Ready" : "NotReady", (n.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo?.kubeletVersion ?? "-"]);
  io.stdout(`\n${table(["NODE", "STATUS", "VERSION"], rows, process.stdout.isTTY ? process.stdout.columns : undefined)}`);
  const remind = inventoryReminder(ctx);
  if (remind) io.stdout(`\nNext: ${remind}\n`);
}

export async function runUpgrade(f: UpgradeFlags, io: CliIo): Promise<void> {
  const phases = phasesFor(f);
  await interruptible(async (signal) => {
    const plan = clusterOptions(f, true);
    const planned = await runCluster("upgrade", phases, { ...plan, signal }, io, f.output, (ctx) => nodesTable(ctx, io), !!f.plain);
    if (f.dryRun || planned.changes.length === 0) return;
    await confirm(`Upgrade ${await whichCluster(plan.inventory)} as planned above?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
    await runCluster("upgrade", phases, { ...clusterOptions(f, false), signal }, io, f.output, (ctx) => nodesTable(ctx, io), !!f.plain);
  });
}
