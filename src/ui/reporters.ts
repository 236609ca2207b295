// Reporters: plain lines for people (no colour, no spinners: works in CI logs), one JSON object per line
// for scripts, and the journal file every run writes. The tty renderer comes with the operator issue.
import { appendFileSync } from "node:fs";
import type { Reporter, RunEvent } from "./events.js";
import { planSummary, type PlanChange } from "./plan.js";

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** How a run-end reads for people: finished, failed or interrupted. */
export function endWord(e: Extract<RunEvent, { kind: "run-end" }>): string {
  return e.result === "interrupted" ? "interrupted" : e.ok ? "finished" : "failed";
}

export class PlainReporter implements Reporter {
  /** A dry run's changes, printed grouped by host and phase at its end instead of as they come. */
  private readonly planned: PlanChange[] = [];
  constructor(private readonly write: (s: string) => void) {}
  emit(e: RunEvent): void {
    switch (e.kind) {
      case "run-start":
        this.write(`${e.dryRun ? "plan" : e.command} ${e.cluster}${e.limit ? ` --limit ${e.limit.join(",")}` : ""}${e.dryRun ? " (dry run: nothing is changed)" : ""}\n`);
        break;
      case "phase-start":
        this.write(`==> ${e.phase}\n`);
        break;
      case "phase-end":
        this.write(e.ok ? `    done in ${secs(e.durationMs)}\n` : `    FAILED after ${secs(e.durationMs)}\n`);
        break;
      case "phase-skip":
        this.write(`--- ${e.phase}: skipped (${e.reason})\n`);
        break;
      case "host-step":
        if (e.status === "failed") this.write(`    ${e.host}: FAILED ${e.detail ?? ""}\n`);
        else if (e.status === "done" && e.detail) this.write(`    ${e.host}: ${e.detail}\n`);
        break;
      case "change":
        if (e.dryRun) this.planned.push({ phase: e.phase, host: e.host, what: e.what });
        else this.write(`    ${e.host}: ${e.what}\n`);
        break;
      case "warning":
        this.write(`    warning: ${e.host ? `${e.host}: ` : ""}${e.message}\n`);
        break;
      case "run-end":
        if (this.planned.length) this.write(`\n${planSummary(this.planned.splice(0))}\n`);
        this.write(`${endWord(e)} in ${secs(e.durationMs)}, ${e.changes} change(s)\n`);
        break;
      default:
        break;
    }
  }
}

export class JsonReporter implements Reporter {
  constructor(private readonly write: (s: string) => void) {}
  emit(e: RunEvent): void {
    this.write(`${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`);
  }
}

/** events.jsonl in the run directory: every event, commands included. */
export class JournalReporter implements Reporter {
  constructor(private readonly file: string) {}
  emit(e: RunEvent): void {
    appendFileSync(this.file, `${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`, { mode: 0o600 });
  }
}
