// Build SshTargets from an inventory: the inventory's ssh: defaults merged with each host's own
// settings, paths resolved, defaults filled in.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { Bastion, HostSpec, Inventory, SshDefaults } from "../inventory/schema.js";
import { connectOverrides } from "./overrides.js";
import { proxySecrets } from "../scripts/proxy.js";
import type { HostKeyPolicy, SshAuth, SshTarget } from "./types.js";

export const SSH_DEFAULTS = {
  user: "root",
  port: 22,
  hostKeyPolicy: "accept-new" as HostKeyPolicy,
  knownHostsFile: "~/.kubesmith/known_hosts",
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 10 * 60_000,
  keepaliveIntervalMs: 15_000,
  retryBudgetMs: 20_000,
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse a Go-style duration ("500ms", "30s", "5m", "1m30s", "2h") to milliseconds. */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) {
    throw new Error(`invalid duration '${s}': use a duration like 500ms, 30s, 5m or 1m30s`);
  }
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return Math.round(total);
}

/** Expand a leading ~ and resolve a relative path against baseDir. */
export function resolvePath(p: string, baseDir: string): string {
  let out = p;
  if (out === "~") out = homedir();
  else if (out.startsWith("~/")) out = join(homedir(), out.slice(2));
  return isAbsolute(out) ? out : resolve(baseDir, out);
}

export interface TargetOptions {
  knownHostsFile?: string;
  hostKeyPolicy?: HostKeyPolicy;
  /** Directory of the inventory file; relative paths in it are resolved against this. */
  baseDir?: string;
  /** The inventory file itself (hints name it: `kubesmith hostkeys forget -i FILE`). */
  inventoryFile?: string;
  /** Environment used for SSH_AUTH_SOCK (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Override every host's connect timeout (--connect-timeout); default: the command line's, if any. */
  connectTimeoutMs?: number;
  /** Override every host's retry budget (--retry-budget); default: the command line's, if any. */
  retryBudgetMs?: number;
}

/** Seconds (a number) or a duration string, as the inventory allows for connectTimeout and retryBudget. */
function secondsMs(v: number | string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  return typeof v === "number" ? Math.round(v * 1000) : parseDuration(v);
}

type AuthFields = Pick<SshDefaults, "identityFile" | "passphrase" | "agent" | "password">;

function pick<T>(...vals: (T | undefined)[]): T | undefined {
  for (const v of vals) if (v !== undefined) return v;
  return undefined;
}

function buildAuth(f: AuthFields, baseDir: string, env: NodeJS.ProcessEnv): SshAuth {
  const auth: SshAuth = {};
  if (f.identityFile) auth.privateKeyPath = resolvePath(f.identityFile, baseDir);
  if (f.passphrase !== undefined) auth.passphrase = f.passphrase;
  if (f.agent === true) {
    if (env.SSH_AUTH_SOCK) auth.agent = env.SSH_AUTH_SOCK;
  } else if (typeof f.agent === "string") {
    auth.agent = resolvePath(f.agent, baseDir);
  }
  if (f.password !== undefined) auth.password = f.password;
  if (!auth.privateKeyPath && !auth.agent && auth.password === undefined && f.agent !== false) {
    // Nothing configured: what `ssh` would try by itself.
    if (env.SSH_AUTH_SOCK) auth.agent = env.SSH_AUTH_SOCK;
    else {
      for (const k of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
        const p = join(homedir(), ".ssh", k);
        if (existsSync(p)) {
          auth.privateKeyPath = p;
          break;
        }
      }
    }
  }
  return auth;
}

/** Field-by-field merge: the first layer that sets a field wins (host, then inventory defaults). */
function authLayer(...layers: (AuthFields | undefined)[]): AuthFields {
  const out: AuthFields = {};
  const identityFile = pick(...layers.map((l) => l?.identityFile));
  const passphrase = pick(...layers.map((l) => l?.passphrase));
  const agent = pick(...layers.map((l) => l?.agent));
  const password = pick(...layers.map((l) => l?.password));
  if (identityFile !== undefined) out.identityFile = identityFile;
  if (passphrase !== undefined) out.passphrase = passphrase;
  if (agent !== undefined) out.agent = agent;
  if (password !== undefined) out.password = password;
  return out;
}

export function targetsFromInventory(inv: Inventory, opts: TargetOptions = {}): SshTarget[] {
  const baseDir = opts.baseDir ?? process.cwd();
  const env = opts.env ?? process.env;
  const d: SshDefaults = inv.ssh ?? {};
  const hostKeyPolicy = opts.hostKeyPolicy ?? d.hostKeyPolicy ?? SSH_DEFAULTS.hostKeyPolicy;
  const knownHostsFile = opts.knownHostsFile
    ? resolvePath(opts.knownHostsFile, process.cwd())
    : resolvePath(d.knownHostsFile ?? SSH_DEFAULTS.knownHostsFile, baseDir);

  // the proxy's credentials reach every host (in 0600 files): redact them from every host's log
  const logSecrets = inv.proxy ? proxySecrets(inv.proxy) : [];
  const cli = connectOverrides();
  const connectTimeoutOverride = opts.connectTimeoutMs ?? cli.connectTimeoutMs;
  const retryBudgetOverride = opts.retryBudgetMs ?? cli.retryBudgetMs;
  const common = (h: HostSpec["ssh"] | undefined) => {
    const retries = h?.connectRetries ?? d.connectRetries;
    return {
      hostKeyPolicy,
      knownHostsFile,
      ...(opts.inventoryFile ? { inventoryFile: opts.inventoryFile } : {}),
      connectTimeoutMs: connectTimeoutOverride ?? secondsMs(h?.connectTimeout ?? d.connectTimeout, SSH_DEFAULTS.connectTimeoutMs),
      commandTimeoutMs: parseDuration(h?.commandTimeout ?? d.commandTimeout ?? "10m"),
      keepaliveIntervalMs: parseDuration(h?.keepaliveInterval ?? d.keepaliveInterval ?? "15s"),
      retryBudgetMs: retryBudgetOverride ?? secondsMs(h?.retryBudget ?? d.retryBudget, SSH_DEFAULTS.retryBudgetMs),
      ...(retries !== undefined ? { connectRetries: retries } : {}),
    };
  };

  const bastionTarget = (b: Bastion, c: ReturnType<typeof common>): SshTarget => {
    const user = b.user ?? SSH_DEFAULTS.user;
    return {
      name: `bastion ${b.address}`,
      address: b.address,
      port: b.port ?? SSH_DEFAULTS.port,
      user,
      auth: buildAuth(authLayer(b, d), baseDir, env),
      sudo: { enabled: false },
      ...c,
    };
  };

  return inv.hosts.map((h): SshTarget => {
    const hs = h.ssh;
    const user = h.user ?? hs?.user ?? d.user ?? SSH_DEFAULTS.user;
    const port = h.port ?? hs?.port ?? d.port ?? SSH_DEFAULTS.port;
    const sudo: SshTarget["sudo"] =
      h.sudo === undefined
        ? { enabled: user !== "root" }
        : typeof h.sudo === "boolean"
          ? { enabled: h.sudo }
          : { enabled: true, password: h.sudo.password };
    const c = common(hs);
    const t: SshTarget = {
      name: h.name,
      address: h.address,
      port,
      user,
      auth: buildAuth(authLayer(hs, d), baseDir, env),
      sudo,
      ...c,
    };
    const b = hs?.bastion ?? d.bastion;
    if (b) t.bastion = bastionTarget(b, c);
    if (logSecrets.length) t.logSecrets = logSecrets;
    return t;
  });
}
