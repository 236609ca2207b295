// From an inventory to what the renderer needs: which bundles are on, each release's default name and
// namespace, and the cluster facts templates see.
import { InventoryError, type InventoryIssue } from "../errors.js";
import type { Inventory } from "../inventory/schema.js";
import { showName } from "../inventory/show.js";
import type { SourceLookup } from "../inventory/source.js";
import { closest } from "../inventory/zod-issues.js";
import { CONTROL_PLANE_TAINT } from "../scripts/kubeadm.js";
import type { Bundle, NodeTaint, Release, RenderContext } from "./types.js";

/** Inventory names handled outside the bundle catalog (the CNI is applied by the bootstrap phases). */
export const NON_CATALOG_ADDONS: ReadonlySet<string> = new Set(["calico"]);

/** One release per bundle by default: named after the bundle, in its namespace. */
export function defaultRelease(bundle: Bundle, over: Partial<Release> = {}): Release {
  return { name: over.name ?? bundle.manifest.name, namespace: over.namespace ?? bundle.manifest.namespace ?? "default" };
}

/**
 * The taints a host's node carries: the inventory's (kubeadm registers them and the labels phase keeps
 * them), else kubeadm's default, node-role.kubernetes.io/control-plane:NoSchedule on a control plane.
 */
export function nodeTaints(h: Inventory["hosts"][number]): NodeTaint[] {
  if (h.taints) return h.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect }));
  return h.roles.includes("control-plane") ? [{ ...CONTROL_PLANE_TAINT }] : [];
}

/** Each taint once (same key, value and effect), in first-seen order. */
function uniqueTaints(taints: NodeTaint[]): NodeTaint[] {
  const seen = new Set<string>();
  return taints.filter((t) => {
    const id = JSON.stringify([t.key, t.value ?? null, t.effect]);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The cluster facts of RenderContext, from the inventory. */
/** RenderContext cluster.access: the addresses access lines name (see its doc). */
export function accessAddresses(inv: Inventory): { node: string; frontend: string } {
  const frontend = inv.hosts.find((h) => h.roles.includes("frontend"));
  const worker = inv.hosts.find((h) => h.roles.includes("worker"));
  const node = (frontend ?? worker ?? inv.hosts[0])?.address ?? "";
  return { node, frontend: inv.cluster.edgeVIP?.vip ?? frontend?.address ?? node };
}

export function clusterFacts(inv: Inventory): RenderContext["cluster"] {
  const hosts = inv.hosts.map((h) => ({ name: h.name, address: h.internalAddress ?? h.address, roles: [...h.roles], taints: nodeTaints(h) }));
  const facts: RenderContext["cluster"] = {
    name: inv.cluster.name,
    podCIDR: inv.cluster.podCIDR,
    serviceCIDR: inv.cluster.serviceCIDR,
    hosts,
    frontendTaints: uniqueTaints(hosts.filter((h) => h.roles.includes("frontend")).flatMap((h) => h.taints)),
    access: accessAddresses(inv),
  };
  const e = inv.cluster.edgeVIP;
  if (e) facts.edgeVIP = e.prefix !== undefined ? { vip: e.vip, interface: e.interface, prefix: e.prefix } : { vip: e.vip, interface: e.interface };
  return facts;
}

export function renderContextFor(inv: Inventory, bundle: Bundle, values: Record<string, unknown>, release: Release = defaultRelease(bundle)): RenderContext {
  return { values, release, images: { ...(bundle.manifest.images ?? {}) }, cluster: clusterFacts(inv) };
}

/** Is a bundle on for this inventory? Listed: its `enabled` (default true); not listed: enabledByDefault. */
export function isEnabled(bundle: Bundle, inv: Inventory): boolean {
  const entry = inv.addons?.[bundle.manifest.name];
  return entry ? entry.enabled !== false : bundle.manifest.enabledByDefault === true;
}

/** Names in the inventory's addons section that no bundle has, one issue each with a guess (at the key's
 *  line when `source` is given). */
export function addonNameIssues(catalog: Map<string, Bundle>, inv: Inventory, where: string, source?: SourceLookup): InventoryIssue[] {
  const known = [...catalog.keys()];
  return Object.keys(inv.addons ?? {})
    .filter((n) => !catalog.has(n) && !NON_CATALOG_ADDONS.has(n))
    .map((n) => {
      const guess = closest(n, known);
      const pos = source?.keyPos(["addons", n]);
      return {
        file: where,
        ...(pos ? { line: pos.line, column: pos.column } : {}),
        path: `addons.${showName(n)}`,
        message: "no add-on bundle by this name",
        hint: `${guess ? `did you mean ${guess}? ` : ""}bundles: ${known.join(", ") || "none"} (kubesmith addons list)`,
      };
    });
}

/** Names in the inventory's addons section that no bundle has: an inventory error, with a guess. */
export function checkAddonNames(catalog: Map<string, Bundle>, inv: Inventory, where: string, source?: SourceLookup): void {
  const issues = addonNameIssues(catalog, inv, where, source);
  if (issues.length) throw new InventoryError(issues);
}

/** The enabled bundles of the catalog, by name. */
export function enabledBundles(catalog: Map<string, Bundle>, inv: Inventory, where: string): Bundle[] {
  checkAddonNames(catalog, inv, where);
  return [...catalog.values()].filter((b) => isEnabled(b, inv));
}
