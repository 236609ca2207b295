// `remove-node`: scale in. For each node (workers first, then the control planes one at a time): drain
// (src/kube/drain.ts: Eviction API, budgets honoured) and delete its Node; for a control plane stop its
// keepalived (the VIP moves while its API still answers) and remove its etcd member through a control
// plane that stays; then remove its host add-ons and reset the host as `down` does (scripts/reset.ts). A control plane is checked first against etcd's quorum (quorumRefusal) and refused
// before anything changes. The run's model leaves the removed hosts out (cluster/leave.ts), so the phases
// after this one (keepalived's VIP peers, the add-ons' host lists) render the cluster that stays.
// Also here: `up`'s warning about Nodes the inventory no longer lists (strayNodes).
import { dirname } from "node:path";
import { installedHostReleases, removeHostRelease } from "../addons/hostapply.js";
import { etcdctlCommand, memberOf, parseMemberList, type EtcdMemberInfo } from "../cluster/etcd.js";
import type { ClusterHost } from "../cluster/model.js";
import { CommandError, QuorumError, UnreachableError, UsageError } from "../errors.js";
import type { HostSpec } from "../inventory/schema.js";
import type { KubeClient, KubeObject } from "../kube/client.js";
import { keepalivedRemoveSteps, resetSteps } from "../scripts/reset.js";
import { targetsFromInventory } from "../ssh/targets.js";
import type { Runner } from "../ssh/types.js";
import { ensureKube } from "./api.js";
import type { ClusterContext } from "./context.js";
import { drainWithRunOptions } from "./down.js";
import { change, type Phase } from "./run.js";
import { runSteps } from "./steps.js";

const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

/** (n/2)+1 of n members (etcd FAQ, "What is failure tolerance?"). */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Why removing `leaving` from this etcd membership is refused, or undefined when it is safe. The members
 * that stay and answer must still be a majority of the membership as it is now: the removal is a
 * configuration change the current members commit, and the leaving member may stop (drained, reset, or
 * just gone) before the change reaches the others. So removing one of two members is refused (etcd's
 * raft README: removing a member from a two-member cluster can leave it unable to make progress), and so is
 * removing a healthy member while another one is unhealthy. Removing the last member is always refused.
 */
export function quorumRefusal(members: EtcdMemberInfo[], healthy: ReadonlySet<string>, leaving: EtcdMemberInfo): string | undefined {
  const desc = members.map((m) => `${m.name} ${healthy.has(m.id) ? "healthy" : "unhealthy"}`).join(", ");
  if (members.length <= 1) return `${leaving.name} is etcd's last member (the cluster's state lives in it)`;
  const stay = members.filter((m) => m.id !== leaving.id && healthy.has(m.id)).length;
  const need = quorumOf(members.length);
  if (stay >= need) return undefined;
  return `etcd would lose its quorum: ${members.length} members (${desc}) need ${need} up, and without ${leaving.name} ${stay} healthy would be left`;
}

/** `etcdctl endpoint health --cluster` (simple format, any of stdout/stderr): the client URLs that committed a proposal. */
export function parseEndpointHealth(out: string): Set<string> {
  const healthy = new Set<string>();
  for (const m of out.matchAll(/(https?:\/\/\S+) is (healthy|unhealthy)/g)) if (m[2] === "healthy") healthy.add(m[1]!);
  return healthy;
}

interface EtcdView {
  members: EtcdMemberInfo[];
  /** Member IDs whose endpoint answered. */
  healthy: Set<string>;
}

/** The member list and which members answer, read through a control plane that stays. */
async function etcdView(ctx: ClusterContext, runner: Runner, through: string): Promise<EtcdView> {
  const list = await runner.exec(etcdctlCommand(["member", "list"]), { sudo: true, allowFailure: true, label: "etcd members" });
  if (list.code !== 0) throw new CommandError(through, "etcdctl member list", list.code, list.stderr, "listing the etcd members (before removing a control plane)");
  const members = parseMemberList(list.stdout);
  const health = await runner.exec(etcdctlCommand(["endpoint", "health", "--cluster"]), { sudo: true, allowFailure: true, label: "etcd endpoint health" });
  const ok = parseEndpointHealth(`${health.stdout}\n${health.stderr}`);
  // etcdctl member list prints a member's client URLs comma-separated in one field (parseMemberList keeps the peer URLs)
  const clientUrls = new Map<string, string[]>();
  for (const line of list.stdout.split("\n")) {
    const f = line.split(", ").map((s) => s.trim());
    if (f.length >= 5) clientUrls.set(f[0]!, f[4]!.split(",").filter(Boolean));
  }
  const healthy = new Set(members.filter((m) => (clientUrls.get(m.id) ?? []).some((u) => ok.has(u))).map((m) => m.id));
  return { members, healthy };
}

/**
 * The node controller set the Node's Ready condition to Unknown: its kubelet stopped posting status
 * (kubernetes.io/docs/concepts/architecture/nodes, "Node status": Ready "Unknown if the node controller has
 * not heard from the node in the last node-monitor-grace-period"). Evicted pods there never finish
 * terminating (the kubelet confirms it), so a drain would only time out; deleting the Node lets the pod
 * garbage collector delete them (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle, "Garbage
 * collection of Pods": orphan pods bound to a node which no longer exists).
 */
export function kubeletGone(node: KubeObject): boolean {
  const conds = (node.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
  return conds.find((c) => c.type === "Ready")?.status === "Unknown";
}

function isControlPlaneNode(n: KubeObject): boolean {
  return Object.prototype.hasOwnProperty.call(n.metadata.labels ?? {}, CONTROL_PLANE_LABEL);
}

function internalIP(n: KubeObject): string | undefined {
  const addrs = (n.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? [];
  return addrs.find((a) => a.type === "InternalIP")?.address;
}

/**
 * A node the inventory no longer lists: its address is its Node's InternalIP, its SSH settings the
 * inventory's defaults, its role what the Node's labels say.
 */
function hostFromNode(ctx: ClusterContext, node: KubeObject): ClusterHost {
  const name = node.metadata.name;
  const address = internalIP(node);
  if (!address) throw new UsageError(`${name} is not in ${ctx.model.loaded.file} and its Node has no InternalIP to reach it by: add the host to the inventory (name, address, roles) and run remove-node again`);
  const cp = isControlPlaneNode(node);
  const spec: HostSpec = { name, address, roles: [cp ? "control-plane" : "worker"] };
  const [target] = targetsFromInventory(
    { ...ctx.model.inventory, hosts: [spec] },
    { baseDir: dirname(ctx.model.loaded.file), inventoryFile: ctx.options.inventory, ...(ctx.options.hostKeyPolicy ? { hostKeyPolicy: ctx.options.hostKeyPolicy } : {}) },
  );
  return { name, address, nodeIP: address, spec, target: target!, isControlPlane: cp, isWorker: !cp, isFrontend: false };
}

/** The hosts to remove, in order: the inventory's, then Nodes the inventory no longer lists; workers first. */
async function resolveLeaving(ctx: ClusterContext, kube: KubeClient, names: readonly string[]): Promise<{ host: ClusterHost; node?: KubeObject }[]> {
  const out: { host: ClusterHost; node?: KubeObject }[] = [];
  for (const name of names) {
    const node = await kube.get("v1", "Node", name);
    let host = ctx.leaving?.find((h) => h.name === name);
    if (!host) {
      if (!node) throw new UsageError(`${name}: no host of that name in ${ctx.model.loaded.file} and no Node of that name in the cluster`);
      host = hostFromNode(ctx, node);
      (ctx.leaving ??= []).push(host);
    }
    out.push({ host, ...(node ? { node } : {}) });
  }
  return [...out.filter((x) => !x.host.isControlPlane), ...out.filter((x) => x.host.isControlPlane)];
}

export const removeNodes: Phase<ClusterContext> = {
  title: "remove nodes (drain, etcd member, reset, delete)",
  async run(ctx) {
    const names = ctx.options.remove ?? [];
    const leader = ctx.model.first;
    if (!ctx.joined.has(leader.name)) {
      throw new UsageError(`${leader.name} (the first control plane that stays) is not set up by kubeadm: remove-node works on a running cluster; run up first`);
    }
    const kube = await ensureKube(ctx);
    const leaving = await resolveLeaving(ctx, kube, names);
    const leaderRunner = await ctx.runner(leader.name);

    // Every control plane is checked before anything changes, each as if the ones before it were gone.
    const cps = leaving.filter((x) => x.host.isControlPlane);
    if (cps.length) {
      const nodes = await kube.list("v1", "Node");
      const staying = nodes.filter((n) => isControlPlaneNode(n) && !names.includes(n.metadata.name));
      if (!staying.length) throw new QuorumError(`refusing to remove ${cps.map((x) => x.host.name).join(", ")}: the cluster would have no control plane left; nothing was changed`);
      const view = await etcdView(ctx, leaderRunner, leader.name);
      let members = view.members;
      for (const { host } of cps) {
        const m = memberOf(members, host);
        if (!m) continue;
        const why = quorumRefusal(members, view.healthy, m);
        if (why) {
          throw new QuorumError(`refusing to remove control plane ${host.name}: ${why}; nothing was changed`, {
            hint: "join another control plane first (add it to the inventory and run up), or bring the unhealthy members back",
          });
        }
        members = members.filter((x) => x !== m);
      }
    }

    const vip = ctx.model.endpoint.kind === "vip";
    for (const { host: h, node } of leaving) {
      if (node && kubeletGone(node)) {
        ctx.reporter.emit({ kind: "warning", host: h.name, message: `${h.name}'s kubelet stopped posting its status (Ready is Unknown): it is not drained, since its pods could not finish terminating; once its Node is deleted the pod garbage collector removes them and their controllers start them elsewhere` });
        await change(ctx, h.name, `delete node ${h.name} (not drained: its kubelet does not answer)`, async () => void (await kube.delete("v1", "Node", h.name)));
      } else if (node) {
        await change(ctx, h.name, `cordon and drain node ${h.name}, delete it`, async () => {
          await drainWithRunOptions(ctx, kube, h.name);
          // as down does: the Node goes before the reset, while every control plane still serves the API
          await kube.delete("v1", "Node", h.name);
        });
      }
      let runner: Runner | undefined;
      try {
        runner = await ctx.runner(h.name);
      } catch (err) {
        if (!(err instanceof UnreachableError)) throw err;
        ctx.reporter.emit({ kind: "warning", host: h.name, message: `cannot reach ${h.name} (${err.message}): its Node and etcd member are removed, the host itself is not reset; run 'kubeadm reset -f' on it if it comes back` });
      }
      if (h.isControlPlane) {
        // keepalived goes first (a graceful stop hands the VIP over at once), while this host's API still
        // answers: once its etcd member is removed, its kube-apiserver (whose etcd is local) fails
        if (runner && vip) await runSteps(ctx, h.name, runner, keepalivedRemoveSteps());
        // read again: the members change as control planes leave
        const { members } = await etcdView(ctx, leaderRunner, leader.name);
        const m = memberOf(members, h);
        if (m) {
          await change(ctx, h.name, `remove its etcd member ${m.id} (${m.name}) through ${leader.name}`, async () => {
            await leaderRunner.exec(etcdctlCommand(["member", "remove", m.id]), { sudo: true, label: `etcd member remove (${h.name})` });
          });
        }
      }
      if (runner) {
        for (const release of await installedHostReleases(runner)) {
          await removeHostRelease(ctx, release, [{ name: h.name, runner, packageManager: "unknown" }]);
        }
        // the same reset as `down`
        await runSteps(ctx, h.name, runner, resetSteps({ keepalived: vip && h.isControlPlane }));
      }
    }
  },
};

/** The Nodes of a cluster that an inventory does not list (sorted). */
export function strayNodeNames(nodes: KubeObject[], inventoryNames: readonly string[]): string[] {
  const known = new Set(inventoryNames);
  return nodes.map((n) => n.metadata.name).filter((n) => !known.has(n)).sort();
}

/** `up`: one warning naming the Nodes the inventory does not list. up never deletes them itself. */
export const strayNodes: Phase<ClusterContext> = {
  title: "nodes not in the inventory",
  shouldRun(ctx) {
    return !!ctx.kube || "no API connection";
  },
  async run(ctx) {
    const stray = strayNodeNames(await ctx.kube!.list("v1", "Node"), ctx.model.hosts.map((h) => h.name));
    if (!stray.length) return;
    ctx.reporter.emit({
      kind: "warning",
      message: `the cluster has node(s) ${ctx.model.loaded.file} does not list: ${stray.join(", ")}; up leaves them alone (remove them with 'kubesmith remove-node -i ${ctx.options.inventory} ${stray.join(" ")}', or add them back to the inventory)`,
    });
  },
};
