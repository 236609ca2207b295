// `down`: drain (src/kube/drain.ts: Eviction API, budgets honoured) and delete the nodes (workers first), then reset every host to how it was before `up`:
// kubeadm reset, CNI leftovers, iptables/ipvs rules, etcd data, the control-plane keepalived.
import { installedHostReleases, removeHostRelease } from "../addons/hostapply.js";
import { ApiError } from "../errors.js";
import { hostTargets } from "./addons.js";
import { resetSteps } from "../scripts/reset.js";
import type { ClusterHost } from "../cluster/model.js";
import type { KubeClient } from "../kube/client.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, drainNode, type DrainResult } from "../kube/drain.js";
import { connectKube } from "./api.js";
import { prefetchedAdminConf } from "./hosts.js";
import type { ClusterContext } from "./context.js";
import { remaining } from "./partial.js";
import { change, forHosts, type Phase } from "./run.js";
import { runSteps } from "./steps.js";

export const drainNodes: Phase<ClusterContext> = {
  title: "drain and delete nodes (workers first)",
  shouldRun(ctx) {
    return ctx.joined.has(ctx.model.first.name) || `${ctx.model.first.name} has no cluster`;
  },
  async run(ctx) {
    ctx.adminConf = prefetchedAdminConf(ctx) ?? (await (await ctx.runner(ctx.model.first.name)).download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
    let kube: KubeClient;
    try {
      kube = await connectKube(ctx, ctx.adminConf);
      ctx.kube = kube;
    } catch (err) {
      // A cluster whose API is gone can still be reset host by host.
      ctx.reporter.emit({ kind: "warning", message: `the API does not answer (${err instanceof ApiError ? err.message : String(err)}); skipping drain` });
      return;
    }
    // With --limit only those nodes (workers and frontends: cluster/limit.ts checkDownLimit).
    const order = remaining(ctx, [...ctx.model.workers, ...[...ctx.model.controlPlanes].reverse()]);
    for (const h of order) {
      const node = await kube.get("v1", "Node", h.name);
      if (!node) continue;
      await change(ctx, h.name, `cordon, evict pods and delete node ${h.name}`, async () => {
        // PodDisruptionBudgets hold (Eviction API); --force deletes what they still hold at the timeout
        await drainWithRunOptions(ctx, kube, h.name);
        await kube.delete("v1", "Node", h.name);
      });
    }
  },
};

/**
 * Drain a node as the run's options say (--drain-timeout, --force, the run's interrupt), its warnings as
 * the run's; `again` is how the refusal tells the user to run the command again. down, remove-node, upgrade.
 */
export function drainWithRunOptions(ctx: ClusterContext, kube: KubeClient, node: string, again = "run again"): Promise<DrainResult> {
  return drainNode(kube, node, {
    timeoutMs: ctx.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    ...(ctx.options.force ? { force: true } : {}),
    ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
    forceHint: `${again} with --force to delete the pods eviction cannot remove, or give them more time with --drain-timeout`,
    warn: (message) => ctx.reporter.emit({ kind: "warning", host: node, message }),
  });
}

export const resetHosts: Phase<ClusterContext> = {
  title: "reset hosts (kubeadm reset, CNI, iptables, etcd, keepalived)",
  async run(ctx) {
    const vip = ctx.model.endpoint.kind === "vip";
    const reset = async (h: ClusterHost) => {
      const steps = resetSteps({ keepalived: vip && h.isControlPlane });
      const n = await runSteps(ctx, h.name, await ctx.runner(h.name), steps);
      return n ? undefined : "already clean";
    };
    // Workers in parallel; then the control planes one at a time, the last joined first: each `kubeadm
    // reset` removes its own etcd member, and removals in parallel can cost the remaining members quorum.
    await forHosts(ctx, ctx.model.hosts.filter((h) => !h.isControlPlane), reset);
    await forHosts(ctx, [...ctx.model.controlPlanes].reverse(), reset, { concurrency: 1 });
  },
};

/** Host add-ons (keepalived-edge …): every release a host has a manifest for is stopped and removed. */
export const removeHostAddons: Phase<ClusterContext> = {
  title: "remove host add-ons (e.g. keepalived on the frontend nodes)",
  async run(ctx) {
    const byRelease = new Map<string, string[]>();
    await forHosts(ctx, ctx.model.hosts, async (h) => {
      const releases = await installedHostReleases(await ctx.runner(h.name));
      for (const r of releases) byRelease.set(r, [...(byRelease.get(r) ?? []), h.name]);
      return releases.length ? undefined : "no host add-ons";
    });
    for (const [release, hosts] of byRelease) await removeHostRelease(ctx, release, await hostTargets(ctx, hosts));
  },
};
