// Typed errors. Every expected failure is one of these; src/cli/main.ts is the one place that turns
// them into a single line on stderr and an exit code. Anything else is a bug and shows a stack trace
// only with --debug.

export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  Inventory: 3,
  Unreachable: 4,
  Auth: 5,
  HostKey: 6,
  Command: 7,
  Timeout: 8,
  Preflight: 9,
  Lab: 10,
  Api: 11,
  Locked: 12,
  Aborted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class KubesmithError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** What the user should do about it; printed after the message. */
  readonly hint?: string;
  constructor(message: string, opts?: { hint?: string; cause?: unknown }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    if (opts?.hint) this.hint = opts.hint;
  }
  /** One line for the user: message, then the hint. */
  oneLine(): string {
    const msg = this.message.replace(/\s*\n\s*/g, " ");
    return this.hint ? `${msg} (${this.hint})` : msg;
  }
}

/** Bad command line: unknown flag, missing argument, conflicting options. */
export class UsageError extends KubesmithError {
  readonly exitCode = ExitCode.Usage;
}

/** One problem found in an inventory file, located as precisely as we can. */
export interface InventoryIssue {
  file: string;
  line?: number;
  column?: number;
  /** Field path, e.g. hosts[1].address */
  path: string;
  message: string;
  hint?: string;
}

export function formatIssue(i: InventoryIssue): string {
  const where = `${i.file}${i.line !== undefined ? `:${i.line}:${i.column ?? 1}` : ""}`;
  const field = i.path ? ` ${i.path}:` : "";
  return `${where}:${field} ${i.message}${i.hint ? ` (${i.hint})` : ""}`;
}

/** The inventory cannot be read, parsed or fails validation. */
export class InventoryError extends KubesmithError {
  readonly exitCode = ExitCode.Inventory;
  readonly issues: InventoryIssue[];
  constructor(issues: InventoryIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.issues = issues;
  }
  override oneLine(): string {
    // One line per issue; the first is the headline.
    return this.issues.map(formatIssue).join("\n");
  }
}

/** Errors that concern one host carry its name; the message starts with it. */
export abstract class HostError extends KubesmithError {
  readonly host: string;
  constructor(host: string, message: string, opts?: { hint?: string; cause?: unknown }) {
    super(`${host}: ${message}`, opts);
    this.host = host;
  }
}

/** TCP connect failed, refused, no route, DNS, or the SSH handshake broke. Retried with backoff. */
export class UnreachableError extends HostError {
  readonly exitCode = ExitCode.Unreachable;
}

/** Authentication rejected (key, agent, password, sudo password). Never retried. */
export class AuthError extends HostError {
  readonly exitCode = ExitCode.Auth;
}

/** Host key unknown under strict, or changed. Never retried. */
export class HostKeyError extends HostError {
  readonly exitCode = ExitCode.HostKey;
}

/** A remote command exited non-zero. */
export class CommandError extends HostError {
  readonly exitCode = ExitCode.Command;
  readonly command: string;
  readonly code: number | null;
  readonly stderr: string;
  constructor(host: string, command: string, code: number | null, stderr: string, what?: string) {
    const last = stderr.trim().split("\n").filter(Boolean).pop() ?? "";
    super(
      host,
      `${what ?? `command '${truncate(command, 80)}'`} failed with exit code ${code ?? "none (killed)"}${last ? `: ${truncate(last, 200)}` : ""}`,
    );
    this.command = command;
    this.code = code;
    this.stderr = stderr;
  }
}

/** A connect or a command ran past its time limit. */
export class TimeoutError extends HostError {
  readonly exitCode = ExitCode.Timeout;
}

/** Preflight checks failed on one or more hosts: one line per failed check, each naming its host. */
export class PreflightError extends KubesmithError {
  readonly exitCode = ExitCode.Preflight;
  override oneLine(): string {
    return this.message;
  }
}

/** The lab could not be built or torn down (not root, not Linux, missing tools). */
export class LabError extends KubesmithError {
  readonly exitCode = ExitCode.Lab;
}

/** A request to the cluster's API failed or the cluster did not reach the wanted state in time. */
export class ApiError extends KubesmithError {
  readonly exitCode = ExitCode.Api;
  readonly status?: number;
  constructor(message: string, opts?: { hint?: string; cause?: unknown; status?: number }) {
    super(message, opts);
    if (opts?.status !== undefined) this.status = opts.status;
  }
}

/** Another run holds the cluster lock. */
export class LockedError extends KubesmithError {
  readonly exitCode = ExitCode.Locked;
}

/** The user said no, pressed Ctrl-C, or a confirmation was needed with no terminal. */
export class UserAbort extends KubesmithError {
  readonly exitCode = ExitCode.Aborted;
}

/** Several hosts failed; exit with the code of the first (hosts sorted by name). */
/**
 * Which failure wins the exit code when hosts fail differently: the one a user must act on first (a host
 * key, then credentials, then reachability …). Codes not listed come after, in numeric order.
 */
export const EXIT_PRIORITY: readonly number[] = [
  ExitCode.HostKey,
  ExitCode.Auth,
  ExitCode.Unreachable,
  ExitCode.Timeout,
  ExitCode.Preflight,
  ExitCode.Command,
  ExitCode.Api,
];

function exitRank(code: number): number {
  const i = EXIT_PRIORITY.indexOf(code);
  return i < 0 ? EXIT_PRIORITY.length + code : i;
}

/**
 * Several hosts failed. The errors are ordered by exit priority, then as given (callers pass them in
 * inventory order), so the exit code and the lines do not depend on which host failed first.
 */
export class MultiHostError extends KubesmithError {
  readonly exitCode: ExitCodeValue;
  readonly errors: KubesmithError[];
  constructor(errors: KubesmithError[]) {
    const sorted = errors.map((e, i) => ({ e, i })).sort((a, b) => exitRank(a.e.exitCode) - exitRank(b.e.exitCode) || a.i - b.i).map((x) => x.e);
    super(sorted.map((e) => e.oneLine()).join("\n"));
    this.errors = sorted;
    this.exitCode = sorted[0]?.exitCode ?? ExitCode.Internal;
  }
  override oneLine(): string {
    return this.errors.map((e) => e.oneLine()).join("\n");
  }
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/**
 * The run was interrupted (SIGINT, SIGTERM): no new step was started, and a remote command still running
 * after the grace period was cut off.
 */
export class InterruptedError extends KubesmithError {
  readonly exitCode = ExitCode.Aborted;
}

/**
 * An established SSH connection went away while a command ran on it (the host rebooted or lost its
 * network, sshd was restarted, a keepalive went unanswered). Reported with the step and how long it had
 * run; same exit code as UnreachableError. Never retried: the command may have done part of its work.
 */
export class ConnectionDroppedError extends UnreachableError {}

/**
 * `up` went on without some workers that failed (--max-failed-workers) and finished the rest: the first
 * line says so and what to run, then one line per failed host with its cause. The exit code is theirs,
 * by EXIT_PRIORITY.
 */
export class PartialRunError extends KubesmithError {
  readonly exitCode: ExitCodeValue;
  readonly hosts: MultiHostError;
  constructor(message: string, hosts: MultiHostError) {
    super(message);
    this.hosts = hosts;
    this.exitCode = hosts.exitCode;
  }
  override oneLine(): string {
    return `${this.message}\n${this.hosts.oneLine()}`;
  }
}
