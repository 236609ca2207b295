// Secrets kubesmith makes for a cluster and must find again on the next run (the VRRP password of the
// control-plane keepalived). Kept in <stateDir>/<cluster>/secrets.json, mode 0600, never logged.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ClusterSecrets {
  vrrpPass: string;
}

export function secretsFile(stateDir: string, cluster: string): string {
  return join(stateDir, cluster, "secrets.json");
}

/** Reads the cluster's secrets, creating them when missing (unless create is false: then they are made up for this run only). */
export function loadClusterSecrets(stateDir: string, cluster: string, opts: { create: boolean }): ClusterSecrets {
  const file = secretsFile(stateDir, cluster);
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as ClusterSecrets;
  // keepalived reads at most 8 characters of a PASS.
  const s: ClusterSecrets = { vrrpPass: randomBytes(6).toString("base64url").slice(0, 8) };
  if (opts.create) {
    mkdirSync(join(stateDir, cluster), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600, flag: "wx" });
  }
  return s;
}
