// Draining a node through the Eviction API, as `kubectl drain` does it, so PodDisruptionBudgets hold:
// cordon (spec.unschedulable), list the pods bound to the node (fieldSelector spec.nodeName), leave
// DaemonSet pods (their controller puts them back at once and tolerates the cordon) and mirror pods (the
// kubelet's static pods: the API cannot remove them) alone, and evict the rest (POST policy/v1 Eviction to
// pods/<name>/eviction). A 429 means a budget allows no disruption now: that pod is tried again with
// backoff until the drain timeout. Then the evicted pods are waited for until they are gone (or replaced
// under the same name: another uid). When the time is up, the pods still there are either deleted
// (`force`) or reported in one line naming the node, each pod and the budget that holds it.
//
// One drain for `down` now and for upgrade / remove-node later (cordon → drain → work → uncordon).
// Sources: kubectl's drain (k8s.io/kubectl/pkg/drain: the DaemonSet and mirror-pod filters, eviction with
// retry on 429, waiting for deletion by uid); kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/.

import { ApiError } from "../errors.js";
import type { KubeClient, KubeObject } from "./client.js";

export interface DrainOptions {
  /** How long evictions may be refused (and evicted pods take to go) before the drain gives up or forces. */
  timeoutMs: number;
  /** Delete what eviction could not remove in time (budgets are not honoured for those pods). */
  force?: boolean;
  /** Stops the waiting early (an interrupted run). */
  signal?: AbortSignal;
  /** First retry delay after a 429 (doubles up to maxBackoffMs). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** What to tell the user to do when the drain times out (e.g. "run 'kubesmith down --force' …"). */
  forceHint?: string;
  /** Told about each pod removed by force. */
  warn?: (message: string) => void;
}

export interface DrainResult {
  evicted: string[];
  /** Deleted by force after the timeout. */
  deleted: string[];
  /** DaemonSet and mirror pods, left in place. */
  skipped: string[];
}

interface Pod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

interface Budget extends KubeObject {
  spec?: { selector?: LabelSelector };
  status?: { currentHealthy?: number; desiredHealthy?: number; disruptionsAllowed?: number };
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** `--drain-timeout`'s default: how long a node's pods get to be evicted. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 120_000;

const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

const id = (p: KubeObject): string => `${p.metadata.namespace ?? ""}/${p.metadata.name}`;

/** Why drain leaves a pod alone, or undefined when it is to be evicted. */
export function skipReason(pod: KubeObject): string | undefined {
  if (pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined) return "mirror pod";
  const refs = (pod.metadata["ownerReferences"] as { kind?: string; controller?: boolean }[] | undefined) ?? [];
  if (refs.some((r) => r.controller === true && r.kind === "DaemonSet")) return "DaemonSet pod";
  return undefined;
}

/** metav1.LabelSelector against labels; a missing or empty selector matches nothing (policy/v1 PDB semantics). */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel) return false;
  const ml = Object.entries(sel.matchLabels ?? {});
  const me = sel.matchExpressions ?? [];
  if (ml.length === 0 && me.length === 0) return false;
  const l = labels ?? {};
  if (!ml.every(([k, v]) => l[k] === v)) return false;
  return me.every((e) => {
    const has = Object.hasOwn(l, e.key);
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(l[e.key]!);
      case "NotIn":
        return !has || !(e.values ?? []).includes(l[e.key]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** The pods bound to a node. */
export async function podsOnNode(kube: KubeClient, node: string): Promise<Pod[]> {
  const list = await kube.request<{ items?: Pod[] }>("GET", `/api/v1/pods?${new URLSearchParams({ fieldSelector: `spec.nodeName=${node}` })}`);
  return (list?.items ?? []).map((p) => ({ ...p, apiVersion: "v1", kind: "Pod" }));
}

export async function cordon(kube: KubeClient, node: string, unschedulable = true): Promise<void> {
  await kube.mergePatch("v1", "Node", node, { spec: { unschedulable: unschedulable ? true : null } });
}

/** Cordon the node and evict its pods (see the top of this file). */
export async function drainNode(kube: KubeClient, node: string, opts: DrainOptions): Promise<DrainResult> {
  const deadline = Date.now() + opts.timeoutMs;
  await cordon(kube, node);
  const result: DrainResult = { evicted: [], deleted: [], skipped: [] };
  const pending = new Map<string, Pod>();
  for (const p of await podsOnNode(kube, node)) {
    if (skipReason(p)) result.skipped.push(id(p));
    else pending.set(id(p), p);
  }
  // evicted, waiting to be gone: id → uid
  const going = new Map<string, string>();
  let backoff = opts.backoffMs ?? 500;
  for (;;) {
    for (const [key, p] of [...pending]) {
      const outcome = await evictOnce(kube, p);
      if (outcome === "refused") continue;
      pending.delete(key);
      if (outcome === "evicted") {
        result.evicted.push(key);
        going.set(key, String(p.metadata["uid"] ?? ""));
      }
    }
    for (const [key, uid] of [...going]) if (await isGone(kube, key, uid)) going.delete(key);
    if (pending.size === 0 && going.size === 0) return result;
    if (Date.now() >= deadline || opts.signal?.aborted) break;
    await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())), opts.signal);
    backoff = Math.min(backoff * 2, opts.maxBackoffMs ?? 5_000);
  }
  if (opts.signal?.aborted) throw new ApiError(`${node}: drain interrupted with ${pending.size + going.size} pod(s) still on the node`);
  if (opts.force) {
    for (const key of [...pending.keys(), ...going.keys()]) {
      const [ns, name] = key.split("/") as [string, string];
      if (await kube.delete("v1", "Pod", name, ns)) {
        result.deleted.push(key);
        opts.warn?.(`${node}: pod ${key} deleted without eviction (--force): ${pending.has(key) ? "its disruption budget did not allow eviction" : "it did not go after eviction"}`);
      }
    }
    return result;
  }
  const lines: string[] = [];
  for (const [key, p] of pending) lines.push(`${key} (${await blockedBy(kube, p)})`);
  for (const key of going.keys()) lines.push(`${key} (evicted, still terminating)`);
  throw new ApiError(`${node}: drain timed out after ${+(opts.timeoutMs / 1000).toFixed(1)} s; still on the node: ${lines.join(", ")}`, {
    hint: opts.forceHint ?? "use --force to delete what eviction cannot remove, or raise --drain-timeout",
  });
}

/** One eviction: evicted, already gone, or refused by a disruption budget (429). */
async function evictOnce(kube: KubeClient, p: Pod): Promise<"evicted" | "gone" | "refused"> {
  const ns = p.metadata.namespace ?? "default";
  const body = { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: p.metadata.name, namespace: ns } };
  try {
    const r = await kube.request("POST", `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.metadata.name)}/eviction`, body, { allow404: true });
    return r === undefined ? "gone" : "evicted";
  } catch (err) {
    if (err instanceof ApiError && err.status === 429) return "refused";
    throw new ApiError(`evicting pod ${id(p)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

async function isGone(kube: KubeClient, key: string, uid: string): Promise<boolean> {
  const [ns, name] = key.split("/") as [string, string];
  const now = await kube.get("v1", "Pod", name, ns);
  return !now || (uid !== "" && String(now.metadata["uid"] ?? "") !== uid);
}

/** The budget that holds a pod, in words: `PodDisruptionBudget ns/name needs 2 healthy pods and has 2`. */
async function blockedBy(kube: KubeClient, p: Pod): Promise<string> {
  const budgets = (await kube.list("policy/v1", "PodDisruptionBudget", { namespace: p.metadata.namespace ?? "default" }).catch(() => [])) as Budget[];
  const match = budgets.filter((b) => selectorMatches(b.spec?.selector, p.metadata.labels));
  if (match.length === 0) return "eviction refused (429)";
  return match
    .map((b) => `PodDisruptionBudget ${id(b)} allows ${b.status?.disruptionsAllowed ?? 0} disruption(s): needs ${b.status?.desiredHealthy ?? "?"} healthy pods, has ${b.status?.currentHealthy ?? "?"}`)
    .join("; ");
}
