// The add-ons phase of `up` (and of `addons apply`): the enabled bundles rendered into releases, applied
// level by level in dependency order, the releases of one level in parallel. Cluster releases go
// through the API (applyRelease: SSA, wait, prune, roll back); host releases over SSH (applyHostRelease).
// Every change goes through the change gate with the function that makes it (gateOf(ctx, API_HOST) for the
// API, change() per host step); in a dry run the gate records them and calls none.
import { applyRelease, type ApplyResult } from "../addons/apply.js";
import { mustRunOn } from "../addons/wait.js";
import { loadCalicoManifest, renderCalico } from "../addons/calico.js";
import { applyHostRelease, type HostTarget } from "../addons/hostapply.js";
import { loadAddonReleases, type AddonSelection, type RenderedRelease } from "../addons/releases.js";
import { recoverGeneratedSecrets } from "../addons/recover.js";
import { ApiError, KubesmithError, MultiHostError } from "../errors.js";
import type { ClusterContext } from "./context.js";
import { leftOut, remaining } from "./partial.js";
import { clusterWideSkipped } from "../cluster/limit.js";
import { change, gateOf, type Phase } from "./run.js";

/** The host name cluster (API) changes are recorded under. */
export const API_HOST = "cluster";

export interface AddonsRunSummary {
  cluster: ApplyResult[];
  hosts: { release: string; changes: Map<string, number> }[];
}

export async function applyClusterReleaseIn(
  ctx: ClusterContext,
  r: Extract<RenderedRelease, { target: "cluster" }>,
  namespaces: Set<string> = new Set(),
): Promise<ApplyResult | undefined> {
  const { rendered } = r;
  if (!ctx.kube) {
    // Before the cluster exists (only a dry run gets here: a real run has connected to the API by now, or
    // failed): everything would be created.
    await change(ctx, API_HOST, `${rendered.release.name}: create ${rendered.objects.length} object(s) in ${rendered.release.namespace}`, async () => {
      throw new ApiError(`cannot apply ${rendered.release.name}: no connection to the Kubernetes API`);
    });
    return undefined;
  }
  // Hosts this run goes on without (workers left out by --max-failed-workers, control planes it could not
  // reach): a must-run-on DaemonSet is not waited for there.
  const excused = leftOut(ctx, ctx.model.hosts);
  for (const o of rendered.objects) {
    const left = (mustRunOn(o) ?? []).filter((n) => excused.has(n));
    if (left.length) {
      ctx.reporter.emit({ kind: "warning", message: `${rendered.release.name}: ${o.kind}/${o.metadata.name} is not checked on ${left.join(", ")} (left out of this run)` });
    }
  }
  return applyRelease(ctx.kube, rendered, {
    gate: gateOf(ctx, API_HOST),
    ...(excused.size ? { excused } : {}),
    timeoutMs: ctx.options.waitTimeoutMs ?? 300_000,
    log: (message) => ctx.reporter.emit({ kind: "warning", message }),
    namespaces,
  });
}

export async function hostTargets(ctx: ClusterContext, names: string[]): Promise<HostTarget[]> {
  const hosts = remaining(ctx, ctx.model.hosts).filter((h) => names.includes(h.name));
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
    ctx.calico = { source: manifest.source, objects: renderCalico({ podCIDR: ctx.model.inventory.cluster.podCIDR, manifest, imageRepository: ctx.model.inventory.offline?.imageRepository }) };
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
      // A value made up in this run that the running cluster already has is read back, never rotated.
      const renderWith = async (g: { bundle: string; path: string }, value: string) => {
        const saved = ctx.recoveredSecrets;
        ctx.recoveredSecrets = [...(saved ?? []), { bundle: g.bundle, path: g.path, value, from: "" }];
        try {
          return (await loadAddonReleases(ctx, { ...selection, only: [g.bundle], includeDisabled: true }, [])).flat();
        } finally {
          ctx.recoveredSecrets = saved;
        }
      };
      const recovered = await recoverGeneratedSecrets(ctx, levels, renderWith);
      if (recovered.length) {
        ctx.recoveredSecrets = [...(ctx.recoveredSecrets ?? []), ...recovered];
        const isRecovered = (g: { bundle: string; path: string }) => recovered.some((r) => r.bundle === g.bundle && r.path === g.path);
        ctx.generatedSecrets = ctx.generatedSecrets.filter((g) => !isRecovered(g));
        for (const r of recovered) ctx.reporter.emit({ kind: "warning", message: `${r.bundle}: ${r.path} was not in kubesmith's state; kept the value the cluster uses (${r.from})` });
        const access: string[] = [];
        levels = await loadAddonReleases(ctx, selection, [], access);
        if (everything) {
          ctx.addonLevels = levels;
          ctx.addonAccess = access;
        }
      }
    },
    shouldRun(ctx) {
      if (!levels.some((l) => l.length)) return "no add-on bundle is enabled";
      // --limit without the leader: host bundles on the limited hosts only, nothing through the API.
      const limited = clusterWideSkipped(ctx);
      return !limited || levels.some((l) => l.some((r) => r.target === "hosts")) || `cluster add-ons: ${limited}`;
    },
    async run(ctx) {
      const limited = clusterWideSkipped(ctx);
      await applyLevels(ctx, limited ? levels.map((l) => l.filter((r) => r.target === "hosts")) : levels);
    },
  };
}

/** `up` runs this after node labels and taints. */
export const applyAddons: Phase<ClusterContext> = addonsPhase();
