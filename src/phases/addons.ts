// The add-ons phase of `up` (and of `addons apply`): the enabled bundles rendered into releases, applied
// level by level in dependency order, the releases of one level in parallel. Cluster releases go
// through the API (applyRelease: SSA, wait, prune, roll back); host releases over SSH (applyHostRelease).
// Every change is recorded through change(); in a dry run only that happens.
import { applyRelease, type ApplyResult } from "../addons/apply.js";
import { loadCalicoManifest, renderCalico } from "../addons/calico.js";
import { applyHostRelease, type HostTarget } from "../addons/hostapply.js";
import { loadAddonReleases, type AddonSelection, type RenderedRelease } from "../addons/releases.js";
import { ApiError, KubesmithError, MultiHostError } from "../errors.js";
import type { ClusterContext } from "./context.js";
import { change, type Phase } from "./run.js";

/** The host name cluster (API) changes are recorded under. */
export const API_HOST = "cluster";

export interface AddonsRunSummary {
  cluster: ApplyResult[];
  hosts: { release: string; changes: Map<string, number> }[];
}

async function record(ctx: ClusterContext, what: string): Promise<void> {
  // The apply engine makes the change itself (or not, in a dry run); this only records and reports it.
  await change(ctx, API_HOST, what, async () => {});
}

export async function applyClusterReleaseIn(
  ctx: ClusterContext,
  r: Extract<RenderedRelease, { target: "cluster" }>,
  namespaces: Set<string> = new Set(),
): Promise<ApplyResult | undefined> {
  const { rendered } = r;
  if (!ctx.kube && !ctx.dryRun) throw new ApiError(`cannot apply ${rendered.release.name}: no connection to the Kubernetes API`);
  if (!ctx.kube) {
    // Dry run before the cluster exists: everything would be created.
    await record(ctx, `${rendered.release.name}: create ${rendered.objects.length} object(s) in ${rendered.release.namespace}`);
    return undefined;
  }
  return applyRelease(ctx.kube, rendered, {
    dryRun: ctx.dryRun,
    timeoutMs: ctx.options.waitTimeoutMs ?? 300_000,
    onChange: (what) => record(ctx, what),
    log: (message) => ctx.reporter.emit({ kind: "warning", message }),
    namespaces,
  });
}

export async function hostTargets(ctx: ClusterContext, names: string[]): Promise<HostTarget[]> {
  const hosts = ctx.model.hosts.filter((h) => names.includes(h.name) && !ctx.unreachable?.has(h.name));
  return Promise.all(
    hosts.map(async (h) => ({
      name: h.name,
      runner: await ctx.runner(h.name),
      packageManager: ctx.facts.get(h.name)?.packageManager ?? "unknown",
    })),
  );
}

/** Apply releases level by level; a failed level stops the run after all its releases finished. */
export async function applyLevels(ctx: ClusterContext, levels: RenderedRelease[][]): Promise<AddonsRunSummary> {
  const summary: AddonsRunSummary = { cluster: [], hosts: [] };
  const namespaces = new Set<string>();
  for (const level of levels) {
    const results = await Promise.allSettled(
      level.map(async (r) => {
        if (r.target === "cluster") {
          const res = await applyClusterReleaseIn(ctx, r, namespaces);
          if (res) summary.cluster.push(res);
        } else {
          const targets = await hostTargets(ctx, Object.keys(r.rendered.files));
          summary.hosts.push({ release: r.rendered.release.name, changes: await applyHostRelease(ctx, r.rendered, targets) });
        }
      }),
    );
    const errors = results.filter((x): x is PromiseRejectedResult => x.status === "rejected").map((x) => x.reason as unknown);
    const bug = errors.find((e) => !(e instanceof KubesmithError));
    if (bug !== undefined) throw bug;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new MultiHostError(errors as KubesmithError[]);
  }
  return summary;
}

/**
 * `up` runs this first, before any host is touched: every enabled bundle's values are checked (a bad
 * override fails here, naming bundle and key) and rendered; the add-ons phase applies what it rendered.
 */
export const renderAddons: Phase<ClusterContext> = {
  title: "add-ons: check values and render",
  async run(ctx) {
    ctx.generatedSecrets ??= [];
    ctx.addonAccess = [];
    ctx.addonLevels = await loadAddonReleases(ctx, {}, ctx.generatedSecrets, ctx.addonAccess);
    // The CNI too: a manifest that cannot be had or whose sha256 does not match stops the run here.
    const manifest = await loadCalicoManifest(ctx.model.inventory.addons?.["calico"]?.values);
    ctx.calico = { source: manifest.source, objects: renderCalico({ podCIDR: ctx.model.inventory.cluster.podCIDR, manifest }) };
  },
};

/** The phase, for a selection of bundles (default: every enabled one, as renderAddons rendered them). */
export function addonsPhase(selection: AddonSelection = {}): Phase<ClusterContext> {
  let levels: RenderedRelease[][] = [];
  const everything = Object.keys(selection).length === 0;
  return {
    title: "add-ons: apply the enabled bundles",
    async prepare(ctx) {
      ctx.generatedSecrets ??= [];
      levels = everything && ctx.addonLevels ? ctx.addonLevels : await loadAddonReleases(ctx, selection, ctx.generatedSecrets);
    },
    shouldRun() {
      return levels.some((l) => l.length) || "no add-on bundle is enabled";
    },
    async run(ctx) {
      await applyLevels(ctx, levels);
    },
  };
}

/** `up` runs this after node labels and taints. */
export const applyAddons: Phase<ClusterContext> = addonsPhase();
