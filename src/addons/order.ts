// Dependency order of bundles: levels, where every bundle's dependencies sit in earlier levels and the
// bundles of one level are independent (applied in parallel). Names are sorted within a level.
import { UsageError } from "../errors.js";
import type { Bundle } from "./types.js";

export interface OrderOptions {
  /** Every bundle that exists (the catalog), to tell "not enabled" from "no such bundle". */
  known?: Iterable<string>;
  /**
   * Bundles outside this ordering that count as present: for a named subset (`addons apply grafana`), the
   * other enabled bundles of the catalogue, which `up` applies and this command assumes applied.
   */
  present?: Iterable<string>;
}

function findCycle(deps: Map<string, string[]>, nodes: string[]): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  let cycle: string[] = [];
  const visit = (n: string): boolean => {
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      if (state.get(d) === 1) {
        cycle = [...stack.slice(stack.indexOf(d)), d];
        return true;
      }
      if (!state.has(d) && visit(d)) return true;
    }
    stack.pop();
    state.set(n, 2);
    return false;
  };
  for (const n of nodes) if (!state.has(n) && visit(n)) break;
  return cycle;
}

/** Bundle names in dependency levels; a missing dependency or a cycle is a UsageError naming it. */
export function orderBundles(bundles: readonly Bundle[], opts: OrderOptions = {}): string[][] {
  const deps = new Map<string, string[]>();
  for (const b of bundles) {
    const name = b.manifest.name;
    if (deps.has(name)) throw new UsageError(`add-on ${name} is listed twice`);
    deps.set(name, [...new Set(b.manifest.dependsOn ?? [])]);
  }
  const known = new Set([...(opts.known ?? []), ...(opts.present ?? [])]);
  const present = new Set(opts.present ?? []);
  for (const [name, ds] of [...deps].sort(([a], [b]) => a.localeCompare(b))) {
    for (const d of ds) {
      if (d === name) throw new UsageError(`add-on ${name} depends on itself (dependsOn in its addon.yaml)`);
      if (deps.has(d)) continue;
      if (present.has(d)) {
        deps.set(name, deps.get(name)!.filter((x) => x !== d));
        continue;
      }
      if (known.has(d))
        throw new UsageError(`add-on ${name} depends on ${d}, which is not enabled`, { hint: `enable ${d} in the inventory's addons section, or disable ${name}` });
      throw new UsageError(`add-on ${name} depends on ${d}, which is not an add-on bundle`, { hint: "check dependsOn in its addon.yaml" });
    }
  }
  const levels: string[][] = [];
  const placed = new Set<string>();
  while (placed.size < deps.size) {
    const level = [...deps]
      .filter(([n, ds]) => !placed.has(n) && ds.every((d) => placed.has(d)))
      .map(([n]) => n)
      .sort();
    if (!level.length) {
      const rest = [...deps.keys()].filter((n) => !placed.has(n)).sort();
      throw new UsageError(`add-on dependencies form a cycle: ${findCycle(deps, rest).join(" -> ")}`, { hint: "remove one dependsOn entry of the cycle" });
    }
    for (const n of level) placed.add(n);
    levels.push(level);
  }
  return levels;
}

/** orderBundles, with the bundles themselves in each level instead of their names. */
export function orderBundleLevels(bundles: readonly Bundle[], opts: OrderOptions = {}): Bundle[][] {
  const byName = new Map(bundles.map((b) => [b.manifest.name, b]));
  return orderBundles(bundles, opts).map((level) => level.map((n) => byName.get(n)!));
}
