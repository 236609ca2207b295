// The phase runner, shaped like k0sctl's: prepare → shouldRun → run, cleanUp of the phases that ran when a
// later one fails. Every remote change goes through ctx.change(): in dry-run it is recorded and skipped, in
// a real run it is recorded and done. Plan output, the journal and progress all come from that one call.
import { KubesmithError, MultiHostError } from "../errors.js";
import type { Reporter } from "../ui/events.js";
import pLimit from "p-limit";

export interface PhaseContext {
  readonly dryRun: boolean;
  readonly reporter: Reporter;
  /** Hosts worked on at once in fan-out steps. */
  readonly concurrency: number;
  /** Set by the runner to the phase being run. */
  phase: string;
  /** Every change recorded so far (also the plan, in dry-run). */
  readonly changes: PlannedChange[];
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

/** The one gate for remote changes. */
export async function change<C extends PhaseContext>(ctx: C, host: string, what: string, fn: () => Promise<void>): Promise<void> {
  ctx.changes.push({ phase: ctx.phase, host, what });
  ctx.reporter.emit({ kind: "change", phase: ctx.phase, host, what, dryRun: ctx.dryRun });
  if (ctx.dryRun) return;
  await fn();
}

/**
 * Runs fn for each host in parallel (bounded by ctx.concurrency), reporting a host-step per host. Every
 * host finishes; afterwards the failures are thrown together, each naming its host.
 */
export async function forHosts<C extends PhaseContext, H extends { name: string }>(
  ctx: C,
  hosts: H[],
  fn: (host: H) => Promise<void | string>,
  opts: { concurrency?: number } = {},
): Promise<void> {
  const limit = pLimit(opts.concurrency ?? ctx.concurrency);
  // Indexed by the host's place in the list, so the errors come out in inventory order, not completion order.
  const failures: unknown[] = [];
  await Promise.all(
    hosts.map((h, index) =>
      limit(async () => {
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
          });
        }
      }),
    ),
  );
  const errors = failures.filter((e) => e !== undefined);
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

export async function runPhases<C extends PhaseContext>(phases: Phase<C>[], ctx: C): Promise<RunResult> {
  const t0 = performance.now();
  const ran: Phase<C>[] = [];
  const skipped: string[] = [];
  try {
    for (const p of phases) {
      ctx.phase = p.title;
      await p.prepare?.(ctx);
      const should = p.shouldRun ? await p.shouldRun(ctx) : true;
      if (should !== true) {
        const reason = typeof should === "string" ? should : "nothing to do";
        skipped.push(p.title);
        ctx.reporter.emit({ kind: "phase-skip", phase: p.title, reason });
        continue;
      }
      const ps = performance.now();
      ctx.reporter.emit({ kind: "phase-start", phase: p.title });
      ran.push(p);
      try {
        await p.run(ctx);
      } catch (err) {
        const error = err instanceof KubesmithError ? err.oneLine() : String(err);
        ctx.reporter.emit({ kind: "phase-end", phase: p.title, ok: false, durationMs: Math.round(performance.now() - ps), error });
        throw err;
      }
      ctx.reporter.emit({ kind: "phase-end", phase: p.title, ok: true, durationMs: Math.round(performance.now() - ps) });
    }
  } catch (err) {
    for (const p of [...ran].reverse()) {
      if (!p.cleanUp) continue;
      ctx.phase = p.title;
      try {
        await p.cleanUp(ctx);
      } catch (cleanErr) {
        ctx.reporter.emit({ kind: "warning", message: `clean-up of '${p.title}' failed: ${cleanErr instanceof Error ? cleanErr.message : String(cleanErr)}` });
      }
    }
    ctx.reporter.emit({ kind: "run-end", ok: false, durationMs: Math.round(performance.now() - t0), changes: ctx.changes.length });
    throw err;
  }
  ctx.reporter.emit({ kind: "run-end", ok: true, durationMs: Math.round(performance.now() - t0), changes: ctx.changes.length });
  return { ok: true, durationMs: Math.round(performance.now() - t0), ran: ran.map((p) => p.title), skipped };
}
