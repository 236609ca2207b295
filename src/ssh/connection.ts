// SshRunner: the ssh2 implementation of Runner. One SSH connection per host, reused for the whole run;
// every command is an exec channel on it. Host keys are verified against known_hosts (knownhosts.ts),
// also for a target reached through a bastion.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import net from "node:net";
import { posix } from "node:path";
import type { Duplex } from "node:stream";
import pLimit from "p-limit";
import ssh2 from "ssh2";
import type { AnyAuthMethod, ClientChannel, ConnectConfig, ParsedKey, SFTPWrapper } from "ssh2";

import {
  AuthError,
  CommandError,
  ConnectionDroppedError,
  ExitCode,
  HostError,
  HostKeyError,
  IdentityFileError,
  InterruptedError,
  KubesmithError,
  TimeoutError,
  UnreachableError,
} from "../errors.js";
import { knownKeyTypes, verifyHostKey, type VerifyRequest } from "./knownhosts.js";
import { HostLog } from "./log.js";
import type { SecretList } from "../util/secrets.js";
import { quote } from "./quote.js";
import type { CommandLogEntry, ExecOptions, ExecResult, Runner, SshTarget, UploadOptions } from "./types.js";

// ssh2 is CommonJS: Node gives ESM importers only its default export.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

/** A file transfer (SFTP) failed: permission denied, no such directory … */
export class TransferError extends HostError {
  readonly exitCode = ExitCode.Command;
}

export interface SshRunnerOptions {
  /** Per-host command log (file and/or callback). Default: none. */
  log?: HostLog;
  /** Shorthand when no log is given: per-host log file directory and callback. */
  logDir?: string;
  /** When no log is given: the list to redact from (default: the run's, runSecrets). */
  secrets?: SecretList;
  onCommand?: (e: CommandLogEntry) => void;
  /** Warnings meant for the user (host key checking off …). */
  onWarning?: (host: string, msg: string) => void;
  /** Hosts already warned about under hostKeyPolicy off (shared by a pool so the warning shows once). */
  warnedHosts?: Set<string>;
  /** First retry delay; doubled each retry, with jitter. Default 500 ms. */
  retryBaseMs?: number;
  /** Upper bound of one retry delay. Default 5 s. */
  retryMaxMs?: number;
  /** Concurrent exec channels on the connection (OpenSSH's MaxSessions is 10). Default 8. */
  maxChannels?: number;
  /** Supplies a connected client for target.bastion (a pool shares one per bastion). */
  bastion?: (bastion: SshTarget) => Promise<Client>;
  /** Called before each connection attempt (1-based); for progress and tests. */
  onConnectAttempt?: (attempt: number) => void;
  /** Replaces the known_hosts check (default verifyHostKey); a rejection refuses the key before any
   *  credential is sent. The wizard uses it to show an unknown key to a person first. */
  verifyHostKey?: (req: VerifyRequest) => Promise<unknown>;
  /**
   * The run's interrupt signal. Once it is aborted, a command still running gets interruptGraceMs to
   * finish and is then cut off (its process group killed on the host); a command started after it gets
   * at most that long. Commands run with { afterInterrupt: true } are exempt (releasing the lock).
   */
  signal?: AbortSignal;
  /** See signal. Default 5 s. */
  interruptGraceMs?: number;
}

export const DEFAULT_INTERRUPT_GRACE_MS = 5000;
/** How long a connection that failed on the network is retried when the target does not say (SshTarget.retryBudgetMs). */
export const DEFAULT_RETRY_BUDGET_MS = 20_000;
/** A retry needs at least this long (or the whole connect timeout, if shorter) to be worth making. */
const MIN_ATTEMPT_MS = 1000;

/** What the process-group wrapper prints first on stdout (and the runner strips): the group's id. */
const PGID_LINE = /^\x1ekubesmith-pgid (\d+)$/;

/**
 * Runs a command (POSIX sh) in its own session and process group on the host, so a timeout or an
 * interrupt can stop the command together with every child it started: `setsid -w` (util-linux) makes
 * the group and passes the exit status back, the wrapper prints the group id first on stdout and then runs
 * the command itself (`eval`, with no positional parameters left, as `sh -c` would give it: one program
 * start less per remote command than a second `sh -c`, issue 12). Without setsid the command runs as
 * before (only the channel is closed when it is stopped).
 */
export function inProcessGroup(command: string): string {
  const q = quote(command);
  return (
    `if command -v setsid >/dev/null 2>&1; then exec setsid -w sh -c 'printf "\\036kubesmith-pgid %s\\n" "$$"; eval "shift; $1"' kubesmith ${q}; ` +
    `else exec sh -c ${q}; fi`
  );
}

/** Stops a process group started by inProcessGroup: TERM, up to 1 s for it to go, then KILL. */
export function killGroupScript(pgid: number): string {
  const g = `-${Math.trunc(pgid)}`;
  return `kill -TERM ${g} 2>/dev/null || exit 0; i=0; while [ $i -lt 10 ] && kill -0 ${g} 2>/dev/null; do sleep 0.1; i=$((i+1)); done; kill -KILL ${g} 2>/dev/null; exit 0`;
}

interface ChannelOptions {
  /** The command was wrapped by inProcessGroup: read the group id from the first stdout line. */
  grouped?: boolean;
  /** How the command became root: the group is killed the same way. */
  sudo?: SudoMode;
  afterInterrupt?: boolean;
}

interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal?: string;
  durationMs: number;
}

type SudoMode = "none" | "nopasswd" | "password";

const SERVER_HOST_KEY_ALGOS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/** Host key algorithms with the types already known for the host first (as OpenSSH orders them). */
function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const first: string[] = [];
  for (const t of knownTypes) {
    if (t === "ssh-rsa") first.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
    else if (SERVER_HOST_KEY_ALGOS.includes(t)) first.push(t);
  }
  return [...new Set([...first, ...SERVER_HOST_KEY_ALGOS])];
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface SshErr extends Error {
  level?: string;
  code?: string | number;
}

/** Adds the target's credentials (and its bastion's) to the run's secrets, so every log entry and error redacts them. */
function addTargetSecrets(list: SecretList, t: SshTarget): void {
  list.add(t.auth.password, t.auth.passphrase, t.sudo.password, ...(t.logSecrets ?? []));
  if (t.bastion) addTargetSecrets(list, t.bastion);
}

export class SshRunner implements Runner {
  readonly host: string;
  readonly target: SshTarget;
  private readonly opts: SshRunnerOptions;
  private readonly log: HostLog;
  private readonly channels: ReturnType<typeof pLimit>;
  private client?: Client;
  private connecting?: Promise<Client>;
  private sftpP?: Promise<SFTPWrapper>;
  private sudoP?: Promise<SudoMode>;
  private ownBastion?: SshRunner;
  private closed = false;
  /** The last time the established connection dropped under a command: named when reconnecting fails. */
  private lastDrop?: { label: string; at: number };
  private readonly graceMs: number;

  constructor(target: SshTarget, opts: SshRunnerOptions = {}) {
    this.host = target.name;
    this.target = target;
    this.opts = opts;
    this.log =
      opts.log ??
      new HostLog({
        host: target.name,
        ...(opts.secrets ? { secrets: opts.secrets } : {}),
        ...(opts.logDir ? { logDir: opts.logDir } : {}),
        ...(opts.onCommand ? { onCommand: opts.onCommand } : {}),
      });
    addTargetSecrets(this.log.secrets, target);
    this.channels = pLimit(Math.max(1, opts.maxChannels ?? 8));
    this.graceMs = opts.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * A TCP stream to host:port opened from this host (SSH direct-tcpip), e.g. to reach an API server that
   * is not routable from here.
   */
  async forward(host: string, port: number): Promise<Duplex> {
    const client = await this.connect();
    return new Promise((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, host, port, (err, stream) => {
        if (err) reject(new UnreachableError(this.host, `cannot open a tunnel to ${host}:${port}: ${err.message}`, { cause: err }));
        else resolve(stream);
      });
    });
  }

  /** Connect (once; concurrent callers share the pending attempt). Retries network errors only. */
  connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new UnreachableError(this.host, "connection already closed"));
    if (!this.connecting) {
      this.connecting = this.connectWithRetries().then(
        (c) => {
          this.connecting = undefined;
          return c;
        },
        (e: unknown) => {
          this.connecting = undefined;
          throw e;
        },
      );
    }
    return this.connecting;
  }

  /**
   * The first attempt gets the connect timeout; a network failure (refused, timed out, reset) is then
   * retried with backoff (retryBaseMs doubling, at most retryMaxMs, with jitter) for as long as the
   * target's retry budget lasts, counted from the end of the first attempt; no attempt runs past it.
   * So an unreachable host is reported within connectTimeout + retryBudget. Auth and host-key failures
   * are never retried.
   */
  private async connectWithRetries(): Promise<Client> {
    const t = this.target;
    const base = this.opts.retryBaseMs ?? 500;
    const max = this.opts.retryMaxMs ?? 5000;
    const budget = Math.max(0, t.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS);
    const maxAttempts = t.connectRetries === undefined ? Number.POSITIVE_INFINITY : Math.max(0, t.connectRetries) + 1;
    const start = performance.now();
    let deadline: number | undefined;
    let timeoutMs = t.connectTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.opts.onConnectAttempt?.(attempt);
      try {
        const c = await this.connectOnce(timeoutMs);
        if (this.closed) {
          c.end();
          throw new UnreachableError(this.host, "connection closed while connecting");
        }
        return c;
      } catch (e) {
        const now = performance.now();
        deadline ??= now + budget;
        let delay = 0;
        let retry = e instanceof UnreachableError && attempt < maxAttempts && !this.closed && !this.opts.signal?.aborted;
        if (retry) {
          const d = Math.min(max, base * 2 ** (attempt - 1));
          delay = d / 2 + Math.random() * (d / 2);
          const left = deadline - now - delay;
          if (left < Math.min(t.connectTimeoutMs, MIN_ATTEMPT_MS)) retry = false;
          else timeoutMs = Math.min(t.connectTimeoutMs, Math.round(left));
        }
        if (!retry) {
          if (!(e instanceof UnreachableError)) throw e;
          const notes: string[] = [];
          if (attempt > 1) notes.push(`${attempt} attempts over ${formatMs(Math.round(now - start))}`);
          if (this.lastDrop) {
            notes.push(`the connection had dropped during '${this.lastDrop.label}' ${formatMs(Math.round(now - this.lastDrop.at))} before`);
          }
          if (notes.length === 0) throw e;
          throw new UnreachableError(this.host, `${stripHost(this.host, e.message)} (${notes.join("; ")})`, {
            ...(e.hint ? { hint: e.hint } : {}),
            cause: e,
          });
        }
        await sleep(delay);
      }
    }
  }

  private async bastionClient(b: SshTarget): Promise<Client> {
    if (this.opts.bastion) return this.opts.bastion(b);
    if (!this.ownBastion) {
      const { bastion: _ignored, ...rest } = this.opts;
      this.ownBastion = new SshRunner(b, { ...rest, log: this.log });
    }
    return this.ownBastion.connect();
  }

  private async authMethods(): Promise<{ methods: AnyAuthMethod[]; tried: string[] }> {
    const t = this.target;
    const methods: AnyAuthMethod[] = [];
    const tried: string[] = [];
    if (t.auth.privateKeyPath) {
      const path = t.auth.privateKeyPath;
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new IdentityFileError(
          this.host,
          code === "ENOENT" ? `identity file ${path} does not exist` : `cannot read identity file ${path}: ${(e as Error).message}`,
          { hint: "fix identityFile in the inventory" },
        );
      }
      const parsed = utils.parseKey(data, t.auth.passphrase);
      if (parsed instanceof Error) {
        const encrypted = /passphrase|decrypt|encrypted/i.test(parsed.message);
        throw new IdentityFileError(
          this.host,
          encrypted
            ? `cannot decrypt identity file ${path}: ${t.auth.passphrase ? "wrong passphrase" : "it needs a passphrase"}`
            : `cannot parse identity file ${path}: ${parsed.message}`,
          { hint: encrypted ? "set ssh.passphrase to ${ENV_VAR} holding the key's passphrase" : "use an OpenSSH or PEM private key" },
        );
      }
      const key = (Array.isArray(parsed) ? parsed[0] : parsed) as ParsedKey;
      methods.push({ type: "publickey", username: t.user, key });
      tried.push(`key ${path}`);
    }
    if (t.auth.agent) {
      methods.push({ type: "agent", username: t.user, agent: t.auth.agent });
      tried.push(`agent ${t.auth.agent}`);
    }
    if (t.auth.password !== undefined) {
      methods.push({ type: "password", username: t.user, password: t.auth.password });
      tried.push("password");
    }
    if (methods.length === 0) {
      throw new AuthError(this.host, "no authentication method configured", {
        hint: "set ssh.identityFile, ssh.agent or ssh.password in the inventory",
      });
    }
    return { methods, tried };
  }

  /** One connection attempt, given up after timeoutMs (TCP connect, SSH handshake, authentication). */
  private async connectOnce(timeoutMs: number): Promise<Client> {
    const t = this.target;
    const { methods, tried } = await this.authMethods();
    const knownTypes = await knownKeyTypes(t.knownHostsFile, t.address, t.port).catch(() => []);
    const via = t.bastion ? ` via bastion ${t.bastion.address}` : "";
    const endpoint = `${t.address}:${t.port}${via}`;

    let sock: net.Socket | ClientChannel;
    let tcpConnected = false;
    if (t.bastion) {
      const b = await this.bastionClient(t.bastion);
      sock = await new Promise<ClientChannel>((resolve, reject) => {
        b.forwardOut("127.0.0.1", 0, t.address, t.port, (err, stream) => {
          if (err) {
            reject(
              new UnreachableError(this.host, `bastion ${t.bastion?.address} cannot open a connection to ${t.address}:${t.port}: ${err.message}`, {
                hint: "check the address and that the bastion may forward TCP (AllowTcpForwarding)",
              }),
            );
          } else resolve(stream);
        });
      });
      tcpConnected = true;
    } else {
      const s = net.connect({ host: t.address, port: t.port, noDelay: true });
      s.once("connect", () => {
        tcpConnected = true;
      });
      sock = s;
    }

    const client = new Client();
    let hostKeyError: unknown;
    const notes: string[] = [];
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        client.removeAllListeners("ready");
        client.on("error", () => undefined);
        client.end();
        if ("destroy" in sock && typeof sock.destroy === "function") sock.destroy();
        reject(e);
      };
      // ssh2's readyTimeout covers TCP connect + handshake + auth; this guard catches anything left.
      const guard = setTimeout(
        () => fail(new UnreachableError(this.host, `no SSH session with ${endpoint} within ${formatMs(timeoutMs)}`)),
        timeoutMs + 1000,
      );
      client.on("error", (err: SshErr) => {
        if (settled) return;
        if (err.level === "agent" || (err.level === "client-authentication" && !/All configured authentication/.test(err.message))) {
          notes.push(err.message); // ssh2 goes on with the next method
          return;
        }
        if (hostKeyError) return fail(hostKeyError);
        fail(this.mapConnectError(err, endpoint, tcpConnected, tried, notes, timeoutMs));
      });
      client.on("close", () => {
        if (!settled) fail(hostKeyError ?? new UnreachableError(this.host, `connection to ${endpoint} closed during the SSH handshake`));
      });
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        this.adopt(client);
        resolve(client);
      });
      const cfg: ConnectConfig = {
        sock: sock as ConnectConfig["sock"],
        username: t.user,
        readyTimeout: timeoutMs,
        keepaliveInterval: t.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        authHandler: methods,
        algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] },
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          (this.opts.verifyHostKey ?? verifyHostKey)({
            name: this.host,
            host: t.address,
            port: t.port,
            key,
            policy: t.hostKeyPolicy,
            knownHostsFile: t.knownHostsFile,
            ...(t.inventoryFile ? { inventoryFile: t.inventoryFile } : {}),
            ...(this.opts.onWarning ? { onWarning: this.opts.onWarning } : {}),
            ...(this.opts.warnedHosts ? { warned: this.opts.warnedHosts } : {}),
          }).then(
            () => verify(true),
            (e: unknown) => {
              hostKeyError =
                e instanceof KubesmithError ? e : new HostKeyError(this.host, `cannot verify the host key: ${(e as Error).message}`);
              verify(false);
            },
          );
        },
      };
      try {
        client.connect(cfg);
      } catch (e) {
        fail(new AuthError(this.host, `cannot start SSH: ${(e as Error).message}`));
      }
    });
  }

  private mapConnectError(err: SshErr, endpoint: string, tcpConnected: boolean, tried: string[], notes: string[], timeoutMs: number): KubesmithError {
    const t = this.target;
    if (err.level === "client-authentication") {
      return new AuthError(this.host, `authentication as ${t.user} on ${endpoint} failed (tried ${tried.join(", ")})`, {
        hint:
          `check the user, that the key is in ~${t.user}/.ssh/authorized_keys, and the password` +
          (notes.length ? `; ${notes.join("; ")}` : ""),
      });
    }
    const hint = { hint: "check the address and port, and that sshd is running and reachable" };
    switch (err.code) {
      case "ECONNREFUSED":
        return new UnreachableError(this.host, `connection refused by ${endpoint}`, hint);
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return new UnreachableError(this.host, `no route to ${endpoint}`, hint);
      case "ETIMEDOUT":
        return new UnreachableError(this.host, `connection to ${endpoint} timed out`, hint);
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return new UnreachableError(this.host, `cannot resolve ${t.address}`, { hint: "check the address in the inventory" });
      case "ECONNRESET":
        return new UnreachableError(this.host, `connection reset by ${endpoint} during the SSH handshake`, hint);
    }
    if (/Connection lost before handshake/i.test(err.message)) {
      return new UnreachableError(this.host, `${endpoint} closed the connection before the SSH handshake`, hint);
    }
    if (err.level === "client-timeout") {
      return new UnreachableError(
        this.host,
        tcpConnected
          ? `${endpoint} accepted the TCP connection but completed no SSH handshake within ${formatMs(timeoutMs)}`
          : `TCP connection to ${endpoint} timed out after ${formatMs(timeoutMs)}`,
        hint,
      );
    }
    return new UnreachableError(this.host, `SSH handshake with ${endpoint} failed: ${err.message}`, hint);
  }

  /** Watch an established connection: when it drops, the next command reconnects. */
  private adopt(client: Client): void {
    this.client = client;
    // Every running command listens for the connection going away (up to maxChannels, plus stops).
    client.setMaxListeners(0);
    const drop = () => {
      if (this.client === client) {
        this.client = undefined;
        this.sftpP = undefined;
      }
    };
    client.on("error", (err: SshErr) => {
      if (err.message) this.opts.onWarning?.(this.host, `SSH connection lost: ${err.message}`);
      drop();
    });
    client.on("close", drop);
    client.on("end", drop);
  }

  // ---------------------------------------------------------------- exec

  /**
   * Run a command on an exec channel; collects raw output; handles the timeout. Listeners are attached
   * inside ssh2's exec callback, synchronously: the exit status can arrive in the same packet batch as
   * the channel confirmation, and an 'exit' event emitted before we listen would be lost.
   */
  private runRaw(command: string, stdin: Buffer | undefined, timeoutMs: number, label: string, o: ChannelOptions = {}): Promise<RawResult> {
    return this.channels(async () => this.channel(await this.connect(), command, stdin, timeoutMs, label, o));
  }

  private channel(client: Client, command: string, stdin: Buffer | undefined, timeoutMs: number, label: string, o: ChannelOptions): Promise<RawResult> {
    const start = performance.now();
    return new Promise<RawResult>((resolve, reject) => {
      // Why the connection went away while this command ran ("" when it just closed), and what to do then.
      let lost: string | undefined;
      let onLost: (() => void) | undefined;
      const onClientError = (e: SshErr) => {
        lost ??= lossReason(e);
      };
      const onClientGone = () => {
        lost ??= "";
        onLost?.();
      };
      client.on("error", onClientError);
      client.on("end", onClientGone);
      client.on("close", onClientGone);
      const unwatch = () => {
        client.off("error", onClientError);
        client.off("end", onClientGone);
        client.off("close", onClientGone);
      };
      client.exec(command, (openErr, stream) => {
        if (openErr) {
          unwatch();
          reject(
            lost !== undefined
              ? this.dropped(label, performance.now() - start, lost)
              : new UnreachableError(this.host, `cannot open an SSH channel: ${openErr.message}`),
          );
          return;
        }
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        let done = false;
        let pgid: number | undefined;
        // The first stdout line of a grouped command, until it is read.
        let head: Buffer | undefined = o.grouped ? Buffer.alloc(0) : undefined;
        let timer: NodeJS.Timeout | undefined;
        let graceTimer: NodeJS.Timeout | undefined;
        const abortSignal = o.afterInterrupt ? undefined : this.opts.signal;
        const settle = () => {
          done = true;
          if (timer) clearTimeout(timer);
          if (graceTimer) clearTimeout(graceTimer);
          abortSignal?.removeEventListener("abort", onAbort);
          unwatch();
        };
        /** Stop the command: its whole process group on the host, then the channel. */
        const stop = (e: KubesmithError) => {
          if (done) return;
          settle();
          const killed = pgid !== undefined ? this.killGroup(client, pgid, o.sudo ?? "none") : Promise.resolve();
          void killed.then(() => {
            sendSignal(stream, "KILL");
            stream.close();
            reject(e);
          });
        };
        function onAbort(this: void): void {
          arm();
        }
        const arm = () => {
          if (done || graceTimer) return;
          graceTimer = setTimeout(
            () => stop(new InterruptedError(`${this.host}: '${label}' was cut off ${formatMs(this.graceMs)} after the run was interrupted`)),
            this.graceMs,
          );
        };
        if (timeoutMs > 0) {
          timer = setTimeout(
            () =>
              stop(
                new TimeoutError(this.host, `'${label}' did not finish within ${formatMs(timeoutMs)}; it was stopped`, {
                  hint: "raise ssh.commandTimeout, or look at the host's log",
                }),
              ),
            timeoutMs,
          );
        }
        if (abortSignal?.aborted) arm();
        else abortSignal?.addEventListener("abort", onAbort, { once: true });
        stream.on("data", (d: Buffer) => {
          if (head === undefined) {
            out.push(d);
            return;
          }
          head = Buffer.concat([head, d]);
          const nl = head.indexOf(10);
          if (nl < 0 && head.length < 64) return;
          const m = nl >= 0 ? PGID_LINE.exec(head.subarray(0, nl).toString("latin1")) : null;
          if (m) {
            pgid = Number(m[1]);
            if (head.length > nl + 1) out.push(head.subarray(nl + 1));
          } else out.push(head);
          head = undefined;
        });
        stream.stderr.on("data", (d: Buffer) => err.push(d));
        stream.on("exit", (c: number | null, sig?: string) => {
          if (typeof c === "number") code = c;
          else if (sig) signal = sig;
        });
        stream.on("close", () => {
          if (done) return;
          if (head?.length) out.push(head);
          head = undefined;
          const finish = () => {
            if (done) return;
            settle();
            if (code === null && signal === undefined && (lost !== undefined || this.client !== client)) {
              reject(this.dropped(label, performance.now() - start, lost ?? ""));
              return;
            }
            const r: RawResult = { stdout: Buffer.concat(out), stderr: Buffer.concat(err), code, durationMs: performance.now() - start };
            if (signal) r.signal = signal;
            resolve(r);
          };
          if (code === null && signal === undefined && lost === undefined && this.client === client) {
            // Closed without an exit status while the connection is still up: sshd does that when it
            // loses the session (the host is shutting down). Give the connection a moment to go too.
            onLost = finish;
            setTimeout(finish, 1000).unref();
          } else finish();
        });
        stream.on("error", () => undefined);
        if (stdin !== undefined && stdin.length > 0) stream.end(stdin);
        else stream.end();
      });
    });
  }

  /** The connection went away under a running command: say so, with the step, and remember it. */
  private dropped(label: string, ms: number, reason: string): ConnectionDroppedError {
    this.lastDrop = { label, at: performance.now() };
    return new ConnectionDroppedError(
      this.host,
      `the SSH connection dropped during '${label}' (after ${formatMs(Math.round(ms))}${reason ? `; ${reason}` : ""})`,
      { hint: "the host may have rebooted, lost its network or restarted sshd; check it, then run again" },
    );
  }

  /**
   * Kill a command's process group on the host, on a channel of its own (outside the channel limit: the
   * stopped command still holds its slot). As root when the command ran as root. Never throws.
   */
  private async killGroup(client: Client, pgid: number, mode: SudoMode): Promise<void> {
    const script = killGroupScript(pgid);
    let command = script;
    let stdin: Buffer | undefined;
    if (mode === "nopasswd") command = `sudo -n -- sh -c ${quote(script)}`;
    else if (mode === "password") {
      command = `sudo -S -k -p '' -- sh -c ${quote(script)}`;
      stdin = Buffer.from(`${this.target.sudo.password ?? ""}\n`);
    }
    try {
      await this.channel(client, command, stdin, 10_000, "stop the process group", { afterInterrupt: true });
    } catch {
      // the connection is gone: nothing more can be done from here
    }
  }

  /** How sudo works on this host: decided once per runner by `sudo -k -n true`. */
  private sudoMode(): Promise<SudoMode> {
    const t = this.target;
    if (t.user === "root" || !t.sudo.enabled) return Promise.resolve("none");
    if (!this.sudoP) {
      this.sudoP = (async () => {
        const r = await this.runRaw("sudo -k -n true", undefined, t.commandTimeoutMs, "sudo -n true");
        if (r.code === 0) return "nopasswd";
        if (r.code === 127) throw new AuthError(this.host, `sudo is not installed, and ${t.user} is not root`, { hint: "install sudo or log in as root" });
        if (t.sudo.password !== undefined) return "password";
        const why = r.stderr.toString("utf8").trim().split("\n").pop() ?? "";
        throw new AuthError(this.host, `sudo needs a password for ${t.user}${why ? ` (${why})` : ""}`, {
          hint: "allow passwordless sudo, or set sudo: { password: ${ENV_VAR} } in the inventory",
        });
      })();
      this.sudoP.catch(() => {
        this.sudoP = undefined;
      });
    }
    return this.sudoP;
  }

  /** Wrap a command in its own process group and for sudo; the password, if any, goes first on stdin. */
  private async wrap(command: string, opts: ExecOptions): Promise<{ command: string; stdin?: Buffer; mode: SudoMode }> {
    const input = opts.stdin === undefined ? undefined : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin);
    const mode = opts.sudo ? await this.sudoMode() : "none";
    const grouped = inProcessGroup(command);
    if (mode === "none") return input ? { command: grouped, stdin: input, mode } : { command: grouped, mode };
    if (mode === "nopasswd") {
      const w = { command: `sudo -n -- sh -c ${quote(grouped)}`, mode };
      return input ? { ...w, stdin: input } : w;
    }
    const pw = Buffer.from(`${this.target.sudo.password ?? ""}\n`);
    return {
      command: `sudo -S -k -p '' -- sh -c ${quote(grouped)}`,
      stdin: input ? Buffer.concat([pw, input]) : pw,
      mode,
    };
  }

  private async execRaw(command: string, opts: ExecOptions = {}): Promise<RawResult & { label: string }> {
    const label = opts.label ?? command;
    const startedAt = new Date();
    const t0 = performance.now();
    const secrets = opts.secrets ?? [];
    let r: RawResult;
    try {
      const w = await this.wrap(command, opts);
      r = await this.runRaw(w.command, w.stdin, opts.timeoutMs ?? this.target.commandTimeoutMs * Math.max(1, opts.timeoutCommands ?? 1), label, {
        grouped: true,
        sudo: w.mode,
        ...(opts.afterInterrupt ? { afterInterrupt: true } : {}),
      });
      if (w.mode === "password" && r.code !== 0) {
        const e = r.stderr.toString("utf8");
        if (/incorrect password attempt|Sorry, try again/i.test(e) && r.code === 1) {
          throw new AuthError(this.host, `sudo rejected the password for ${this.target.user}`, {
            hint: "check sudo.password (its environment variable) in the inventory",
          });
        }
      }
    } catch (e) {
      this.log.record({
        startedAt,
        durationMs: performance.now() - t0,
        ...(opts.label !== undefined ? { label: opts.label } : {}),
        command,
        code: null,
        error: e instanceof KubesmithError ? e.oneLine() : String(e),
        secrets,
      });
      throw e;
    }
    this.log.record({
      startedAt,
      durationMs: r.durationMs,
      ...(opts.label !== undefined ? { label: opts.label } : {}),
      command,
      code: r.code,
      stdout: hideSecretStdout(r.stdout.toString("utf8"), opts.secretStdoutAfter),
      stderr: r.stderr.toString("utf8"),
      ...(r.signal ? { error: `killed by signal ${r.signal}` } : {}),
      ...(opts.allowFailure ? { check: true } : {}),
      secrets,
    });
    if (r.code !== 0 && !opts.allowFailure) {
      throw new CommandError(
        this.host,
        this.log.redact(command, secrets),
        r.code,
        this.log.redact(r.stderr.toString("utf8"), secrets),
        opts.label !== undefined ? `'${this.log.redact(opts.label, secrets)}'` : undefined,
      );
    }
    return { ...r, label };
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.execRaw(command, opts);
    return {
      stdout: r.stdout.toString("utf8"),
      stderr: r.stderr.toString("utf8"),
      code: r.code,
      durationMs: Math.round(r.durationMs * 10) / 10,
    };
  }

  // ---------------------------------------------------------------- files

  private sftp(): Promise<SFTPWrapper> {
    if (!this.sftpP) {
      this.sftpP = this.channels(async () => {
        const client = await this.connect();
        return new Promise<SFTPWrapper>((resolve, reject) => {
          client.sftp((err, s) => {
            if (err) reject(new TransferError(this.host, `cannot start SFTP: ${err.message}`, { hint: "enable the sftp subsystem in sshd_config" }));
            else {
              s.on("close", () => {
                this.sftpP = undefined;
              });
              resolve(s);
            }
          });
        });
      });
      this.sftpP.catch(() => {
        this.sftpP = undefined;
      });
    }
    return this.sftpP;
  }

  private transferError(what: string, e: unknown): KubesmithError {
    if (e instanceof KubesmithError) return e;
    return new TransferError(this.host, `${what}: ${(e as Error).message}`);
  }

  private async logged<T>(command: string, label: string, fn: () => Promise<T>): Promise<T> {
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const v = await fn();
      this.log.record({ startedAt, durationMs: performance.now() - t0, label, command, code: 0 });
      return v;
    } catch (e) {
      this.log.record({
        startedAt,
        durationMs: performance.now() - t0,
        label,
        command,
        code: null,
        error: e instanceof KubesmithError ? e.oneLine() : String(e),
      });
      throw e;
    }
  }

  async upload(remotePath: string, content: string | Buffer, opts: UploadOptions = {}): Promise<void> {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const mode = opts.mode ?? 0o644;
    const modeStr = mode.toString(8).padStart(4, "0");
    const dir = posix.dirname(remotePath);
    const base = posix.basename(remotePath);
    const rand = randomBytes(6).toString("hex");
    const tmp = posix.join(dir, `.${base}.kubesmith-${rand}`);
    const viaSudo = opts.sudo === true && (await this.sudoMode()) !== "none";
    const desc = `upload ${remotePath} (${data.length} bytes, mode ${modeStr}${opts.owner ? `, owner ${opts.owner}` : ""}${viaSudo ? ", sudo" : ""})`;

    await this.logged(desc, `upload ${remotePath}`, async () => {
      const sftp = await this.sftp();
      if (viaSudo) {
        // Private temp file in /tmp, then root installs it next to the target and renames it into place.
        const stage = `/tmp/.kubesmith-${rand}`;
        await this.sftpWrite(sftp, stage, data, 0o600).catch((e) => {
          throw this.transferError(`cannot write ${stage}`, e);
        });
        const [user, group] = (opts.owner ?? "").split(":");
        const own = [user ? `-o ${quote(user)}` : "", group ? `-g ${quote(group)}` : ""].filter(Boolean).join(" ");
        const script =
          `install -m ${modeStr}${own ? ` ${own}` : ""} ${quote(stage)} ${quote(tmp)} && mv -f ${quote(tmp)} ${quote(remotePath)}` +
          ` || { rc=$?; rm -f ${quote(tmp)}; exit $rc; }`;
        try {
          await this.execRaw(script, { sudo: true, label: `install ${remotePath}` });
        } finally {
          await this.sftpCall<void>((cb) => sftp.unlink(stage, cb)).catch(() => undefined);
        }
        return;
      }
      try {
        await this.sftpWrite(sftp, tmp, data, mode);
        if (opts.owner) {
          await this.execRaw(`chown ${quote(opts.owner)} ${quote(tmp)}`, { sudo: true, label: `chown ${remotePath}` });
        }
        await this.sftpRename(sftp, tmp, remotePath);
      } catch (e) {
        await this.sftpCall<void>((cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
        throw this.transferError(`cannot upload ${remotePath}`, e);
      }
    });
  }

  private sftpCall<T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      fn((err, v) => (err ? reject(err) : resolve(v as T)));
    });
  }

  private async sftpWrite(sftp: SFTPWrapper, path: string, data: Buffer, mode: number): Promise<void> {
    const handle = await this.sftpCall<Buffer>((cb) => sftp.open(path, "w", { mode }, cb));
    try {
      let off = 0;
      const chunk = 32 * 1024;
      do {
        const n = Math.min(chunk, data.length - off);
        await this.sftpCall<void>((cb) => sftp.write(handle, data, off, n, off, cb));
        off += n;
      } while (off < data.length);
      // The server's umask applied at open; set the exact mode before the file gets its real name.
      await this.sftpCall<void>((cb) => sftp.fchmod(handle, mode, cb));
    } finally {
      await this.sftpCall<void>((cb) => sftp.close(handle, cb));
    }
  }

  /** Rename over an existing file: atomic posix-rename@openssh.com when offered, else rename (after unlink). */
  private async sftpRename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    let posixRename = true;
    try {
      await this.sftpCall<void>((cb) => sftp.ext_openssh_rename(from, to, cb));
      return;
    } catch (e) {
      if (!/does not support/.test((e as Error).message)) throw e;
      posixRename = false;
    }
    if (!posixRename) {
      try {
        await this.sftpCall<void>((cb) => sftp.rename(from, to, cb));
      } catch {
        // Plain SFTP rename refuses to overwrite: remove the old file, then rename.
        await this.sftpCall<void>((cb) => sftp.unlink(to, cb)).catch(() => undefined);
        await this.sftpCall<void>((cb) => sftp.rename(from, to, cb));
      }
    }
  }

  async download(remotePath: string, opts: { sudo?: boolean } = {}): Promise<Buffer> {
    if (opts.sudo && (await this.sudoMode()) !== "none") {
      // a file's contents are not the log's (admin.conf holds a client key): only their size is logged, as over SFTP
      const r = await this.execRaw(`cat -- ${quote(remotePath)}`, { sudo: true, label: `download ${remotePath}`, secretStdoutAfter: "" });
      return r.stdout;
    }
    return this.logged(`download ${remotePath}`, `download ${remotePath}`, async () => {
      const sftp = await this.sftp();
      try {
        return await this.sftpCall<Buffer>((cb) => sftp.readFile(remotePath, cb));
      } catch (e) {
        throw this.transferError(`cannot download ${remotePath}`, e);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    this.sftpP = undefined;
    if (c) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          c.destroy();
          resolve();
        }, 1000);
        c.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        c.end();
      });
    }
    if (this.ownBastion) await this.ownBastion.close();
  }
}

/**
 * Send a signal on an exec channel. ssh2's Channel.signal() refuses once our side sent EOF (we always
 * close stdin right away so commands see end of input), yet a signal request is still valid then
 * (RFC 4254 only forbids data after EOF), so this goes to the protocol layer of ssh2 1.x directly.
 */
function sendSignal(stream: ClientChannel, name: string): void {
  const ch = stream as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, sig: string): void } };
  };
  try {
    const state = ch.outgoing?.state;
    if (ch.outgoing && (state === "open" || state === "eof")) ch._client?._protocol?.signal(ch.outgoing.id, name);
    else stream.signal(name);
  } catch {
    // not every server takes signals; closing the channel is what counts
  }
}

/** What a client error says about a lost connection, in a few words. */
function lossReason(e: SshErr): string {
  if (e.code === "ECONNRESET") return "connection reset";
  if (e.code === "EPIPE") return "broken pipe";
  if (e.code === "ETIMEDOUT") return "the network timed out";
  if (e.level === "client-timeout" || /keepalive/i.test(e.message)) return "the host stopped answering keepalives";
  return e.message;
}

function stripHost(host: string, msg: string): string {
  return msg.startsWith(`${host}: `) ? msg.slice(host.length + 2) : msg;
}

/** stdout as logged: from the secret marker line on (ExecOptions.secretStdoutAfter) only its size. */
export function hideSecretStdout(stdout: string, marker: string | undefined): string {
  if (marker === undefined) return stdout;
  if (marker === "") return stdout ? `[${stdout.length} bytes not logged]\n` : "";
  const at = stdout.indexOf(`${marker}\n`);
  if (at < 0) return stdout;
  const rest = stdout.length - at - marker.length - 1;
  return `${stdout.slice(0, at + marker.length + 1)}[${rest} bytes not logged]\n`;
}
