// Pod objects, as the workload controllers, kube-scheduler, kubelet and the pod garbage collector would
// make them, instantly (called from controller.ts on every reconcile pass):
//
//   - DaemonSet: one pod per node the DaemonSet fits (scheduling.ts daemonSetFitsNode, cordoned nodes
//     included), bound to it; the DaemonSet controller's default tolerations are added to the pod spec
//     (pkg/controller/daemon/util/daemonset_util.go AddOrUpdateDaemonPodTolerations).
//   - Deployment: `replicas` pods named `<deployment>-<template hash>-<5 chars>`, label pod-template-hash.
//     They are owned by the Deployment itself, not by a ReplicaSet (upstream: Deployment → ReplicaSet →
//     Pod, pkg/controller/deployment): what reads pods (kubectl drain, the product's drain) only asks
//     whether a controller owns the pod and whether it is a DaemonSet; a ReplicaSet object per Deployment
//     would cost a store object per rollout and show up to the product's prune and status. A template
//     change replaces every pod at once (no surge/unavailable pacing).
//   - StatefulSet: pods `<sts>-0 … <sts>-(n-1)` (pkg/controller/statefulset, stateful_set_utils.go getPodName).
//   - Non-DaemonSet pods are scheduled onto a node the pod fits (scheduling.ts podFitsNode) that is not
//     cordoned (kube-scheduler NodeUnschedulable plugin: spec.unschedulable refused unless the pod
//     tolerates node.kubernetes.io/unschedulable:NoSchedule) and not NotReady (the node lifecycle
//     controller's node.kubernetes.io/not-ready:NoSchedule taint, TaintNodesByCondition), spreading an
//     owner's pods (fewest of its pods first, then by name). With no such node the pod stays Pending with
//     PodScheduled=False, reason Unschedulable and kube-scheduler's `0/N nodes are available: …` message;
//     it is bound as soon as a node fits.
//   - A workload whose pods admission refuses (FailedCreate: a missing ServiceAccount) has none: the
//     simulator judges every pod as if it were made now (upstream, pods made earlier would stay).
//   - A deleted pod is made again on the next pass (its controller); pods bound to a Node that no longer
//     exists are deleted (pkg/controller/podgc gc_controller.go gcOrphaned), then made again elsewhere.
//   - Status: phase, conditions (PodScheduled, Initialized, ContainersReady, Ready) and containerStatuses
//     with the waiting reason and message the simulator computes for the workload (workloads.ts, calico.ts):
//     ImagePullBackOff / CreateContainerConfigError keep the pod Pending, CrashLoopBackOff is Running with
//     the container waiting, a probe that never passes is Running, not ready; a pod on a NotReady node
//     (not hostNetwork) waits in ContainerCreating.
//
// Lab seam, lenient on purpose and listed in docs/lab-strictness.md: with no Node object at all (tests of
// the API alone) no pods are stored; workloads then report as if their pods ran (as before pods existed).

import { createHash } from "node:crypto";
import type { ResourceDef } from "./resources.js";
import { daemonPodDefaultTolerations, podFitsNode, schedulingProblems, type NodeLike, type PodSpecLike, type Taint, type Toleration } from "./scheduling.js";
import type { Store } from "./store.js";
import { arrOf, clone, getIn, isObj, nowTimestamp, objOf, strOf, type JsonObject, type KObject } from "./types.js";

/** A pod name suffix as the API server's generateName makes it (5 characters, no vowels). */
function suffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let out = "";
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** What kubelet would show for one pod. */
export type PodHealth =
  | { kind: "ready" }
  /** Waiting in ContainerCreating (image pull in progress, the node's network not ready). */
  | { kind: "creating" }
  /** A container waiting with a reason (ImagePullBackOff, CreateContainerConfigError: Pending; CrashLoopBackOff: Running). */
  | { kind: "waiting"; reason: string; message: string; phase: "Pending" | "Running" }
  /** Running, the readiness probe never passes. */
  | { kind: "not-ready"; message: string };

/** One pod of a workload after a pass: where it runs (undefined: Pending, unschedulable) and how. */
export interface PodRun {
  pod: KObject;
  node: KObject | undefined;
  health: PodHealth | undefined;
}

export const POD_TEMPLATE_HASH = "pod-template-hash";
export const CONTROLLER_REVISION_HASH = "controller-revision-hash";
const MANAGER = "kube-controller-manager";

function templateHash(workload: KObject): string {
  return createHash("sha256").update(JSON.stringify(getIn(workload, ["spec", "template"]) ?? null)).digest("hex").slice(0, 10);
}

export function podsDef(store: Store): ResourceDef {
  return store.registry.byResource("", "v1", "pods")!;
}

export function isNodeReady(n: KObject | undefined): boolean {
  return !!n && arrOf(objOf(n["status"])["conditions"]).some((c) => objOf(c)["type"] === "Ready" && objOf(c)["status"] === "True");
}

/** The controller owner reference's uid, if any. */
export function controllerUid(pod: KObject): string | undefined {
  const ref = arrOf(pod.metadata["ownerReferences"]).find((r) => objOf(r)["controller"] === true);
  return ref ? strOf(objOf(ref)["uid"]) : undefined;
}

/** One reconcile pass's view of the pods: by owner, and the nodes. */
export class PodPass {
  readonly def: ResourceDef;
  readonly byOwner = new Map<string, KObject[]>();
  readonly nodes: KObject[];
  readonly nodeByName = new Map<string, KObject>();
  /** Pods per node per owner, for spreading. */
  constructor(private readonly store: Store) {
    this.def = podsDef(store);
    this.nodes = store.raw(store.registry.byResource("", "v1", "nodes")!);
    for (const n of this.nodes) this.nodeByName.set(n.metadata.name ?? "", n);
    for (const p of store.raw(this.def)) {
      const uid = controllerUid(p);
      if (!uid) continue;
      const list = this.byOwner.get(uid);
      if (list) list.push(p);
      else this.byOwner.set(uid, [p]);
    }
  }

  /** Pods are stored only when the cluster has nodes (see the seam above). */
  get stored(): boolean {
    return this.nodes.length > 0;
  }

  /** PodGC: delete pods bound to nodes that no longer exist. */
  collectOrphans(): void {
    for (const p of this.store.raw(this.def)) {
      const node = strOf(getIn(p, ["spec", "nodeName"]));
      if (node && !this.nodeByName.has(node)) this.remove(p);
    }
  }

  /** The owner's pods as stored now (fresh objects: a write replaces the stored one). */
  ownedBy(owner: KObject): KObject[] {
    const out: KObject[] = [];
    for (const p of this.byOwner.get(owner.metadata.uid ?? "") ?? []) {
      const cur = this.current(p);
      if (cur) out.push(cur);
    }
    return out;
  }

  private current(p: KObject): KObject | undefined {
    return this.store.peek(this.def, p.metadata.namespace ?? "", p.metadata.name ?? "");
  }

  remove(p: KObject): void {
    try {
      this.store.delete(this.def, p.metadata.namespace ?? "", p.metadata.name ?? "", { propagationPolicy: "Orphan" });
    } catch {
      /* already gone */
    }
  }

  /** DaemonSet: one pod per fitting node. Returns the pods with the node each is on. */
  syncDaemon(ds: KObject, fit: readonly KObject[], create: boolean, health: (node: KObject, pod: KObject) => PodHealth): PodRun[] {
    const hash = templateHash(ds);
    const want = new Map(fit.map((n) => [n.metadata.name ?? "", n]));
    const have = new Map<string, KObject>();
    for (const p of this.ownedBy(ds)) {
      const node = strOf(getIn(p, ["spec", "nodeName"])) ?? "";
      if (!want.has(node) || p.metadata.labels?.[CONTROLLER_REVISION_HASH] !== hash || have.has(node)) this.remove(p);
      else have.set(node, p);
    }
    if (!create) for (const p of have.values()) this.remove(p);
    const out: PodRun[] = [];
    for (const [name, node] of create ? want : new Map<string, KObject>()) {
      const pod = have.get(name);
      if (!pod) {
        const draft = this.draft(ds, `${ds.metadata.name}-${suffix()}`, { [CONTROLLER_REVISION_HASH]: hash }, name, daemonTolerations(ds));
        const h = health(node, draft);
        out.push({ pod: this.create(draft, h), node, health: h });
        continue;
      }
      const h = health(node, pod);
      this.writeStatus(pod, h);
      out.push({ pod, node, health: h });
    }
    return out;
  }

  /** Deployment or StatefulSet: `replicas` pods, scheduled onto nodes. */
  syncReplicas(owner: KObject, replicas: number, create: boolean, health: (node: KObject, pod: KObject) => PodHealth): PodRun[] {
    const hash = templateHash(owner);
    const sts = owner.kind === "StatefulSet";
    const label = sts ? CONTROLLER_REVISION_HASH : POD_TEMPLATE_HASH;
    const names = sts ? new Set(Array.from({ length: replicas }, (_, i) => `${owner.metadata.name}-${i}`)) : undefined;
    let mine: KObject[] = [];
    for (const p of this.ownedBy(owner)) {
      if (p.metadata.labels?.[label] !== hash || (names && !names.has(p.metadata.name ?? ""))) this.remove(p);
      else mine.push(p);
    }
    // scale down: unbound pods first, then the newest names
    mine.sort((a, b) => Number(!!getIn(b, ["spec", "nodeName"])) - Number(!!getIn(a, ["spec", "nodeName"])) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    for (const p of mine.slice(replicas)) this.remove(p);
    mine = mine.slice(0, replicas);
    if (!create) {
      for (const p of mine) this.remove(p);
      mine = [];
    }
    const out: PodRun[] = [];
    for (const p of mine) {
      let pod = p;
      let nodeName = strOf(getIn(pod, ["spec", "nodeName"]));
      if (!nodeName) {
        const placed = this.schedule(owner, objOf(pod["spec"]) as PodSpecLike);
        if (typeof placed === "string") {
          this.writeStatus(pod, undefined, placed);
          out.push({ pod, node: undefined, health: undefined });
          continue;
        }
        nodeName = placed.metadata.name ?? "";
        this.store.systemUpdate(this.def, pod, (o) => (objOf(o["spec"])["nodeName"] = nodeName), "kube-scheduler");
        pod = this.current(pod) ?? pod;
      }
      const node = this.nodeByName.get(nodeName)!;
      const h = health(node, pod);
      this.writeStatus(pod, h);
      out.push({ pod, node, health: h });
    }
    if (!create) return out;
    // new pods are made already scheduled and with their first status: one write each
    const have = new Set(mine.map((p) => p.metadata.name));
    const missing = names ? [...names].filter((n) => !have.has(n)) : Array.from({ length: replicas - mine.length }, () => `${owner.metadata.name}-${hash}-${suffix()}`);
    for (const n of missing) {
      const labels: Record<string, string> = names ? { [label]: hash, "statefulset.kubernetes.io/pod-name": n } : { [label]: hash };
      const draft = this.draft(owner, n, labels, undefined, []);
      const placed = this.schedule(owner, objOf(draft["spec"]) as PodSpecLike);
      if (typeof placed === "string") {
        draft["status"] = podStatus(draft, undefined, placed);
        out.push({ pod: this.create(draft, undefined, placed), node: undefined, health: undefined });
        continue;
      }
      objOf(draft["spec"])["nodeName"] = placed.metadata.name;
      const h = health(placed, draft);
      out.push({ pod: this.create(draft, h), node: placed, health: h });
    }
    return out;
  }

  /** kube-scheduler's choice for one pod, or its `0/N nodes are available` message. */
  private schedule(owner: KObject, spec: PodSpecLike): KObject | string {
    const reasons = new Map<string, number>();
    const fit: KObject[] = [];
    for (const n of this.nodes) {
      // kube-scheduler stops at a node's first failing filter: one reason per node
      const why = nodeProblems(spec, n)[0];
      if (why === undefined) fit.push(n);
      else reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    if (fit.length === 0) {
      const parts = [...reasons].sort(([a], [b]) => a.localeCompare(b)).map(([w, c]) => `${c} ${w}`);
      return `0/${this.nodes.length} nodes are available: ${parts.join(", ")}.`;
    }
    const count = new Map<string, number>();
    for (const p of this.ownedBy(owner)) {
      const n = strOf(getIn(p, ["spec", "nodeName"]));
      if (n) count.set(n, (count.get(n) ?? 0) + 1);
    }
    fit.sort((a, b) => (count.get(a.metadata.name ?? "") ?? 0) - (count.get(b.metadata.name ?? "") ?? 0) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    return fit[0]!;
  }

  /** The pod the controller would make from the owner's template (not stored yet). */
  private draft(owner: KObject, name: string, extraLabels: Record<string, string>, nodeName: string | undefined, tolerations: Toleration[]): KObject {
    const tpl = objOf(getIn(owner, ["spec", "template"]));
    const meta = objOf(tpl["metadata"]);
    const spec = clone(objOf(tpl["spec"]));
    if (nodeName) spec["nodeName"] = nodeName;
    if (tolerations.length) spec["tolerations"] = [...arrOf(spec["tolerations"]), ...tolerations];
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: owner.metadata.namespace ?? "default",
        labels: { ...(isObj(meta["labels"]) ? (meta["labels"] as Record<string, string>) : {}), ...extraLabels },
        ...(isObj(meta["annotations"]) ? { annotations: meta["annotations"] as Record<string, string> } : {}),
        ownerReferences: [{ apiVersion: owner.apiVersion || "apps/v1", kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec,
    };
  }

  /** Store a drafted pod with its first status. */
  private create(draft: KObject, health: PodHealth | undefined, unschedulable?: string): KObject {
    draft.metadata.creationTimestamp = nowTimestamp();
    draft["status"] = podStatus(draft, health, unschedulable);
    const made = this.store.create(this.def, draft.metadata.namespace ?? "default", draft, { manager: MANAGER });
    const uid = controllerUid(made) ?? "";
    this.byOwner.set(uid, [...(this.byOwner.get(uid) ?? []), made]);
    return made;
  }

  private writeStatus(pod: KObject, health: PodHealth | undefined, unschedulable?: string): void {
    const status = podStatus(pod, health, unschedulable);
    const cur = this.current(pod);
    if (!cur || JSON.stringify(cur["status"]) === JSON.stringify(status)) return;
    this.store.systemUpdate(this.def, cur, (o) => (o["status"] = status), "kubelet", "status");
  }
}

/** The DaemonSet controller's default tolerations for this DaemonSet's pods (scheduling.ts, the one list). */
function daemonTolerations(ds: KObject): Toleration[] {
  return daemonPodDefaultTolerations(getIn(ds, ["spec", "template", "spec", "hostNetwork"]) === true);
}

const UNSCHEDULABLE_TAINT: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };
const NOT_READY_TAINT: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" };

/** Why kube-scheduler would not put this pod on this node (empty: it may). */
export function nodeProblems(spec: PodSpecLike, node: KObject): string[] {
  const n = node as unknown as NodeLike;
  const why: string[] = [];
  if (n.spec?.unschedulable === true && !podFitsNode({ tolerations: spec.tolerations ?? [] }, { metadata: {}, spec: { taints: [UNSCHEDULABLE_TAINT] } })) {
    why.push("node(s) were unschedulable");
  }
  const taints = [...(n.spec?.taints ?? [])];
  if (!isNodeReady(node) && !taints.some((t) => t.key === NOT_READY_TAINT.key)) taints.push(NOT_READY_TAINT);
  why.push(...schedulingProblems(spec, { metadata: n.metadata, spec: { ...(n.spec ?? {}), taints } }));
  return why;
}

function containerNames(pod: KObject): string[] {
  return arrOf(getIn(pod, ["spec", "containers"])).map((c) => strOf(objOf(c)["name"]) ?? "");
}

/** The status kubelet (or kube-scheduler, for an unbound pod) would write. Times are the pod's creation time. */
export function podStatus(pod: KObject, health: PodHealth | undefined, unschedulable?: string): JsonObject {
  const t = pod.metadata.creationTimestamp ?? "";
  const cond = (type: string, ok: boolean, reason?: string, message?: string): JsonObject => ({
    type,
    status: ok ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: t,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  });
  if (!health) {
    return { phase: "Pending", qosClass: "BestEffort", conditions: [cond("PodScheduled", false, "Unschedulable", unschedulable ?? "")] };
  }
  const ready = health.kind === "ready";
  const images = new Map(arrOf(getIn(pod, ["spec", "containers"])).map((c) => [strOf(objOf(c)["name"]) ?? "", strOf(objOf(c)["image"]) ?? ""]));
  const containerStatuses = containerNames(pod).map((name) => {
    let state: JsonObject;
    if (health.kind === "ready" || health.kind === "not-ready") state = { running: { startedAt: t } };
    else if (health.kind === "creating") state = { waiting: { reason: "ContainerCreating" } };
    else state = { waiting: { reason: health.reason, message: health.message } };
    return { name, image: images.get(name) ?? "", imageID: "", ready, restartCount: 0, started: health.kind === "ready" || health.kind === "not-ready", state };
  });
  const phase = health.kind === "waiting" ? health.phase : health.kind === "creating" ? "Pending" : "Running";
  const notReadyMsg =
    health.kind === "ready" ? undefined : `containers with unready status: [${containerNames(pod).join(" ")}]`;
  const reason = ready ? undefined : "ContainersNotReady";
  return {
    phase,
    qosClass: "BestEffort",
    startTime: t,
    conditions: [
      cond("PodReadyToStartContainers", health.kind !== "creating"),
      cond("Initialized", true),
      cond("Ready", ready, reason, notReadyMsg),
      cond("ContainersReady", ready, reason, notReadyMsg),
      cond("PodScheduled", true),
    ],
    containerStatuses,
  };
}

/** Is the pod Ready (its Ready condition True)? */
export function podIsReady(pod: KObject): boolean {
  return arrOf(getIn(pod, ["status", "conditions"])).some((c) => objOf(c)["type"] === "Ready" && objOf(c)["status"] === "True");
}
