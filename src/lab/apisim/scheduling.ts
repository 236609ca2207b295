// The scheduling predicate, as pure functions: may a pod (or a DaemonSet's pod template) run on a node?
// Covers spec.nodeName, nodeSelector, required node affinity (matchExpressions and matchFields with
// In/NotIn/Exists/DoesNotExist/Gt/Lt) and taints (NoSchedule/NoExecute) against tolerations
// (Exists/Equal). PreferNoSchedule and preferred affinity are preferences, never a reason to refuse.

import { matchesNodeSelectorRequirement } from "./selectors.js";
import { arrOf, getIn, isObj, objOf, strOf } from "./types.js";

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | string;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal" | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** The parts of a Node the predicate reads. */
export interface NodeLike {
  metadata: { name?: string; labels?: Record<string, string> };
  spec?: { taints?: Taint[]; unschedulable?: boolean; [k: string]: unknown };
}

/** The parts of a PodSpec the predicate reads. */
export interface PodSpecLike {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  tolerations?: Toleration[];
  hostNetwork?: boolean;
  [k: string]: unknown;
}

/** Does one toleration tolerate one taint (core/v1 semantics)? */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const op = t.operator ?? "Equal";
  if (op === "Exists") return !t.key || t.key === taint.key;
  if (op !== "Equal") return false;
  return (t.key ?? "") === taint.key && (t.value ?? "") === (taint.value ?? "");
}

/** Taints with a hard effect (NoSchedule, NoExecute) that no toleration covers. */
export function untoleratedTaints(tolerations: readonly Toleration[] | undefined, taints: readonly Taint[] | undefined): Taint[] {
  return (taints ?? []).filter(
    (taint) => (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !(tolerations ?? []).some((t) => tolerates(t, taint)),
  );
}

function termMatches(term: unknown, node: NodeLike): boolean {
  if (!isObj(term)) return false;
  const exprs = arrOf(term["matchExpressions"]);
  const fields = arrOf(term["matchFields"]);
  // An empty term matches no node (core/v1 NodeSelectorTerm semantics).
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  const nodeFields = { "metadata.name": node.metadata.name ?? "" };
  return exprs.every((e) => matchesNodeSelectorRequirement(labels, e)) && fields.every((f) => matchesNodeSelectorRequirement(nodeFields, f));
}

/** Why a pod with this spec cannot run on the node; empty when it can. Messages follow kube-scheduler's. */
export function schedulingProblems(spec: PodSpecLike, node: NodeLike): string[] {
  const problems: string[] = [];
  if (spec.nodeName && spec.nodeName !== node.metadata.name) problems.push("node(s) didn't match the requested node name");
  const labels = node.metadata.labels ?? {};
  const selectorOk = Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v);
  const required = getIn(spec.affinity, ["nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"]);
  const affinityOk = !isObj(required) || arrOf(required["nodeSelectorTerms"]).some((t) => termMatches(t, node));
  if (!selectorOk || !affinityOk) problems.push("node(s) didn't match Pod's node affinity/selector");
  for (const taint of untoleratedTaints(spec.tolerations, node.spec?.taints)) {
    problems.push(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);
  }
  return problems;
}

export function podFitsNode(spec: PodSpecLike, node: NodeLike): boolean {
  return schedulingProblems(spec, node).length === 0;
}

/**
 * Tolerations the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util), so a
 * DaemonSet runs on cordoned and under-pressure nodes and survives not-ready/unreachable ones.
 */
export function daemonPodDefaultTolerations(hostNetwork: boolean): Toleration[] {
  const t: Toleration[] = [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork) t.push({ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" });
  return t;
}

/** The pod spec of a DaemonSet's template with the controller's default tolerations added. */
export function daemonPodSpec(daemonSet: unknown): PodSpecLike {
  const spec = objOf(getIn(daemonSet, ["spec", "template", "spec"])) as PodSpecLike;
  const own = arrOf(spec.tolerations).filter(isObj) as Toleration[];
  return { ...spec, tolerations: [...own, ...daemonPodDefaultTolerations(spec.hostNetwork === true)] };
}

/** Would the DaemonSet controller place a daemon pod on this node? (cordoned nodes included, as upstream) */
export function daemonSetFitsNode(daemonSet: unknown, node: NodeLike): boolean {
  return podFitsNode(daemonPodSpec(daemonSet), node);
}

/** Names of the nodes a DaemonSet runs on. */
export function daemonSetNodes(daemonSet: unknown, nodes: readonly NodeLike[]): string[] {
  return nodes.filter((n) => daemonSetFitsNode(daemonSet, n)).map((n) => strOf(n.metadata.name) ?? "");
}
