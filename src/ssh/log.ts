// Per-host command log. Every command run (and every upload/download) becomes one CommandLogEntry:
// secrets redacted everywhere, large outputs capped. Entries go to an optional callback and to an
// optional file <logDir>/<host>.log (mode 0600, appended).
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { CommandLogEntry } from "./types.js";

export const REDACTED = "***";
/** Output kept per stream in the log; the rest is elided (head and tail are kept). */
export const MAX_LOGGED_OUTPUT = 64 * 1024;

/** Replace every occurrence of every (non-empty) secret by ***. Longest secrets first. */
export function redact(text: string, secrets: readonly string[]): string {
  // A secret interpolated with quote() appears with each ' written as '\'' : redact that form too.
  const forms = secrets.filter((s) => s.length > 0).flatMap((s) => (s.includes("'") ? [s, s.replace(/'/g, "'\\''")] : [s]));
  const list = [...new Set(forms)].sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of list) out = out.split(s).join(REDACTED);
  return out;
}

/** Keep the head and the tail of a long output. */
export function capOutput(text: string, max = MAX_LOGGED_OUTPUT): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n… [${text.length - 2 * half} characters elided] …\n${text.slice(-half)}`;
}

/** A file name safe for a host name (inventory names are DNS labels; this is belt and braces). */
function safeName(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, "_");
}

export interface HostLogOptions {
  host: string;
  /** Directory for <host>.log; none: no file. */
  logDir?: string;
  /** Secrets of the target (password, passphrase, sudo password); always redacted. */
  secrets?: readonly string[];
  onCommand?: (e: CommandLogEntry) => void;
}

export interface RecordInput {
  startedAt: Date;
  durationMs: number;
  label?: string;
  command: string;
  code: number | null;
  stdout?: string;
  stderr?: string;
  error?: string;
  /** Extra per-command secrets (ExecOptions.secrets). */
  secrets?: readonly string[];
}

export class HostLog {
  readonly host: string;
  readonly file?: string;
  private readonly secrets: readonly string[];
  private readonly onCommand?: (e: CommandLogEntry) => void;
  private dirReady = false;

  constructor(opts: HostLogOptions) {
    this.host = opts.host;
    if (opts.logDir) this.file = join(opts.logDir, `${safeName(opts.host)}.log`);
    this.secrets = opts.secrets ?? [];
    if (opts.onCommand) this.onCommand = opts.onCommand;
  }

  /** Redact the target's secrets plus `extra`. */
  redact(text: string, extra: readonly string[] = []): string {
    return redact(text, [...this.secrets, ...extra]);
  }

  record(r: RecordInput): CommandLogEntry {
    const extra = r.secrets ?? [];
    const entry: CommandLogEntry = {
      host: this.host,
      startedAt: r.startedAt.toISOString(),
      durationMs: Math.round(r.durationMs * 10) / 10,
      command: this.redact(r.command, extra),
      code: r.code,
      stdout: capOutput(this.redact(r.stdout ?? "", extra)),
      stderr: capOutput(this.redact(r.stderr ?? "", extra)),
    };
    if (r.label !== undefined) entry.label = this.redact(r.label, extra);
    if (r.error !== undefined) entry.error = this.redact(r.error, extra);
    if (this.file) this.writeFile(entry);
    try {
      this.onCommand?.(entry);
    } catch {
      // A broken listener must not break the command.
    }
    return entry;
  }

  private writeFile(e: CommandLogEntry): void {
    const file = this.file as string;
    try {
      if (!this.dirReady) {
        mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
        this.dirReady = true;
      }
      appendFileSync(file, formatEntry(e), { mode: 0o600 });
    } catch {
      // Logging is best effort; a full disk must not fail the run.
    }
  }
}

function indent(text: string): string {
  return text.replace(/\n$/, "").replace(/^/gm, "  ");
}

/** The text form of an entry in <host>.log. */
export function formatEntry(e: CommandLogEntry): string {
  const status = e.error ? `error` : e.code === null ? "killed" : `exit ${e.code}`;
  let s = `--- ${e.startedAt} ${status} ${e.durationMs} ms${e.label ? ` [${e.label}]` : ""}\n$ ${e.command}\n`;
  if (e.stdout) s += `stdout:\n${indent(e.stdout)}\n`;
  if (e.stderr) s += `stderr:\n${indent(e.stderr)}\n`;
  if (e.error) s += `error: ${e.error}\n`;
  return s;
}
