// Before a control plane joins: a member its host had in etcd (the host was rebuilt or wiped since) is
// removed through the leader, so kubeadm adds a fresh one. Read-only when there is none (also in a dry run).
import type { ClusterHost } from "../cluster/model.js";
import { etcdctlCommand, memberOf, parseMemberList } from "../cluster/etcd.js";
import { CommandError } from "../errors.js";
import type { ClusterContext } from "./context.js";
import { change } from "./run.js";

export async function removeStaleEtcdMember(ctx: ClusterContext, h: ClusterHost): Promise<void> {
  const leader = ctx.model.first;
  if (h === leader || !ctx.joined.has(leader.name)) return; // a new cluster: no members but the leader's
  const runner = await ctx.runner(leader.name);
  const list = await runner.exec(etcdctlCommand(["member", "list"]), { sudo: true, allowFailure: true, label: "etcd members" });
  if (list.code !== 0) {
    throw new CommandError(leader.name, "etcdctl member list", list.code, list.stderr, `listing the etcd members (before ${h.name} joins)`);
  }
  const stale = memberOf(parseMemberList(list.stdout), h);
  if (!stale) return;
  await change(ctx, h.name, `remove its stale etcd member ${stale.id} (${stale.name}; the host is not set up) through ${leader.name}`, async () => {
    await runner.exec(etcdctlCommand(["member", "remove", stale.id]), { sudo: true, label: `etcd member remove (${h.name})` });
  });
}
