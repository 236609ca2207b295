// Field ownership (metadata.managedFields) and the patch formats.
//
// The ownership model is deliberately simple but honest:
//  - A field path is a list of map keys from the object root. Lists are atomic: a whole list is one
//    leaf (the real API keys some lists by merge key, e.g. containers by name; we do not).
//  - Apply (server-side apply) by manager M owns exactly the leaf paths of M's applied configuration.
//    A path owned by another manager with a different value is a conflict (409) unless force=true,
//    in which case ownership moves to M. Equal values become shared ownership. Fields M applied
//    before and no longer applies are removed, unless another manager also owns them.
//  - Update operations (create, PUT, merge/strategic/JSON patch) never conflict: the manager takes
//    ownership of every leaf that changed, and other managers lose those leaves.
// metadata.name/namespace/uid/resourceVersion/generation/creationTimestamp/managedFields are not owned.

import { StatusError, type StatusCause } from "./status.js";
import { clone, deepEqual, isObj, nowTimestamp, type JsonObject, type KObject, type ManagedFieldsEntry } from "./types.js";

export type FieldPath = string[];
/** Which part of an object a write touches: the main resource (status kept) or the /status subresource. */
export type Scope = "main" | "status" | "all";

const UNOWNED_META = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "generateName",
]);

export function leafPaths(v: unknown, prefix: FieldPath = []): FieldPath[] {
  if (!isObj(v) || Object.keys(v).length === 0) return prefix.length ? [prefix] : [];
  return Object.entries(v).flatMap(([k, child]) => leafPaths(child, [...prefix, k]));
}

/** The leaf paths of an object that ownership applies to, within a scope. */
export function ownedPaths(obj: JsonObject, scope: Scope): FieldPath[] {
  const out: FieldPath[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind") continue;
    if (scope === "main" && k === "status") continue;
    if (scope === "status" && k !== "status") continue;
    if (k === "metadata") {
      for (const [mk, mv] of Object.entries(isObj(v) ? v : {})) if (!UNOWNED_META.has(mk)) out.push(...leafPaths(mv, ["metadata", mk]));
      continue;
    }
    out.push(...leafPaths(v, [k]));
  }
  return out;
}

export function isPrefix(a: FieldPath, b: FieldPath): boolean {
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

export function overlaps(a: FieldPath, b: FieldPath): boolean {
  return isPrefix(a, b) || isPrefix(b, a);
}

export function lookup(obj: unknown, path: FieldPath): { found: boolean; value: unknown } {
  let cur = obj;
  for (const k of path) {
    if (!isObj(cur) || !Object.hasOwn(cur, k)) return { found: false, value: undefined };
    cur = cur[k];
  }
  return { found: true, value: cur };
}

/** Remove the value at a path; maps left empty below the top level are removed too. */
export function deletePath(obj: JsonObject, path: FieldPath): void {
  const parents: JsonObject[] = [];
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObj(cur)) return;
    parents.push(cur);
    cur = cur[k];
  }
  if (!isObj(cur)) return;
  delete cur[path[path.length - 1]!];
  parents.push(cur);
  for (let i = parents.length - 1; i >= 2; i--) {
    const child = parents[i]!;
    if (Object.keys(child).length === 0) delete parents[i - 1]![path[i - 1]!];
  }
}

export function formatPath(p: FieldPath): string {
  return p.map((s) => `.${s}`).join("");
}

export function toFieldsV1(paths: FieldPath[]): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let cur = root;
    for (const k of p) {
      const key = `f:${k}`;
      if (!isObj(cur[key])) cur[key] = {};
      cur = cur[key] as JsonObject;
    }
  }
  return root;
}

/** Leaves of a FieldsV1 tree; list-element keys (k:/v:/i:) written by others count as the list itself. */
export function fromFieldsV1(f: unknown, prefix: FieldPath = []): FieldPath[] {
  if (!isObj(f)) return [];
  const keys = Object.keys(f).filter((k) => k !== ".");
  if (keys.length === 0) return prefix.length ? [prefix] : [];
  if (keys.some((k) => !k.startsWith("f:"))) return prefix.length ? [prefix] : [];
  return keys.flatMap((k) => fromFieldsV1(f[k], [...prefix, k.slice(2)]));
}

interface Owner {
  manager: string;
  operation: "Apply" | "Update";
  subresource?: string;
  apiVersion: string;
  time: string;
  paths: FieldPath[];
}

function readOwners(obj: KObject | undefined): Owner[] {
  return (obj?.metadata.managedFields ?? []).map((e) => ({
    manager: e.manager,
    operation: e.operation,
    ...(e.subresource ? { subresource: e.subresource } : {}),
    apiVersion: e.apiVersion,
    time: e.time,
    paths: fromFieldsV1(e.fieldsV1),
  }));
}

function writeOwners(obj: KObject, owners: Owner[]): void {
  const entries: ManagedFieldsEntry[] = owners
    .map((o) => ({ ...o, paths: o.paths.filter((p) => lookup(obj, p).found) }))
    .filter((o) => o.paths.length > 0)
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: o.apiVersion,
      time: o.time,
      fieldsType: "FieldsV1" as const,
      fieldsV1: toFieldsV1(o.paths),
      ...(o.subresource ? { subresource: o.subresource } : {}),
    }));
  if (entries.length) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
}

function sameOwner(o: Owner, manager: string, operation: string, subresource: string | undefined): boolean {
  return o.manager === manager && o.operation === operation && (o.subresource ?? "") === (subresource ?? "");
}

function pathKey(p: FieldPath): string {
  return JSON.stringify(p);
}

/** Leaves that differ between two versions of an object, within a scope. */
export function changedPaths(before: JsonObject | undefined, after: JsonObject, scope: Scope): FieldPath[] {
  const out = new Map<string, FieldPath>();
  for (const p of ownedPaths(after, scope)) {
    if (!deepEqual(lookup(before, p).value, lookup(after, p).value)) out.set(pathKey(p), p);
  }
  for (const p of before ? ownedPaths(before, scope) : []) {
    if (!lookup(after, p).found) out.set(pathKey(p), p);
  }
  return [...out.values()];
}

/**
 * Record an Update operation on `next` (whose managedFields are taken from `prev`): the manager owns
 * what changed; others lose it.
 */
export function recordUpdate(prev: KObject | undefined, next: KObject, manager: string, scope: Scope, subresource?: string): void {
  const changed = changedPaths(prev, next, scope);
  const owners = readOwners(prev);
  if (changed.length === 0) {
    writeOwners(next, owners);
    return;
  }
  for (const o of owners) o.paths = o.paths.filter((p) => !changed.some((c) => overlaps(p, c)));
  let mine = owners.find((o) => sameOwner(o, manager, "Update", subresource));
  if (!mine) {
    mine = { manager, operation: "Update", ...(subresource ? { subresource } : {}), apiVersion: next.apiVersion, time: "", paths: [] };
    owners.push(mine);
  }
  const have = new Set(mine.paths.map(pathKey));
  for (const c of changed) if (lookup(next, c).found && !have.has(pathKey(c))) mine.paths.push(c);
  mine.time = nowTimestamp();
  mine.apiVersion = next.apiVersion;
  writeOwners(next, owners);
}

function deepMergeInto(target: JsonObject, src: JsonObject): void {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (isObj(v) && isObj(t)) deepMergeInto(t, v);
    else target[k] = clone(v);
  }
}

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (!isObj(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x);
  return out;
}

export interface ApplyResult {
  object: KObject;
  conflicts: StatusCause[];
}

/**
 * Server-side apply of `config` by `manager` onto `current` (undefined: create). Returns the new object
 * with managedFields updated; throws a 409 Conflict Status listing conflicting fields unless `force`.
 * `base` is the object to start from when creating (metadata the store fills in).
 */
export function applyConfig(opts: {
  current: KObject | undefined;
  base: KObject;
  config: JsonObject;
  manager: string;
  force: boolean;
  scope: Scope;
  subresource?: string;
}): KObject {
  const { current, manager, force, scope, subresource } = opts;
  const config = stripNulls(opts.config) as JsonObject;
  const scoped: JsonObject = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === "apiVersion" || k === "kind") continue;
    if (scope === "main" && k === "status") continue;
    if (scope === "status" && k !== "status") continue;
    scoped[k] = v;
  }
  const mine = ownedPaths(scoped, "all");
  const owners = readOwners(current);
  const prevMine = owners.find((o) => sameOwner(o, manager, "Apply", subresource))?.paths ?? [];

  // Conflicts: another manager owns an overlapping path and the applied value differs.
  const conflicts: { owner: Owner; path: FieldPath }[] = [];
  if (current) {
    for (const o of owners) {
      if (o.manager === manager) continue;
      for (const p of o.paths) {
        for (const q of mine) {
          if (!overlaps(p, q)) continue;
          const at = p.length <= q.length ? p : q;
          const have = lookup(current, at);
          if (have.found && !deepEqual(have.value, lookup(scoped, at).value)) conflicts.push({ owner: o, path: p });
        }
      }
    }
  }
  if (conflicts.length && !force) throw applyConflict(conflicts);

  const next = clone(current ?? opts.base);
  const dropped = new Set(conflicts.map((c) => pathKey(c.path)));
  for (const o of owners) {
    if (o.manager !== manager) o.paths = o.paths.filter((p) => !dropped.has(pathKey(p)));
  }
  // Fields this manager applied before and no longer applies go away unless someone else owns them.
  for (const p of prevMine) {
    if (mine.some((q) => overlaps(p, q))) continue;
    if (owners.some((o) => !sameOwner(o, manager, "Apply", subresource) && o.paths.some((q) => overlaps(p, q)))) continue;
    deletePath(next, p);
  }
  deepMergeInto(next, scoped);
  let entry = owners.find((o) => sameOwner(o, manager, "Apply", subresource));
  if (!entry) {
    entry = { manager, operation: "Apply", ...(subresource ? { subresource } : {}), apiVersion: next.apiVersion, time: "", paths: [] };
    owners.push(entry);
  }
  entry.paths = mine;
  entry.time = nowTimestamp();
  entry.apiVersion = typeof config["apiVersion"] === "string" ? config["apiVersion"] : next.apiVersion;
  writeOwners(next, owners);
  return next;
}

function applyConflict(conflicts: { owner: Owner; path: FieldPath }[]): StatusError {
  const causes: StatusCause[] = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with "${c.owner.manager}"${c.owner.operation === "Update" ? ` using ${c.owner.apiVersion}` : ""}`,
    field: formatPath(c.path),
  }));
  const n = causes.length;
  const head = `Apply failed with ${n} conflict${n === 1 ? "" : "s"}: `;
  const msg =
    n === 1
      ? `${head}${causes[0]!.message}: ${causes[0]!.field}`
      : `${head}${[...new Set(causes.map((c) => c.message))].join(", ")}:\n${causes.map((c) => `- ${c.field}`).join("\n")}`;
  return new StatusError(409, "Conflict", msg, { causes });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: JsonObject = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * A strategic merge patch treated as a merge patch: directives are honoured where they make sense for
 * maps ($patch: delete / replace) and dropped elsewhere ($setElementOrder, $retainKeys,
 * $deleteFromPrimitiveList). Lists are replaced whole, not merged by key.
 */
export function strategicToMerge(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.filter((x) => !(isObj(x) && x["$patch"] === "delete")).map(strategicToMerge);
  if (!isObj(patch)) return patch;
  if (patch["$patch"] === "delete") return null;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    out[k] = strategicToMerge(v);
  }
  return out;
}

export function isReplaceDirective(patch: unknown): boolean {
  return isObj(patch) && patch["$patch"] === "replace";
}

function pointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new StatusError(400, "BadRequest", `invalid JSON pointer "${p}"`);
  return p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** RFC 6902 JSON patch: add, remove, replace, test, copy, move. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new StatusError(400, "BadRequest", "json patch must be a list of operations");
  let root = clone(doc);
  const parentOf = (path: string[]): { parent: unknown; key: string } => {
    let cur = root;
    for (const k of path.slice(0, -1)) cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
    if (!isObj(cur) && !Array.isArray(cur)) throw new StatusError(422, "Invalid", `the server rejected our request due to an error in our request: path /${path.join("/")} does not exist`);
    return { parent: cur, key: path[path.length - 1] ?? "" };
  };
  const get = (path: string[]): unknown => {
    let cur = root;
    for (const k of path) cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
    return cur;
  };
  const remove = (path: string[]): unknown => {
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0];
    const o = parent as JsonObject;
    if (!Object.hasOwn(o, key)) throw new StatusError(422, "Invalid", `the server rejected our request due to an error in our request: unable to remove nonexistent key: ${key}`);
    const v = o[key];
    delete o[key];
    return v;
  };
  const add = (path: string[], value: unknown, replace: boolean): void => {
    if (path.length === 0) {
      root = clone(value);
      return;
    }
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (replace) parent[i] = clone(value);
      else parent.splice(i, 0, clone(value));
    } else (parent as JsonObject)[key] = clone(value);
  };
  for (const op of ops) {
    if (!isObj(op)) throw new StatusError(400, "BadRequest", "json patch operation must be an object");
    const path = pointer(String(op["path"] ?? ""));
    switch (op["op"]) {
      case "add":
        add(path, op["value"], false);
        break;
      case "replace":
        if (get(path) === undefined) throw new StatusError(422, "Invalid", `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${formatPath(path)}`);
        add(path, op["value"], true);
        break;
      case "remove":
        remove(path);
        break;
      case "test":
        if (!deepEqual(get(path), op["value"])) throw new StatusError(422, "Invalid", `the server rejected our request due to an error in our request: testing value ${formatPath(path)} failed`);
        break;
      case "copy":
        add(path, get(pointer(String(op["from"] ?? ""))), false);
        break;
      case "move":
        add(path, remove(pointer(String(op["from"] ?? ""))), false);
        break;
      default:
        throw new StatusError(400, "BadRequest", `unexpected json patch operation ${JSON.stringify(op["op"])}`);
    }
  }
  return root;
}
