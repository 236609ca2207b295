// The contract between everything that runs remote commands and the SSH implementation.
// Phases and commands only ever see a Runner; tests may swap in a recording one.

export type HostKeyPolicy = "strict" | "accept-new" | "off";

export interface SshAuth {
  /** Absolute path of a private key file. */
  privateKeyPath?: string;
  /** Passphrase of the key (already resolved from the environment). */
  passphrase?: string;
  /** Agent socket path. */
  agent?: string;
  /** Login password (already resolved from the environment). */
  password?: string;
}

/** Everything needed to reach one host; built from the inventory by src/ssh/targets.ts. */
export interface SshTarget {
  /** Host name as in the inventory; used in every message and log. */
  name: string;
  address: string;
  port: number;
  user: string;
  auth: SshAuth;
  /** Jump host; connected first, the target is reached through forwardOut. */
  bastion?: SshTarget;
  /** How to become root for commands run with { sudo: true }. */
  sudo: { enabled: boolean; password?: string };
  hostKeyPolicy: HostKeyPolicy;
  /** known_hosts file: read for verification, appended to under accept-new. */
  knownHostsFile: string;
  /** The inventory the target came from (for hints that name a kubesmith command). */
  inventoryFile?: string;
  /** One connection attempt: TCP connect, SSH handshake and authentication. */
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
  /**
   * Time for retrying a connection that failed on the network (refused, timed out, reset), counted from
   * the end of the first attempt; backoff between attempts. Auth and host-key failures are never
   * retried. Default 20 s (DEFAULT_RETRY_BUDGET_MS).
   */
  retryBudgetMs?: number;
  /** At most this many retries after the first attempt, within the budget. Default: as many as fit. */
  connectRetries?: number;
  /** Other secrets of the inventory (a proxy URL's credentials), redacted from this host's log like its own. */
  logSecrets?: string[];
}

export interface ExecOptions {
  /** Run through sudo (when the target's user is not root and sudo is enabled). */
  sudo?: boolean;
  /** Data written to the command's stdin, then stdin is closed. Use this for secrets. */
  stdin?: string | Buffer;
  /** Overrides the target's command timeout. */
  timeoutMs?: number;
  /**
   * The command runs this many commands one after another (a batch of Steps): its time limit is the
   * target's per-command limit times this. Default 1; timeoutMs wins.
   */
  timeoutCommands?: number;
  /**
   * A marker line in stdout after which the output is secret (a file read for the caller, e.g.
   * admin.conf): the logs and events get `[N bytes not logged]` in its place; the caller gets it all.
   * "" hides all of stdout (a downloaded file).
   */
  secretStdoutAfter?: string;
  /**
   * Secrets this command uses: added to the run's list (util/secrets.ts), so they are redacted from this
   * and every later log entry, event and error, on every host (the target's credentials always are).
   */
  secrets?: string[];
  /** Do not throw on a non-zero exit; return the result instead. */
  allowFailure?: boolean;
  /** A short human label for logs and errors ("gather facts"); defaults to the command. */
  label?: string;
  /**
   * Clean-up that must run also after the run was interrupted (releasing the cluster lock): not capped
   * to the interrupt grace period and never cut off by it.
   */
  afterInterrupt?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when the command was killed by a signal. */
  code: number | null;
  durationMs: number;
}

export interface UploadOptions {
  /** File mode, e.g. 0o600. Default 0o644. */
  mode?: number;
  /** chown owner[:group] after upload (needs sudo when not root). */
  owner?: string;
  /** Write as root through sudo (uploads to a temp file, then sudo install). */
  sudo?: boolean;
}

export interface Runner {
  readonly host: string;
  /** Run one shell command (POSIX sh) on the host. Throws CommandError on non-zero unless allowFailure. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Write a file atomically: to a temp name in the same directory, then rename. */
  upload(remotePath: string, content: string | Buffer, opts?: UploadOptions): Promise<void>;
  /** Read a whole remote file. */
  download(remotePath: string, opts?: { sudo?: boolean }): Promise<Buffer>;
  close(): Promise<void>;
}

/** One entry of a host's command log. Secrets are already redacted. */
export interface CommandLogEntry {
  host: string;
  startedAt: string;
  durationMs: number;
  label?: string;
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
  /** A check (a probe, a test): its non-zero exit is an answer, not a failure (ExecOptions.allowFailure). */
  check?: boolean;
}
