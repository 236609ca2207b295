// Logs are data: every run produces one stream of these events. The terminal, --output json, the run
// journal and (later) the HTML report are all fed from it. Field names are stable; see docs/events.md.

import type { SecretList } from "../util/secrets.js";

export type RunEvent =
  | { kind: "run-start"; command: string; cluster: string; dryRun: boolean; runDir: string; inventory?: string; limit?: string[] }
  | { kind: "phase-start"; phase: string; hosts?: string[] }
  | { kind: "phase-end"; phase: string; ok: boolean; durationMs: number; error?: string }
  | { kind: "phase-skip"; phase: string; reason: string }
  | { kind: "host-step"; phase: string; host: string; status: "start" | "done" | "failed" | "skipped"; durationMs?: number; detail?: string; output?: string[] }
  | { kind: "change"; phase: string; host: string; what: string; dryRun: boolean }
  | { kind: "command"; host: string; label?: string; command: string; code: number | null; durationMs: number; check?: boolean }
  | { kind: "node-version"; phase: string; host: string; before: string; after: string; dryRun: boolean }
  | { kind: "warning"; host?: string; message: string }
  | { kind: "error"; host?: string; message: string; exitCode: number }
  | { kind: "run-end"; ok: boolean; result?: RunResultKind; durationMs: number; changes: number };

/** How a run ended: interrupted is a run stopped by SIGINT/SIGTERM (exit 130). */
export type RunResultKind = "ok" | "failed" | "interrupted";

export type Stamped<E extends RunEvent = RunEvent> = E & { at: string };

export interface Reporter {
  emit(e: RunEvent): void;
  close?(): Promise<void>;
}

/**
 * Sends each event to every reporter given; with `secrets` (a run's), redacted from them first, so the
 * journal, the report built from it and every output see no secret.
 */
export class FanOut implements Reporter {
  constructor(
    private readonly reporters: Reporter[],
    private readonly secrets?: SecretList,
  ) {}
  emit(e: RunEvent): void {
    const safe = this.secrets ? this.secrets.redactDeep(e) : e;
    for (const r of this.reporters) r.emit(safe);
  }
  async close(): Promise<void> {
    for (const r of this.reporters) await r.close?.();
  }
}

/** Keeps every event; for tests and for the summary at the end of a run. */
export class MemoryReporter implements Reporter {
  readonly events: Stamped[] = [];
  emit(e: RunEvent): void {
    this.events.push({ ...e, at: new Date().toISOString() });
  }
  of<K extends RunEvent["kind"]>(kind: K): Stamped<Extract<RunEvent, { kind: K }>>[] {
    return this.events.filter((e) => e.kind === kind) as Stamped<Extract<RunEvent, { kind: K }>>[];
  }
}
