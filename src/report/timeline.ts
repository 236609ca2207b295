// The run report's model, built from a run's events.jsonl without I/O: when each phase ran, when each host
// worked in it, every remote command with its duration and result, warnings, errors and the outcome.
import type { RunEvent, Stamped } from "../ui/events.js";

export interface Span {
  /** ms since the start of the run */
  start: number;
  end: number;
}

export interface HostSpan extends Span {
  host: string;
  status: "done" | "failed" | "skipped" | "running";
  detail?: string;
  /** A failure's cause: the failed command's last stderr lines. */
  output?: string[];
}

export interface PhaseRow extends Span {
  phase: string;
  status: "ok" | "failed" | "skipped" | "running";
  reason?: string;
  error?: string;
  hosts: HostSpan[];
}

export interface CommandRow extends Span {
  host: string;
  label?: string;
  command: string;
  code: number | null;
  durationMs: number;
  phase?: string;
  /** A check: a non-zero exit is its answer ("not yet"), not a failure. */
  check?: boolean;
}

/** A command that failed: a non-zero exit of a command that is not a check, or any command killed. */
export function commandFailed(c: CommandRow): boolean {
  return c.code === null || (c.code !== 0 && !c.check);
}

export interface RunModel {
  command: string;
  cluster: string;
  dryRun: boolean;
  /** The inventory file and run directory (from run-start): what `kubesmith logs` needs. */
  inventory?: string;
  runDir?: string;
  /** --limit: the only hosts the run worked on (from run-start). */
  limit?: string[];
  startedAt?: string;
  /** ms; the run-end's figure when there is one, else the last event. */
  durationMs: number;
  outcome: "ok" | "failed" | "unfinished";
  changes: number;
  phases: PhaseRow[];
  commands: CommandRow[];
  changeList: { phase: string; host: string; what: string; dryRun: boolean }[];
  warnings: { host?: string; message: string }[];
  errors: { host?: string; message: string; exitCode: number }[];
  hosts: string[];
}

/** Parses events.jsonl; lines that are not JSON events are ignored (a run cut short may leave half a line). */
export function parseEvents(text: string): Stamped[] {
  const out: Stamped[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as Stamped;
      if (e && typeof e === "object" && typeof e.kind === "string" && typeof e.at === "string") out.push(e);
    } catch {
      /* a torn last line */
    }
  }
  return out;
}

export function buildRunModel(events: Stamped[]): RunModel {
  const t = (e: Stamped) => Date.parse(e.at);
  const first = events[0];
  const t0 = events.find((e) => e.kind === "run-start") ? t(events.find((e) => e.kind === "run-start")!) : first ? t(first) : 0;
  const rel = (e: Stamped) => Math.max(0, t(e) - t0);
  const m: RunModel = {
    command: "",
    cluster: "",
    dryRun: false,
    durationMs: 0,
    outcome: "unfinished",
    changes: 0,
    phases: [],
    commands: [],
    changeList: [],
    warnings: [],
    errors: [],
    hosts: [],
  };
  if (first) m.startedAt = new Date(t0).toISOString();
  const hosts = new Set<string>();
  const open = new Map<string, PhaseRow>();
  let current: PhaseRow | undefined;
  let last = 0;
  for (const e of events as (RunEvent & { at: string })[]) {
    const now = rel(e);
    last = Math.max(last, now);
    switch (e.kind) {
      case "run-start":
        // A file with several runs (rebuild appends down and up) keeps the first command's name.
        m.command ||= e.dryRun ? "plan" : e.command;
        m.cluster ||= e.cluster;
        m.dryRun ||= e.dryRun;
        if (e.inventory) m.inventory ??= e.inventory;
        if (e.limit) m.limit ??= e.limit;
        m.runDir ??= e.runDir;
        break;
      case "phase-start": {
        const row: PhaseRow = { phase: e.phase, start: now, end: now, status: "running", hosts: [] };
        m.phases.push(row);
        open.set(e.phase, row);
        current = row;
        break;
      }
      case "phase-end": {
        const row = open.get(e.phase);
        if (!row) break;
        row.end = now;
        row.start = Math.max(0, Math.min(row.start, now - e.durationMs));
        row.status = e.ok ? "ok" : "failed";
        if (e.error) row.error = e.error;
        open.delete(e.phase);
        if (current === row) current = undefined;
        break;
      }
      case "phase-skip":
        m.phases.push({ phase: e.phase, start: now, end: now, status: "skipped", reason: e.reason, hosts: [] });
        break;
      case "host-step": {
        hosts.add(e.host);
        const row = open.get(e.phase);
        if (!row) break;
        if (e.status === "start") {
          row.hosts.push({ host: e.host, start: now, end: now, status: "running" });
          break;
        }
        let span = [...row.hosts].reverse().find((h) => h.host === e.host && h.status === "running");
        if (!span) {
          span = { host: e.host, start: Math.max(0, now - (e.durationMs ?? 0)), end: now, status: "running" };
          row.hosts.push(span);
        }
        span.end = now;
        span.status = e.status;
        if (e.detail) span.detail = e.detail;
        if (e.output?.length) span.output = e.output;
        break;
      }
      case "command":
        if (e.host !== "local") hosts.add(e.host);
        m.commands.push({
          host: e.host,
          ...(e.label ? { label: e.label } : {}),
          command: "", // below: a getter of the event's stays one (the report reads a long run's texts back from its file)
          code: e.code,
          durationMs: e.durationMs,
          ...(e.check ? { check: true } : {}),
          start: Math.max(0, now - e.durationMs),
          end: now,
          ...(current ? { phase: current.phase } : {}),
        });
        Object.defineProperty(m.commands[m.commands.length - 1]!, "command", Object.getOwnPropertyDescriptor(e, "command") ?? { value: e.command, enumerable: true, writable: true });
        break;
      case "change":
        m.changeList.push({ phase: e.phase, host: e.host, what: e.what, dryRun: e.dryRun });
        break;
      case "warning":
        m.warnings.push({ ...(e.host ? { host: e.host } : {}), message: e.message });
        break;
      case "error":
        m.errors.push({ ...(e.host ? { host: e.host } : {}), message: e.message, exitCode: e.exitCode });
        break;
      case "run-end":
        m.outcome = e.ok && m.outcome !== "failed" ? "ok" : "failed";
        m.changes += e.changes;
        m.durationMs = Math.max(m.durationMs, now, e.durationMs);
        break;
      default:
        break;
    }
  }
  for (const row of open.values()) row.end = last;
  m.durationMs = Math.max(m.durationMs, last);
  m.hosts = [...hosts].sort();
  return m;
}
