// The terminal reporter: listr2's default renderer (spinners, ✔/✖, log-update redraws) driven by the run's
// event stream. The only module that imports listr2; phases only ever see the Reporter interface.
//
// Events arrive as a stream (phase-start → host-step… → phase-end), so each phase becomes a one-task Listr
// whose task waits for that phase's phase-end. Phases run one after another (as runPhases does), so the
// Listr runs are chained: a finished phase stays on screen as one line with its duration, the running
// one redraws. Hosts of a fan-out phase show as sub-lines under it (the task's output bar), each with its
// own state and elapsed time; on success they fold away, failed hosts stay.
import { Writable } from "node:stream";
import { DefaultRenderer, Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from "listr2";
import type { Reporter, RunEvent } from "./events.js";
import { planSummary, type PlanChange } from "./plan.js";
import { endWord } from "./reporters.js";

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
/** SGR (colour and style) sequences; cursor movement is kept. */
const SGR = /\x1b\[[0-9;]*m/g;

/** listr2 picks a fallback renderer when process.stdout is not a TTY; the stream we are given decides here. */
class StreamRenderer extends DefaultRenderer {
  static override nonTTY = true;
}

interface HostState {
  status: "start" | "done" | "failed" | "skipped";
  t0: number;
  durationMs?: number;
  detail?: string;
  /** What the host is doing (its latest change, else its latest command's label), shown while it runs. */
  step?: string;
}

interface PhaseState {
  title: string;
  t0: number;
  hosts: Map<string, HostState>;
  notes: string[];
  end?: { ok: boolean; durationMs: number; error?: string };
  finish: () => void;
  done: Promise<void>;
}

export interface TtyReporterOptions {
  /** A terminal stream (process.stdout or process.stderr). */
  stream: NodeJS.WriteStream;
  /** false: no colour codes (NO_COLOR); cursor movement is still used. */
  color?: boolean;
  /** Redraw interval for the elapsed times (ms). */
  tickMs?: number;
}

/** A stream that passes writes to the terminal, without colour codes when colour is off. */
function outputStream(target: NodeJS.WriteStream, color: boolean): NodeJS.WriteStream {
  const w = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      // A terminal that went away (EPIPE, handled in cli/main.ts) ends the output quietly.
      if (target.destroyed || target.writableEnded) {
        cb();
        return;
      }
      const s = chunk.toString();
      // Synchronous hand-over keeps the order of writes and lets close() return with everything written.
      target.write(color ? s : s.replace(SGR, ""));
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { isTTY: boolean };
  w.isTTY = true;
  Object.defineProperty(w, "columns", { get: () => target.columns ?? 100 });
  Object.defineProperty(w, "rows", { get: () => target.rows ?? 40 });
  return w;
}

/** Text cut to `n` characters (at least 10), with an ellipsis. */
function fit(s: string, n: number): string {
  const max = Math.max(10, n);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export class TtyReporter implements Reporter {
  private readonly out: NodeJS.WriteStream;
  private readonly tickMs: number;
  private chain: Promise<void> = Promise.resolve();
  private current?: PhaseState;
  private readonly planned: PlanChange[] = [];

  constructor(opts: TtyReporterOptions) {
    this.out = outputStream(opts.stream, opts.color ?? true);
    this.tickMs = opts.tickMs ?? 250;
  }

  /** The terminal's width (80 when it does not say). */
  private width(): number {
    return (this.out as NodeJS.WriteStream).columns || 80;
  }

  private line(s: string): void {
    this.chain = this.chain.then(() => new Promise<void>((r) => this.out.write(`${s}\n`, () => r())));
  }

  emit(e: RunEvent): void {
    switch (e.kind) {
      case "run-start":
        this.line(`${e.dryRun ? "plan" : e.command} ${e.cluster}${e.limit ? ` --limit ${e.limit.join(",")}` : ""}${e.dryRun ? " (dry run: nothing is changed)" : ""}`);
        break;
      case "phase-start":
        this.startPhase(e.phase, e.hosts);
        break;
      case "phase-end": {
        const p = this.current;
        if (p && p.title === e.phase) {
          p.end = { ok: e.ok, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}) };
          p.finish();
          this.current = undefined;
        }
        break;
      }
      case "phase-skip":
        this.skipPhase(e.phase, e.reason);
        break;
      case "host-step": {
        const p = this.current;
        if (!p) break;
        const prev = p.hosts.get(e.host);
        p.hosts.set(e.host, {
          status: e.status,
          t0: prev?.t0 ?? Date.now(),
          ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}),
          ...(e.detail ? { detail: e.detail } : {}),
        });
        break;
      }
      case "change":
        // A plan's changes are listed at the end, by host and phase (ui/plan.ts).
        if (e.dryRun) this.planned.push({ phase: e.phase, host: e.host, what: e.what });
        else this.noteStep(e.host, e.what);
        break;
      case "command":
        if (e.label) this.noteStep(e.host, e.label);
        break;
      case "warning": {
        const msg = `warning: ${e.host ? `${e.host}: ` : ""}${e.message}`;
        if (this.current) this.current.notes.push(msg);
        else this.line(msg);
        break;
      }
      case "run-end":
        if (this.planned.length) this.line(`\n${planSummary(this.planned.splice(0)).trimEnd()}\n`);
        this.line(`${endWord(e)} in ${secs(e.durationMs)}, ${e.changes} change(s)`);
        break;
      default:
        break;
    }
  }

  private listr(task: (t: ListrTaskWrapper<unknown, typeof StreamRenderer, typeof StreamRenderer>) => Promise<void> | void, title: string): Listr<unknown, typeof StreamRenderer, typeof StreamRenderer> {
    return new Listr<unknown, typeof StreamRenderer, typeof StreamRenderer>(
      [{ title, task: (_ctx, t) => task(t), rendererOptions: { outputBar: 1, persistentOutput: true } }],
      {
        renderer: StreamRenderer,
        fallbackRenderer: StreamRenderer,
        rendererOptions: {
          logger: new ListrLogger({ useIcons: true, toStderr: [], processOutput: new ProcessOutput(this.out, this.out, { leaveEmptyLine: false }) }),
          collapseErrors: false,
          showErrorMessage: true,
          formatOutput: "truncate",
        },
        exitOnError: true,
        registerSignalListeners: false,
        collectErrors: false,
      },
    );
  }

  private startPhase(title: string, hosts?: string[]): void {
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const p: PhaseState = { title, t0: Date.now(), hosts: new Map(), notes: [], finish, done };
    for (const h of hosts ?? []) p.hosts.set(h, { status: "start", t0: Date.now() });
    this.current = p;
    // The Listr (and its ProcessOutput) is made only when its turn comes: ProcessOutput keeps the stream's
    // write function as it finds it, and while an earlier phase renders that function is hijacked.
    const make = () => this.listr(async (t) => {
      p.t0 = Date.now();
      const redraw = () => {
        t.title = `${title} ${secs(Date.now() - p.t0)}`;
        t.output = this.hostLines(p, false);
      };
      redraw();
      const timer = setInterval(redraw, this.tickMs);
      try {
        await p.done;
      } finally {
        clearInterval(timer);
      }
      const end = p.end!;
      const n = p.hosts.size;
      t.title = `${title} ${secs(end.durationMs)}${n ? ` (${n} host${n === 1 ? "" : "s"})` : ""}`;
      t.output = this.hostLines(p, true);
      if (!end.ok) {
        // Failed hosts are already listed under the phase; the error line would repeat them.
        const failed = [...p.hosts.values()].filter((h) => h.status === "failed").length;
        throw new Error(failed ? `${failed} host${failed === 1 ? "" : "s"} failed` : (end.error ?? "failed"));
      }
    }, title);
    this.chain = this.chain.then(() => make().run().then(() => undefined, () => undefined));
  }

  private skipPhase(title: string, reason: string): void {
    const make = () => this.listr((t) => t.skip(`${title}: skipped (${reason})`), title);
    this.chain = this.chain.then(() => make().run().then(() => undefined, () => undefined));
  }

  /** A running host's current step, for its live line. */
  private noteStep(host: string, step: string): void {
    const h = this.current?.hosts.get(host);
    if (h && h.status === "start") h.step = step.split("\n")[0]!;
  }

  /** One line per host (while running), or only the notable ones once the phase is over. */
  private hostLines(p: PhaseState, final: boolean): string {
    const now = Date.now();
    const lines: string[] = [];
    for (const [name, h] of p.hosts) {
      if (final && h.status !== "failed") continue;
      const icon = h.status === "done" ? "✔" : h.status === "failed" ? "✖" : h.status === "skipped" ? "↓" : "…";
      const took = h.durationMs !== undefined ? secs(h.durationMs) : secs(now - h.t0);
      const step = h.status === "start" && h.step ? `  ${fit(h.step, this.width() - name.length - took.length - 8)}` : "";
      lines.push(`${icon} ${name} ${took}${h.detail ? `  ${h.detail}` : step}`);
    }
    lines.push(...p.notes);
    return lines.join("\n");
  }

  /** Waits until everything emitted so far is on screen. */
  async close(): Promise<void> {
    // A phase that never got its phase-end (the run was cut short) is closed as failed.
    if (this.current) {
      this.current.end = { ok: false, durationMs: Date.now() - this.current.t0, error: "interrupted" };
      this.current.finish();
      this.current = undefined;
    }
    await this.chain;
  }
}
