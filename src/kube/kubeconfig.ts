// The TLS material of a kubeconfig's current context: server, CA, client certificate and key. This is all
// KubeClient takes from a kubeconfig, and it used @kubernetes/client-node's KubeConfig for it; importing that
// package loads its whole generated API (≈ 70 MiB of RSS and ≈ 0.7 s here: its config.js imports gen/index.js),
// which was the largest share of `up`'s memory (issue 12). The fields and their meaning are the kubeconfig
// format's (https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/): `current-context` names a context,
// whose `cluster` and `user` name entries of `clusters` and `users`; `*-data` fields are base64, the
// file fields (certificate-authority, client-certificate, client-key) are paths read as they are written.
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface KubeconfigTls {
  server: string;
  skipTLSVerify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

type Named = { name?: unknown; [k: string]: unknown };

function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function find(list: unknown, key: string, name: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const e = (list as Named[]).find((x) => record(x).name === name);
  return e ? record(record(e)[key]) : undefined;
}

/** A file's bytes, else the base64 data, else undefined (the file wins, as in kubectl). */
function material(file: unknown, data: unknown, what: string): Buffer | undefined {
  if (typeof file === "string" && file !== "") {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (typeof data === "string" && data !== "") return Buffer.from(data, "base64");
  return undefined;
}

/**
 * The current context's cluster and TLS credentials; undefined when there is no current context or its
 * cluster is missing. Throws an Error (a plain message) for text that is not a kubeconfig.
 */
export function readKubeconfigTls(text: string): KubeconfigTls | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not a kubeconfig (expected a mapping)");
  const kc = doc as Record<string, unknown>;
  for (const k of ["clusters", "contexts", "users"]) {
    if (kc[k] !== undefined && kc[k] !== null && !Array.isArray(kc[k])) throw new Error(`${k} must be a list`);
  }
  const current = kc["current-context"];
  if (typeof current !== "string" || current === "") return undefined;
  const context = find(kc.contexts, "context", current);
  if (!context || typeof context.cluster !== "string") return undefined;
  const cluster = find(kc.clusters, "cluster", context.cluster);
  if (!cluster) return undefined;
  if (typeof cluster.server !== "string" || cluster.server === "") throw new Error(`clusters[${context.cluster}].cluster.server is missing`);
  const user = typeof context.user === "string" ? (find(kc.users, "user", context.user) ?? {}) : {};
  const out: KubeconfigTls = { server: cluster.server, skipTLSVerify: cluster["insecure-skip-tls-verify"] === true };
  const ca = material(cluster["certificate-authority"], cluster["certificate-authority-data"], "certificate-authority");
  const cert = material(user["client-certificate"], user["client-certificate-data"], "client-certificate");
  const key = material(user["client-key"], user["client-key-data"], "client-key");
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}
