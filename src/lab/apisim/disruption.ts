// PodDisruptionBudgets and the Eviction API, as kube-controller-manager's disruption controller and
// kube-apiserver's pods/eviction subresource do them.
//
// Status (pkg/controller/disruption/disruption.go getExpectedPodCount, getExpectedScale, countHealthyPods,
// updatePdbStatus; component-helpers/apps/poddisruptionbudget UpdateDisruptionAllowedCondition):
//   - the pods are those of the PDB's namespace its selector matches; a nil or empty selector matches none
//     (policy/v1);
//   - maxUnavailable: expectedPods = the sum of the scale of the pods' controllers, desiredHealthy =
//     expectedPods − maxUnavailable (a percentage of expectedPods, rounded up), at least 0;
//   - minAvailable as a number: desiredHealthy = that number, expectedPods = the number of pods;
//     as a percentage: expectedPods = the controllers' scale, desiredHealthy = the percentage rounded up;
//   - currentHealthy = the pods whose Ready condition is True;
//   - disruptionsAllowed = currentHealthy − desiredHealthy, 0 when negative or when expectedPods is 0;
//   - condition DisruptionAllowed: True/SufficientPods when disruptionsAllowed > 0, else False/InsufficientPods.
//
// Eviction (pkg/registry/core/pod/storage/eviction.go; kubernetes.io/docs/concepts/scheduling-eviction/
// api-eviction/): POST policy/v1 Eviction to pods/<name>/eviction (RBAC: `create` on `pods/eviction`):
//   - the Eviction's metadata.name must be the URL's: 400 "name in URL does not match name in Eviction object";
//   - a pod that is Pending, Succeeded or Failed is deleted without looking at budgets;
//   - no budget matches: the pod is deleted; more than one: 500 "This pod has more than one
//     PodDisruptionBudget, which the eviction subresource does not support.";
//   - a pod that is not Ready while the budget has currentHealthy ≥ desiredHealthy > 0 is deleted;
//   - status.observedGeneration behind metadata.generation: 429 with the cause "The disruption budget <n>
//     is still being processed by the server." (retry after 10 s); disruptionsAllowed < 0: 403;
//   - disruptionsAllowed 0: 429 TooManyRequests "Cannot evict pod as it would violate the pod's disruption
//     budget." with the cause (reason DisruptionBudget) "The disruption budget <n> needs <desired> healthy
//     pods and has <current> currently";
//   - otherwise disruptionsAllowed is decremented (and the pod noted in disruptedPods) and the pod deleted;
//     answer: a Status with status Success (201). dryRun=All changes nothing.
// Not modelled: spec.unhealthyPodEvictionPolicy (AlwaysAllow), graceful termination (pods go at once).

import type { ResourceDef } from "./resources.js";
import { matchesLabelSelector } from "./selectors.js";
import { badRequest, notFound, StatusError } from "./status.js";
import type { Store } from "./store.js";
import { arrOf, deepEqual, getIn, isObj, nowTimestamp, objOf, strOf, type JsonObject, type KObject } from "./types.js";
import { controllerUid, podIsReady } from "./pods.js";

const PDB = { group: "policy", resource: "poddisruptionbudgets" };
export const DISRUPTION_BUDGET_CAUSE = "DisruptionBudget";
export const EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget.";

function defOf(store: Store, group: string, resource: string): ResourceDef {
  return store.registry.anyVersion(group, resource)!;
}

function selectorIsEmpty(sel: unknown): boolean {
  return !isObj(sel) || (Object.keys(objOf(sel["matchLabels"])).length === 0 && arrOf(sel["matchExpressions"]).length === 0);
}

/** The pods a budget covers: same namespace, non-empty selector matching their labels. */
export function podsOfBudget(store: Store, pdb: KObject): KObject[] {
  const sel = getIn(pdb, ["spec", "selector"]);
  if (selectorIsEmpty(sel)) return [];
  return store.raw(defOf(store, "", "pods"), pdb.metadata.namespace ?? "").filter((p) => matchesLabelSelector(p.metadata.labels, sel));
}

/** intstr.GetScaledValueFromIntOrPercent with roundUp. */
function scaled(v: unknown, total: number): number {
  if (typeof v === "number") return v;
  const m = typeof v === "string" ? /^(\d+)%$/.exec(v) : null;
  if (!m) return Number(v) || 0;
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** The sum of the scale of the pods' controllers (Deployment, StatefulSet, ReplicaSet replicas; DaemonSet desiredNumberScheduled). */
function expectedScale(store: Store, pods: readonly KObject[]): number {
  const scale = new Map<string, number>();
  const owners = ["deployments", "statefulsets", "replicasets", "daemonsets"].flatMap((r) => store.raw(defOf(store, "apps", r)));
  for (const p of pods) {
    const uid = controllerUid(p);
    if (!uid || scale.has(uid)) continue;
    const owner = owners.find((o) => o.metadata.uid === uid);
    if (!owner) continue;
    const n = owner.kind === "DaemonSet" ? Number(getIn(owner, ["status", "desiredNumberScheduled"]) ?? 0) : Number(getIn(owner, ["spec", "replicas"]) ?? 1);
    scale.set(uid, n);
  }
  return [...scale.values()].reduce((a, b) => a + b, 0);
}

/** The status the disruption controller would write. */
export function budgetStatus(store: Store, pdb: KObject): JsonObject {
  const pods = podsOfBudget(store, pdb);
  const spec = objOf(pdb["spec"]);
  let expected = 0;
  let desired = 0;
  if (spec["maxUnavailable"] !== undefined && spec["maxUnavailable"] !== null) {
    expected = expectedScale(store, pods);
    desired = Math.max(0, expected - scaled(spec["maxUnavailable"], expected));
  } else if (typeof spec["minAvailable"] === "number") {
    desired = spec["minAvailable"];
    expected = pods.length;
  } else if (spec["minAvailable"] !== undefined) {
    expected = expectedScale(store, pods);
    desired = scaled(spec["minAvailable"], expected);
  }
  const healthy = pods.filter(podIsReady).length;
  let allowed = healthy - desired;
  if (expected <= 0 || allowed <= 0) allowed = 0;
  const prev = objOf(pdb["status"]);
  const names = new Set(pods.map((p) => p.metadata.name));
  const disrupted = Object.fromEntries(Object.entries(objOf(prev["disruptedPods"])).filter(([n]) => names.has(n)));
  return {
    ...(Object.keys(disrupted).length ? { disruptedPods: disrupted } : {}),
    observedGeneration: pdb.metadata.generation ?? 1,
    disruptionsAllowed: allowed,
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: expected,
    conditions: [allowedCondition(prev, allowed, pdb.metadata.generation ?? 1)],
  };
}

function allowedCondition(prevStatus: JsonObject, allowed: number, generation: number): JsonObject {
  const status = allowed > 0 ? "True" : "False";
  const reason = allowed > 0 ? "SufficientPods" : "InsufficientPods";
  const prev = arrOf(prevStatus["conditions"]).map(objOf).find((c) => c["type"] === "DisruptionAllowed");
  const since = prev && prev["status"] === status ? strOf(prev["lastTransitionTime"]) : undefined;
  return { type: "DisruptionAllowed", status, reason, message: "", observedGeneration: generation, lastTransitionTime: since ?? nowTimestamp() };
}

/** The disruption controller: every budget's status, after the pods changed. */
export function reconcileBudgets(store: Store): void {
  const d = defOf(store, PDB.group, PDB.resource);
  for (const pdb of store.raw(d)) {
    const status = budgetStatus(store, pdb);
    if (deepEqual(pdb["status"], status)) continue;
    store.systemUpdate(d, pdb, (o) => (o["status"] = status), "kube-controller-manager", "status");
  }
}

function tooManyRequests(cause: string, retryAfterSeconds = 0): StatusError {
  return new StatusError(429, "TooManyRequests", EVICTION_REFUSED, {
    causes: [{ reason: DISRUPTION_BUDGET_CAUSE, message: cause }],
    ...(retryAfterSeconds > 0 ? { retryAfterSeconds } : {}),
  });
}

/** POST pods/<name>/eviction: deletes the pod when its budget allows; the answer's code and body. */
export function evict(store: Store, namespace: string, name: string, body: unknown, dryRun: boolean): { code: number; body: JsonObject } {
  if (!isObj(body)) throw badRequest("the body of the request must be a JSON object");
  const kind = strOf(body["kind"]);
  if (kind !== undefined && kind !== "Eviction") throw badRequest(`not a Eviction object: ${kind}`);
  if (strOf(objOf(body["metadata"])["name"]) !== name) throw badRequest("name in URL does not match name in Eviction object");
  const podsDef = defOf(store, "", "pods");
  const pod = store.peek(podsDef, namespace, name);
  if (!pod) throw notFound(podsDef, name);
  const success = { code: 201, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 } };
  const remove = (): void => {
    if (!dryRun) store.delete(podsDef, namespace, name, { propagationPolicy: "Orphan" });
  };
  const phase = strOf(getIn(pod, ["status", "phase"])) ?? "Pending";
  if (phase === "Pending" || phase === "Succeeded" || phase === "Failed") {
    remove();
    return success;
  }
  const pdbDef = defOf(store, PDB.group, PDB.resource);
  const budgets = store.raw(pdbDef, namespace).filter((b) => {
    const sel = getIn(b, ["spec", "selector"]);
    return !selectorIsEmpty(sel) && matchesLabelSelector(pod.metadata.labels, sel);
  });
  if (budgets.length > 1) {
    return { code: 500, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.", code: 500 } };
  }
  if (budgets.length === 0) {
    remove();
    return success;
  }
  const pdb = budgets[0]!;
  const st = objOf(pdb["status"]);
  const current = Number(st["currentHealthy"] ?? 0);
  const desired = Number(st["desiredHealthy"] ?? 0);
  if (!podIsReady(pod) && current >= desired && desired > 0) {
    remove();
    return success;
  }
  const pdbName = pdb.metadata.name ?? "";
  if (Number(st["observedGeneration"] ?? 0) < (pdb.metadata.generation ?? 1)) throw tooManyRequests(`The disruption budget ${pdbName} is still being processed by the server.`, 10);
  const allowed = Number(st["disruptionsAllowed"] ?? 0);
  if (allowed < 0) {
    throw new StatusError(403, "Forbidden", `poddisruptionbudget.policy "${pdbName}" is forbidden: pdb disruptions allowed is negative`, { name: pdbName, group: "policy", kind: "poddisruptionbudget" });
  }
  if (allowed === 0) throw tooManyRequests(`The disruption budget ${pdbName} needs ${desired} healthy pods and has ${current} currently`);
  if (dryRun) return success;
  store.transaction(() => {
    store.systemUpdate(
      pdbDef,
      pdb,
      (o) => {
        const s = objOf(o["status"]);
        s["disruptionsAllowed"] = allowed - 1;
        s["disruptedPods"] = { ...objOf(s["disruptedPods"]), [name]: nowTimestamp() };
        o["status"] = s;
      },
      "kube-apiserver",
      "status",
    );
    remove();
  });
  return success;
}
