// Running Steps (src/scripts/step.ts) on a host through the change gate: probe (read-only, also in dry
// run); when it fails, apply through change(); then probe again, so a step that "succeeded" without taking
// effect is caught at once instead of three phases later.
//
// Round trips: the probes of all of a list's steps run in one remote script that prints a status per step
// (probeScript). A real run then applies the first step that needs it in a batch script (batchScript) that
// goes on through the following steps exactly as the step-by-step loop would: apply, probe again (stop
// when the check still fails), then for each later step probe it (as it is now, after the applies before
// it) and apply it only when that probe fails. Each step still goes through change() on its own, in order,
// before its result is read, so the journal, plan and report are those of the step-by-step loop; a failure
// is reported for the step whose marker says so. A script carries one stdin (secret file contents), read
// once into a shell variable and fed to the steps that take it (printf is a builtin: no argv). A batch
// ends before a step it cannot carry: one with other stdin, another sudo setting, or one that installs
// packages while the index is stale (refreshed first on its own, phases/packages.ts). A step whose package-manager apply
// failed transiently is tried again on its own with the usual backoff. Steps after a batch that ended
// early are probed again, in one script, before anything is decided for them.
import { randomBytes } from "node:crypto";
import { CommandError, type KubesmithError } from "../errors.js";
import { dpkgTable, transientPackageFailure } from "../scripts/packages.js";
import { fileTable, type Step } from "../scripts/step.js";
import type { ExecOptions, ExecResult, Runner } from "../ssh/types.js";
import { applyStep, execRetryingTransient, indexChanged, needsIndexRefresh, refreshIndexIfStale } from "./packages.js";
import { change, throwIfInterrupted, type PhaseContext } from "./run.js";

export async function stepNeeded(runner: Runner, s: Step): Promise<boolean> {
  const r = await runner.exec(s.probe, {
    sudo: s.sudo ?? true,
    allowFailure: true,
    label: `probe ${s.id}`,
    ...(s.stdin !== undefined ? { stdin: s.stdin } : {}),
    ...(s.secrets ? { secrets: s.secrets } : {}),
  });
  return r.code !== 0;
}

/** The marker every line of a step script's own output starts with: a random nonce per script. */
const MARK = "@@kubesmith-step";

const sudoOf = (s: Step) => s.sudo ?? true;

/** Can step s join a script of these sudo setting and stdin? */
const fits = (s: Step, sudo: boolean, stdin: string | undefined) => sudoOf(s) === sudo && (s.stdin === undefined || stdin === undefined || s.stdin === stdin);

/** The stdin the steps share (at most one distinct value: see fits). */
const stdinOf = (steps: readonly Step[]) => steps.find((s) => s.stdin !== undefined)?.stdin;

/** Reads the script's stdin once, trailing newlines kept (the x is taken off again). */
const READ_STDIN = "__in=$(cat; echo x); __in=${__in%x}";

/** One subshell per step, so that its own exit (or set -e) ends only that step; stdin fed when it takes it. */
function sub(s: Step, text: string, quiet = false): string {
  return `${s.stdin !== undefined ? `printf '%s' "$__in" | ` : ""}(\n${text}\n)${quiet ? " >/dev/null 2>&1" : ""}`;
}

/**
 * Probes of several steps in one POSIX sh script: one line `@@kubesmith-step NONCE I CODE` per step. A
 * prelude (a read-only command whose output the caller wants, e.g. a file to read) runs first; its
 * stdout ends at the line `@@kubesmith-step NONCE prelude`.
 */
export function probeScript(steps: readonly Step[], nonce: string, prelude?: string): string {
  const lines = [`# kubesmith: probe ${steps.map((s) => s.id).join(", ")}`];
  if (stdinOf(steps) !== undefined) lines.push(READ_STDIN);
  // every package the probes ask dpkg-query about, in one call (scripts/packages.ts dpkgTable)
  // and every managed file they check, in one stat and one sha256sum (scripts/step.ts fileTable)
  const probes = steps.map((s) => s.probe);
  for (const table of [dpkgTable(probes), fileTable(probes)]) if (table !== undefined) lines.push(table);
  if (prelude !== undefined) lines.push(`(\n${prelude}\n) </dev/null 2>/dev/null`, `printf '\\n${MARK} ${nonce} prelude\\n'`);
  steps.forEach((s, i) => {
    lines.push(sub(s, s.probe, true), `printf '${MARK} ${nonce} ${i} %s\\n' "$?"`);
  });
  return lines.join("\n");
}

/** An entry of a batch script: apply (its probe just failed), or probe first and apply when it fails. */
export interface BatchEntry {
  step: Step;
  /** "apply": apply and probe again. "probe": probe, and when it fails apply and probe again. "stop": probe, and stop the script when it fails. */
  mode: "apply" | "probe" | "stop";
}

/**
 * Applies of several steps in one POSIX sh script. Per entry it prints `@@kubesmith-step NONCE I RESULT`
 * on stdout (RESULT: `skip` the probe passed, `needed` the probe failed and the script stops before the
 * apply, `applied RC PROBE` the apply's exit code and the probe's after it, `-` when the apply failed) and
 * `@@kubesmith-step NONCE I` on stderr, so each step's output can be told apart. The script stops after
 * a failed apply, a failed probe after an apply, and at `needed`.
 */
export function batchScript(entries: readonly BatchEntry[], nonce: string): string {
  const lines = [`# kubesmith: apply ${entries.map((e) => e.step.id).join(", ")} (each in order, as needed)`];
  if (stdinOf(entries.map((e) => e.step)) !== undefined) lines.push(READ_STDIN);
  const mark = (i: number, result: string) =>
    `printf '\\n${MARK} ${nonce} ${i} %s\\n' "${result}"; printf '\\n${MARK} ${nonce} ${i}\\n' >&2`;
  // each probe once, as a function: an entry may run it before and after its apply
  for (const [i, e] of entries.entries()) lines.push(`__probe${i}() {\n${sub(e.step, e.step.probe, true)}\n}`);
  for (const [i, e] of entries.entries()) {
    const apply = [
      sub(e.step, e.step.apply),
      "rc=$?",
      `if [ "$rc" -eq 0 ]; then`,
      `__probe${i}`,
      "p=$?",
      "else p=-; fi",
      mark(i, "applied $rc $p"),
      `[ "$p" = 0 ] || exit 0`,
    ];
    if (e.mode === "apply") {
      lines.push(...apply);
      continue;
    }
    lines.push(`__probe${i}`, `if [ "$?" -eq 0 ]; then`, mark(i, "skip"), "else");
    if (e.mode === "stop") lines.push(mark(i, "needed"), "exit 0");
    else lines.push(...apply);
    lines.push("fi");
  }
  return lines.join("\n");
}

/** What a script said about one step. */
export type StepOutcome =
  | { kind: "skip" }
  | { kind: "needed" }
  | { kind: "applied"; code: number | null; probe: number | undefined; stdout: string; stderr: string };

/** Split a step script's output into per-step outcomes; the first step without a marker gets the script's end. */
export function parseOutcomes(r: ExecResult, count: number, nonce: string): StepOutcome[] {
  const out: StepOutcome[] = [];
  const re = new RegExp(`\\n?${MARK} ${nonce} (\\d+) ([^\\n]*)\\n`, "g");
  const errRe = new RegExp(`\\n?${MARK} ${nonce} (\\d+)\\n`, "g");
  const errParts = r.stderr.split(errRe);
  // split with one capture group: [text0, i0, text1, i1, …, rest]
  const stderrOf = (i: number) => {
    for (let k = 1; k < errParts.length; k += 2) if (Number(errParts[k]) === i) return errParts[k - 1] ?? "";
    return undefined;
  };
  let last = 0;
  for (const m of r.stdout.matchAll(re)) {
    const i = Number(m[1]);
    const text = r.stdout.slice(last, m.index);
    last = (m.index ?? 0) + m[0].length;
    const words = (m[2] ?? "").trim().split(/\s+/);
    if (words[0] === "skip") out[i] = { kind: "skip" };
    else if (words[0] === "needed") out[i] = { kind: "needed" };
    else if (words[0] === "applied") {
      const code = Number(words[1]);
      out[i] = { kind: "applied", code, probe: words[2] === "-" ? undefined : Number(words[2]), stdout: text, stderr: stderrOf(i) ?? "" };
    } else if (/^\d+$/.test(words[0] ?? "")) {
      // a probe script's line: the probe's exit code
      out[i] = Number(words[0]) === 0 ? { kind: "skip" } : { kind: "needed" };
    }
  }
  // The script stops on its own after a failed apply or check and at `needed`; otherwise (killed, timed
  // out, cut off) the first step without a marker is where it ended, and gets the script's end.
  const next = out.length;
  const lastOne = out[next - 1];
  const stopped = lastOne !== undefined && (lastOne.kind === "needed" || (lastOne.kind === "applied" && (lastOne.code !== 0 || lastOne.probe !== 0)));
  if (!stopped && next < count) {
    const rest = errParts[errParts.length - 1] ?? "";
    out[next] = { kind: "applied", code: r.code === 0 ? null : r.code, probe: undefined, stdout: r.stdout.slice(last), stderr: rest || r.stderr };
  }
  return out;
}

const nonce = () => randomBytes(6).toString("hex");

function secretsOf(steps: readonly Step[]): string[] {
  return steps.flatMap((s) => s.secrets ?? []);
}

/**
 * Probe steps in as few scripts as they fit in (usually one: one per sudo setting and distinct stdin).
 * Returns, per step, whether it is needed (its probe failed).
 */
export async function probeSteps(runner: Runner, steps: readonly Step[]): Promise<boolean[]> {
  return (await probeStepsWith(runner, steps)).needed;
}

/**
 * probeSteps with a prelude: a read-only command (run as root) whose stdout comes back too, in the same
 * round trip as the probes (the first script run as root).
 */
export async function probeStepsWith(runner: Runner, steps: readonly Step[], prelude?: string): Promise<{ needed: boolean[]; prelude?: string }> {
  const needed: boolean[] = new Array<boolean>(steps.length).fill(false);
  let preludeOut: string | undefined;
  const groups: { sudo: boolean; stdin: string | undefined; idx: number[] }[] = [];
  steps.forEach((s, i) => {
    const g = groups.find((x) => fits(s, x.sudo, x.stdin));
    if (g) {
      g.idx.push(i);
      g.stdin ??= s.stdin;
    } else groups.push({ sudo: sudoOf(s), stdin: s.stdin, idx: [i] });
  });
  const withPrelude = prelude === undefined ? -1 : Math.max(-1, groups.findIndex((g) => g.sudo));
  if (prelude !== undefined && withPrelude < 0) groups.push({ sudo: true, stdin: undefined, idx: [] });
  const preludeGroup = prelude === undefined ? -1 : withPrelude < 0 ? groups.length - 1 : withPrelude;
  await Promise.all(
    groups.map(async ({ sudo, stdin, idx }, gi) => {
      const group = idx.map((i) => steps[i]!);
      const pre = gi === preludeGroup ? prelude : undefined;
      if (group.length === 1 && pre === undefined) {
        needed[idx[0]!] = await stepNeeded(runner, group[0]!);
        return;
      }
      const n = nonce();
      const secrets = secretsOf(group);
      const r = await runner.exec(probeScript(group, n, pre), {
        sudo,
        allowFailure: true,
        label: `probe ${group.map((s) => s.id).join(", ")}`,
        ...(stdin !== undefined ? { stdin } : {}),
        ...(secrets.length ? { secrets } : {}),
      });
      let out = r;
      if (pre !== undefined) {
        const end = `\n${MARK} ${n} prelude\n`;
        const at = r.stdout.indexOf(end);
        preludeOut = at < 0 ? "" : r.stdout.slice(0, at);
        out = { ...r, stdout: at < 0 ? r.stdout : r.stdout.slice(at + end.length) };
      }
      const outcomes = parseOutcomes(out, group.length, n);
      // A probe that did not report (the script was cut off) counts as needed, as a failed probe does.
      idx.forEach((i, k) => (needed[i] = outcomes[k]?.kind !== "skip"));
    }),
  );
  return { needed, ...(preludeOut !== undefined ? { prelude: preludeOut } : {}) };
}

export interface StepRunOptions {
  /** Verdicts of probes already run for these steps (current: nothing applied since); undefined ones are probed. */
  probed?: readonly (boolean | undefined)[];
  /** The error for a step whose apply failed (default: CommandError naming the step's id). */
  failure?: (s: Step, r: { code: number | null; stdout: string; stderr: string }) => KubesmithError | undefined;
}

/** Returns how many steps changed something (or would, in dry run). */
export async function runSteps(ctx: PhaseContext, host: string, runner: Runner, steps: readonly Step[], opts: StepRunOptions = {}): Promise<number> {
  return (await applySteps(ctx, host, runner, steps, opts)).filter(Boolean).length;
}

/** Per step: did it change something (or would, in dry run)? */
export async function applySteps(ctx: PhaseContext, host: string, runner: Runner, steps: readonly Step[], opts: StepRunOptions = {}): Promise<boolean[]> {
  const changed = steps.map(() => false);
  if (!steps.length) return changed;
  throwIfInterrupted(ctx);
  const unknown = steps.map((_, i) => i).filter((i) => opts.probed?.[i] === undefined);
  const fresh = unknown.length ? await probeSteps(runner, unknown.map((i) => steps[i]!)) : [];
  let needed = steps.map((_, i) => opts.probed?.[i] ?? false);
  unknown.forEach((i, k) => (needed[i] = fresh[k]!));
  /** Outcomes a batch script reported, by step index. */
  const outcomes = new Map<number, StepOutcome>();
  /** Steps from here on were probed before an apply that ran after: probe them again before deciding. */
  let staleFrom = steps.length;

  const fail = (s: Step, r: { code: number | null; stdout: string; stderr: string }, what = `'${s.id}'`): KubesmithError =>
    opts.failure?.(s, r) ?? new CommandError(host, s.apply, r.code, r.stderr, what);
  const stillFails = (s: Step) => new CommandError(host, s.probe, 1, "", `step '${s.id}' (${s.what}) ran but its check still fails`);

  /** The step alone, as before batches: apply (index and transient retries in packages.ts), probe again. */
  const applyAlone = async (s: Step, afterTransient?: string) => {
    let r: ExecResult;
    if (s.packageIndex) {
      r =
        afterTransient === undefined
          ? await applyStep(ctx, host, runner, s)
          : await execRetryingTransient(runner, s.apply, { ...ioOf(s), label: s.id, afterTransient, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    } else {
      r = await runner.exec(s.apply, { ...ioOf(s), label: s.id, allowFailure: true });
    }
    if (r.code !== 0) throw fail(s, r);
    if (await stepNeeded(runner, s)) throw stillFails(s);
  };

  /** A batch from step `from` on, as far as it can go; its outcomes are kept for the steps it reached. */
  const runBatch = async (from: number) => {
    const first = steps[from]!;
    const entries: BatchEntry[] = [{ step: first, mode: "apply" }];
    let indexStale = first.packageIndex?.use === "repository";
    let stdin = first.stdin;
    for (let i = from + 1; i < steps.length; i++) {
      const s = steps[i]!;
      if (!fits(s, sudoOf(first), stdin)) break;
      stdin ??= s.stdin;
      const installs = s.packageIndex?.use === "install";
      // An install after a repository change (or with a stale index) must not run before its refresh.
      const stop = installs && (indexStale || needsIndexRefresh(ctx, host, s));
      entries.push({ step: s, mode: stop ? "stop" : "probe" });
      if (s.packageIndex?.use === "repository") indexStale = true;
    }
    const n = nonce();
    const batch = entries.map((e) => e.step);
    const secrets = secretsOf(batch);
    const r = await runner.exec(batchScript(entries, n), {
      sudo: sudoOf(first),
      allowFailure: true,
      label: batch.length === 1 ? first.id : `apply ${first.id} … ${batch[batch.length - 1]!.id} (as needed)`,
      timeoutCommands: batch.length,
      ...(stdin !== undefined ? { stdin } : {}),
      ...(secrets.length ? { secrets } : {}),
    });
    const got = parseOutcomes(r, entries.length, n);
    let reached = from;
    got.forEach((o, k) => {
      if (o === undefined) return;
      outcomes.set(from + k, o);
      reached = from + k;
      // A repository step that ran (even one that failed halfway) leaves the index stale.
      if (o.kind === "applied" && entries[k]!.step.packageIndex?.use === "repository") indexChanged(ctx, host);
    });
    // Steps after the last one the batch reported on were probed before its applies.
    staleFrom = Math.min(staleFrom, reached + 1);
  };

  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    let o = outcomes.get(i);
    // A step a batch already applied is recorded even after an interrupt: it happened.
    if (o?.kind !== "applied") throwIfInterrupted(ctx);
    if (o === undefined && i >= staleFrom) {
      // Probed before applies that ran since: probe the rest again, in one script.
      const again = await probeSteps(runner, steps.slice(i));
      needed = [...needed.slice(0, i), ...again];
      staleFrom = steps.length;
    }
    if (o?.kind === "skip" || (o === undefined && !needed[i])) continue;
    changed[i] = true;
    await change(ctx, host, s.what, async () => {
      if (o === undefined || o.kind === "needed") {
        await refreshIndexIfStale(ctx, host, runner, s);
        await runBatch(i);
        o = outcomes.get(i);
      }
      if (o?.kind !== "applied") throw new CommandError(host, s.apply, null, "", `'${s.id}' (no result from the host)`);
      if (o.code !== 0) {
        const why = s.packageIndex && o.code !== null ? transientPackageFailure(`${o.stderr}\n${o.stdout}`) : undefined;
        if (why === undefined) throw fail(s, o);
        // Tried again on its own with the usual backoff; the steps after it were not reached.
        await applyAlone(s, why);
        staleFrom = Math.min(staleFrom, i + 1);
        return;
      }
      if (o.probe !== 0) throw stillFails(s);
    });
  }
  // A batch cannot be stopped between its steps: an interrupt that came while it ran ends the list here.
  throwIfInterrupted(ctx);
  return changed;
}

function ioOf(s: Step): ExecOptions {
  return {
    sudo: sudoOf(s),
    ...(s.stdin !== undefined ? { stdin: s.stdin } : {}),
    ...(s.secrets ? { secrets: s.secrets } : {}),
  };
}

/**
 * Probes run ahead of their phase (a control plane's keepalived steps with its prepare steps: one round
 * trip less): per run and host, the steps as probed, their verdicts, and how many changes the run had
 * recorded then. probedAhead returns the verdicts only for exactly those steps (same probe, stdin and
 * sudo) when no change was recorded for that host since; anything else is probed again.
 */
const ahead = new WeakMap<object, Map<string, { steps: readonly Step[]; needed: boolean[]; changes: number }>>();

export function rememberProbed(ctx: PhaseContext, host: string, steps: readonly Step[], needed: boolean[]): void {
  let m = ahead.get(ctx);
  if (!m) ahead.set(ctx, (m = new Map()));
  m.set(host, { steps, needed, changes: ctx.changes.length });
}

export function probedAhead(ctx: PhaseContext, host: string, steps: readonly Step[]): boolean[] | undefined {
  const a = ahead.get(ctx)?.get(host);
  if (!a) return undefined;
  ahead.get(ctx)!.delete(host);
  const same = a.steps.length === steps.length && a.steps.every((s, i) => s.probe === steps[i]!.probe && s.stdin === steps[i]!.stdin && sudoOf(s) === sudoOf(steps[i]!));
  if (!same || ctx.changes.slice(a.changes).some((c) => c.host === host)) return undefined;
  return a.needed;
}
