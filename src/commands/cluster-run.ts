// `up`, `plan`, `down`, `rebuild`, `secrets`, the work: flags → context → phase list → runPhases, with the
// cluster lock around every run that changes something. Loaded by the commands' actions (cluster.ts).
import { formatOutput, type OutputFormat } from "../ui/output.js";
import { existsSync } from "node:fs";
import { kubeconfigFile, logsCommand, oldKubeconfigNote, STATE_DIR_ENV, stateDirFor, word } from "../cluster/state.js";
import { interruptible, type CliIo } from "../cli/main.js";
import { acquireLock, ourLock, releaseLock } from "../cluster/lock.js";
import { readClusterSecrets, secretsFile } from "../cluster/secrets.js";
import { loadInventory } from "../inventory/load.js";
import { nodeReady } from "../kube/client.js";
import type { ClusterHost } from "../cluster/model.js";
import { releaseStatus, vipHolders } from "./status-run.js";
import { closeContext, openContext, type ClusterContext, type ClusterOptions } from "../phases/context.js";
import { connectApi, cni, labelsAndTaints, writeKubeconfig } from "../phases/api.js";
import { controlPlaneEndpoint, joinControlPlanes, joinWorkers, kubeadmInit } from "../phases/controlplane.js";
import { drainNodes, removeHostAddons, resetHosts } from "../phases/down.js";
import { gatherFacts, preconnect, preflight, prepareHosts } from "../phases/hosts.js";
import { runPhases, throwIfInterrupted, type Phase } from "../phases/run.js";
import { remaining } from "../phases/partial.js";
import { lockHost, throwIfLeftOut } from "../phases/reach.js";
import { keepPrefetched, lockPrefetch } from "../phases/hosts.js";
import { chooseReporter } from "../ui/select.js";
import { writeRunReport } from "../report/html.js";
import { applyAddons, renderAddons } from "../phases/addons.js";
import { strayNodes } from "../phases/remove-node.js";
import { refuseVersionChange } from "../phases/upgrade.js";
import { table } from "../ui/table.js";
import { resolveInventoryPath } from "./inventory.js";
import { CommandError, InterruptedError, KubesmithError, MultiHostError, UsageError } from "../errors.js";
import type { RunResultKind } from "../ui/events.js";

export const UP_PHASES: Phase<ClusterContext>[] = [
  renderAddons,
  gatherFacts,
  refuseVersionChange,
  preflight,
  prepareHosts,
  controlPlaneEndpoint,
  kubeadmInit,
  joinControlPlanes,
  joinWorkers,
  connectApi,
  cni,
  labelsAndTaints,
  strayNodes,
  applyAddons,
  writeKubeconfig,
];

export const DOWN_PHASES: Phase<ClusterContext>[] = [gatherFacts, drainNodes, removeHostAddons, resetHosts];

/** Where an interrupted run was: the phase and the hosts it was working on (inventory order). */
function whereNow(ctx: ClusterContext): string {
  if (!ctx.phase) return "the start of the run";
  const events = ctx.memory.events;
  let i = events.length - 1;
  while (i >= 0 && !(events[i]!.kind === "phase-start" && (events[i] as { phase: string }).phase === ctx.phase)) i--;
  const since = i >= 0 ? events.slice(i + 1) : [];
  const open = new Set<string>();
  for (const e of since) {
    if (e.kind !== "host-step" || e.phase !== ctx.phase) continue;
    if (e.status === "start") open.add(e.host);
    else open.delete(e.host);
  }
  if (!open.size) for (const e of since) if (e.kind === "change" && e.phase === ctx.phase) open.add(e.host);
  const hosts = ctx.model.hosts.map((h) => h.name).filter((h) => open.has(h));
  return `${ctx.phase}${hosts.length ? ` on ${hosts.join(", ")}` : ""}`;
}

/**
 * Runs one command's phases with the lock held (not in dry run) and the context closed afterwards. On
 * SIGINT/SIGTERM (opts.signal, else its own) it stops starting new work, releases the lock, ends the
 * journal with run-end (result interrupted), writes the report and throws InterruptedError naming where
 * it was and what to run again (`rerun`, default the command).
 */
export async function runCluster(
  command: string,
  phases: Phase<ClusterContext>[],
  opts: ClusterOptions,
  io: CliIo,
  output: "plain" | "json",
  after?: (ctx: ClusterContext) => Promise<void>,
  plain = false,
  rerun = command,
): Promise<ClusterContext> {
  if (!opts.signal) return interruptible((signal) => runCluster(command, phases, { ...opts, signal }, io, output, after, plain, rerun));
  const signal = opts.signal;
  const { kind, reporter } = chooseReporter({ output, plain, isTTY: !!process.stdout.isTTY, env: process.env, write: io.stdout });
  const ctx = await openContext(command, opts, [reporter]);
  // Where the run was when the signal came (what it does afterwards is winding down).
  let where: string | undefined;
  const noteWhere = () => {
    where ??= whereNow(ctx);
  };
  if (signal.aborted) noteWhere();
  else signal.addEventListener("abort", noteWhere, { once: true });
  const me = ourLock(command);
  const t0 = performance.now();
  let result: RunResultKind = "failed";
  let locked: string | undefined;
  try {
    if (!opts.dryRun) {
      throwIfInterrupted(ctx);
      // the first control plane, or (up) the first one that answers: the lock is released where it was taken
      const host = await lockHost(ctx);
      // the host's facts (and admin.conf) come back in the same round trip (phases/hosts.ts)
      const read = await acquireLock(await ctx.runner(host), me, {
        ...(opts.forceUnlock ? { force: true } : {}),
        warn: (m) => ctx.reporter.emit({ kind: "warning", host, message: m }),
        then: lockPrefetch(),
      });
      locked = host;
      keepPrefetched(ctx, host, read);
    }
    // SSH handshakes start while the phases before gathering facts (the add-ons' render) run
    if (phases.includes(gatherFacts) && phases[0] !== gatherFacts) preconnect(ctx);
    await runPhases(phases, ctx, { end: false });
    throwIfLeftOut(ctx);
    // Workers left out (--max-failed-workers): the rest finished, the run did not.
    const partial = ctx.partial?.error(rerun);
    result = partial ? "failed" : "ok";
    if (after && kind !== "json") await after(ctx);
    if (partial) throw partial;
    return ctx;
  } catch (err) {
    if (!signal.aborted) {
      if (err instanceof KubesmithError) {
        const see = seeLogs(err, opts.inventory, ctx.runDir);
        if (see) err.seeAlso ??= see;
      }
      throw err;
    }
    result = "interrupted";
    throw new InterruptedError(`interrupted during ${where ?? whereNow(ctx)}; run 'kubesmith ${rerun}' again to continue`, { cause: err });
  } finally {
    signal.removeEventListener("abort", noteWhere);
    if (locked) await releaseLock(await ctx.runner(locked), me).catch(() => {});
    // The last event of the run, after the lock's own command events.
    ctx.reporter.emit({ kind: "run-end", ok: result === "ok", result, durationMs: Math.round(performance.now() - t0), changes: ctx.changes.length });
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

/**
 * The `kubesmith logs` line(s) for the hosts whose remote command failed (one per host, at most three; more:
 * the run's). Errors with no command output to see (host keys, authentication, reachability) get none: their
 * one line says it all.
 */
export function seeLogs(err: KubesmithError, inventory: string, runDir: string): string | undefined {
  const all = err instanceof MultiHostError ? err.errors : [err];
  const hosts = [...new Set(all.flatMap((e) => (e instanceof CommandError ? [e.host] : [])))];
  if (!hosts.length) return undefined;
  if (hosts.length > 3) return `the whole output: ${logsCommand(inventory, runDir)}`;
  return hosts.map((h) => `${h}'s whole output: ${logsCommand(inventory, runDir, h)}`).join("\n");
}

/** How long the end of up waits for keepalived to elect a VIP holder (several advert intervals, even at 1 s). */
const VIP_HOLDER_WAIT_MS = 10_000;

/**
 * The secrets generated in this run. On a terminal the values are shown; anywhere else (CI logs, files,
 * pipes keep what they are given) only which secrets were made, where they are kept and how to show them.
 */
export function generatedSecretsLines(ctx: Pick<ClusterContext, "generatedSecrets" | "stateDir" | "model" | "options">, onTerminal: boolean): string {
  const secrets = ctx.generatedSecrets ?? [];
  if (!secrets.length) return "";
  const where = `kept in ${secretsFile(ctx.stateDir, ctx.model.name)} (0600); 'kubesmith secrets -i ${ctx.options.inventory}' shows them`;
  if (!onTerminal) {
    return `
Generated ${secrets.length} secret(s) (${secrets.map((s) => `${s.bundle} ${s.path}`).join(", ")}), not printed because this is not a terminal: ${where}
`;
  }
  return `
Generated now (${where} again):
${secrets.map((s) => `  ${s.bundle} ${s.path}: ${s.value}
`).join("")}`;
}

export async function summary(ctx: ClusterContext, io: CliIo, onTerminal = !!process.stdout.isTTY): Promise<void> {
  if (ctx.dryRun) {
    // A limited plan says nothing of the hosts it left out.
    const nothing = ctx.limit ? `Nothing to do on ${[...ctx.limit].join(", ")} (--limit).` : "Nothing to do: the cluster matches the inventory.";
    io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s) planned; nothing was changed.\n` : `\n${nothing}\n`);
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
  // On a terminal the end-of-run tables fit its width.
  const width = onTerminal ? process.stdout.columns : undefined;
  io.stdout(`\n${table(["NODE", "ROLES", "STATUS", "VERSION"], rows, width)}`);
  const releases = await releaseStatus(ctx.kube).catch(() => []);
  if (releases.length) {
    const addonRows = releases.map((r) => [r.release, r.workloads.map((w) => `${w.kind.toLowerCase()}/${w.name} ${w.ready}/${w.desired}`).join(", ") || "-", r.healthy ? "healthy" : "NOT READY"]);
    io.stdout(`\n${table(["ADD-ON", "WORKLOADS (ready/desired)", "HEALTH"], addonRows, width)}`);
  }
  // Who holds each virtual IP right now.
  const vips: { name: string; vip: string; hosts: ClusterHost[] }[] = [];
  if (ctx.model.endpoint.kind === "vip") vips.push({ name: "control-plane VIP", vip: ctx.model.endpoint.host, hosts: ctx.model.controlPlanes });
  const edge = ctx.model.inventory.cluster.edgeVIP;
  if (edge && ctx.model.inventory.addons?.["keepalived-edge"]?.enabled) vips.push({ name: "edge VIP", vip: edge.vip, hosts: remaining(ctx, ctx.model.hosts, { reads: true }).filter((h) => h.isFrontend) });
  for (const v of vips) {
    // keepalived takes a few advert intervals after it starts to elect a holder: ask again, within a bound.
    const t0 = Date.now();
    let holders: string[] = [];
    for (;;) {
      const addrs = new Map<string, string>();
      await Promise.all(
        v.hosts.map(async (h) => {
          const r = await (await ctx.runner(h.name)).exec("ip -o addr show", { allowFailure: true, label: "addresses" }).catch(() => undefined);
          if (r) addrs.set(h.name, r.stdout);
        }),
      );
      holders = vipHolders(v.vip, addrs);
      if (holders.length || Date.now() - t0 >= VIP_HOLDER_WAIT_MS) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    io.stdout(`${v.name} ${v.vip}: ${holders.length ? `held by ${holders.join(", ")}` : `held by no host after ${VIP_HOLDER_WAIT_MS / 1000} s (check keepalived on ${v.hosts.map((h) => h.name).join(", ")})`}\n`);
  }
  const kubeconfig = kubeconfigFile(ctx.stateDir, ctx.model.name);
  if (existsSync(kubeconfig)) io.stdout(`kubeconfig: ${kubeconfig} (kubectl --kubeconfig ${word(kubeconfig)} get nodes)\n`);
  const old = oldKubeconfigNote(ctx.model.name, kubeconfig);
  if (old) io.stdout(`${old}\n`);
  if (ctx.addonAccess?.length) io.stdout(`\n${ctx.addonAccess.map((a) => `  ${a}`).join("\n")}\n`);
  const secrets = generatedSecretsLines(ctx, onTerminal);
  if (secrets) io.stdout(secrets);
}


/** `kubesmith secrets`: the secrets kubesmith generated for the cluster, as a table. */
export async function printSecrets(f: { inventory?: string; stateDir?: string; output?: OutputFormat }, io: CliIo): Promise<void> {
  const { inventory, file } = await loadInventory(resolveInventoryPath(f.inventory));
  const stateDir = stateDirFor(f.stateDir, file);
  const s = readClusterSecrets(stateDir, inventory.cluster.name);
  if (!s) throw new UsageError(`no secrets stored for cluster ${inventory.cluster.name} in ${stateDir}`, { hint: `give --state-dir (or $${STATE_DIR_ENV}) the state directory of the run that built the cluster` });
  const rows = [["control-plane keepalived", "authPass", s.vrrpPass]];
  for (const [bundle, values] of Object.entries(s.addons ?? {})) for (const [k, v] of Object.entries(values)) rows.push([bundle, k, v]);
  const data = { cluster: inventory.cluster.name, vrrpPass: s.vrrpPass, addons: s.addons ?? {} };
  io.stdout(await formatOutput(f.output ?? "table", data, () => table(["FOR", "VALUE", "SECRET"], rows)));
}
