// Just enough OpenAPI for kubectl: it reads /openapi/v3 (falling back to /openapi/v2) to learn whether
// the server validates fields itself (the `fieldValidation` query parameter on PATCH). We publish one
// path per resource with its verbs and that parameter, and no schemas: kubectl then leaves validation
// to the server (which accepts any fields) instead of failing to download a schema.

import { createHash } from "node:crypto";
import { DEFAULT_K8S_VERSION } from "./discovery.js";
import type { Registry, ResourceDef } from "./resources.js";

function gvPath(d: Pick<ResourceDef, "group" | "version">): string {
  return d.group ? `apis/${d.group}/${d.version}` : `api/${d.version}`;
}

function itemPath(d: ResourceDef): string {
  return `/${gvPath(d)}${d.namespaced ? "/namespaces/{namespace}" : ""}/${d.resource}/{name}`;
}

const WRITE_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"];

function operations(d: ResourceDef, v3: boolean): Record<string, unknown> {
  const gvk = { group: d.group, version: d.version, kind: d.kind };
  const param = (name: string): Record<string, unknown> =>
    v3 ? { name, in: "query", schema: { type: name === "force" ? "boolean" : "string", uniqueItems: true } } : { name, in: "query", type: name === "force" ? "boolean" : "string", uniqueItems: true };
  const op = (action: string, params: string[]): Record<string, unknown> => ({
    operationId: `${action}${d.kind}`,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    parameters: params.map(param),
    responses: { "200": { description: "OK" } },
  });
  return {
    get: op("get", ["pretty"]),
    put: op("put", WRITE_PARAMS.filter((p) => p !== "force")),
    patch: op("patch", WRITE_PARAMS),
    delete: op("delete", ["dryRun", "pretty"]),
  };
}

function groupVersions(registry: Registry): Map<string, ResourceDef[]> {
  const out = new Map<string, ResourceDef[]>();
  for (const d of registry.all()) {
    const k = gvPath(d);
    out.set(k, [...(out.get(k) ?? []), d]);
  }
  return out;
}

export function openApiV3Group(registry: Registry, path: string): Record<string, unknown> | undefined {
  const defs = groupVersions(registry).get(path);
  if (!defs) return undefined;
  const paths: Record<string, unknown> = {};
  for (const d of defs) paths[itemPath(d)] = operations(d, true);
  return { openapi: "3.0.0", info: { title: "Kubernetes", version: DEFAULT_K8S_VERSION }, paths, components: { schemas: {} } };
}

export function openApiV3Root(registry: Registry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [gv, defs] of groupVersions(registry)) {
    const hash = createHash("sha256").update(JSON.stringify(defs)).digest("hex").slice(0, 32).toUpperCase();
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return { paths };
}

export function openApiV2(registry: Registry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const d of registry.all()) paths[itemPath(d)] = operations(d, false);
  return { swagger: "2.0", info: { title: "Kubernetes", version: DEFAULT_K8S_VERSION }, paths, definitions: {} };
}
