// Partial failure: when a worker (or a frontend, a worker with a role) fails in a per-host phase of `up`
// (connect, facts, preflight, prepare, join), the run may go on without it, up to a bound the user sets
// (--max-failed-workers / cluster.maxFailedWorkers: a number, or a share like 10%). Control-plane failures
// stay fatal. The dropped hosts are left out of every later phase (Calico's wait, labels, add-ons), named
// with their cause at the end, and the run exits with the failed hosts' code (EXIT_PRIORITY). The next
// `up` finishes them: every phase decides from live probes.
//
// The whole policy is decide(); forHosts (run.ts) and the preflight phase call it, and every phase that
// walks the hosts itself asks remaining().
import { KubesmithError, MultiHostError, PartialRunError, UsageError } from "../errors.js";
import type { PhaseContext } from "./run.js";

/** How many workers may fail: a count, or a share of the workers (rounded down). */
export type FailureBound = { count: number } | { percent: number };

/** "3" or 3 → { count: 3 }; "10%" → { percent: 10 }. Throws UsageError naming `what` on anything else. */
export function parseFailureBound(v: string | number, what = "--max-failed-workers"): FailureBound {
  const s = String(v).trim();
  let m = /^(\d+)$/.exec(s);
  if (m) return { count: Number(m[1]) };
  m = /^(\d{1,3}(?:\.\d+)?)%$/.exec(s);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  throw new UsageError(`${what} must be a number of workers like 2 or a share like 10% (got '${s}')`);
}

/** The number of workers that may fail: a share is of the workers in the inventory, rounded down. */
export function boundCount(bound: FailureBound, workers: number): number {
  return "count" in bound ? bound.count : Math.floor((workers * bound.percent) / 100 + 1e-9);
}

export function describeBound(bound: FailureBound, workers: number): string {
  return "count" in bound ? String(bound.count) : `${bound.percent}% of ${workers} = ${boundCount(bound, workers)}`;
}

export interface HostFailure {
  host: string;
  error: unknown;
}

export class PartialFailures {
  /** Dropped hosts and why, in the order they were dropped. */
  readonly dropped = new Map<string, KubesmithError>();
  readonly max: number;
  constructor(
    /** Names of the hosts that may be dropped (workers and frontends that are not control planes), inventory order. */
    readonly workers: readonly string[],
    readonly bound: FailureBound,
  ) {
    this.max = boundCount(bound, workers.length);
  }

  /**
   * The policy, in one place. Given one phase's failures (inventory order), returns the errors that stay
   * fatal: all of them when any is not ours (a bug), any host is not a worker, or dropping them all would
   * pass the bound (then the hosts dropped earlier are named too); else none, and the hosts are dropped.
   */
  decide(ctx: PhaseContext, failures: HostFailure[]): unknown[] {
    if (failures.length === 0) return [];
    const errors = failures.map((f) => f.error);
    if (errors.some((e) => !(e instanceof KubesmithError))) return errors;
    const fatal = failures.some((f) => !this.workers.includes(f.host)) || this.dropped.size + failures.length > this.max;
    if (fatal) return [...this.dropped.values(), ...errors];
    for (const f of failures) {
      this.dropped.set(f.host, f.error as KubesmithError);
      ctx.reporter.emit({
        kind: "warning",
        host: f.host,
        message: `left out of the rest of this run (${this.dropped.size} of at most ${describeBound(this.bound, this.workers.length)} worker(s)): ${(f.error as KubesmithError).oneLine()}`,
      });
    }
    return [];
  }

  /** The error that ends a run that finished without the dropped hosts; undefined when none was dropped. */
  error(command = "up"): PartialRunError | undefined {
    if (this.dropped.size === 0) return undefined;
    const errors = [...this.dropped.values()];
    return new PartialRunError(
      `${command} finished without ${this.dropped.size} of ${this.workers.length} worker(s) (at most ${describeBound(this.bound, this.workers.length)} may fail); run 'kubesmith ${command}' again to finish them`,
      new MultiHostError(errors),
    );
  }
}

/** Turns a phase's failures into the one error it throws (or none), applying the partial-failure policy. */
export function fatalErrors(ctx: PhaseContext, failures: HostFailure[]): unknown[] {
  return ctx.partial ? ctx.partial.decide(ctx, failures) : failures.map((f) => f.error);
}

/**
 * The hosts still in the run: those not dropped, and (unless the caller only reads from them: `reads`)
 * those inside --limit.
 */
export function remaining<H extends { name: string }>(ctx: PhaseContext, hosts: readonly H[], opts: { reads?: boolean } = {}): H[] {
  const dropped = ctx.partial?.dropped;
  // Also the control planes the run goes on without (phases/reach.ts), which are reported at its end.
  const away = ctx.unreachable;
  const limit = opts.reads ? undefined : ctx.limit;
  return dropped?.size || away?.size || limit ? hosts.filter((h) => !dropped?.has(h.name) && !away?.has(h.name) && (!limit || limit.has(h.name))) : [...hosts];
}

/** The names of the hosts the run goes on without (the complement of remaining()). */
export function leftOut(ctx: PhaseContext, hosts: readonly { name: string }[]): Set<string> {
  const here = new Set(remaining(ctx, hosts).map((h) => h.name));
  return new Set(hosts.filter((h) => !here.has(h.name)).map((h) => h.name));
}
