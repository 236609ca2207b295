// The resources the simulated API server knows: a table of the built-in ones, plus whatever the
// CustomResourceDefinitions in the store define. Discovery, routing and storage all read from here.

import { arrOf, isObj, objOf, strOf, type KObject } from "./types.js";

export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, lower case: the URL segment. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  verbs: string[];
  shortNames: string[];
  categories: string[];
  /** Has a /status subresource: writes to the main resource keep status, /status writes only status. */
  status: boolean;
  /** Defined by a CRD (not built in). */
  custom: boolean;
}

export const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

type Row = [group: string, version: string, resource: string, kind: string, namespaced: boolean, shortNames: string, status: boolean, all?: boolean];

// prettier-ignore
const BUILTIN_ROWS: Row[] = [
  ["", "v1", "namespaces", "Namespace", false, "ns", true],
  ["", "v1", "nodes", "Node", false, "no", true],
  ["", "v1", "pods", "Pod", true, "po", true, true],
  ["", "v1", "services", "Service", true, "svc", true, true],
  ["", "v1", "configmaps", "ConfigMap", true, "cm", false],
  ["", "v1", "secrets", "Secret", true, "", false],
  ["", "v1", "serviceaccounts", "ServiceAccount", true, "sa", false],
  ["", "v1", "endpoints", "Endpoints", true, "ep", false],
  ["", "v1", "events", "Event", true, "ev", false],
  ["", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, "pvc", true],
  ["", "v1", "persistentvolumes", "PersistentVolume", false, "pv", true],
  ["", "v1", "resourcequotas", "ResourceQuota", true, "quota", true],
  ["", "v1", "limitranges", "LimitRange", true, "limits", false],
  ["apps", "v1", "deployments", "Deployment", true, "deploy", true, true],
  ["apps", "v1", "daemonsets", "DaemonSet", true, "ds", true, true],
  ["apps", "v1", "statefulsets", "StatefulSet", true, "sts", true, true],
  ["apps", "v1", "replicasets", "ReplicaSet", true, "rs", true, true],
  ["apps", "v1", "controllerrevisions", "ControllerRevision", true, "", false],
  ["batch", "v1", "jobs", "Job", true, "", true, true],
  ["batch", "v1", "cronjobs", "CronJob", true, "cj", true, true],
  ["autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, "hpa", true],
  ["rbac.authorization.k8s.io", "v1", "roles", "Role", true, "", false],
  ["rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, "", false],
  ["rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, "", false],
  ["rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, "", false],
  ["networking.k8s.io", "v1", "ingresses", "Ingress", true, "ing", true],
  ["networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, "", false],
  ["networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, "netpol", false],
  ["discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, "", false],
  ["apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, "crd,crds", true],
  ["apiregistration.k8s.io", "v1", "apiservices", "APIService", false, "", true],
  ["coordination.k8s.io", "v1", "leases", "Lease", true, "", false],
  ["policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, "pdb", true],
  ["storage.k8s.io", "v1", "storageclasses", "StorageClass", false, "sc", false],
  ["storage.k8s.io", "v1", "csidrivers", "CSIDriver", false, "", false],
  ["scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, "pc", false],
  ["certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", false, "csr", true],
  ["admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false, "", false],
  ["admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false, "", false],
];

export const BUILTIN_RESOURCES: readonly ResourceDef[] = BUILTIN_ROWS.map(
  ([group, version, resource, kind, namespaced, short, status, all]) => ({
    group,
    version,
    resource,
    kind,
    singular: kind.toLowerCase(),
    namespaced,
    verbs: resource === "namespaces" ? ALL_VERBS.filter((v) => v !== "deletecollection") : ALL_VERBS,
    shortNames: short ? short.split(",") : [],
    categories: all ? ["all"] : [],
    status,
    custom: false,
  }),
);

/** Where objects of a resource live in the store: one bucket per group and resource, whatever the version. */
export function storageKey(def: Pick<ResourceDef, "group" | "resource">): string {
  return `${def.group}/${def.resource}`;
}

export function apiVersionOf(def: Pick<ResourceDef, "group" | "version">): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf("/");
  return i < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** The resources one CRD defines (one per served version). */
export function resourcesOfCrd(crd: KObject): ResourceDef[] {
  const spec = objOf(crd["spec"]);
  const names = objOf(spec["names"]);
  const group = strOf(spec["group"]);
  const plural = strOf(names["plural"]);
  const kind = strOf(names["kind"]);
  if (!group || !plural || !kind) return [];
  const out: ResourceDef[] = [];
  for (const v of arrOf(spec["versions"])) {
    if (!isObj(v) || v["served"] === false) continue;
    const version = strOf(v["name"]);
    if (!version) continue;
    out.push({
      group,
      version,
      resource: plural,
      kind,
      singular: strOf(names["singular"]) ?? kind.toLowerCase(),
      namespaced: spec["scope"] !== "Cluster",
      verbs: ALL_VERBS,
      shortNames: arrOf(names["shortNames"]).filter((s): s is string => typeof s === "string"),
      categories: arrOf(names["categories"]).filter((s): s is string => typeof s === "string"),
      status: isObj(objOf(v["subresources"])["status"]),
      custom: true,
    });
  }
  return out;
}

export interface GroupInfo {
  name: string;
  versions: string[];
  preferred: string;
}

export class Registry {
  private defs: ResourceDef[] = [...BUILTIN_RESOURCES];

  /** Recompute the custom resources from the current set of (established) CRDs. */
  setCrds(crds: KObject[]): void {
    const custom = crds.flatMap(resourcesOfCrd);
    this.defs = [...BUILTIN_RESOURCES, ...custom.filter((c) => !BUILTIN_RESOURCES.some((b) => b.group === c.group && b.resource === c.resource))];
  }

  all(): readonly ResourceDef[] {
    return this.defs;
  }

  byResource(group: string, version: string, resource: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.version === version && d.resource === resource);
  }

  byKind(group: string, version: string, kind: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.version === version && d.kind === kind);
  }

  /** Any version of a group/resource: the storage bucket's definition. */
  anyVersion(group: string, resource: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.resource === resource);
  }

  resourcesIn(group: string, version: string): ResourceDef[] {
    return this.defs.filter((d) => d.group === group && d.version === version);
  }

  groups(): GroupInfo[] {
    const out = new Map<string, GroupInfo>();
    for (const d of this.defs) {
      if (d.group === "") continue;
      const g = out.get(d.group) ?? { name: d.group, versions: [], preferred: d.version };
      if (!g.versions.includes(d.version)) g.versions.push(d.version);
      out.set(d.group, g);
    }
    return [...out.values()];
  }
}
