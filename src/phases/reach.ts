// What `up` does when control planes cannot be reached. The policy is one function, unreachablePolicy:
//
// - An unreachable control plane is left out of the run (every later forHosts skips it) when the cluster
//   exists without it: another control plane that was reached is set up by kubeadm, so no init can be
//   needed, and the leader is chosen among the reachable ones (chooseLeader). Everything else is done
//   through the others: the lock, join tokens, joins, Calico, labels and add-ons through the API endpoint.
// - The run still ends with exit 4 (unreachable), one line per host naming the cause: a control plane
//   was not checked, so "the cluster matches the inventory" cannot be said. Exit 0 with a warning was
//   considered and rejected: a CI job would go green while a third of the control planes (and possibly
//   etcd's failure tolerance) is gone.
// - Anything else stays fatal at once: an unreachable worker (the bound for those is forHosts' business),
//   a host that refused our key or host key, every control plane unreachable, or a new cluster (no
//   control plane set up: init needs the inventory's first one).
import { endpointString } from "../cluster/model.js";
import { ApiError, KubesmithError, MultiHostError, UnreachableError } from "../errors.js";
import { connectKube } from "./api.js";
import type { ClusterContext } from "./context.js";
import { prefetchedAdminConf } from "./hosts.js";

/** The hosts' errors, each naming its host (a MultiHostError is split). */
export function hostErrors(err: unknown): KubesmithError[] {
  if (err instanceof MultiHostError) return err.errors;
  return err instanceof KubesmithError ? [err] : [];
}

/**
 * Decide whether gathering facts may end with these hosts unreachable. Returns true (and records them in
 * ctx.unreachable, with a warning each) when the run can go on without them.
 */
export function unreachablePolicy(ctx: ClusterContext, err: unknown): boolean {
  // remove-node too: a control plane that is down must not hide what etcd's quorum check says (exit 16)
  if (ctx.command !== "up" && ctx.command !== "remove-node") return false;
  const errors = hostErrors(err);
  if (errors.length === 0 || !errors.every((e) => e instanceof UnreachableError)) return false;
  const down = new Map(errors.map((e) => [(e as UnreachableError).host, e as UnreachableError]));
  const cps = ctx.model.controlPlanes;
  if ([...down.keys()].some((h) => !cps.some((c) => c.name === h))) return false;
  const setUp = cps.filter((c) => !down.has(c.name) && ctx.facts.get(c.name)?.kubeadmState === "control-plane");
  if (setUp.length === 0) return false;
  ctx.unreachable = down;
  for (const [host, e] of down) {
    ctx.reporter.emit({
      kind: "warning",
      host,
      message: `unreachable (${e.message.replace(`${host}: `, "")}); the cluster runs on ${setUp.map((c) => c.name).join(", ")}: ${ctx.command} does the rest through them and exits ${e.exitCode} at the end`,
    });
  }
  return true;
}

/** At the end of an up that went on without some control planes: fail with one line per host. */
export function throwIfLeftOut(ctx: ClusterContext): void {
  if (!ctx.unreachable?.size) return;
  const leader = ctx.model.first.name;
  const errors = [...ctx.unreachable].map(
    ([host, e]) => new UnreachableError(host, `${e.message.replace(`${host}: `, "")}; everything else was done through ${leader}: bring ${host} back and run up again`),
  );
  throw errors.length === 1 ? errors[0]! : new MultiHostError(errors);
}

/** Connection failures met while choosing where the lock goes: gathering facts reports them, not tries again. */
const lockFailures = new WeakMap<ClusterContext, Map<string, KubesmithError>>();

export function failedBeforeFacts(ctx: ClusterContext, host: string): KubesmithError | undefined {
  return lockFailures.get(ctx)?.get(host);
}

/**
 * Where the cluster lock goes: the first control plane (inventory order) that answers; for up, a later one
 * when the first cannot be reached (the others are tried at the same time, so that costs one connect
 * timeout). Another command, or no control plane answering, fails as before.
 */
export async function lockHost(ctx: ClusterContext): Promise<string> {
  const cps = ctx.model.controlPlanes;
  if (ctx.command !== "up" || cps.length === 1) {
    await ctx.runner(ctx.model.first.name);
    return ctx.model.first.name;
  }
  const tries = cps.map((c) => ctx.runner(c.name).then(() => undefined, (e: unknown) => e));
  const failures = new Map<string, KubesmithError>();
  for (const [i, c] of cps.entries()) {
    const e = await tries[i];
    if (e === undefined) {
      lockFailures.set(ctx, failures);
      return c.name;
    }
    if (!(e instanceof UnreachableError)) throw e;
    failures.set(c.name, e);
  }
  throw failures.size === 1 ? [...failures.values()][0] : new MultiHostError([...failures.values()]);
}

/**
 * Issue 11, "others joined but the leader's API is dead": kubeadm set the leader up and other hosts joined
 * it, so reset and init (the repair for an init cut off halfway) would throw their cluster away. When
 * the API does not answer (within a bound), stop with one line that says what to do.
 */
export async function requireLiveApi(ctx: ClusterContext, readyTimeoutMs = 20_000): Promise<void> {
  if (ctx.kube) return;
  const first = ctx.model.first;
  try {
    const adminConf = prefetchedAdminConf(ctx) ?? (await (await ctx.runner(first.name)).download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
    ctx.kube = await connectKube(ctx, adminConf, readyTimeoutMs);
    ctx.adminConf = adminConf;
  } catch (err) {
    const joined = ctx.model.hosts.filter((h) => h !== first && ctx.joined.has(h.name)).map((h) => h.name);
    const down = [...(ctx.unreachable?.keys() ?? [])].filter((h) => ctx.model.controlPlanes.some((c) => c.name === h));
    const n = ctx.model.controlPlanes.length;
    const cause = err instanceof KubesmithError ? err.oneLine() : (err as Error).message;
    const todo = down.length
      ? `bring back ${down.join(", ")} (etcd needs ${Math.floor(n / 2) + 1} of its ${n} members to answer)`
      : `check kube-apiserver and etcd on ${ctx.model.controlPlanes.filter((c) => ctx.joined.has(c.name)).map((c) => c.name).join(", ")} (crictl ps; journalctl -u kubelet)`;
    throw new ApiError(
      `${first.name}: the cluster's API does not answer through ${endpointString(ctx.model.endpoint)} (${cause}), and ${joined.join(", ")} joined this cluster, so up will not reset it or run kubeadm init: ${todo}, then run up again`,
    );
  }
}
