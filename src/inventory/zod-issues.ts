// Turns zod's validation issues into one human sentence each, with the field path they concern.
// zod's default wording ("Invalid input: expected string, received undefined") is replaced; the custom
// messages written in schema.ts are kept.
import type { z } from "zod";
import { showName, showValue } from "./show.js";
import type { FieldPath } from "./source.js";

export interface FieldProblem {
  path: FieldPath;
  message: string;
  hint?: string;
  /** Point at the key rather than the value (unknown fields). */
  atKey?: boolean;
  /** The field is absent: point at the mapping that should hold it. */
  missing?: boolean;
}

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

const DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

function valueAt(root: unknown, path: FieldPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return `${v}`;
    case "object":
      return "a mapping";
    default:
      return typeof v;
  }
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

/** A value for a message: control characters escaped, long values cut (see show.ts). */
function shown(v: unknown): string {
  return showValue(v);
}

/** The name of the field at the end of `path`, for "required field missing" messages. */
function fieldName(path: FieldPath): string {
  const last = path[path.length - 1];
  return typeof last === "string" ? showName(last) : `item ${String(last)}`;
}

/** Every schema reachable at `path` (all branches of unions), for listing the fields it accepts. */
function schemasAt(schema: AnySchema, path: FieldPath): AnySchema[] {
  let current: AnySchema[] = [schema];
  const unwrap = (s: AnySchema): AnySchema[] => {
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case "optional":
      case "default":
      case "prefault":
      case "nullable":
      case "nonoptional":
      case "readonly":
      case "catch":
        return unwrap(def.innerType as AnySchema);
      case "pipe":
        return unwrap(def.in as AnySchema);
      case "union":
        return (def.options as AnySchema[]).flatMap(unwrap);
      default:
        return [s];
    }
  };
  current = current.flatMap(unwrap);
  for (const seg of path) {
    const next: AnySchema[] = [];
    for (const s of current) {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (def.type === "object") {
        const child = (def.shape as Record<string, AnySchema>)[String(seg)];
        if (child) next.push(child);
      } else if (def.type === "array" && typeof seg === "number") next.push(def.element as AnySchema);
      else if (def.type === "record") next.push(def.valueType as AnySchema);
    }
    current = next.flatMap(unwrap);
  }
  return current;
}

export function knownKeys(schema: AnySchema, path: FieldPath): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const def = s._zod.def as unknown as { type: string; shape?: Record<string, unknown> };
    if (def.type === "object" && def.shape) for (const k of Object.keys(def.shape)) keys.add(k);
  }
  return [...keys];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** How badly a union branch failed: each missing or unknown field counts once. */
function branchCost(issues: Issue[]): number {
  return issues.reduce((n, i) => n + (i.code === "unrecognized_keys" ? i.keys.length : 1), 0);
}

export function describeZodIssues(issues: readonly Issue[], schema: AnySchema, input: unknown): FieldProblem[] {
  const out: FieldProblem[] = [];
  const visit = (issue: Issue, prefix: FieldPath) => {
    const path = [...prefix, ...(issue.path as Array<string | number>)];
    const value = valueAt(input, path);
    const custom = !DEFAULT_MESSAGE.test(issue.message);
    switch (issue.code) {
      case "invalid_type": {
        if (value === undefined) {
          out.push({ path, message: `missing required field '${fieldName(path)}'`, missing: true });
        } else {
          const expected = EXPECTED[issue.expected] ?? issue.expected;
          out.push({ path, message: `must be ${expected} (got ${typeName(value)})` });
        }
        return;
      }
      case "invalid_value": {
        if (value === undefined) {
          const values = issue.values.map((v) => String(v));
          out.push({ path, message: `missing required field '${fieldName(path)}' (one of ${values.join(", ")})`, missing: true });
          return;
        }
        const values = issue.values.map((v) => String(v));
        const message =
          values.length === 1 ? `must be ${shown(issue.values[0])}` : `must be one of ${values.join(", ")}`;
        out.push({ path, message: `${message} (got ${shown(value)})` });
        return;
      }
      case "invalid_format":
        out.push({
          path,
          message: value === undefined ? `missing required field '${fieldName(path)}'` : `${custom ? issue.message : `must be a valid ${issue.format}`} (got ${shown(value)})`,
          ...(value === undefined ? { missing: true } : {}),
        });
        return;
      case "too_small": {
        let message: string;
        if (custom) message = issue.message;
        else if (issue.origin === "string") message = Number(issue.minimum) <= 1 ? "must not be empty" : `must be at least ${issue.minimum} characters`;
        else if (issue.origin === "array") message = `needs at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}`;
        else message = `must be at least ${issue.minimum} (got ${shown(value)})`;
        out.push({ path, message });
        return;
      }
      case "too_big": {
        let message: string;
        if (custom) message = issue.message;
        else if (issue.origin === "string") message = `must be at most ${issue.maximum} characters`;
        else if (issue.origin === "array") message = `must have at most ${issue.maximum} items`;
        else message = `must be at most ${issue.maximum} (got ${shown(value)})`;
        out.push({ path, message });
        return;
      }
      case "unrecognized_keys": {
        const known = knownKeys(schema, path);
        for (const key of issue.keys) {
          const guess = closest(key, known);
          out.push({
            path: [...path, key],
            message: `unknown field '${showName(key)}'`,
            hint: guess ? `did you mean '${guess}'?` : `known fields here: ${known.join(", ")}`,
            atKey: true,
          });
        }
        return;
      }
      case "invalid_key": {
        const inner = issue.issues[0];
        const message = inner && !DEFAULT_MESSAGE.test(inner.message) ? inner.message : "invalid key";
        const key = shown(path[path.length - 1]);
        // Messages from names.ts already quote the key.
        out.push({ path, message: message.startsWith(key) ? `key ${message}` : `key ${key}: ${message}`, atKey: true });
        return;
      }
      case "invalid_union": {
        const branches = issue.errors as Issue[][];
        if (branches.length === 0) {
          out.push({ path, message: custom ? issue.message : "is not valid here" });
          return;
        }
        if (value === undefined) {
          out.push({ path, message: `missing required field '${fieldName(path)}'`, missing: true });
          return;
        }
        // A literal branch ("upstream") is of the wrong type for a mapping or a list, as is a branch of another type.
        const structured = typeof value === "object" && value !== null;
        const wrongType = (b: Issue[]) =>
          b.some((i) => i.path.length === 0 && (i.code === "invalid_type" || (i.code === "invalid_value" && structured)));
        const sameType = branches.filter((b) => !wrongType(b));
        if (sameType.length === 0) {
          const expected = [...new Set(branches.flatMap((b) => b.filter((i) => i.code === "invalid_type").map((i) => EXPECTED[(i as { expected: string }).expected] ?? "?")))];
          out.push({ path, message: `must be ${expected.join(", or ")} (got ${typeName(value)})` });
          return;
        }
        // A choice of literals ("upstream" | "compact" | {…}): name them all, not only the first.
        const literal = (b: Issue[]) => b.length === 1 && b[0]!.code === "invalid_value" && b[0]!.path.length === 0;
        if (sameType.length > 1 && sameType.every(literal)) {
          const values = sameType.flatMap((b) => (b[0] as { values: unknown[] }).values.map((v) => String(v)));
          out.push({ path, message: `must be one of ${values.join(", ")} (got ${shown(value)})` });
          return;
        }
        // Report the branch the user most likely meant: the one of the right type with the fewest problems.
        const best = sameType.reduce((a, b) => (branchCost(b) < branchCost(a) ? b : a));
        for (const sub of best) visit(sub, path);
        return;
      }
      default:
        out.push({ path, message: custom ? issue.message : issue.message.toLowerCase() });
    }
  };
  for (const issue of issues) visit(issue, []);
  return out;
}
