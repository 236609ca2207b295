// The Calico CNI bundle: kubesmith's own manifest (addons/calico/calico.yaml) with the pool CIDR set from
// the inventory, every object labelled as ours and stamped with a revision (a hash of what was rendered),
// so a re-run can tell "already applied" from "changed" without a round of server-side dry runs.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { UsageError } from "../errors.js";
import type { KubeObject } from "../kube/client.js";
import { packageRoot } from "../util/pkg.js";

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "kubesmith" } as const;

export function parseManifest(text: string, source: string): KubeObject[] {
  const docs = parseAllDocuments(text);
  const out: KubeObject[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new UsageError(`${source}: ${d.errors[0]!.message}`);
    const o = d.toJS() as KubeObject | null;
    if (!o) continue;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new UsageError(`${source}: an object lacks apiVersion, kind or metadata.name`);
    out.push(o);
  }
  return out;
}

export function renderCalico(values: { podCIDR: string; manifest?: string }): KubeObject[] {
  const file = join(packageRoot(), "addons", "calico", "calico.yaml");
  const objects = parseManifest(values.manifest ?? readFileSync(file, "utf8"), file);
  for (const o of objects) {
    if (o.kind === "DaemonSet" && o.metadata.name === "calico-node") {
      const containers = (o.spec as { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } }).template.spec.containers;
      for (const c of containers) {
        const env = c.env?.find((e) => e.name === "CALICO_IPV4POOL_CIDR");
        if (env) env.value = values.podCIDR;
        else if (c.name === "calico-node") (c.env ??= []).push({ name: "CALICO_IPV4POOL_CIDR", value: values.podCIDR });
      }
    }
  }
  for (const o of objects) {
    const revision = createHash("sha256").update(JSON.stringify(o)).digest("hex").slice(0, 16);
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...MANAGED_BY, "kubesmith.io/addon": "calico", "kubesmith.io/revision": revision };
  }
  return objects;
}

export interface CalicoManifestSource {
  /** A local copy of a Calico manifest (offline installs). */
  file?: string;
  /** Upstream manifest URL, fetched and checked against sha256 before anything is applied. */
  url?: string;
  sha256?: string;
}

/** The manifest text the inventory asks for, or undefined for kubesmith's own bundle. */
export async function loadCalicoManifest(src: CalicoManifestSource | undefined): Promise<string | undefined> {
  if (!src) return undefined;
  if (src.file) {
    try {
      return readFileSync(src.file, "utf8");
    } catch (err) {
      throw new UsageError(`addons.calico.values.manifest.file: cannot read ${src.file}: ${(err as Error).message}`);
    }
  }
  if (!src.url) return undefined;
  if (!src.sha256 || !/^[a-f0-9]{64}$/.test(src.sha256))
    throw new UsageError("addons.calico.values.manifest.sha256: a 64-hex-digit sha256 is required with url (kubesmith never applies an unverified manifest)");
  let text: string;
  try {
    const res = await fetch(src.url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    text = await res.text();
  } catch (err) {
    throw new UsageError(`cannot fetch the Calico manifest ${src.url}: ${(err as Error).message} (offline? download it and set manifest.file)`);
  }
  const got = createHash("sha256").update(text).digest("hex");
  if (got !== src.sha256) throw new UsageError(`the Calico manifest ${src.url} has sha256 ${got}, not the pinned ${src.sha256}; refusing to apply it`);
  return text;
}
