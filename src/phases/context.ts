// Building and tearing down what every cluster command needs: the loaded inventory, the SSH pool, the run
// directory with its journal and per-host logs, and the reporters.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { buildModel, type ClusterHost, type ClusterModel } from "../cluster/model.js";
import { leaveOut } from "../cluster/leave.js";
import type { HostFacts } from "../facts/gather.js";
import { loadInventory } from "../inventory/load.js";
import type { GeneratedSecret, RenderedRelease } from "../addons/releases.js";
import type { Recovered } from "../addons/recover.js";
import type { KubeClient, KubeObject } from "../kube/client.js";
import { SshPool } from "../ssh/pool.js";
import { targetsFromInventory } from "../ssh/targets.js";
import type { HostKeyPolicy, Runner } from "../ssh/types.js";
import { FanOut, MemoryReporter, type Reporter } from "../ui/events.js";
import { JournalReporter } from "../ui/reporters.js";
import { runSecrets } from "../util/secrets.js";
import { PartialFailures, parseFailureBound } from "./partial.js";
import { checkDownLimit, resolveLimit } from "../cluster/limit.js";
import type { PhaseContext, PlannedChange } from "./run.js";

export interface JoinSecrets {
  token: string;
  caCertHash: string;
  certificateKey?: string;
}

export interface ClusterContext extends PhaseContext {
  readonly command: string;
  readonly model: ClusterModel;
  readonly pool: SshPool;
  readonly runDir: string;
  readonly stateDir: string;
  readonly memory: MemoryReporter;
  readonly facts: Map<string, HostFacts>;
  readonly options: ClusterOptions;
  runner(host: string): Promise<Runner>;
  /** In memory only; never logged. */
  join?: JoinSecrets;
  /** admin.conf of the cluster, once it exists. */
  adminConf?: string;
  /**
   * Read on the lock's host in the lock's round trip (phases/hosts.ts lockPrefetch): its facts, and its
   * admin.conf when it had one then (used only while that host leads and no init ran since).
   */
  prefetched?: { host: string; facts: string; adminConf?: string };
  kube?: KubeClient;
  /** Hosts kubeadm already set up when the run started. */
  joined: Set<string>;
  /** Calico's objects, rendered at the start of the run from the manifest the inventory asks for. */
  calico?: { source: string; objects: KubeObject[] };
  /** Add-on releases rendered (and their values checked) at the start of the run. */
  addonLevels?: RenderedRelease[][];
  /** Add-on secrets generated in this run: shown once at the end. */
  generatedSecrets?: GeneratedSecret[];
  /** Generated values the running cluster already used, read back from it (src/addons/recover.ts). */
  recoveredSecrets?: Recovered[];
  /** How to reach what the add-ons run (rendered from each bundle's access lines). */
  addonAccess?: string[];
  /** remove-node: the hosts being removed (left out of `model`); ctx.runner reaches them too. */
  leaving?: ClusterHost[];
}

export interface ClusterOptions {
  inventory: string;
  dryRun: boolean;
  concurrency: number;
  stateDir: string;
  hostKeyPolicy?: HostKeyPolicy;
  forceUnlock?: boolean;
  /** Merge the kubeconfig into ~/.kube/config (or kubeconfig, or $KUBECONFIG's first file) as a context. */
  mergeKubeconfig?: boolean;
  /** --kubeconfig: the file a merge writes to. */
  kubeconfig?: string;
  yes?: boolean;
  waitTimeoutMs?: number;
  /** Reach the API through an SSH tunnel via the first control plane even when it is routable. */
  apiTunnel?: boolean;
  /** Aborted when the run is interrupted: no new step starts, running commands are cut off after the grace. */
  signal?: AbortSignal;
  /** How long running remote commands may take to finish after an interrupt (default 5 s). */
  interruptGraceMs?: number;
  /** --max-failed-workers: overrides cluster.maxFailedWorkers (`up` only; partial.ts). */
  maxFailedWorkers?: string;
  /** down: how long a node's pods may refuse eviction (their disruption budgets) before the drain fails or forces. */
  drainTimeoutMs?: number;
  /** down: delete the pods eviction could not remove within the drain timeout. */
  force?: boolean;
  /** --limit as typed (up, plan, down): the only hosts the run changes (cluster/limit.ts). */
  limit?: string;
  /** remove-node: the node names being removed; the run's model leaves them out (cluster/leave.ts). */
  remove?: string[];
}

export async function openContext(command: string, opts: ClusterOptions, reporters: Reporter[]): Promise<ClusterContext> {
  // Loading adds the inventory's secrets (${VAR} values of secret fields) to the run's list (runSecrets).
  const loaded = await loadInventory(opts.inventory);
  const targets = targetsFromInventory(loaded.inventory, {
    baseDir: dirname(loaded.file),
    inventoryFile: opts.inventory,
    ...(opts.hostKeyPolicy ? { hostKeyPolicy: opts.hostKeyPolicy } : {}),
  });
  const full = buildModel(loaded, targets);
  const { model, leaving } = opts.remove ? leaveOut(full, opts.remove, loaded.file) : { model: full, leaving: undefined };
  // A bad --limit fails before anything is written or connected to.
  let limit: Set<string> | undefined;
  if (opts.limit !== undefined) {
    const names = resolveLimit(opts.limit, loaded.inventory.hosts, loaded.file);
    if (command === "down") checkDownLimit(names, loaded.inventory.hosts);
    limit = new Set(names);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runDir = join(opts.stateDir, model.name, "runs", `${stamp}-${opts.dryRun ? "plan" : command}`);
  mkdirSync(join(runDir, "hosts"), { recursive: true, mode: 0o700 });
  const memory = new MemoryReporter();
  const reporter = new FanOut([memory, new JournalReporter(join(runDir, "events.jsonl")), ...reporters], runSecrets);
  for (const w of loaded.warnings) reporter.emit({ kind: "warning", message: `${w.path ? `${w.path}: ` : ""}${w.message}` });
  const pool = new SshPool({
    concurrency: opts.concurrency,
    logDir: join(runDir, "hosts"),
    secrets: runSecrets,
    onWarning: (host, message) => reporter.emit({ kind: "warning", host, message }),
    onCommand: (e) =>
      reporter.emit({ kind: "command", host: e.host, ...(e.label ? { label: e.label } : {}), command: e.command, code: e.code, durationMs: e.durationMs, ...(e.check ? { check: true } : {}) }),
    runner: {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.interruptGraceMs !== undefined ? { interruptGraceMs: opts.interruptGraceMs } : {}),
    },
  });
  const changes: PlannedChange[] = [];
  // Only `up` may leave failed workers out; down, rebuild's down and addons commands stop at any failure.
  const bound = command === "up" ? (opts.maxFailedWorkers ?? model.inventory.cluster.maxFailedWorkers) : undefined;
  const partial =
    bound !== undefined
      ? new PartialFailures(model.workers.map((h) => h.name), parseFailureBound(bound, opts.maxFailedWorkers !== undefined ? "--max-failed-workers" : `${loaded.file}: cluster.maxFailedWorkers`))
      : undefined;
  const ctx: ClusterContext = {
    command,
    dryRun: opts.dryRun,
    reporter,
    concurrency: opts.concurrency,
    phase: "",
    changes,
    model,
    pool,
    runDir,
    stateDir: opts.stateDir,
    memory,
    facts: new Map(),
    options: opts,
    joined: new Set(),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.interruptGraceMs !== undefined ? { interruptGraceMs: opts.interruptGraceMs } : {}),
    ...(partial ? { partial } : {}),
    ...(limit ? { limit } : {}),
    ...(leaving ? { leaving } : {}),
    runner: (host: string) => {
      const h = model.hosts.find((x) => x.name === host) ?? ctx.leaving?.find((x) => x.name === host);
      if (!h) throw new Error(`unknown host ${host}`);
      return pool.connect(h.target);
    },
  };
  reporter.emit({ kind: "run-start", command, cluster: model.name, dryRun: opts.dryRun, runDir, inventory: resolve(opts.inventory), ...(limit ? { limit: [...limit] } : {}) });
  return ctx;
}

export async function closeContext(ctx: ClusterContext): Promise<void> {
  ctx.kube?.close();
  await ctx.pool.closeAll();
  await (ctx.reporter as FanOut).close();
}
