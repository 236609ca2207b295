// The pure part of `npm run bench`'s profiles (src/bench.ts): a run's critical path and round trips from its
// own `-o json` events, the realistic profile turned into lab faults (delays), and the table we print.
// Unit-tested in test/bench/profile.test.ts; nothing here measures anything.
import { parseFaults } from "./lab/faults.js";
import type { LabFault } from "./lab/types.js";
import type { RunEvent, Stamped } from "./ui/events.js";

/** `--output json` lines are events.jsonl lines: the run report's parser reads them (non-event lines skipped). */
export { parseEvents } from "./report/timeline.js";

export interface PhasePath {
  phase: string;
  /** Wall time of the phase (its phase-end durationMs; for the part outside phases, the time outside them). */
  wallMs: number;
  /** Its share of the critical path: the busiest host's time inside remote commands, or the whole phase when it ran none. */
  criticalMs: number;
  /** The most remote commands one host ran in the phase (one round trip each). */
  roundTrips: number;
  /** The host that set criticalMs (undefined when the phase ran no remote command). */
  host?: string;
}

export interface CriticalPath {
  wallMs: number;
  criticalMs: number;
  /** Σ over phases of the most commands one host ran in it: the round trips a run cannot avoid once it has chosen its commands. */
  roundTrips: number;
  /** The most commands any one host ran in the whole run. */
  maxCommandsPerHost: number;
  phases: PhasePath[];
}

/** Length of the union of intervals (ms). */
function unionMs(iv: [number, number][]): number {
  const s = [...iv].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur: [number, number] | undefined;
  for (const [a, b] of s) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  return cur ? total + cur[1] - cur[0] : total;
}

/**
 * The critical path of a run from its events. Phases run one after another (each ends before the next
 * starts), and inside one the hosts work side by side; so the critical path is the sum over phases of the
 * busiest host's time inside remote commands (a command event is stamped when it ends, and lasted
 * durationMs; one host's overlapping commands count once). A phase that ran no remote command (rendering,
 * API calls, waiting for nodes) counts in full: nothing else could run meanwhile. Commands outside every
 * phase (the cluster lock) count as one more phase. Wall minus critical path is what the run adds: waves of
 * hosts, the installer's own CPU, waiting between steps.
 */
export function criticalPath(events: Stamped[]): CriticalPath {
  const t = (e: Stamped) => Date.parse(e.at);
  const start = events.find((e) => e.kind === "run-start");
  const end = events.find((e) => e.kind === "run-end") as Stamped<Extract<RunEvent, { kind: "run-end" }>> | undefined;
  const t0 = start ? t(start) : events.length ? t(events[0]!) : 0;
  const t1 = end ? t(end) : events.length ? t(events[events.length - 1]!) : 0;
  const windows: { phase: string; from: number; to: number; wallMs: number }[] = [];
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.kind === "phase-start") open.set(e.phase, t(e));
    else if (e.kind === "phase-end") {
      const to = t(e);
      const from = open.get(e.phase) ?? to - e.durationMs;
      open.delete(e.phase);
      windows.push({ phase: e.phase, from, to, wallMs: to - from });
    }
  }
  const outside = { phase: "(outside phases)", from: t0, to: t1, wallMs: Math.max(0, t1 - t0 - windows.reduce((s, w) => s + w.wallMs, 0)) };
  const byWindow = new Map<typeof outside, Map<string, [number, number][]>>();
  const perHost = new Map<string, number>();
  for (const e of events) {
    if (e.kind !== "command") continue;
    const b = t(e);
    const a = b - e.durationMs;
    const mid = (a + b) / 2;
    const w = windows.find((x) => mid >= x.from && mid <= x.to) ?? outside;
    let hosts = byWindow.get(w);
    if (!hosts) byWindow.set(w, (hosts = new Map()));
    const list = hosts.get(e.host) ?? [];
    list.push([a, b]);
    hosts.set(e.host, list);
    perHost.set(e.host, (perHost.get(e.host) ?? 0) + 1);
  }
  const phases: PhasePath[] = [];
  for (const w of [...windows, outside]) {
    const hosts = byWindow.get(w);
    if (!hosts) {
      if (w !== outside) phases.push({ phase: w.phase, wallMs: w.wallMs, criticalMs: w.wallMs, roundTrips: 0 });
      continue;
    }
    let best: PhasePath = { phase: w.phase, wallMs: w.wallMs, criticalMs: 0, roundTrips: 0 };
    for (const [host, iv] of hosts) {
      const busy = unionMs(iv);
      if (best.host === undefined || busy > best.criticalMs) best = { ...best, criticalMs: busy, host };
      best.roundTrips = Math.max(best.roundTrips, iv.length);
    }
    phases.push(best);
  }
  return {
    wallMs: t1 - t0,
    criticalMs: phases.reduce((s, p) => s + p.criticalMs, 0),
    roundTrips: phases.reduce((s, p) => s + p.roundTrips, 0),
    maxCommandsPerHost: Math.max(0, ...perHost.values()),
    phases,
  };
}

/** A profile of simulated durations (src/lab/profiles/*.json): which simulated commands take how long. */
export interface DurationProfile {
  description: string;
  delays: { command: string; delayMs: number; why: string }[];
}

/**
 * The profile as lab faults (delays only): the simulator applies the first entry whose command is a word
 * prefix of the command it runs (lab/faults.ts matchFault), so specific entries come before general ones.
 */
export function profileFaults(profile: DurationProfile, file = "profile"): LabFault[] {
  if (!Array.isArray(profile.delays)) throw new Error(`${file}: delays must be a list`);
  return parseFaults(JSON.stringify(profile.delays.map(({ command, delayMs }) => ({ command, delayMs }))), file);
}

export interface BenchRow {
  what: string;
  figure: string;
  /** The floor or anchor it is compared with. */
  floor?: string;
  /** figure ÷ floor, when both are times. */
  ratio?: number;
  goal?: string;
}

const fmtRatio = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? "" : `${r.toFixed(2)}×`);

/** A Markdown table (so docs/performance.md can keep it as printed). */
export function benchTable(rows: BenchRow[]): string {
  const head = ["what", "figure", "floor or anchor", "ratio", "goal"];
  const body = rows.map((r) => [r.what, r.figure, r.floor ?? "", fmtRatio(r.ratio), r.goal ?? ""]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(" | ")} |`;
  return [line(head), `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`, ...body.map(line)].join("\n") + "\n";
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
