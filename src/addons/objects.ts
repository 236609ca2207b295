// Small pure helpers the apply half shares: object ids, the release labels, the kinds prune looks at,
// and a field-level comparison of a live object with what applying would make of it.
import type { KubeObject } from "../kube/client.js";
import { RELEASE_LABELS, type Release } from "./types.js";

/** "apiVersion Kind": what the release history records and prune lists. */
export type KindRef = string;

export function kindRef(o: { apiVersion: string; kind: string }): KindRef {
  return `${o.apiVersion} ${o.kind}`;
}

export function splitKindRef(k: KindRef): { apiVersion: string; kind: string } {
  const [apiVersion = "", kind = ""] = k.split(" ");
  return { apiVersion, kind };
}

/** Human and stable id: Kind/namespace/name, or Kind/name for cluster-scoped objects. */
export function objectId(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return o.metadata.namespace ? `${o.kind}/${o.metadata.namespace}/${o.metadata.name}` : `${o.kind}/${o.metadata.name}`;
}

/** Identity for set membership: group (not version) + kind + namespace + name. */
export function objectKey(o: KubeObject): string {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  return `${group}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
}

export function releaseLabels(bundle: string, release: Release): Record<string, string> {
  return { [RELEASE_LABELS.managedBy]: "kubesmith", [RELEASE_LABELS.addon]: bundle, [RELEASE_LABELS.release]: release.name };
}

/** The label selector of every object of a release (the history Secret does not match it). */
export function releaseSelector(bundle: string, release: Release): string {
  return `${RELEASE_LABELS.release}=${release.name},${RELEASE_LABELS.addon}=${bundle}`;
}

/** Does this live object carry our labels for this release? Prune and remove check it once more before deleting. */
export function isOurs(o: KubeObject, bundle: string, release: Release): boolean {
  const l = o.metadata.labels ?? {};
  return l[RELEASE_LABELS.release] === release.name && l[RELEASE_LABELS.addon] === bundle;
}

/** Kinds prune and remove always look at, besides those the release history recorded. Never Pods or
 * ReplicaSets/Endpoints: controllers copy template labels onto those. */
export const COMMON_KINDS: readonly KindRef[] = [
  "v1 ConfigMap",
  "v1 Secret",
  "v1 Service",
  "v1 ServiceAccount",
  "v1 PersistentVolumeClaim",
  "v1 Namespace",
  "apps/v1 Deployment",
  "apps/v1 DaemonSet",
  "apps/v1 StatefulSet",
  "batch/v1 Job",
  "batch/v1 CronJob",
  "rbac.authorization.k8s.io/v1 Role",
  "rbac.authorization.k8s.io/v1 RoleBinding",
  "rbac.authorization.k8s.io/v1 ClusterRole",
  "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
  "networking.k8s.io/v1 Ingress",
  "networking.k8s.io/v1 IngressClass",
  "networking.k8s.io/v1 NetworkPolicy",
  "policy/v1 PodDisruptionBudget",
  "apiextensions.k8s.io/v1 CustomResourceDefinition",
];

const NEVER_PRUNED_KINDS = new Set(["Pod", "ReplicaSet", "Endpoints", "EndpointSlice", "ControllerRevision", "Event"]);

export function prunableKind(k: KindRef): boolean {
  return !NEVER_PRUNED_KINDS.has(splitKindRef(k).kind);
}

/** Apply order class: CRDs, then Namespaces, then everything else. Deletion runs it backwards. */
export function applyClass(o: { kind: string; apiVersion: string }): 0 | 1 | 2 {
  if (o.kind === "CustomResourceDefinition" && o.apiVersion.startsWith("apiextensions.k8s.io/")) return 0;
  if (o.kind === "Namespace" && o.apiVersion === "v1") return 1;
  return 2;
}

/** Order for deleting: workloads and the rest first, Namespaces next, CRDs last. */
export function deleteOrder<T extends { kind: string; apiVersion: string }>(objs: T[]): T[] {
  return [...objs].sort((a, b) => applyClass(b) - applyClass(a));
}

/** What of an object is compared: without server bookkeeping and status. */
export function comparable(o: KubeObject): Record<string, unknown> {
  const { status: _s, ...rest } = o;
  const { managedFields: _m, resourceVersion: _r, generation: _g, uid: _u, creationTimestamp: _c, selfLink: _l, ...meta } = o.metadata;
  return { ...rest, metadata: meta };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A field whose value differs: its path (a.b[0].c) and both values (undefined: absent). */
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

/** The fields whose values differ between two JSON values, with both values; at most `limit`. */
export function changedValues(before: unknown, after: unknown, limit = 20): FieldChange[] {
  const out: FieldChange[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (out.length >= limit) return;
    if (isPlainObject(a) && isPlainObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(a[k], b[k], path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((x, i) => walk(x, b[i], `${path}[${i}]`));
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: path || "(whole object)", before: a, after: b });
  };
  walk(before, after, "");
  return out;
}

/** Field paths (a.b[0].c) whose values differ between two JSON values; at most `limit`. */
export function changedFields(before: unknown, after: unknown, limit = 20): string[] {
  return changedValues(before, after, limit).map((c) => c.path);
}

/** JSON with object keys sorted: equal objects give equal text whatever order their keys were built in. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isPlainObject(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x,
  );
}
