// `up`, `plan`, `down`, `rebuild`: flags → context → phase list → runPhases, with the cluster lock around
// every run that changes something.
import { Command, Option } from "commander";
import type { CliIo } from "../cli/main.js";
import { acquireLock, ourLock, releaseLock } from "../cluster/lock.js";
import { readClusterSecrets, secretsFile } from "../cluster/secrets.js";
import { loadInventory } from "../inventory/load.js";
import { nodeReady } from "../kube/client.js";
import type { ClusterHost } from "../cluster/model.js";
import { releaseStatus, vipHolders } from "./status.js";
import { closeContext, openContext, type ClusterContext, type ClusterOptions } from "../phases/context.js";
import { connectApi, cni, labelsAndTaints, writeKubeconfig } from "../phases/api.js";
import { controlPlaneEndpoint, joinControlPlanes, joinWorkers, kubeadmInit } from "../phases/controlplane.js";
import { drainNodes, removeHostAddons, resetHosts } from "../phases/down.js";
import { gatherFacts, preflight, prepareHosts } from "../phases/hosts.js";
import { runPhases, type Phase } from "../phases/run.js";
import { confirm } from "../ui/confirm.js";
import { chooseReporter } from "../ui/select.js";
import { writeRunReport } from "../report/html.js";
import { applyAddons, renderAddons } from "../phases/addons.js";
import { table } from "../ui/table.js";
import { parseConcurrency } from "./check.js";
import { hostCommandOptions, resolveInventoryPath } from "./inventory.js";
import { UsageError } from "../errors.js";
import { parseDuration } from "../ssh/targets.js";

export const UP_PHASES: Phase<ClusterContext>[] = [
  renderAddons,
  gatherFacts,
  preflight,
  prepareHosts,
  controlPlaneEndpoint,
  kubeadmInit,
  joinControlPlanes,
  joinWorkers,
  connectApi,
  cni,
  labelsAndTaints,
  applyAddons,
  writeKubeconfig,
];

export const DOWN_PHASES: Phase<ClusterContext>[] = [gatherFacts, drainNodes, removeHostAddons, resetHosts];

export interface ClusterFlags {
  inventory?: string;
  concurrency: string;
  hostKeyPolicy?: "strict" | "accept-new" | "off";
  stateDir: string;
  dryRun?: boolean;
  yes?: boolean;
  forceUnlock?: boolean;
  mergeKubeconfig?: boolean;
  output: "plain" | "json";
  waitTimeout: string;
  apiTunnel?: boolean;
  plain?: boolean;
}

/** The flags every cluster command shares, as ClusterOptions; `addons diff|apply|remove` use it too. */
export function clusterOptions(f: ClusterFlags, dryRun: boolean): ClusterOptions {
  let waitTimeoutMs: number;
  try {
    waitTimeoutMs = parseDuration(f.waitTimeout);
  } catch {
    throw new UsageError(`--wait-timeout must be like 90s or 5m (got '${f.waitTimeout}')`);
  }
  return {
    inventory: resolveInventoryPath(f.inventory),
    dryRun,
    concurrency: parseConcurrency(f.concurrency),
    stateDir: f.stateDir,
    ...(f.hostKeyPolicy ? { hostKeyPolicy: f.hostKeyPolicy } : {}),
    ...(f.forceUnlock ? { forceUnlock: true } : {}),
    ...(f.mergeKubeconfig ? { mergeKubeconfig: true } : {}),
    ...(f.yes ? { yes: true } : {}),
    ...(f.apiTunnel ? { apiTunnel: true } : {}),
    waitTimeoutMs,
  };
}

/** Runs one command's phases with the lock held (not in dry run) and the context closed afterwards. */
export async function runCluster(
  command: string,
  phases: Phase<ClusterContext>[],
  opts: ClusterOptions,
  io: CliIo,
  output: "plain" | "json",
  after?: (ctx: ClusterContext) => Promise<void>,
  plain = false,
): Promise<ClusterContext> {
  const { kind, reporter } = chooseReporter({ output, plain, isTTY: !!process.stdout.isTTY, env: process.env, write: io.stdout });
  const ctx = await openContext(command, opts, [reporter]);
  const me = ourLock(command);
  let locked = false;
  try {
    if (!opts.dryRun) {
      const first = await ctx.runner(ctx.model.first.name);
      await acquireLock(first, me, { ...(opts.forceUnlock ? { force: true } : {}), warn: (m) => ctx.reporter.emit({ kind: "warning", host: ctx.model.first.name, message: m }) });
      locked = true;
    }
    await runPhases(phases, ctx);
    if (after && kind !== "json") await after(ctx);
    return ctx;
  } finally {
    if (locked) await releaseLock(await ctx.runner(ctx.model.first.name), me).catch(() => {});
    await closeContext(ctx);
    if (kind !== "json") io.stdout(`logs: ${ctx.runDir}\n`);
    if (!opts.dryRun) {
      try {
        const report = writeRunReport(ctx.runDir);
        if (kind !== "json") io.stdout(`report: ${report}\n`);
      } catch (err) {
        io.stderr(`kubesmith: warning: could not write the run report: ${(err as Error).message}\n`);
      }
    }
  }
}

async function summary(ctx: ClusterContext, io: CliIo): Promise<void> {
  if (ctx.dryRun) {
    io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s) planned; nothing was changed.\n` : "\nNothing to do: the cluster matches the inventory.\n");
    return;
  }
  if (!ctx.kube) return;
  const nodes = await ctx.kube.list("v1", "Node").catch(() => []);
  const rows = nodes.map((n) => {
    const labels = n.metadata.labels ?? {};
    const roles = Object.keys(labels).filter((k) => k.startsWith("node-role.kubernetes.io/")).map((k) => k.split("/")[1]).join(",");
    const info = (n.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo;
    return [n.metadata.name, roles || "-", nodeReady(n) ? "Ready" : "NotReady", info?.kubeletVersion ?? "-"];
  });
  io.stdout(`\n${table(["NODE", "ROLES", "STATUS", "VERSION"], rows)}`);
  const releases = await releaseStatus(ctx.kube).catch(() => []);
  if (releases.length) {
    const addonRows = releases.map((r) => [r.release, r.workloads.map((w) => `${w.kind.toLowerCase()}/${w.name} ${w.ready}/${w.desired}`).join(", ") || "-", r.healthy ? "healthy" : "NOT READY"]);
    io.stdout(`\n${table(["ADD-ON", "WORKLOADS (ready/desired)", "HEALTH"], addonRows)}`);
  }
  // Who holds each virtual IP right now.
  const vips: { name: string; vip: string; hosts: ClusterHost[] }[] = [];
  if (ctx.model.endpoint.kind === "vip") vips.push({ name: "control-plane VIP", vip: ctx.model.endpoint.host, hosts: ctx.model.controlPlanes });
  const edge = ctx.model.inventory.cluster.edgeVIP;
  if (edge && ctx.model.inventory.addons?.["keepalived-edge"]?.enabled) vips.push({ name: "edge VIP", vip: edge.vip, hosts: ctx.model.hosts.filter((h) => h.isFrontend) });
  for (const v of vips) {
    const addrs = new Map<string, string>();
    for (const h of v.hosts) {
      const r = await (await ctx.runner(h.name)).exec("ip -o addr show", { allowFailure: true, label: "addresses" }).catch(() => undefined);
      if (r) addrs.set(h.name, r.stdout);
    }
    const holders = vipHolders(v.vip, addrs);
    io.stdout(`${v.name} ${v.vip}: ${holders.length ? `held by ${holders.join(", ")}` : "held by no host yet"}\n`);
  }
  io.stdout(`kubeconfig: kubeconfig/${ctx.model.name}.yaml\n`);
  if (ctx.addonAccess?.length) io.stdout(`\n${ctx.addonAccess.map((a) => `  ${a}`).join("\n")}\n`);
  if (ctx.generatedSecrets?.length) {
    io.stdout(`\nGenerated now and shown only this once (kept in ${secretsFile(ctx.stateDir, ctx.model.name)}, 0600; 'kubesmith secrets -i ${ctx.options.inventory}' prints them again):\n`);
    for (const s of ctx.generatedSecrets) io.stdout(`  ${s.bundle} ${s.path}: ${s.value}\n`);
  }
}

function common(cmd: Command): Command {
  return hostCommandOptions(cmd)
    .option("--state-dir <dir>", "run journals, logs and cluster secrets", ".kubesmith")
    .addOption(new Option("-o, --output <format>", "progress output: text (a live view on a terminal) or one JSON event per line").choices(["plain", "json"]).default("plain"))
    .option("--plain", "plain line output: no spinners or colour (also when not a terminal or CI is set)")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .option("--wait-timeout <duration>", "how long to wait for nodes to be Ready", "5m")
    .option("--api-tunnel", "reach the Kubernetes API through an SSH tunnel via the first control plane (default: only when it is not routable)");
}

export function registerClusterCommands(program: Command, io: CliIo): void {
  program
    .command("secrets")
    .description("print the secrets kubesmith generated for the cluster (add-on passwords, VRRP password)")
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .option("--state-dir <dir>", "run journals, logs and cluster secrets", ".kubesmith")
    .action(async (f: { inventory?: string; stateDir: string }) => {
      const { inventory } = await loadInventory(resolveInventoryPath(f.inventory));
      const s = readClusterSecrets(f.stateDir, inventory.cluster.name);
      if (!s) throw new UsageError(`no secrets stored for cluster ${inventory.cluster.name} in ${f.stateDir}`, { hint: "run 'kubesmith up' first, from the same directory" });
      const rows = [["control-plane keepalived", "authPass", s.vrrpPass]];
      for (const [bundle, values] of Object.entries(s.addons ?? {})) for (const [k, v] of Object.entries(values)) rows.push([bundle, k, v]);
      io.stdout(table(["FOR", "VALUE", "SECRET"], rows));
    });

  common(program.command("up").description("create or converge the cluster: prepare hosts, kubeadm init/join, Calico, labels"))
    .option("--dry-run", "print what would change and change nothing (same as 'plan')")
    .option("--merge-kubeconfig", "also add the cluster as a context to ~/.kube/config")
    .action(async (f: ClusterFlags) => {
      await runCluster("up", UP_PHASES, clusterOptions(f, !!f.dryRun), io, f.output, (ctx) => summary(ctx, io), !!f.plain);
    });

  common(program.command("plan").description("show what 'up' would change on each host; changes nothing"))
    .action(async (f: ClusterFlags) => {
      await runCluster("up", UP_PHASES, clusterOptions(f, true), io, f.output, (ctx) => summary(ctx, io), !!f.plain);
    });

  common(program.command("down").description("drain and delete the nodes, reset every host (kubeadm reset, CNI, iptables, keepalived)"))
    .option("--dry-run", "print what would change and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Tear down the cluster in ${opts.inventory} and reset its hosts?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      await runCluster("down", DOWN_PHASES, opts, io, f.output, undefined, !!f.plain);
    });

  common(program.command("rebuild").description("'down' then 'up' as one command"))
    .option("--dry-run", "print what would change and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--merge-kubeconfig", "also add the cluster as a context to ~/.kube/config")
    .action(async (f: ClusterFlags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Rebuild the cluster in ${opts.inventory} (everything on it is lost)?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      await runCluster("down", DOWN_PHASES, opts, io, f.output, undefined, !!f.plain);
      await runCluster("up", UP_PHASES, opts, io, f.output, (ctx) => summary(ctx, io), !!f.plain);
    });
}
