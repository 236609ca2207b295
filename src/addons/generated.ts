// Values a bundle's schema marks `writeOnly` and `required` that have no default and no override are
// secrets kubesmith makes: generated once, stored with the cluster's secrets, the same on every run.
import type { Bundle } from "./types.js";

export interface GeneratedValue {
  /** Dotted path in the values, e.g. dashboard.password */
  path: string;
  length: number;
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  writeOnly?: boolean;
  maxLength?: number;
  minLength?: number;
}

/** The writeOnly, required string values of a bundle's schema (at any depth of required objects). */
export function generatedValues(bundle: Bundle): GeneratedValue[] {
  const out: GeneratedValue[] = [];
  const walk = (node: SchemaNode | undefined, prefix: string[]) => {
    for (const [key, child] of Object.entries(node?.properties ?? {})) {
      const path = [...prefix, key];
      if (child.writeOnly && child.type === "string" && node?.required?.includes(key)) {
        // Long enough to be strong, within the schema's bounds (keepalived's PASS takes at most 8).
        const length = Math.min(child.maxLength ?? 24, Math.max(child.minLength ?? 0, 24));
        out.push({ path: path.join("."), length });
      } else if (child.type === "object") walk(child, path);
    }
  };
  walk(bundle.schema as SchemaNode | undefined, []);
  return out;
}

export function getPath(obj: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split(".")) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    cur = (cur[k] = next && typeof next === "object" ? { ...(next as Record<string, unknown>) } : {}) as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}
