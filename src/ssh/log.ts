// Per-host command log. Every command run (and every upload/download) becomes one CommandLogEntry:
// secrets redacted everywhere (from the run's one list, util/secrets.ts), large outputs capped. Entries go
// to an optional callback and to an optional file <logDir>/<host>.log (mode 0600, appended).
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { REDACTED, redact, runSecrets, type SecretList } from "../util/secrets.js";
import type { CommandLogEntry } from "./types.js";

export { REDACTED, redact };

/** Output kept per stream in the log; the rest is elided (head and tail are kept). */
export const MAX_LOGGED_OUTPUT = 64 * 1024;

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
  /** The list every entry is redacted from (default: the run's, runSecrets). */
  secrets?: SecretList;
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
  /** The caller reads a non-zero exit as an answer (ExecOptions.allowFailure). */
  check?: boolean;
  /** Per-command secrets (ExecOptions.secrets): added to the list, so later entries and other hosts redact them too. */
  secrets?: readonly string[];
}

export class HostLog {
  readonly host: string;
  readonly file?: string;
  readonly secrets: SecretList;
  private readonly onCommand?: (e: CommandLogEntry) => void;
  private dirReady = false;

  constructor(opts: HostLogOptions) {
    this.host = opts.host;
    if (opts.logDir) this.file = join(opts.logDir, `${safeName(opts.host)}.log`);
    this.secrets = opts.secrets ?? runSecrets;
    if (opts.onCommand) this.onCommand = opts.onCommand;
  }

  /** Adds `extra` to the list, then redacts everything on it. */
  redact(text: string, extra: readonly string[] = []): string {
    return this.secrets.add(...extra).redact(text);
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
    if (r.check) entry.check = true;
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
