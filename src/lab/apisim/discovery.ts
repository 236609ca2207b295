// Discovery documents (legacy form: APIVersions, APIGroupList, APIGroup, APIResourceList) and /version.
// Clients that ask for aggregated discovery (apidiscovery.k8s.io/v2) get these with a plain
// application/json content type, and fall back to the legacy form, as client-go does.

import type { Registry, ResourceDef } from "./resources.js";

export const DEFAULT_K8S_VERSION = "v1.36.3";

export function versionInfo(gitVersion: string): Record<string, string> {
  const m = gitVersion.match(/^v(\d+)\.(\d+)/);
  return {
    major: m?.[1] ?? "1",
    minor: m?.[2] ?? "33",
    gitVersion,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-08-12T00:00:00Z",
    goVersion: "go1.24.5",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

function groupDoc(g: { name: string; versions: string[]; preferred: string }): Record<string, unknown> {
  return {
    name: g.name,
    versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${g.name}/${g.preferred}`, version: g.preferred },
  };
}

export function apiGroupList(registry: Registry): Record<string, unknown> {
  return { kind: "APIGroupList", apiVersion: "v1", groups: registry.groups().map(groupDoc) };
}

export function apiGroup(registry: Registry, name: string): Record<string, unknown> | undefined {
  const g = registry.groups().find((x) => x.name === name);
  return g ? { kind: "APIGroup", apiVersion: "v1", ...groupDoc(g) } : undefined;
}

function resourceDoc(d: ResourceDef): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: d.resource,
    singularName: d.singular,
    namespaced: d.namespaced,
    kind: d.kind,
    verbs: d.verbs,
  };
  if (d.shortNames.length) main["shortNames"] = d.shortNames;
  if (d.categories.length) main["categories"] = d.categories;
  const out = [main];
  if (d.status) out.push({ name: `${d.resource}/status`, singularName: "", namespaced: d.namespaced, kind: d.kind, verbs: ["get", "patch", "update"] });
  if (d.group === "" && d.resource === "pods") out.push({ name: "pods/eviction", singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] });
  return out;
}

export function apiResourceList(registry: Registry, group: string, version: string): Record<string, unknown> | undefined {
  const defs = registry.resourcesIn(group, version);
  if (!defs.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap(resourceDoc),
  };
}
