// `up`, `plan`, `down`, `rebuild`, `secrets`: the commands' definitions and the flags they share. The work
// (flags → context → phase list → runPhases, with the cluster lock around every run that changes
// something) is in cluster-run.ts, loaded when a command runs.
import { outputOption, plainOption, type OutputFormat } from "../ui/output.js";
import { type Command, Option } from "commander";
import { interruptible, type CliIo } from "../cli/main.js";
import type { ClusterOptions } from "../phases/context.js";
import { confirm } from "../ui/confirm.js";
import { parseConcurrency } from "./check.js";
import { hostCommandOptions, resolveInventoryPath } from "./inventory.js";
import { UsageError } from "../errors.js";
import { parseDuration } from "../ssh/targets.js";
import { STATE_DIR_HELP, stateDirFor } from "../cluster/state.js";
import { parseFailureBound } from "../phases/partial.js";
import { LIMIT_HELP } from "../cluster/limit.js";

export interface ClusterFlags {
  inventory?: string;
  concurrency?: string;
  hostKeyPolicy?: "strict" | "accept-new" | "off";
  stateDir?: string;
  dryRun?: boolean;
  yes?: boolean;
  forceUnlock?: boolean;
  mergeKubeconfig?: boolean;
  kubeconfig?: string;
  output: "plain" | "json";
  waitTimeout: string;
  apiTunnel?: boolean;
  plain?: boolean;
  interruptGrace?: string;
  maxFailedWorkers?: string;
  drainTimeout?: string;
  force?: boolean;
  limit?: string;
}

/** The flags every cluster command shares, as ClusterOptions; `addons diff|apply|remove` use it too. */
export function clusterOptions(f: ClusterFlags, dryRun: boolean): ClusterOptions {
  let waitTimeoutMs: number;
  try {
    waitTimeoutMs = parseDuration(f.waitTimeout);
  } catch {
    throw new UsageError(`--wait-timeout must be like 90s or 5m (got '${f.waitTimeout}')`);
  }
  let interruptGraceMs: number | undefined;
  if (f.interruptGrace !== undefined) {
    try {
      interruptGraceMs = parseDuration(f.interruptGrace);
    } catch {
      throw new UsageError(`--interrupt-grace must be like 5s or 500ms (got '${f.interruptGrace}')`);
    }
  }
  let drainTimeoutMs: number | undefined;
  if (f.drainTimeout !== undefined) {
    const t = f.drainTimeout.trim();
    try {
      drainTimeoutMs = /^\d+$/.test(t) ? Number(t) * 1000 : parseDuration(t);
    } catch {
      throw new UsageError(`--drain-timeout must be seconds or a duration like 90s or 5m (got '${f.drainTimeout}')`);
    }
  }
  const inventory = resolveInventoryPath(f.inventory);
  return {
    inventory,
    dryRun,
    concurrency: parseConcurrency(f.concurrency),
    stateDir: stateDirFor(f.stateDir, inventory),
    ...(f.hostKeyPolicy ? { hostKeyPolicy: f.hostKeyPolicy } : {}),
    ...(f.forceUnlock ? { forceUnlock: true } : {}),
    ...(f.mergeKubeconfig ? { mergeKubeconfig: true } : {}),
    ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.yes ? { yes: true } : {}),
    ...(f.apiTunnel ? { apiTunnel: true } : {}),
    waitTimeoutMs,
    ...(interruptGraceMs !== undefined ? { interruptGraceMs } : {}),
    ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}),
    ...(f.force ? { force: true } : {}),
    ...(f.limit !== undefined ? { limit: f.limit } : {}),
    ...(f.maxFailedWorkers !== undefined ? { maxFailedWorkers: checkFailureBound(f.maxFailedWorkers) } : {}),
  };
}

/**
 * What a confirmation asks about, by name: "cluster 'prod' (cp1, cp2, cp3, w1 and 7 more, from inv.yaml)";
 * with `down --limit`, "w1, w2 of cluster 'prod' (from inv.yaml)". An inventory that cannot be loaded, or a
 * --limit that does not fit it, fails here, before anyone is asked anything.
 */
export async function whichCluster(inventory: string, limit?: string): Promise<string> {
  const { loadInventory } = await import("../inventory/load.js");
  const loaded = await loadInventory(inventory);
  const inv = loaded.inventory;
  const list = (names: string[]) => (names.length > 6 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", "));
  if (limit !== undefined) {
    const { checkDownLimit, resolveLimit } = await import("../cluster/limit.js");
    const names = resolveLimit(limit, inv.hosts, loaded.file);
    checkDownLimit(names, inv.hosts);
    return `${list(names)} of cluster '${inv.cluster.name}' (from ${inventory})`;
  }
  return `cluster '${inv.cluster.name}' (${list(inv.hosts.map((h) => h.name))}, from ${inventory})`;
}

/** `up`, `plan`, `down` and `check`: --limit (cluster/limit.ts). */
export function limitOption(cmd: Command): Command {
  return cmd.option("--limit <hosts>", LIMIT_HELP);
}

/** `down`, `rebuild` and `upgrade`: how nodes are drained (src/kube/drain.ts). */
export function drainOptions(cmd: Command, what = "down"): Command {
  return cmd
    .option("--drain-timeout <seconds>", `how long each node's pods may refuse eviction (PodDisruptionBudgets) before ${what} fails`, "120")
    .option("--force", "delete the pods still refusing eviction when --drain-timeout is up (their disruption budgets are not honoured)");
}

/** --max-failed-workers, checked before anything runs. */
function checkFailureBound(v: string): string {
  parseFailureBound(v);
  return v.trim();
}

/** `up`, `plan` and `rebuild`: how many workers may fail while the run goes on (phases/partial.ts). */
function partialOption(cmd: Command): Command {
  return cmd.option(
    "--max-failed-workers <N|P%>",
    "let up go on without up to N workers (or P% of them) that fail to connect, prepare or join; control planes must not fail; exits non-zero naming them (default: cluster.maxFailedWorkers, else 0)",
  );
}

/** The options every cluster command shares (also `upgrade`). */
export function common(cmd: Command): Command {
  return hostCommandOptions(cmd)
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .addOption(new Option("-o, --output <format>", "progress output: text (a live view on a terminal) or one JSON event per line").choices(["plain", "json"]).default("plain"))
    .addOption(plainOption())
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .option("--wait-timeout <duration>", "how long to wait for nodes to be Ready", "5m")
    .option("--api-tunnel", "reach the Kubernetes API through an SSH tunnel via the first control plane (default: only when it is not routable)")
    .option("--interrupt-grace <duration>", "after Ctrl-C or SIGTERM, how long running remote commands may finish before they are stopped", "5s");
}

export function registerClusterCommands(program: Command, io: CliIo): void {
  program
    .command("secrets")
    .description("print the secrets kubesmith generated for the cluster (add-on passwords, VRRP password)")
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .addOption(outputOption())
    .action(async (f: { inventory?: string; stateDir?: string; output: OutputFormat }) => {
      const { printSecrets } = await import("./cluster-run.js");
      await printSecrets(f, io);
    });

  limitOption(partialOption(common(program.command("up").description("create or converge the cluster: prepare hosts, kubeadm init/join, Calico, labels"))))
    .option("--dry-run", "print what would change and change nothing (same as 'plan')")
    .option("--merge-kubeconfig", "also add the cluster as a context to ~/.kube/config (or the first file of $KUBECONFIG)")
    .option("--kubeconfig <file>", "with --merge-kubeconfig: the kubeconfig file to merge into")
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      const { runCluster, summary, UP_PHASES } = await import("./cluster-run.js");
      await runCluster("up", UP_PHASES, opts, io, f.output, (ctx) => summary(ctx, io), !!f.plain);
    });

  limitOption(partialOption(common(program.command("plan").description("show what 'up' would change on each host; changes nothing"))))
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, true);
      const { runCluster, summary, UP_PHASES } = await import("./cluster-run.js");
      await runCluster("up", UP_PHASES, opts, io, f.output, (ctx) => summary(ctx, io), !!f.plain, "plan");
    });

  limitOption(drainOptions(common(program.command("down").description("drain and delete the nodes, reset every host (kubeadm reset, CNI, iptables, keepalived)"))))
    .option("--dry-run", "print what would change and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Tear down ${await whichCluster(opts.inventory, opts.limit)} and reset those hosts?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      const { runCluster, DOWN_PHASES } = await import("./cluster-run.js");
      await runCluster("down", DOWN_PHASES, opts, io, f.output, undefined, !!f.plain);
    });

  drainOptions(partialOption(common(program.command("rebuild").description("'down' then 'up' as one command"))))
    .option("--dry-run", "print what would change and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--merge-kubeconfig", "also add the cluster as a context to ~/.kube/config (or the first file of $KUBECONFIG)")
    .option("--kubeconfig <file>", "with --merge-kubeconfig: the kubeconfig file to merge into")
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Rebuild ${await whichCluster(opts.inventory)} (everything on it is lost)?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      const { runCluster, summary, DOWN_PHASES, UP_PHASES } = await import("./cluster-run.js");
      // One interrupt stops the whole rebuild: down interrupted means rebuild again, up interrupted means up.
      await interruptible(async (signal) => {
        await runCluster("down", DOWN_PHASES, { ...opts, signal }, io, f.output, undefined, !!f.plain, "rebuild");
        await runCluster("up", UP_PHASES, { ...opts, signal }, io, f.output, (ctx) => summary(ctx, io), !!f.plain);
      });
    });
}
