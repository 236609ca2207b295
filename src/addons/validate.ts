// Rendered objects checked against the Kubernetes OpenAPI schemas shipped by kubernetes-models, before
// anything is sent to a cluster. Each kind's model is loaded on first use (one module per kind, not the
// whole package); kinds the package does not know (custom resources) are skipped.
import { createRequire } from "node:module";
import type { ErrorObject } from "ajv";
import { UsageError } from "../errors.js";
import type { KubeObject } from "../kube/client.js";
import { RELEASE_LABELS } from "./types.js";

const require = createRequire(import.meta.url);

interface ModelClass {
  new (data: unknown): { validate(): void };
}

const models = new Map<string, ModelClass | null>();

/** The kubernetes-models class of an apiVersion/kind, or null when the package has none. */
export function modelFor(apiVersion: string, kind: string): ModelClass | null {
  const key = `${apiVersion} ${kind}`;
  const cached = models.get(key);
  if (cached !== undefined) return cached;
  let found: ModelClass | null = null;
  // Module paths: v1/ConfigMap, apps/v1/Deployment, rbac.authorization.k8s.io/v1/ClusterRole.
  if (/^([a-z0-9][a-z0-9.-]*\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    try {
      const mod = require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, unknown>;
      const cls = mod[kind];
      if (typeof cls === "function") found = cls as ModelClass;
    } catch {
      found = null; // not a kind kubernetes-models knows: a custom resource
    }
  }
  models.set(key, found);
  return found;
}

function pathOf(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function valueAt(obj: unknown, pointer: string): unknown {
  let v = obj;
  for (const raw of pointer.split("/").slice(1)) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[raw.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? "nothing" : s.length > 50 ? `${s.slice(0, 49)}…` : s;
}

/** One message per JSON path: the most useful of ajv's errors there (a format or enum beats a oneOf summary). */
export function describeSchemaErrors(obj: unknown, errors: readonly ErrorObject[]): { path: string; message: string }[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const pointer = e.keyword === "required" ? `${e.instancePath}/${String((e.params as { missingProperty: string }).missingProperty)}` : e.instancePath;
    byPath.set(pointer, [...(byPath.get(pointer) ?? []), e]);
  }
  const rank = (e: ErrorObject): number =>
    ({ required: 0, enum: 1, format: 2, const: 3, pattern: 4, type: 6, oneOf: 9, anyOf: 9 })[e.keyword as string] ?? 5;
  const out: { path: string; message: string }[] = [];
  for (const [pointer, errs] of byPath) {
    const e = [...errs].sort((a, b) => rank(a) - rank(b))[0]!;
    const value = e.keyword === "required" ? undefined : valueAt(obj, pointer);
    let message: string;
    switch (e.keyword) {
      case "required":
        message = "is required";
        break;
      case "enum":
        message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(shown).join(", ")}, not ${shown(value)}`;
        break;
      case "type": {
        const types = errs.filter((x) => x.keyword === "type").map((x) => String((x.params as { type: unknown }).type));
        message = `must be ${[...new Set(types)].join(" or ")}, not ${shown(value)}`;
        break;
      }
      case "format":
        message = `${shown(value)} is not a valid ${String((e.params as { format: unknown }).format)}`;
        break;
      default:
        message = `${e.message ?? `fails ${e.keyword}`} (got ${shown(value)})`;
    }
    out.push({ path: pathOf(pointer) || "(object)", message });
  }
  return out;
}

/** Problems of one object against its kind's schema; [] when valid or when the kind is unknown. */
export function schemaProblems(obj: KubeObject): { path: string; message: string }[] {
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors;
    if (!Array.isArray(errors)) throw err;
    return describeSchemaErrors(obj, errors);
  }
}

/**
 * Check every object against the Kubernetes schemas. Throws a UsageError naming `where` (e.g. "add-on
 * prometheus"), the bundle from the object's labels, Kind/name and the JSON path of each problem.
 */
export function validateObjects(objs: readonly KubeObject[], where: string): void {
  const problems: string[] = [];
  for (const o of objs) {
    const found = schemaProblems(o);
    if (!found.length) continue;
    const addon = o.metadata.labels?.[RELEASE_LABELS.addon];
    const who = `${addon && !where.includes(addon) ? `add-on ${addon} ` : ""}${o.kind}/${o.metadata.name}`;
    for (const p of found) problems.push(`${who} ${p.path}: ${p.message}`);
  }
  if (!problems.length) return;
  const shownProblems = problems.slice(0, 3).join("; ");
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : "";
  throw new UsageError(`${where}: invalid Kubernetes object: ${shownProblems}${more}`, {
    hint: "fix the template or the value that feeds it",
  });
}
