// The one seam between the add-on renderer (catalog, values, render, order — written alongside) and the
// apply half: the enabled bundles of the inventory, rendered into releases, in dependency levels.
//
// INTEGRATION NOTE: the renderer modules were not in the tree when this was written. They are loaded
// by name at run time (loadEngine) so that the tree typechecks either way; once catalog.ts, values.ts,
// render.ts and order.ts exist, replace loadEngine's dynamic imports by static ones and adjust
// renderAddonLevels to their real signatures (it assumes the ones in AddonEngine below).
import { UsageError } from "../errors.js";
import type { ClusterContext } from "../phases/context.js";
import type { Bundle, RenderContext, RenderedCluster, RenderedHosts } from "./types.js";

export type RenderedRelease = { target: "cluster"; rendered: RenderedCluster } | { target: "hosts"; rendered: RenderedHosts };

export interface AddonSelection {
  /** Bundle names; default every enabled bundle. */
  only?: string[];
  /** A directory of the user's own bundles. */
  addonsDir?: string;
  /** Only this release. */
  release?: string;
  /** Also bundles the inventory disables (for remove). */
  includeDisabled?: boolean;
}

/** The renderer's functions, as the apply half expects them. */
export interface AddonEngine {
  loadCatalog(opts: { addonsDir?: string }): Promise<Bundle[] | Map<string, Bundle>>;
  resolveValues(bundle: Bundle, overrides: Record<string, unknown> | undefined): Record<string, unknown> | Promise<Record<string, unknown>>;
  renderCluster(bundle: Bundle, rc: RenderContext): RenderedCluster | Promise<RenderedCluster>;
  renderHosts(bundle: Bundle, rc: RenderContext): RenderedHosts | Promise<RenderedHosts>;
  orderBundles(bundles: Bundle[]): Bundle[][];
}

let engine: AddonEngine | undefined;

/** Tests and the lead may set the engine explicitly. */
export function setAddonEngine(e: AddonEngine | undefined): void {
  engine = e;
}

async function loadEngine(): Promise<AddonEngine> {
  if (engine) return engine;
  const load = async (m: string): Promise<Record<string, unknown>> => {
    try {
      return (await import(new URL(`./${m}.js`, import.meta.url).href)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`the add-on renderer (src/addons/${m}.ts) is not available: ${(err as Error).message}`);
    }
  };
  const [catalog, values, render, order] = await Promise.all([load("catalog"), load("values"), load("render"), load("order")]);
  engine = { ...catalog, ...values, ...render, ...order } as unknown as AddonEngine;
  return engine;
}

function enabled(ctx: ClusterContext, b: Bundle): boolean {
  const entry = ctx.model.inventory.addons?.[b.manifest.name];
  return entry ? entry.enabled !== false : b.manifest.enabledByDefault === true;
}

/** Render the selection into releases, level by level (dependencies first). Pure with respect to the cluster. */
export async function loadAddonReleases(ctx: ClusterContext, sel: AddonSelection = {}): Promise<RenderedRelease[][]> {
  const e = await loadEngine();
  const cat = await e.loadCatalog(sel.addonsDir ? { addonsDir: sel.addonsDir } : {});
  const all = cat instanceof Map ? [...cat.values()] : cat;
  for (const name of sel.only ?? []) {
    if (!all.some((b) => b.manifest.name === name)) throw new UsageError(`no add-on bundle named '${name}' (see 'kubesmith addons list')`);
  }
  // Calico is applied by the CNI phase of `up`, before nodes can be Ready.
  const chosen = all.filter((b) => b.manifest.name !== "calico" && (sel.only ? sel.only.includes(b.manifest.name) : true) && (sel.includeDisabled || enabled(ctx, b)));
  const inv = ctx.model.inventory;
  const cluster: RenderContext["cluster"] = {
    name: inv.cluster.name,
    podCIDR: inv.cluster.podCIDR,
    serviceCIDR: inv.cluster.serviceCIDR,
    ...(inv.cluster.edgeVIP ? { edgeVIP: inv.cluster.edgeVIP as NonNullable<RenderContext["cluster"]["edgeVIP"]> } : {}),
    hosts: ctx.model.hosts.map((h) => ({ name: h.name, address: h.nodeIP, roles: [...h.spec.roles] })),
  };
  // Every value is resolved (and checked) before anything is rendered or applied.
  const values = new Map<string, Record<string, unknown>>();
  for (const b of chosen) values.set(b.manifest.name, await e.resolveValues(b, inv.addons?.[b.manifest.name]?.values));
  const levels: RenderedRelease[][] = [];
  for (const level of e.orderBundles(chosen)) {
    const out: RenderedRelease[] = [];
    for (const b of level) {
      const name = b.manifest.name;
      const rc: RenderContext = {
        values: values.get(name) ?? {},
        release: { name, namespace: b.manifest.namespace ?? "default" },
        images: b.manifest.images ?? {},
        cluster,
      };
      if (sel.release && rc.release.name !== sel.release) continue;
      if (b.manifest.target === "hosts") out.push({ target: "hosts", rendered: await e.renderHosts(b, rc) });
      else out.push({ target: "cluster", rendered: await e.renderCluster(b, rc) });
    }
    if (out.length) levels.push(out);
  }
  return levels;
}
