// SshPool: one SshRunner per host for the whole run, connected lazily and once, with a bound on how
// many hosts are worked on at the same time. Bastions are shared: every target behind the same jump
// host rides on one connection to it.
import pLimit from "p-limit";
import type { Client } from "ssh2";
import type { SecretList } from "../util/secrets.js";
import { SshRunner, type SshRunnerOptions } from "./connection.js";
import { defaultConcurrency } from "./limits.js";
import { HostLog } from "./log.js";
import type { CommandLogEntry, SshTarget } from "./types.js";

export interface SshPoolOptions {
  /** Hosts worked on at once (default: every host, up to what open files and memory allow: limits.ts). */
  concurrency?: number;
  /** Per-host log files <logDir>/<host>.log. */
  logDir?: string;
  /** The secrets every host's log and errors redact, one list for all hosts (default: the run's, runSecrets). */
  secrets?: SecretList;
  onCommand?: (e: CommandLogEntry) => void;
  onWarning?: (host: string, msg: string) => void;
  /** Passed to every runner (retry backoff, channels per connection …). */
  runner?: Pick<SshRunnerOptions, "retryBaseMs" | "retryMaxMs" | "maxChannels" | "onConnectAttempt" | "signal" | "interruptGraceMs">;
}

export class SshPool {
  private readonly opts: SshPoolOptions;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly runners = new Map<string, SshRunner>();
  private readonly bastions = new Map<string, SshRunner>();
  private readonly warned = new Set<string>();

  constructor(opts: SshPoolOptions = {}) {
    this.opts = opts;
    this.limit = pLimit(Math.max(1, opts.concurrency ?? defaultConcurrency().hosts));
  }

  private runnerOptions(logName: string): SshRunnerOptions {
    const o = this.opts;
    return {
      ...o.runner,
      log: new HostLog({
        host: logName,
        ...(o.secrets ? { secrets: o.secrets } : {}),
        ...(o.logDir ? { logDir: o.logDir } : {}),
        ...(o.onCommand ? { onCommand: o.onCommand } : {}),
      }),
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
      warnedHosts: this.warned,
      bastion: (b) => this.bastion(b),
    };
  }

  private bastion(b: SshTarget): Promise<Client> {
    const key = `${b.user}@${b.address}:${b.port}`;
    let r = this.bastions.get(key);
    if (!r) {
      r = new SshRunner(b, { ...this.runnerOptions(b.name), bastion: undefined });
      this.bastions.set(key, r);
    }
    return r.connect();
  }

  /** The runner for a target (created on first use; it connects on its first command). */
  runner(target: SshTarget): SshRunner {
    let r = this.runners.get(target.name);
    if (!r) {
      r = new SshRunner(target, this.runnerOptions(target.name));
      this.runners.set(target.name, r);
    }
    return r;
  }

  /** The runner for a target, connected. Concurrent callers share the same pending connection. */
  async connect(target: SshTarget): Promise<SshRunner> {
    const r = this.runner(target);
    await r.connect();
    return r;
  }

  /**
   * Run fn on every target, at most `concurrency` hosts at once. Never throws for a host's failure:
   * the result maps each host name to its settled outcome (connection errors included).
   */
  async forEachHost<T>(
    targets: readonly SshTarget[],
    fn: (runner: SshRunner, target: SshTarget) => Promise<T>,
  ): Promise<Map<string, PromiseSettledResult<T>>> {
    const settled = await Promise.allSettled(
      targets.map((t) => this.limit(async () => fn(await this.connect(t), t))),
    );
    const out = new Map<string, PromiseSettledResult<T>>();
    targets.forEach((t, i) => out.set(t.name, settled[i] as PromiseSettledResult<T>));
    return out;
  }

  /** Close every connection (targets first, then the bastions they ride on). Never throws. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.runners.values()].map((r) => r.close()));
    await Promise.allSettled([...this.bastions.values()].map((r) => r.close()));
    this.runners.clear();
    this.bastions.clear();
  }
}
