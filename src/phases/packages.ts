// Running a Step's apply with the host's package index in mind (scripts/packages.ts):
//  - before a step that installs (packageIndex use "install"), the index is refreshed (apt-get update,
//    dnf makecache) when this run has not refreshed it on that host yet, or a repository step ran since;
//  - a step that adds or changes a repository (use "repository") makes the next install refresh again;
//  - a package-manager command that fails transiently (lock held, DNS hiccup, mirror 5xx, connection
//    reset; transientPackageFailure) is tried again with backoff, at most PACKAGE_RETRY.attempts times,
//    each try in the host's command log under its own label; any other failure is final at once.
// Probes never come here: a probe only reads what is installed. Nothing here runs in dry run: the
// callers call it inside change().
import { CommandError } from "../errors.js";
import { packageTool, transientPackageFailure } from "../scripts/packages.js";
import type { Step } from "../scripts/step.js";
import type { ExecOptions, ExecResult, Runner } from "../ssh/types.js";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubled for each further one, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
}

/** 5 tries, waiting 1, 2, 4 and 8 s between them: 15 s of waiting at most, on top of the commands. */
export const PACKAGE_RETRY: RetryPolicy = { attempts: 5, firstDelayMs: 1000, maxDelayMs: 8000 };

/** Per run (the context object) and host: has the index been refreshed, and is it still current? */
const indexState = new WeakMap<object, Map<string, { fresh: boolean }>>();

function stateOf(run: object, host: string): { fresh: boolean } {
  let hosts = indexState.get(run);
  if (!hosts) indexState.set(run, (hosts = new Map()));
  let s = hosts.get(host);
  if (!s) hosts.set(host, (s = { fresh: false }));
  return s;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Run a package-manager command (allowFailure): a transient failure is tried again after a pause, within
 * the policy's bound; returns the last result, whatever it is.
 */
export async function execRetryingTransient(
  runner: Runner,
  command: string,
  opts: ExecOptions & { label: string; retryWarnings?: boolean; signal?: AbortSignal; afterTransient?: string },
  policy: RetryPolicy = PACKAGE_RETRY,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<ExecResult> {
  const { retryWarnings, signal, afterTransient, ...execOpts } = opts;
  let delay = policy.firstDelayMs;
  let label = opts.label;
  let attempt = 1;
  // afterTransient: the first try already ran elsewhere (in a batch of steps, phases/steps.ts) and failed
  // for this reason: wait, then go on with the second try, labelled as such.
  if (afterTransient !== undefined && policy.attempts > 1) {
    await wait(delay);
    attempt = 2;
    label = `${opts.label} (try 2 of ${policy.attempts}: ${afterTransient})`;
    delay = Math.min(delay * 2, policy.maxDelayMs);
  }
  for (; ; attempt++) {
    const r = await runner.exec(command, { ...execOpts, label, allowFailure: true });
    // no further try once the run is interrupted
    if (attempt >= policy.attempts || r.code === null || signal?.aborted) return r;
    // retryWarnings: apt-get update exits 0 when an index could not be fetched for a network reason ("W:
    // Failed to fetch … Temporary failure resolving …"): worth another try, but after the last one its
    // verdict stands.
    if (r.code === 0 && !retryWarnings) return r;
    const why = transientPackageFailure(r.code === 0 ? r.stderr : `${r.stderr}\n${r.stdout}`);
    if (!why) return r;
    await wait(delay);
    label = `${opts.label} (try ${attempt + 1} of ${policy.attempts}: ${why})`;
    delay = Math.min(delay * 2, policy.maxDelayMs);
  }
}

/**
 * Apply one step on a host (allowFailure: the caller decides what a non-zero exit means), refreshing the
 * package index first when the step installs and the index is stale. `run` is the run's context object:
 * index state lives as long as it does. Throws CommandError when the refresh itself fails.
 */
export async function applyStep(run: { signal?: AbortSignal }, host: string, runner: Runner, s: Step, policy: RetryPolicy = PACKAGE_RETRY): Promise<ExecResult> {
  const signal = run.signal;
  const io: ExecOptions = {
    sudo: s.sudo ?? true,
    ...(s.stdin !== undefined ? { stdin: s.stdin } : {}),
    ...(s.secrets ? { secrets: s.secrets } : {}),
  };
  const idx = s.packageIndex;
  if (!idx) return runner.exec(s.apply, { ...io, label: s.id, allowFailure: true });
  await refreshIndexIfStale(run, host, runner, s, policy);
  // A repository step that failed halfway may still have changed the sources: stale either way.
  if (idx.use === "repository") indexChanged(run, host);
  return execRetryingTransient(runner, s.apply, { ...io, label: s.id, ...(signal ? { signal } : {}) }, policy);
}

/** Would this step's apply need the index refreshed first (it installs, and the index is stale)? */
export function needsIndexRefresh(run: object, host: string, s: Step): boolean {
  return s.packageIndex?.use === "install" && !stateOf(run, host).fresh;
}

/** A repository step ran (or may have: a batch that ran it failed): the next install refreshes. */
export function indexChanged(run: object, host: string): void {
  stateOf(run, host).fresh = false;
}

/** Refresh the host's index before an install step when this run has not, or a repository changed since. */
export async function refreshIndexIfStale(run: { signal?: AbortSignal }, host: string, runner: Runner, s: Step, policy: RetryPolicy = PACKAGE_RETRY): Promise<void> {
  const idx = s.packageIndex;
  if (!idx || !needsIndexRefresh(run, host, s)) return;
  const signal = run.signal;
  const refresh = packageTool(idx.manager).refreshIndex();
  const r = await execRetryingTransient(runner, refresh, { sudo: true, label: "refresh package index", retryWarnings: true, ...(signal ? { signal } : {}) }, policy);
  if (r.code !== 0) throw new CommandError(host, refresh, r.code, r.stderr || r.stdout, `refreshing the package index before '${s.id}' (${refresh})`);
  stateOf(run, host).fresh = true;
}
