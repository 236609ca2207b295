// The phase runner, shaped like k0sctl's: prepare → shouldRun → run, cleanUp of the phases that ran when a
// later one fails. Every change goes through change(): in dry-run it is recorded and skipped, in a real
// run it is recorded and done. Plan output, the journal and progress all come from that one call.
import { InterruptedError, KubesmithError, MultiHostError } from "../errors.js";
import type { Reporter } from "../ui/events.js";
import pLimit from "p-limit";
import { fatalErrors, remaining, type PartialFailures } from "./partial.js";

export interface PhaseContext {
  readonly dryRun: boolean;
  readonly reporter: Reporter;
  /** Hosts worked on at once in fan-out steps. */
  readonly concurrency: number;
  /** Set by the runner to the phase being run. */
  phase: string;
  /** Every change recorded so far (also the plan, in dry-run). */
  readonly changes: PlannedChange[];
  /**
   * Aborted when the run is interrupted (SIGINT, SIGTERM): from then on no phase, per-host step or Step
   * starts; what runs gets interruptGraceMs to finish (the SSH runner cuts its commands off after that).
   */
  signal?: AbortSignal;
  /** Default 5 s (DEFAULT_INTERRUPT_GRACE_MS). */
  interruptGraceMs?: number;
  /** Workers that may fail without stopping the run (partial.ts); unset: every failure stops it. */
  partial?: PartialFailures;
  /** Hosts the run goes on without (phases/reach.ts): forHosts skips them. */
  unreachable?: Map<string, KubesmithError>;
  /** --limit: the only hosts the run changes (cluster/limit.ts); forHosts skips the others unless it only reads. */
  limit?: ReadonlySet<string>;
}

const DEFAULT_GRACE_MS = 5000;
/** How much longer than the grace period a phase is waited for after an interrupt before it is left. */
const ABANDON_AFTER_GRACE_MS = 3000;

/** The error every interrupted boundary throws; cli/main.ts prints the run's own line for it. */
function interruptedError(ctx: PhaseContext): InterruptedError {
  return new InterruptedError(ctx.phase ? `interrupted during ${ctx.phase}` : "interrupted");
}

/** Throws InterruptedError once the run was interrupted: call before starting anything new. */
export function throwIfInterrupted(ctx: PhaseContext): void {
  if (ctx.signal?.aborted) throw interruptedError(ctx);
}

export interface PlannedChange {
  phase: string;
  host: string;
  what: string;
}

export interface Phase<C extends PhaseContext = PhaseContext> {
  readonly title: string;
  /** Pick hosts, compute inputs; no remote side effects. */
  prepare?(ctx: C): void | Promise<void>;
  /** false or a reason string → reported as skipped. */
  shouldRun?(ctx: C): boolean | string | Promise<boolean | string>;
  /** Idempotent; every change goes through change(). */
  run(ctx: C): Promise<void>;
  /** Best effort after a later phase failed; must not throw. */
  cleanUp?(ctx: C): Promise<void>;
}

/**
 * The one gate for changes (remote commands, API objects, local files): the only place that tells a dry run
 * from a real one. Every change is recorded and emitted; fn, the change itself, runs only in a real run.
 */
export async function change<C extends PhaseContext>(ctx: C, host: string, what: string, fn: () => Promise<void>): Promise<void> {
  ctx.changes.push({ phase: ctx.phase, host, what });
  ctx.reporter.emit({ kind: "change", phase: ctx.phase, host, what, dryRun: ctx.dryRun });
  if (ctx.dryRun) return;
  await fn();
}

/**
 * Part of the gate: work that follows changes without being one (waiting for CRDs, rollouts or nodes,
 * the add-on release history) runs only when the changes are really made. Nothing is recorded. Returns
 * fn's result, undefined in a dry run.
 */
export async function followUp<C extends PhaseContext, T>(ctx: C, fn: () => Promise<T>): Promise<T | undefined> {
  if (ctx.dryRun) return undefined;
  return fn();
}

/** The gate bound to a run and the host its changes are recorded under; what engines (add-ons) are given. */
export interface Gate {
  change(what: string, fn: () => Promise<void>): Promise<void>;
  followUp<T>(fn: () => Promise<T>): Promise<T | undefined>;
}

export function gateOf<C extends PhaseContext>(ctx: C, host: string): Gate {
  return {
    change: (what, fn) => change(ctx, host, what, fn),
    followUp: (fn) => followUp(ctx, fn),
  };
}

/**
 * Runs fn for each host in parallel (bounded by ctx.concurrency), reporting a host-step per host. Every
 * host finishes; afterwards the failures are thrown together, each naming its host. With ctx.partial,
 * hosts dropped earlier are left out, and failed workers may be dropped instead (partial.ts decides).
 * Hosts outside --limit are left out too, unless `reads` says fn only reads (gathering facts).
 */
export async function forHosts<C extends PhaseContext, H extends { name: string }>(
  ctx: C,
  hosts: H[],
  fn: (host: H) => Promise<void | string>,
  opts: { concurrency?: number; reads?: boolean } = {},
): Promise<void> {
  // The control planes the run goes on without (phases/reach.ts) show as skipped; dropped workers do not show.
  for (const h of hosts) {
    if (ctx.unreachable?.has(h.name)) ctx.reporter.emit({ kind: "host-step", phase: ctx.phase, host: h.name, status: "skipped", detail: "unreachable" });
  }
  hosts = remaining(ctx, hosts, { reads: !!opts.reads });
  const limit = pLimit(opts.concurrency ?? ctx.concurrency);
  // Indexed by the host's place in the list, so the errors come out in inventory order, not completion order.
  const failures: unknown[] = [];
  let notStarted = 0;
  await Promise.all(
    hosts.map((h, index) =>
      limit(async () => {
        if (ctx.signal?.aborted) {
          notStarted++;
          ctx.reporter.emit({ kind: "host-step", phase: ctx.phase, host: h.name, status: "skipped", detail: "interrupted" });
          return;
        }
        const t0 = performance.now();
        ctx.reporter.emit({ kind: "host-step", phase: ctx.phase, host: h.name, status: "start" });
        try {
          const detail = await fn(h);
          ctx.reporter.emit({
            kind: "host-step",
            phase: ctx.phase,
            host: h.name,
            status: "done",
            durationMs: Math.round(performance.now() - t0),
            ...(detail ? { detail } : {}),
          });
        } catch (err) {
          failures[index] = err;
          ctx.reporter.emit({
            kind: "host-step",
            phase: ctx.phase,
            host: h.name,
            status: "failed",
            durationMs: Math.round(performance.now() - t0),
            detail: err instanceof KubesmithError ? err.oneLine() : String(err),
            ...(err instanceof KubesmithError && err.details().length ? { output: err.details() } : {}),
          });
        }
      }),
    ),
  );
  // Failures after an interrupt are the commands it cut off.
  if (ctx.signal?.aborted && (notStarted > 0 || failures.some((e) => e !== undefined))) throw interruptedError(ctx);
  const errors = fatalErrors(
    ctx,
    hosts.flatMap((h, i) => (failures[i] !== undefined ? [{ host: h.name, error: failures[i] }] : [])),
  );
  // An error that is not ours is a bug: let it through untouched so --debug shows its stack.
  const bug = errors.find((e) => !(e instanceof KubesmithError));
  if (bug !== undefined) throw bug;
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiHostError(errors as KubesmithError[]);
}

export interface RunResult {
  ok: boolean;
  durationMs: number;
  ran: string[];
  skipped: string[];
}

/**
 * After an interrupt a phase gets the grace period (and a little more, for its commands to be stopped)
 * to end; then it is left behind: work waiting on something other than SSH (the API) must not hold the
 * run. The work left behind can only fail later; that is swallowed.
 */
async function runOrLeave(work: Promise<void>, ctx: PhaseContext): Promise<void> {
  const signal = ctx.signal;
  if (!signal) return work;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    timer ??= setTimeout(() => leave(interruptedError(ctx)), (ctx.interruptGraceMs ?? DEFAULT_GRACE_MS) + ABANDON_AFTER_GRACE_MS);
  };
  let leave: (e: unknown) => void = () => undefined;
  const left = new Promise<never>((_, reject) => (leave = reject));
  work.catch(() => undefined);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([work, left]);
  } finally {
    if (timer) clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

export interface RunPhasesOptions {
  /** Emit run-end (default). A caller with work after the phases (the lock) emits it itself. */
  end?: boolean;
}

export async function runPhases<C extends PhaseContext>(phases: Phase<C>[], ctx: C, opts: RunPhasesOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const ran: Phase<C>[] = [];
  const skipped: string[] = [];
  const end = (ok: boolean) => {
    if (opts.end === false) return;
    const result = ok ? "ok" : ctx.signal?.aborted ? "interrupted" : "failed";
    ctx.reporter.emit({ kind: "run-end", ok, result, durationMs: Math.round(performance.now() - t0), changes: ctx.changes.length });
  };
  try {
    for (const p of phases) {
      throwIfInterrupted(ctx);
      ctx.phase = p.title;
      await p.prepare?.(ctx);
      const should = p.shouldRun ? await p.shouldRun(ctx) : true;
      if (should !== true) {
        const reason = typeof should === "string" ? should : "nothing to do";
        skipped.push(p.title);
        ctx.reporter.emit({ kind: "phase-skip", phase: p.title, reason });
        continue;
      }
      throwIfInterrupted(ctx);
      const ps = performance.now();
      ctx.reporter.emit({ kind: "phase-start", phase: p.title });
      ran.push(p);
      try {
        await runOrLeave(p.run(ctx), ctx);
      } catch (caught) {
        const err = ctx.signal?.aborted ? interruptedError(ctx) : caught;
        const error = err instanceof KubesmithError ? err.oneLine() : String(err);
        ctx.reporter.emit({ kind: "phase-end", phase: p.title, ok: false, durationMs: Math.round(performance.now() - ps), error });
        throw err;
      }
      ctx.reporter.emit({ kind: "phase-end", phase: p.title, ok: true, durationMs: Math.round(performance.now() - ps) });
    }
  } catch (caught) {
    const err = ctx.signal?.aborted && !(caught instanceof InterruptedError) ? interruptedError(ctx) : caught;
    // After an interrupt nothing new is started, clean-up included.
    for (const p of ctx.signal?.aborted ? [] : [...ran].reverse()) {
      if (!p.cleanUp) continue;
      ctx.phase = p.title;
      try {
        await p.cleanUp(ctx);
      } catch (cleanErr) {
        ctx.reporter.emit({ kind: "warning", message: `clean-up of '${p.title}' failed: ${cleanErr instanceof Error ? cleanErr.message : String(cleanErr)}` });
      }
    }
    end(false);
    throw err;
  }
  end(true);
  return { ok: true, durationMs: Math.round(performance.now() - t0), ran: ran.map((p) => p.title), skipped };
}
