// Secrets kubesmith makes for a cluster and must find again on the next run: the VRRP password of the
// control-plane keepalived, and add-on values a bundle's schema marks writeOnly with no default (Grafana's
// admin password, the Traefik dashboard password, keepalived-edge's VRRP password). Kept in
// <stateDir>/<cluster>/secrets.json, mode 0600, never logged: every value read or made here is added to
// the run's secrets (util/secrets.ts), which every log, event and error is redacted from.
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSecrets } from "../util/secrets.js";

export interface ClusterSecrets {
  vrrpPass: string;
  /** bundle -> dotted value path -> generated value */
  addons?: Record<string, Record<string, string>>;
}

export function secretsFile(stateDir: string, cluster: string): string {
  return join(stateDir, cluster, "secrets.json");
}

function save(stateDir: string, cluster: string, s: ClusterSecrets): void {
  mkdirSync(join(stateDir, cluster), { recursive: true, mode: 0o700 });
  writeFileSync(secretsFile(stateDir, cluster), `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
}

export function readClusterSecrets(stateDir: string, cluster: string): ClusterSecrets | undefined {
  const file = secretsFile(stateDir, cluster);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ClusterSecrets) : undefined;
}

/** Reads the cluster's secrets, creating them when missing (unless create is false: then they are made up for this run only). */
export function loadClusterSecrets(stateDir: string, cluster: string, opts: { create: boolean }): ClusterSecrets {
  const existing = readClusterSecrets(stateDir, cluster);
  if (existing) {
    runSecrets.add(existing.vrrpPass, ...Object.values(existing.addons ?? {}).flatMap((v) => Object.values(v)));
    return existing;
  }
  // keepalived reads at most 8 characters of a PASS.
  const s: ClusterSecrets = { vrrpPass: randomBytes(6).toString("base64url").slice(0, 8) };
  runSecrets.add(s.vrrpPass);
  if (opts.create) save(stateDir, cluster, s);
  return s;
}

const ALPHANUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/** Keep `value` as the generated value for bundle/path (one recovered from the running cluster). */
export function storeAddonSecret(stateDir: string, cluster: string, bundle: string, path: string, value: string): void {
  const s = loadClusterSecrets(stateDir, cluster, { create: true });
  s.addons = { ...(s.addons ?? {}), [bundle]: { ...(s.addons?.[bundle] ?? {}), [path]: value } };
  save(stateDir, cluster, s);
}

/** A random password of letters and digits (fits every pattern our bundles allow). */
export function randomPassword(length: number): string {
  return Array.from({ length }, () => ALPHANUM[randomInt(ALPHANUM.length)]).join("");
}

/**
 * The generated value for bundle/path: the stored one, or a new one (stored unless create is false).
 * Returns it and whether it was made in this call.
 */
export function addonSecret(
  stateDir: string,
  cluster: string,
  bundle: string,
  path: string,
  length: number,
  opts: { create: boolean },
): { value: string; generated: boolean } {
  const s = loadClusterSecrets(stateDir, cluster, opts);
  const have = s.addons?.[bundle]?.[path];
  if (have) return { value: have, generated: false };
  const value = randomPassword(length);
  runSecrets.add(value);
  if (opts.create) {
    s.addons = { ...(s.addons ?? {}), [bundle]: { ...(s.addons?.[bundle] ?? {}), [path]: value } };
    save(stateDir, cluster, s);
  }
  return { value, generated: true };
}
