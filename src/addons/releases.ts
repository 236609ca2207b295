// The one seam between the add-on renderer (catalog, values, render, order) and the apply half: the enabled
// bundles of the inventory, their values resolved (generated secrets filled in) and checked before anything
// is rendered or applied, rendered into releases, in dependency levels.
import { addonSecret } from "../cluster/secrets.js";
import { UsageError } from "../errors.js";
import type { ClusterContext } from "../phases/context.js";
import { loadCatalog } from "./catalog.js";
import { checkAddonNames, defaultRelease, isEnabled, NON_CATALOG_ADDONS, renderContextFor } from "./context.js";
import { generatedValues, getPath, setPath } from "./generated.js";
import { redirectImages } from "./images.js";
import { orderBundleLevels, type OrderOptions } from "./order.js";
import { renderAccess, renderCluster, renderHosts } from "./render.js";
import type { Bundle, RenderContext, RenderedCluster, RenderedHosts } from "./types.js";
import { resolveValues } from "./values.js";

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

/** The renderer's functions; tests may swap in their own (setAddonEngine). */
export interface AddonEngine {
  loadCatalog(opts: { addonsDir?: string }): Promise<Map<string, Bundle>>;
  resolveValues(bundle: Bundle, overrides: unknown, where: string): Record<string, unknown>;
  renderCluster(bundle: Bundle, rc: RenderContext): RenderedCluster;
  renderHosts(bundle: Bundle, rc: RenderContext): RenderedHosts;
  orderBundleLevels(bundles: Bundle[], opts?: OrderOptions): Bundle[][];
}

const realEngine: AddonEngine = {
  loadCatalog: (opts) => loadCatalog(opts),
  resolveValues: (b, o, where) => resolveValues(b, o, where),
  renderCluster: (b, rc) => renderCluster(b, rc),
  renderHosts: (b, rc) => renderHosts(b, rc),
  orderBundleLevels: (bs, opts) => orderBundleLevels(bs, opts),
};

let engine: AddonEngine = realEngine;

export function setAddonEngine(e: AddonEngine | undefined): void {
  engine = e ?? realEngine;
}

/** Secrets generated for the bundles in this run (shown once at the end of `up`). */
export interface GeneratedSecret {
  bundle: string;
  path: string;
  value: string;
}

/**
 * The inventory's overrides for a bundle, with every writeOnly required value that is neither given nor
 * defaulted filled from the cluster's stored secrets (generated the first time).
 */
export function overridesWithSecrets(ctx: ClusterContext, b: Bundle, fresh: GeneratedSecret[]): Record<string, unknown> {
  const name = b.manifest.name;
  const overrides = { ...((ctx.model.inventory.addons?.[name]?.values as Record<string, unknown> | undefined) ?? {}) };
  for (const g of generatedValues(b)) {
    if (getPath(overrides, g.path) !== undefined || getPath(b.defaults, g.path) !== undefined) continue;
    // Rendering again in the same run (after recovery) keeps the values already chosen.
    const known = ctx.recoveredSecrets?.find((r) => r.bundle === name && r.path === g.path) ?? ctx.generatedSecrets?.find((r) => r.bundle === name && r.path === g.path);
    if (known) {
      setPath(overrides, g.path, known.value);
      continue;
    }
    const s = addonSecret(ctx.stateDir, ctx.model.name, name, g.path, g.length, { create: !ctx.dryRun });
    setPath(overrides, g.path, s.value);
    if (s.generated) fresh.push({ bundle: name, path: g.path, value: s.value });
  }
  return overrides;
}

/** Render the selection into releases, level by level (dependencies first). Pure with respect to the cluster. */
export async function loadAddonReleases(
  ctx: ClusterContext,
  sel: AddonSelection = {},
  fresh: GeneratedSecret[] = [],
  access: string[] = [],
): Promise<RenderedRelease[][]> {
  const catalog = await engine.loadCatalog(sel.addonsDir ? { addonsDir: sel.addonsDir } : {});
  const inv = ctx.model.inventory;
  const where = ctx.model.loaded.file;
  checkAddonNames(catalog, inv, where);
  for (const name of sel.only ?? []) {
    if (!catalog.has(name)) throw new UsageError(`no add-on bundle named '${name}' (see 'kubesmith addons list')`);
  }
  // Calico is applied by the CNI phase of `up`, before nodes can be Ready.
  const chosen = [...catalog.values()].filter(
    (b) => !NON_CATALOG_ADDONS.has(b.manifest.name) && (sel.only ? sel.only.includes(b.manifest.name) : true) && (sel.includeDisabled || isEnabled(b, inv)),
  );
  // Every value is resolved (and checked) before anything is rendered or applied.
  const values = new Map<string, Record<string, unknown>>();
  for (const b of chosen) values.set(b.manifest.name, engine.resolveValues(b, overridesWithSecrets(ctx, b, fresh), where));
  const levels: RenderedRelease[][] = [];
  // A named subset: its dependencies are resolved against the catalogue; enabled ones outside the subset
  // are taken as applied (by `up`), disabled ones are an error naming them.
  const present = sel.only ? [...catalog.values()].filter((b) => !chosen.includes(b) && isEnabled(b, inv)).map((b) => b.manifest.name) : [];
  for (const level of engine.orderBundleLevels(chosen, { known: catalog.keys(), present })) {
    const out: RenderedRelease[] = [];
    for (const b of level) {
      const rc = renderContextFor(inv, b, values.get(b.manifest.name) ?? {}, defaultRelease(b));
      if (sel.release && rc.release.name !== sel.release) continue;
      access.push(...renderAccess(b, rc));
      if (b.manifest.target === "hosts") out.push({ target: "hosts", rendered: engine.renderHosts(b, rc) });
      else {
        const rendered = engine.renderCluster(b, rc);
        // offline.imageRepository: every image of every rendered object comes from that one registry.
        if (inv.offline?.imageRepository) redirectImages(rendered.objects, inv.offline.imageRepository);
        out.push({ target: "cluster", rendered });
      }
    }
    if (out.length) levels.push(out);
  }
  return levels;
}
