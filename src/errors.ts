// Typed errors. Every expected failure is one of these; src/cli/main.ts is the one place that turns
// them into a single line on stderr and an exit code. Anything else is a bug and shows a stack trace
// only with --debug.

import { runSecrets } from "./util/secrets.js";

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
  State: 13,
  NotConfirmed: 14,
  VersionChange: 15,
  Quorum: 16,
  Expired: 17,
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
  /**
   * Where to see more (e.g. the `kubesmith logs …` command for the failing host); set by the command that
   * knows the run, printed after the error's lines.
   */
  seeAlso?: string;
  /** One line for the user: message, then the hint. */
  oneLine(): string {
    const msg = this.message.replace(/\s*\n\s*/g, " ");
    return this.hint ? `${msg} (${this.hint})` : msg;
  }
  /** Lines that show the cause (a failed command's last stderr lines), printed under the one line. */
  details(): string[] {
    return [];
  }
}

/** Lines that say nothing about the cause: blank, and kubeadm's pointer to a stack trace. */
const NOISE = /^\s*$|^To see the stack trace of this error execute with --v=5 or higher$/;

/**
 * The last `n` lines of a command's stderr that say something, without the one already in the message
 * (`last`), each cut to a readable length.
 */
export function stderrTail(stderr: string, n = 5, last?: string): string[] {
  const lines = stderr.split("\n").map((l) => l.trimEnd()).filter((l) => !NOISE.test(l));
  if (last !== undefined && lines.length && lines[lines.length - 1]!.trim() === last) lines.pop();
  return lines.slice(-n).map((l) => truncate(l, 300));
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

/** The host presented another key than the one recorded for it (reinstalled, or a man in the middle). */
export class HostKeyChangedError extends HostKeyError {}

/**
 * The identity file the inventory names cannot be read or used: a problem on this machine, the same for
 * every host that uses the file.
 */
export class IdentityFileError extends AuthError {}

/** A remote command exited non-zero. */
export class CommandError extends HostError {
  readonly exitCode = ExitCode.Command;
  readonly command: string;
  readonly code: number | null;
  readonly stderr: string;
  constructor(host: string, command: string, code: number | null, stderr: string, what?: string) {
    // Redacted from the run's secrets (util/secrets.ts) whoever builds it: the runner or a phase.
    command = runSecrets.redact(command);
    stderr = runSecrets.redact(stderr);
    if (what !== undefined) what = runSecrets.redact(what);
    const last = stderr.split("\n").map((l) => l.trim()).filter((l) => !NOISE.test(l)).pop() ?? "";
    super(
      host,
      `${what ?? `command '${truncate(command, 80)}'`} failed with exit code ${code ?? "none (killed)"}${last ? `: ${truncate(last, 500)}` : ""}`,
    );
    this.command = command;
    this.code = code;
    this.stderr = stderr;
  }
  /** The lines of stderr before the one in the message. */
  override details(): string[] {
    const last = this.stderr.split("\n").map((l) => l.trim()).filter((l) => !NOISE.test(l)).pop();
    return stderrTail(this.stderr, 5, last);
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

/**
 * `addons diff` found differences: exit 1, as `kubectl diff` and `diff` do (0: none, above 1: an error).
 * Not a failure of the command.
 */
export class DifferencesFound extends KubesmithError {
  readonly exitCode = ExitCode.Internal;
}

/** The user pressed Ctrl-C (in the wizard, or a signal during a run: InterruptedError). */
export class UserAbort extends KubesmithError {
  readonly exitCode = ExitCode.Aborted;
}

/** A confirmation was refused, or was needed with no terminal to ask on (exit 14, not 130: no Ctrl-C happened). */
export class NotConfirmedError extends KubesmithError {
  readonly exitCode = ExitCode.NotConfirmed;
}

/**
 * `remove-node` refused a control plane: removing it would leave etcd without a majority of its members
 * (or remove the last one). Nothing was changed.
 */
export class QuorumError extends KubesmithError {
  readonly exitCode = ExitCode.Quorum;
}

/**
 * `certs check` read the certificates and one or more has expired: what it printed is the report; the exit
 * code is for the scripts and monitors that run it (kubeadm's own check-expiration exits 0 either way).
 */
export class ExpiredError extends KubesmithError {
  readonly exitCode = ExitCode.Expired;
}

/**
 * kubesmith's local state does not match the cluster: e.g. a secret the running cluster uses is not in the
 * state and cannot be read back from the cluster.
 */
export class StateError extends KubesmithError {
  readonly exitCode = ExitCode.State;
}

/**
 * A Kubernetes version change kubesmith will not make this way (exit 15): `up` on a cluster running another
 * minor (that is `kubesmith upgrade`'s job), or an upgrade that skips a minor, goes down, or leaves an
 * add-on's declared Kubernetes range.
 */
export class VersionChangeError extends KubesmithError {
  readonly exitCode = ExitCode.VersionChange;
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
  /**
   * One line per error; errors that say the same thing of several hosts (one missing identity file used by
   * every host) are one line naming those hosts.
   */
  override oneLine(): string {
    const groups = new Map<string, { hosts: string[]; text: string }>();
    for (const e of this.errors) {
      const host = e instanceof HostError ? e.host : undefined;
      const text = host !== undefined && e.oneLine().startsWith(`${host}: `) ? e.oneLine().slice(host.length + 2) : e.oneLine();
      const key = host !== undefined ? `${e.constructor.name}\0${text}` : `\0${groups.size}`;
      const g = groups.get(key) ?? { hosts: [], text };
      if (host !== undefined) g.hosts.push(host);
      groups.set(key, g);
    }
    return [...groups.values()].map((g) => (g.hosts.length ? `${g.hosts.join(", ")}: ${g.text}` : g.text)).join("\n");
  }
  /** Each host's cause lines, under a line naming the host. */
  override details(): string[] {
    return this.errors.flatMap((e) => {
      const d = e.details();
      return d.length && e instanceof HostError ? [`${e.host}:`, ...d.map((l) => `  ${l}`)] : d;
    });
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
