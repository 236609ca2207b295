// The Calico CNI. Real clusters get the official release manifest (src/versions.ts pins its tag and sha256):
// downloaded at run time, refused unless its sha256 matches, then kept in the user's cache directory so
// the next run needs no network. Air-gapped installs point `manifest.file` at a copy (its sha256 may be
// pinned too); offline labs use kubesmith's compact manifest (`manifest: compact`, addons/calico/). Whatever
// the source, only what we must is patched: the IPv4 pool CIDR (from the inventory's podCIDR),
// the images when offline.imageRepository is set, and
// IP_AUTODETECTION_METHOD=kubernetes-internal-ip, so hosts with several NICs (the Vagrant VMs all share one
// NAT address on eth0) take the address kubelet registered (kubeadm's node-ip). Every object is labelled
// as ours and stamped with a revision (a hash of what was rendered), so a re-run can tell "already
// applied" from "changed".
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { UsageError } from "../errors.js";
import type { KubeObject } from "../kube/client.js";
import { packageRoot } from "../util/pkg.js";
import { redirectImages } from "./images.js";
import { CALICO } from "../versions.js";

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "kubesmith" } as const;

const sha256Hex = z.string().regex(/^[a-f0-9]{64}$/, { error: "must be a sha256 of 64 lower-case hex digits" });

/** addons.calico.values: where the manifest comes from. */
export const CalicoValuesSchema = z.strictObject({
  manifest: z
    .union([
      z.literal("upstream").meta({ description: `The official ${CALICO.version} manifest, fetched and checked against its pinned sha256 (default).` }),
      z.literal("compact").meta({ description: "kubesmith's compact manifest, for offline labs." }),
      z.strictObject({ file: z.string().min(1), sha256: sha256Hex.optional() }).meta({ description: "A local copy (air-gapped installs)." }),
      z.strictObject({ url: z.url(), sha256: sha256Hex }).meta({ description: "Another release: fetched and refused unless the sha256 matches." }),
    ])
    .default("upstream"),
});
export type CalicoValues = z.infer<typeof CalicoValuesSchema>;

/** Check addons.calico.values; the message names the field. */
export function parseCalicoValues(values: unknown): CalicoValues {
  const r = CalicoValuesSchema.safeParse(values ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const field = ["addons", "calico", "values", ...i.path.map(String)].join(".");
  throw new UsageError(`${field}: ${i.message}`, {
    hint: "manifest is upstream (default), compact, {file: PATH, sha256?: HEX} or {url: URL, sha256: HEX}",
  });
}

export interface CalicoManifest {
  text: string;
  /** For messages and the plan: "Calico v3.32.1 (upstream, cached)", "file /x/calico.yaml" … */
  source: string;
  /** kubesmith's compact manifest: its CRDs are generated (see compactCrds). */
  compact?: boolean;
}

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

/**
 * The Calico kinds of the official manifest (projectcalico/calico v3.32.1 manifests/calico.yaml: 22
 * crd.projectcalico.org/v1 CRDs, all cluster-scoped but the four namespaced ones marked N), from which the
 * compact manifest's CRDs are generated with open schemas.
 */
const CALICO_KINDS = [
  "BGPConfiguration", "BGPFilter", "BGPPeer", "BlockAffinity", "CalicoNodeStatus", "ClusterInformation",
  "FelixConfiguration", "GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "IPAMBlock", "IPAMConfig",
  "IPAMHandle", "IPPool", "IPReservation", "KubeControllersConfiguration", "NetworkPolicy:N", "NetworkSet:N",
  "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy:N", "StagedNetworkPolicy:N", "Tier",
] as const;

export function compactCrds(): KubeObject[] {
  return CALICO_KINDS.map((entry) => {
    const [kind, scope] = entry.split(":") as [string, string | undefined];
    const lower = kind.toLowerCase();
    const plural = lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : lower.endsWith("s") ? `${lower}es` : `${lower}s`;
    return {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `${plural}.crd.projectcalico.org` },
      spec: {
        group: "crd.projectcalico.org",
        names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
        scope: scope === "N" ? "Namespaced" : "Cluster",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          },
        ],
      },
    } as KubeObject;
  });
}

type Container = { name: string; env?: { name: string; value?: string; valueFrom?: unknown }[] };

function setEnv(c: Container, name: string, value: string): void {
  const env = (c.env ??= []);
  const i = env.findIndex((e) => e.name === name);
  if (i >= 0) env[i] = { name, value };
  else env.push({ name, value });
}

/** Objects of a Calico manifest, patched for this cluster and labelled as ours. */
export function renderCalico(o: { podCIDR: string; manifest: CalicoManifest; imageRepository?: string | undefined }): KubeObject[] {
  const objects = [...(o.manifest.compact ? compactCrds() : []), ...parseManifest(o.manifest.text, o.manifest.source)];
  const node = objects.find((x) => x.kind === "DaemonSet" && x.metadata.name === "calico-node");
  const container = (node?.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template?.spec?.containers?.find(
    (c) => c.name === "calico-node",
  );
  if (!container) throw new UsageError(`${o.manifest.source}: no calico-node DaemonSet with a calico-node container; is it a Calico manifest?`);
  setEnv(container, "CALICO_IPV4POOL_CIDR", o.podCIDR);
  setEnv(container, "IP_AUTODETECTION_METHOD", "kubernetes-internal-ip");
  // offline.imageRepository: the images (and nothing else) come from that registry (rule in images.ts).
  if (o.imageRepository) redirectImages(objects, o.imageRepository);
  for (const x of objects) {
    const revision = createHash("sha256").update(JSON.stringify(x)).digest("hex").slice(0, 16);
    x.metadata.labels = { ...(x.metadata.labels ?? {}), ...MANAGED_BY, "kubesmith.io/addon": "calico", "kubesmith.io/revision": revision };
  }
  return objects;
}

/** Where downloaded manifests are kept: $KUBESMITH_CACHE_DIR, else $XDG_CACHE_HOME/kubesmith, else ~/.cache/kubesmith. */
export function cacheDir(): string {
  return process.env.KUBESMITH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kubesmith");
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function readVerified(file: string, want: string | undefined, field: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: "give the path of a Calico manifest on this machine",
    });
  }
  if (want && sha256(text) !== want) {
    throw new UsageError(`${field}: ${file} has sha256 ${sha256(text)}, not the pinned ${want}; refusing to apply it`);
  }
  return text;
}

export type Fetcher = (url: string) => Promise<string>;

const defaultFetch: Fetcher = async (url) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
};

/** A pinned download: from the cache when a verified copy is there, else fetched, checked and cached. */
async function pinned(url: string, want: string, label: string, fetcher: Fetcher): Promise<CalicoManifest> {
  const cached = join(cacheDir(), "calico", `${want}.yaml`);
  try {
    const text = readFileSync(cached, "utf8");
    if (sha256(text) === want) return { text, source: `${label} (cached in ${cached})` };
  } catch {
    /* not cached yet */
  }
  let text: string;
  try {
    text = await fetcher(url);
  } catch (err) {
    throw new UsageError(`cannot download the Calico manifest ${url}: ${(err as Error).message}`, {
      hint: `offline? download it elsewhere, check its sha256 is ${want}, and set addons.calico.values.manifest.file`,
    });
  }
  const got = sha256(text);
  if (got !== want) throw new UsageError(`the Calico manifest ${url} has sha256 ${got}, not the pinned ${want}; refusing to apply it`);
  try {
    mkdirSync(dirname(cached), { recursive: true, mode: 0o700 });
    writeFileSync(`${cached}.tmp`, text, { mode: 0o644 });
    renameSync(`${cached}.tmp`, cached);
  } catch {
    /* a cache we cannot write only costs a download next time */
  }
  return { text, source: label };
}

/** The manifest the inventory asks for (default: the pinned official release). */
export async function loadCalicoManifest(values: unknown, fetcher: Fetcher = defaultFetch): Promise<CalicoManifest> {
  const { manifest } = parseCalicoValues(values);
  if (manifest === "compact") {
    const file = join(packageRoot(), "addons", "calico", "calico.yaml");
    return { text: readFileSync(file, "utf8"), source: "kubesmith's compact manifest (offline labs)", compact: true };
  }
  if (manifest === "upstream") return pinned(CALICO.url, CALICO.sha256, `Calico ${CALICO.version}`, fetcher);
  if ("file" in manifest) {
    return { text: readVerified(manifest.file, manifest.sha256, "addons.calico.values.manifest.file"), source: `file ${manifest.file}` };
  }
  return pinned(manifest.url, manifest.sha256, manifest.url, fetcher);
}
