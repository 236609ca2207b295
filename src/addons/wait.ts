// Waiting for what was applied: CRDs Established, workloads rolled out, Jobs complete. Status is read
// the way `kubectl rollout status` reads it; a Deployment reporting ProgressDeadlineExceeded or a Job
// reporting Failed ends the wait at once instead of at the timeout.
//
// A DaemonSet "rolled out" on fewer nodes than it must run on is no success: one annotated
// kubesmith.io/must-run-on (types.ts) fails as soon as its controller has observed it and schedules it on
// fewer nodes than the annotation names, and the failure names the hosts without a pod and, where the
// Node says why, the reason (a taint not tolerated, a nodeSelector label missing, no such Node).
import type { KubeClient, KubeObject } from "../kube/client.js";
import { objectId } from "./objects.js";
import { MUST_RUN_ON_ANNOTATION } from "./types.js";

export const WORKLOAD_KINDS = new Set(["Deployment", "DaemonSet", "StatefulSet", "Job"]);

export function isWorkload(o: KubeObject): boolean {
  return WORKLOAD_KINDS.has(o.kind) && (o.apiVersion === "apps/v1" || o.apiVersion === "batch/v1");
}

export type RolloutState = { state: "ready" } | { state: "progressing"; reason: string } | { state: "failed"; reason: string };

interface Cond {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function num(v: unknown, dflt = 0): number {
  return typeof v === "number" ? v : dflt;
}

/** The rollout state of one live workload (pure: reads spec, metadata.generation and status). */
export function rolloutState(o: KubeObject): RolloutState {
  const spec = (o["spec"] ?? {}) as Record<string, unknown>;
  const st = (o["status"] ?? {}) as Record<string, unknown>;
  const conds = (Array.isArray(st["conditions"]) ? st["conditions"] : []) as Cond[];
  const gen = num(o.metadata["generation"], 1);
  const observed = num(st["observedGeneration"], 0);
  if (o.kind === "Job") {
    if (conds.some((c) => c.type === "Complete" && c.status === "True")) return { state: "ready" };
    const failed = conds.find((c) => c.type === "Failed" && c.status === "True");
    if (failed) return { state: "failed", reason: `Job failed: ${failed.reason ?? ""} ${failed.message ?? ""}`.trim() };
    return { state: "progressing", reason: `${num(st["succeeded"])} of ${num(spec["completions"], 1)} completion(s)` };
  }
  if (observed < gen) return { state: "progressing", reason: `waiting for the controller to observe generation ${gen}` };
  if (o.kind === "Deployment") {
    const want = num(spec["replicas"], 1);
    const stalled = conds.find((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded");
    if (stalled) return { state: "failed", reason: `ProgressDeadlineExceeded: ${stalled.message ?? "the rollout stalled"}` };
    const updated = num(st["updatedReplicas"]);
    const available = num(st["availableReplicas"]);
    const total = num(st["replicas"]);
    if (updated < want) return { state: "progressing", reason: `${updated} of ${want} replica(s) updated` };
    if (total > updated) return { state: "progressing", reason: `${total - updated} old replica(s) pending termination` };
    if (available < updated) return { state: "progressing", reason: `${available} of ${updated} updated replica(s) available` };
    return { state: "ready" };
  }
  if (o.kind === "DaemonSet") {
    const desired = num(st["desiredNumberScheduled"]);
    const updated = num(st["updatedNumberScheduled"]);
    const available = num(st["numberAvailable"]);
    if (updated < desired) return { state: "progressing", reason: `${updated} of ${desired} pod(s) updated` };
    if (available < desired) return { state: "progressing", reason: `${available} of ${desired} updated pod(s) available` };
    return { state: "ready" };
  }
  if (o.kind === "StatefulSet") {
    const want = num(spec["replicas"], 1);
    const ready = num(st["readyReplicas"]);
    const updated = num(st["updatedReplicas"]);
    const strategy = (spec["updateStrategy"] as { type?: string } | undefined)?.type ?? "RollingUpdate";
    if (strategy === "RollingUpdate" && updated < want) return { state: "progressing", reason: `${updated} of ${want} pod(s) updated` };
    if (ready < want) return { state: "progressing", reason: `${ready} of ${want} pod(s) ready` };
    return { state: "ready" };
  }
  return { state: "ready" };
}

/** The node names a DaemonSet must have a pod on (its must-run-on annotation); undefined without one. */
export function mustRunOn(o: KubeObject): string[] | undefined {
  if (o.kind !== "DaemonSet") return undefined;
  const v = o.metadata.annotations?.[MUST_RUN_ON_ANNOTATION];
  if (v === undefined) return undefined;
  return [...new Set(v.split(",").map((s) => s.trim()).filter(Boolean))];
}

/**
 * A must-run-on DaemonSet its controller schedules on fewer nodes than it must run on (pure: reads the
 * annotation, generation and status). Undefined while the controller has not observed the generation yet,
 * and when the count is enough. Hosts in `excused` (workers a partial `up` left out, phases/partial.ts)
 * are not counted: they have no Node yet, and the next `up` brings them.
 */
export function placementShortfall(o: KubeObject, excused?: ReadonlySet<string>): { want: string[]; desired: number } | undefined {
  const want = mustRunOn(o)?.filter((n) => !excused?.has(n));
  if (!want?.length) return undefined;
  const st = (o["status"] ?? {}) as Record<string, unknown>;
  if (num(st["observedGeneration"], 0) < num(o.metadata["generation"], 1)) return undefined;
  const desired = num(st["desiredNumberScheduled"]);
  return desired < want.length ? { want, desired } : undefined;
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}
interface Taint {
  key: string;
  value?: string;
  effect: string;
}

function tolerates(tols: Toleration[], t: Taint): boolean {
  return tols.some((tol) => {
    if (tol.effect && tol.effect !== t.effect) return false;
    if (tol.operator === "Exists") return !tol.key || tol.key === t.key;
    return tol.key === t.key && (tol.value ?? "") === (t.value ?? "");
  });
}

/**
 * Why the DaemonSet controller would not put a pod of `ds` on `node` (pure), as far as the node says:
 * its nodeSelector labels and its NoSchedule/NoExecute taints. The taints the DaemonSet controller
 * tolerates by itself (node.kubernetes.io/*: not-ready, unreachable, pressure, unschedulable...) are not
 * counted; node affinity is not evaluated (undefined then).
 */
export function whyNotScheduled(ds: KubeObject, node: KubeObject | undefined): string | undefined {
  if (!node) return "no Node by that name in the cluster";
  const pod = (((ds["spec"] as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec) ?? {}) as {
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
  };
  const labels = node.metadata.labels ?? {};
  const why: string[] = [];
  for (const [k, v] of Object.entries(pod.nodeSelector ?? {})) if (labels[k] !== v) why.push(`label ${k}=${v} (nodeSelector) missing`);
  const taints = (((node["spec"] as { taints?: Taint[] } | undefined)?.taints) ?? []).filter(
    (t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !t.key.startsWith("node.kubernetes.io/"),
  );
  for (const t of taints) if (!tolerates(pod.tolerations ?? [], t)) why.push(`taint ${t.key}${t.value !== undefined ? `=${t.value}` : ""}:${t.effect} not tolerated`);
  return why.length ? why.join(", ") : undefined;
}

/** The must-run-on hosts without a pod of `ds`, each with the reason when the Node tells it. */
async function hostsWithoutPod(kube: KubeClient, ds: KubeObject, want: string[]): Promise<string[]> {
  const explained: string[] = [];
  for (const name of want) {
    const why = whyNotScheduled(ds, await kube.get("v1", "Node", name));
    if (why) explained.push(`${name} (${why})`);
  }
  if (explained.length) return explained;
  // Nothing on the Nodes explains it (affinity, say): the hosts the DaemonSet's pods are not on.
  const sel = ((ds["spec"] as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels) ?? {};
  const labelSelector = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(",");
  const pods = labelSelector ? await kube.list("v1", "Pod", { namespace: ds.metadata.namespace, labelSelector }).catch(() => []) : [];
  const on = new Set(pods.map((p) => (p["spec"] as { nodeName?: string } | undefined)?.nodeName));
  const without = want.filter((n) => !on.has(n));
  return without.length ? without : want;
}

export interface WaitOptions {
  timeoutMs: number;
  /** First poll interval; doubles up to maxPollMs. */
  pollMs?: number;
  maxPollMs?: number;
  /** Node names a must-run-on DaemonSet need not run on in this run (placementShortfall). */
  excused?: ReadonlySet<string>;
}

export interface WaitFailure {
  /** Kind/namespace/name */
  workload: string;
  reason: string;
  timedOut: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for every workload among `objects`; resolves to the first failure (undefined when all are ready). */
export async function waitForWorkloads(kube: KubeClient, objects: KubeObject[], opts: WaitOptions): Promise<WaitFailure | undefined> {
  const pending = new Map(objects.filter(isWorkload).map((o) => [objectId(o), o]));
  const deadline = Date.now() + opts.timeoutMs;
  let poll = opts.pollMs ?? 100;
  const last = new Map<string, string>();
  for (;;) {
    for (const [id, o] of [...pending]) {
      const live = await kube.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      if (!live) {
        last.set(id, "not found");
        continue;
      }
      const short = placementShortfall(live, opts.excused);
      if (short) {
        const missing = await hostsWithoutPod(kube, live, short.want);
        return {
          workload: id,
          reason: `scheduled on ${short.desired} node(s) but the inventory puts it on ${short.want.length} (${short.want.join(", ")}); no pod on ${missing.join(", ")}`,
          timedOut: false,
        };
      }
      const s = rolloutState(live);
      if (s.state === "ready") pending.delete(id);
      else if (s.state === "failed") return { workload: id, reason: s.reason, timedOut: false };
      else last.set(id, s.reason);
    }
    if (pending.size === 0) return undefined;
    if (Date.now() >= deadline) {
      const [id] = [...pending.keys()];
      return { workload: id!, reason: `not rolled out within ${Math.round(opts.timeoutMs / 1000)} s (${last.get(id!) ?? "no status"})`, timedOut: true };
    }
    await sleep(Math.min(poll, Math.max(10, deadline - Date.now())));
    poll = Math.min(poll * 2, opts.maxPollMs ?? 2000);
  }
}

/** Waits until every CRD among `crds` has the Established condition; resolves to the ones that did not. */
export async function waitCrdsEstablished(kube: KubeClient, crds: KubeObject[], timeoutMs: number): Promise<string[]> {
  const pending = new Set(crds.map((c) => c.metadata.name));
  const deadline = Date.now() + timeoutMs;
  let poll = 50;
  for (;;) {
    for (const name of [...pending]) {
      const live = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name);
      const conds = (((live?.["status"] as { conditions?: Cond[] } | undefined)?.conditions) ?? []);
      if (conds.some((c) => c.type === "Established" && c.status === "True")) pending.delete(name);
    }
    if (pending.size === 0 || Date.now() >= deadline) return [...pending];
    await sleep(poll);
    poll = Math.min(poll * 2, 1000);
  }
}
