// A release's values: the bundle's defaults deep-merged with the inventory's `addons.<name>.values`
// (mappings merge key by key; lists and scalars replace), then checked against the bundle's
// values.schema.json with ajv. Every problem becomes one inventory issue naming
// addons.<name>.values.<key.path>, what is wrong and what is allowed — before anything touches a cluster.
import { formats } from "@kubernetes-models/validate";
import type { ErrorObject, ValidateFunction } from "ajv";
import Ajv07 from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import Ajv2020 from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { randomPassword } from "../cluster/secrets.js";
import { InventoryError, type InventoryIssue, UsageError } from "../errors.js";
import type { Inventory } from "../inventory/schema.js";
import { safeIssue, showValue } from "../inventory/show.js";
import { type FieldPath, formatPath, type SourceLookup } from "../inventory/source.js";
import { closest, describeZodIssues } from "../inventory/zod-issues.js";
import { CalicoValuesSchema, parseCalicoValues } from "./calico.js";
import { addonNameIssues, isEnabled, NON_CATALOG_ADDONS } from "./context.js";
import { generatedValues, getPath, setPath } from "./generated.js";
import type { Bundle } from "./types.js";

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge: mappings merge key by key, anything else in `over` (lists, scalars, null) replaces. Inputs are not changed. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (k === "__proto__" || k === "constructor" || k === "prototype") continue;
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : structuredClone(v);
  }
  return out;
}

type AjvLike = { compile(schema: object): ValidateFunction; addFormat(name: string, format: unknown): unknown };
type AjvCtor = new (opts: Record<string, unknown>) => AjvLike;

const instances = new Map<string, AjvLike>();

/** One ajv per JSON Schema dialect (creating one costs ~100 ms: it compiles its meta-schema). */
function ajvFor(schema: Record<string, unknown>): AjvLike {
  const dialect = typeof schema.$schema === "string" ? schema.$schema : "";
  const key = dialect.includes("2020-12") ? "2020" : dialect.includes("2019-09") ? "2019" : "07";
  const found = instances.get(key);
  if (found) return found;
  const Ctor = (key === "2020" ? Ajv2020 : key === "2019" ? Ajv2019 : Ajv07) as unknown as AjvCtor;
  // strict: a typo in the schema ("additionalProperty") is an error, not a silently ignored keyword.
  const ajv = new Ctor({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, addUsedSchema: false });
  // Formats as the Kubernetes schemas know them (ipv4, hostname, uri, quantity, cidr ...).
  for (const [name, f] of Object.entries(formats)) ajv.addFormat(name, f);
  instances.set(key, ajv);
  return ajv;
}

const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(bundle: Bundle, schemaFile?: string): ValidateFunction | undefined {
  const schema = bundle.schema;
  if (!schema) return undefined;
  let fn = compiled.get(schema);
  if (!fn) {
    try {
      // Without its $id: bundles share one ajv, and two schemas with the same $id would clash.
      const { $id: _id, ...rest } = schema;
      fn = ajvFor(schema).compile(rest);
    } catch (err) {
      throw new UsageError(`${schemaFile ?? `${bundle.dir}/values.schema.json`}: invalid values schema: ${(err as Error).message}`);
    }
    compiled.set(schema, fn);
  }
  return fn;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A value for a message: control characters escaped, long values cut (inventory/show.ts). */
function show(v: unknown): string {
  return showValue(v);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "number" && Number.isInteger(v)) return `the integer ${v}`;
  return `the ${typeof v} ${show(v)}`;
}

export interface ValueProblem {
  /** Path inside the values (["storage", "type"]). */
  path: (string | number)[];
  message: string;
  hint?: string;
}

/** ajv errors as one problem per field, in words a user can act on. */
export function describeAjvErrors(errors: readonly ErrorObject[]): ValueProblem[] {
  const out: ValueProblem[] = [];
  const seen = new Set<string>();
  // anyOf/oneOf/if report a summary besides the branch errors; the summary alone says little.
  const hasDetail = (p: string) => errors.some((e) => e.instancePath.startsWith(p) && !["anyOf", "oneOf", "if"].includes(e.keyword));
  for (const e of errors) {
    let path = pointerToPath(e.instancePath);
    let message: string;
    let hint: string | undefined;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case "additionalProperties": {
        const key = String(params.additionalProperty);
        path = [...path, key];
        const known = Object.keys((e.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
        const guess = closest(key, known);
        message = "unknown key";
        hint = known.length ? `${guess ? `did you mean ${guess}? ` : ""}allowed keys: ${known.join(", ")}` : "this mapping takes no keys";
        break;
      }
      case "required":
        path = [...path, String(params.missingProperty)];
        message = "is required";
        break;
      case "enum":
        message = `must be one of the allowed values, not ${show(e.data)}`;
        hint = `allowed: ${(params.allowedValues as unknown[]).map(show).join(", ")}`;
        break;
      case "const":
        message = `must be ${show(params.allowedValue)}, not ${show(e.data)}`;
        break;
      case "type":
        message = `must be ${Array.isArray(params.type) ? params.type.join(" or ") : String(params.type)}, not ${typeOf(e.data)}`;
        break;
      case "pattern":
        message = `${show(e.data)} does not match the pattern ${String(params.pattern)}`;
        if (typeof e.parentSchema?.description === "string") hint = e.parentSchema.description;
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        message = `${show(e.data)} ${e.message ?? "is out of range"}`;
        break;
      case "anyOf":
      case "oneOf":
      case "if":
        if (hasDetail(e.instancePath)) continue;
        message = e.message ?? `fails ${e.keyword}`;
        break;
      default:
        message = e.message ?? `fails ${e.keyword}`;
    }
    const key = `${formatPath(path)}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // One problem per field: a value failing several keywords (maxLength and pattern) is one line.
    const same = out.find((p) => formatPath(p.path) === formatPath(path));
    if (same) {
      same.message = `${same.message}; ${message}`;
      if (hint && !same.hint) same.hint = hint;
      continue;
    }
    out.push(hint ? { path, message, hint } : { path, message });
  }
  return out;
}

/** Compile a bundle's values schema now, so a broken schema is refused when the bundle is loaded.
 *  (Defaults alone need not pass it: a required value may come from the inventory or the engine.) */
export function compileValuesSchema(bundle: Bundle, schemaFile: string): void {
  validatorFor(bundle, schemaFile);
}

/**
 * Defaults deep-merged with the inventory's overrides, checked against values.schema.json.
 * `where` is the inventory file the issues name; `source` (optional) locates lines in it.
 * Throws InventoryError with one issue per problem, each naming addons.<name>.values.<key.path>.
 */
export function resolveValues(bundle: Bundle, overrides: unknown, where: string, source?: SourceLookup): Record<string, unknown> {
  const name = bundle.manifest.name;
  const base: FieldPath = ["addons", name, "values"];
  const locate = (p: FieldPath): Pick<InventoryIssue, "line" | "column"> => {
    const pos = source?.pos(p);
    return pos ? { line: pos.line, column: pos.column } : {};
  };
  if (overrides !== undefined && overrides !== null && !isPlainObject(overrides)) {
    throw new InventoryError([safeIssue({ file: where, path: formatPath(base), message: `must be a mapping of values, not ${typeOf(overrides)}`, ...locate(base) })]);
  }
  const merged = deepMerge(bundle.defaults, (overrides ?? {}) as Record<string, unknown>);
  const fn = validatorFor(bundle);
  if (fn && !fn(merged)) {
    const issues: InventoryIssue[] = describeAjvErrors(fn.errors ?? []).map((p) => {
      const path = [...base, ...p.path];
      const issue: InventoryIssue = { file: where, path: formatPath(path), message: p.message, ...locate(path) };
      if (p.hint) issue.hint = p.hint;
      return safeIssue(issue);
    });
    throw new InventoryError(issues.length ? issues : [{ file: where, path: formatPath(base), message: "do not match the bundle's values schema" }]);
  }
  return merged;
}

/**
 * `--set key.path=value` arguments as one nested mapping. The value is read as YAML, so numbers and
 * booleans keep their type (`--set replicas=2`), `[a, b]` is a list and `'"2"'` a string.
 * A literal dot in a key is written `\.`.
 */
export function parseSetArgs(sets: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set ${s}: expected key.path=value`);
    const keys = s
      .slice(0, eq)
      .split(/(?<!\\)\./)
      .map((k) => k.replace(/\\\./g, "."));
    if (keys.some((k) => !k || k === "__proto__" || k === "constructor" || k === "prototype")) throw new UsageError(`--set ${s}: bad key path`);
    let value: unknown;
    const text = s.slice(eq + 1);
    try {
      value = text === "" ? "" : (parseYaml(text) as unknown);
    } catch {
      value = text;
    }
    let node = out;
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      node = node[k] = isPlainObject(next) ? next : {};
    }
    node[keys[keys.length - 1]!] = value;
  }
  return out;
}

/**
 * The inventory's addons section checked as `plan` checks it, before anything is rendered: every name is a
 * bundle of the catalog (or calico), every enabled bundle's values pass its values.schema.json (secrets
 * kubesmith generates stand in for the writeOnly values the inventory leaves out, as in `up`), and
 * Calico's values pass parseCalicoValues. Every problem is one issue at its line; throws InventoryError.
 */
export function checkAddonSection(catalog: Map<string, Bundle>, inv: Inventory, where: string, source?: SourceLookup): void {
  const issues: InventoryIssue[] = addonNameIssues(catalog, inv, where, source);
  for (const b of catalog.values()) {
    const name = b.manifest.name;
    if (NON_CATALOG_ADDONS.has(name) || !isEnabled(b, inv)) continue;
    const given = inv.addons?.[name]?.values;
    let overrides: unknown = given;
    if (given === undefined || isPlainObject(given)) {
      const filled: Record<string, unknown> = structuredClone(given ?? {});
      for (const g of generatedValues(b)) {
        if (getPath(filled, g.path) === undefined && getPath(b.defaults, g.path) === undefined) setPath(filled, g.path, randomPassword(g.length));
      }
      overrides = filled;
    }
    try {
      resolveValues(b, overrides, where, source);
    } catch (err) {
      if (!(err instanceof InventoryError)) throw err;
      issues.push(...err.issues);
    }
  }
  // Calico (the CNI phase's parseCalicoValues): the same decision, with every problem located.
  const calico = inv.addons?.["calico"]?.values;
  try {
    parseCalicoValues(calico);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const base: FieldPath = ["addons", "calico", "values"];
    const r = CalicoValuesSchema.safeParse(calico ?? {});
    const problems = r.success ? [] : describeZodIssues(r.error.issues, CalicoValuesSchema, calico ?? {});
    if (problems.length === 0) issues.push(safeIssue({ file: where, path: formatPath(base), message: err.message, ...(err.hint ? { hint: err.hint } : {}) }));
    for (const p of problems) {
      const path = [...base, ...p.path];
      const at = p.missing ? path.slice(0, -1) : path;
      const pos = p.atKey ? source?.keyPos(at) : source?.pos(at);
      issues.push(
        safeIssue({
          file: where,
          ...(pos ? { line: pos.line, column: pos.column } : {}),
          path: formatPath(path),
          message: p.message,
          hint: p.hint ?? "manifest is upstream (default), compact, {file: PATH, sha256?: HEX} or {url: URL, sha256: HEX}",
        }),
      );
    }
  }
  if (issues.length) throw new InventoryError(issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
}
