// Label and field selectors: the query-string forms (?labelSelector=, ?fieldSelector=) and the object
// forms used inside specs (metav1.LabelSelector, node selector terms).

import { badRequest } from "./status.js";
import { arrOf, getIn, isObj, objOf, strOf, type KObject } from "./types.js";

export type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!";

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Split on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function checkKey(key: string, whole: string): string {
  if (!KEY_RE.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${whole}"`);
  return key;
}

function checkValue(v: string, whole: string): string {
  if (v.length > 63 || !VALUE_RE.test(v)) throw badRequest(`unable to parse requirement: invalid label value "${v}" in selector "${whole}"`);
  return v;
}

/** Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`; throws a 400 Status on a malformed selector. */
export function parseLabelSelector(s: string): LabelRequirement[] {
  const whole = s;
  if (s.trim() === "") return [];
  return splitTop(s).map((raw) => {
    const part = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*(\S+)$/))) return { key: checkKey(m[1]!, whole), op: "!", values: [] };
    if ((m = part.match(/^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3]!.split(",").map((v) => checkValue(v.trim(), whole));
      return { key: checkKey(m[1]!, whole), op: m[2] as "in" | "notin", values };
    }
    if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      return { key: checkKey(m[1]!, whole), op: m[2] === "!=" ? "!=" : "=", values: [checkValue(m[3]!, whole)] };
    }
    if ((m = part.match(/^(\S+)$/))) return { key: checkKey(m[1]!, whole), op: "exists", values: [] };
    throw badRequest(`unable to parse requirement: found '${part}', expected: identifier, '!', 'in', 'notin', '=', '==' or '!='`);
  });
}

export function matchesRequirements(labels: Record<string, string> | undefined, reqs: readonly LabelRequirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.values[0];
      case "!=":
        return !has || v !== r.values[0];
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "exists":
        return has;
      case "!":
        return !has;
    }
  });
}

export interface FieldRequirement {
  path: string[];
  negate: boolean;
  value: string;
}

/**
 * Parse `metadata.name=x,spec.nodeName!=y`. Unlike the real API (which allows a fixed set of fields per
 * resource), any dotted path is accepted and compared with the value's string form.
 */
export function parseFieldSelector(s: string): FieldRequirement[] {
  if (s.trim() === "") return [];
  return s.split(",").map((raw) => {
    const m = raw.trim().match(/^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid field selector: '${raw}'`);
    return { path: m[1]!.split("."), negate: m[2] === "!=", value: m[3]! };
  });
}

export function matchesFields(obj: KObject, reqs: readonly FieldRequirement[]): boolean {
  return reqs.every((r) => {
    const v = getIn(obj, r.path);
    const s = v === undefined || v === null ? "" : String(v);
    return r.negate ? s !== r.value : s === r.value;
  });
}

/** metav1.LabelSelector (matchLabels + matchExpressions). An empty selector matches everything. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: unknown): boolean {
  const sel = objOf(selector);
  const l = labels ?? {};
  for (const [k, v] of Object.entries(objOf(sel["matchLabels"]))) if (l[k] !== v) return false;
  for (const e of arrOf(sel["matchExpressions"])) {
    const key = strOf(objOf(e)["key"]) ?? "";
    const values = arrOf(objOf(e)["values"]).map(String);
    const has = Object.hasOwn(l, key);
    switch (objOf(e)["operator"]) {
      case "In":
        if (!has || !values.includes(l[key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(l[key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** One core/v1 NodeSelectorRequirement against a node's labels (or its fields for matchFields). */
export function matchesNodeSelectorRequirement(values: Record<string, string>, req: unknown): boolean {
  if (!isObj(req)) return false;
  const key = strOf(req["key"]) ?? "";
  const want = arrOf(req["values"]).map(String);
  const has = Object.hasOwn(values, key);
  const v = values[key];
  switch (req["operator"]) {
    case "In":
      return has && want.includes(v!);
    case "NotIn":
      return !has || !want.includes(v!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || want.length !== 1) return false;
      const a = Number.parseInt(v!, 10);
      const b = Number.parseInt(want[0]!, 10);
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      return req["operator"] === "Gt" ? a > b : a < b;
    }
    default:
      return false;
  }
}
