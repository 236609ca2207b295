// The simulated control loops, run after every change: they write status the way kubelet and
// kube-controller-manager would, instantly. Node readiness follows the CNI DaemonSet; workloads
// report their replicas available; Jobs complete; CRDs become Established.
//
// Calico's calico-node DaemonSet makes its nodes Ready only when Calico's contract holds (calico.ts: the
// CRDs, ServiceAccounts, CNI-token RBAC, install-cni's SLEEP=false, the CNI config mount, the pool CIDR);
// otherwise its nodes stay NotReady with kubelet's reason plus what is missing, and the DaemonSet reports
// no pod ready, with a PodsReady=False condition naming the state its pods would show. Any other DaemonSet
// labelled kubesmith.io/cni=true (a CNI the simulator knows nothing about) makes its nodes Ready as before.
//
// A workload whose pod template carries the annotation `sim.kubesmith.io/ready: "false"` never becomes
// ready (its rollout stalls), so failed-rollout handling can be exercised.
//
// Every workload's pods are also judged as a node would run them (workloads.ts): images that are real
// releases (known-images.ts), runAsNonRoot against the image's user, the RBAC its program needs
// (workload-needs.ts), probe ports. The controllers make real Pods (pods.ts) and count the workload's status
// from them; a failing pod shows the state as its containers' waiting reason with kubelet's or the API
// server's message, and the workload carries a PodsReady=False condition repeating it (upstream controllers
// write no such condition). PodDisruptionBudget status and evictions: disruption.ts.
//
// Readiness takes time (ReconcileOptions.readyAfterMs, the simulator's `readyAfterMs` option): a Node is
// Ready that long after its CNI is in place, a workload's pods that long after its template last changed,
// so the product's wait logic meets a real "not yet". With 0 everything is instant, as before.

import { createHash } from "node:crypto";
import { CALICO_GROUP, calicoContract, calicoNodeFailures, describeViolations, isCalicoDaemonSet, podStateOf, type CalicoView, type CalicoViolation } from "./calico.js";
import { NM_MANAGED_ANNOTATION, nodeInterfaces } from "./nodes.js";
import { daemonPodSpec, daemonSetFitsNode, type NodeLike } from "./scheduling.js";
import { isEstablished, type Store } from "./store.js";
import type { ResourceDef } from "./resources.js";
import { arrOf, deepEqual, getIn, isObj, nowTimestamp, objOf, strOf, type JsonObject, type KObject } from "./types.js";
import type { RegistryMirror } from "./known-images.js";
import { reconcileBudgets } from "./disruption.js";
import { PodPass, type PodHealth } from "./pods.js";
import { podTemplateSpec, workloadProblem, type PodProblem, type WorkloadView } from "./workloads.js";

export const CNI_LABEL = "kubesmith.io/cni";
export const SIM_READY_ANNOTATION = "sim.kubesmith.io/ready";
const CNI_NAMESPACES = new Set(["kube-system", "calico-system"]);

export const NODE_NOT_READY_MESSAGE =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

/** Is this DaemonSet the cluster's CNI (Calico's calico-node, or anything labelled kubesmith.io/cni=true)? */
export function isCniDaemonSet(ds: KObject): boolean {
  if (ds.metadata.labels?.[CNI_LABEL] === "true") return true;
  return (ds.metadata.name === "calico-node" && CNI_NAMESPACES.has(ds.metadata.namespace ?? "")) || isCalicoDaemonSet(ds);
}

/** The cluster as Calico's contract reads it, from the store. */
export function calicoViewOf(store: Store): CalicoView {
  const rawOf = (group: string, resource: string): KObject[] => {
    const d = store.registry.anyVersion(group, resource);
    return d ? store.raw(d) : [];
  };
  return {
    crds: rawOf("apiextensions.k8s.io", "customresourcedefinitions"),
    serviceAccounts: rawOf("", "serviceaccounts"),
    configMaps: rawOf("", "configmaps"),
    ipPools: rawOf(CALICO_GROUP, "ippools"),
    rbac: {
      clusterRoles: rawOf("rbac.authorization.k8s.io", "clusterroles"),
      clusterRoleBindings: rawOf("rbac.authorization.k8s.io", "clusterrolebindings"),
      roles: rawOf("rbac.authorization.k8s.io", "roles"),
      roleBindings: rawOf("rbac.authorization.k8s.io", "rolebindings"),
    },
    established: isEstablished,
  };
}

/** Contract violations of each CNI DaemonSet (always empty for a non-Calico one). One evaluation per pass. */
function cniViolations(store: Store, daemonSets: readonly KObject[]): Map<KObject, CalicoViolation[]> {
  const out = new Map<KObject, CalicoViolation[]>();
  let view: CalicoView | undefined;
  for (const ds of daemonSets) {
    if (!isCniDaemonSet(ds)) continue;
    if (!isCalicoDaemonSet(ds)) out.set(ds, []);
    else out.set(ds, calicoContract(ds, (view ??= calicoViewOf(store))));
  }
  return out;
}

/**
 * Per-node failures of each contract-abiding calico-node DaemonSet (calico.ts calicoNodeFailures: its address
 * autodetection and the address conflict check), keyed by DaemonSet, then node name.
 */
function cniNodeFailures(store: Store, violations: Map<KObject, CalicoViolation[]>, nodes: readonly KObject[]): Map<KObject, Map<string, CalicoViolation>> {
  const out = new Map<KObject, Map<string, CalicoViolation>>();
  let view: CalicoView | undefined;
  const ordered = [...nodes].sort(
    (a, b) => String(a.metadata.creationTimestamp ?? "").localeCompare(String(b.metadata.creationTimestamp ?? "")) || String(a.metadata.name).localeCompare(String(b.metadata.name)),
  );
  for (const [ds, v] of violations) {
    if (v.length || !isCalicoDaemonSet(ds)) continue;
    const fit = ordered.filter((n) => daemonSetFitsNode(ds, n as NodeLike));
    const inputs = fit.map((n) => {
      const internalIP = arrOf(getIn(n, ["status", "addresses"])).map(objOf).find((a) => a["type"] === "InternalIP")?.["address"];
      const interfaces = nodeInterfaces(n);
      return { name: n.metadata.name ?? "", ...(typeof internalIP === "string" ? { internalIP } : {}), ...(interfaces ? { interfaces } : {}) };
    });
    out.set(ds, calicoNodeFailures(ds, (view ??= calicoViewOf(store)), inputs));
  }
  return out;
}

/** False when the workload's pod template is marked never-ready for the simulation. */
export function templateBecomesReady(workload: KObject): boolean {
  return getIn(workload, ["spec", "template", "metadata", "annotations", SIM_READY_ANNOTATION]) !== "false";
}

interface Cond {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** Merge wanted conditions into existing ones, keeping transition times when the status did not change. */
function conditions(existing: unknown, wanted: Cond[], extra: Record<string, string>): JsonObject[] {
  const now = nowTimestamp();
  const old = arrOf(existing).filter(isObj);
  const out: JsonObject[] = wanted.map((w) => {
    const prev = old.find((c) => c["type"] === w.type);
    const same = prev && prev["status"] === w.status && prev["reason"] === w.reason && prev["message"] === w.message;
    if (same) return prev;
    const times: Record<string, string> = {};
    for (const k of Object.keys(extra)) times[k] = now;
    const transition = prev && prev["status"] === w.status ? String(prev["lastTransitionTime"] ?? now) : now;
    return { ...w, ...times, lastTransitionTime: transition };
  });
  for (const c of old) if (!wanted.some((w) => w.type === c["type"])) out.push(c);
  return out;
}

function def(store: Store, group: string, version: string, resource: string): ResourceDef {
  const d = store.registry.byResource(group, version, resource);
  if (!d) throw new Error(`built-in resource ${group}/${version}/${resource} missing`);
  return d;
}

function setStatus(store: Store, d: ResourceDef, obj: KObject, status: JsonObject, manager: string): void {
  if (deepEqual(obj["status"], status)) return;
  store.systemUpdate(d, obj, (o) => (o["status"] = status), manager, "status");
}

function shortHash(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v ?? null)).digest("hex").slice(0, 10);
}

function nodeIsReady(n: KObject): boolean {
  return arrOf(objOf(n["status"])["conditions"]).some((c) => objOf(c)["type"] === "Ready" && objOf(c)["status"] === "True");
}

export function reconcileCrds(store: Store): void {
  const d = def(store, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  for (const crd of store.raw(d)) {
    const spec = objOf(crd["spec"]);
    const storage = arrOf(spec["versions"]).find((v) => objOf(v)["storage"] === true) ?? arrOf(spec["versions"])[0];
    const st = objOf(crd["status"]);
    const status: JsonObject = {
      ...st,
      acceptedNames: spec["names"] ?? {},
      storedVersions: [...new Set([...arrOf(st["storedVersions"]), objOf(storage)["name"]])].filter((x) => typeof x === "string"),
      conditions: conditions(
        st["conditions"],
        [
          { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found" },
          { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted" },
        ],
        {},
      ),
    };
    setStatus(store, d, crd, status, "kube-apiserver");
  }
}

export function reconcileNodes(store: Store, timing: Timing = INSTANT): void {
  const nodesDef = def(store, "", "v1", "nodes");
  const dsDef = def(store, "apps", "v1", "daemonsets");
  const violations = cniViolations(store, store.raw(dsDef));
  const cnis = [...violations.keys()];
  const nodes = store.raw(nodesDef);
  const perNode = cniNodeFailures(store, violations, nodes);
  for (const node of nodes) {
    const fitting = cnis.filter((ds) => daemonSetFitsNode(ds, node as NodeLike));
    // a broken calico-node on the node keeps it NotReady, whatever else is labelled as its CNI
    const here = (ds: KObject): CalicoViolation[] => {
      const f = perNode.get(ds)?.get(node.metadata.name ?? "");
      return [...violations.get(ds)!, ...(f ? [f] : [])];
    };
    const broken = fitting.filter((ds) => here(ds).length > 0);
    const networkReady = timing.ready(`node:${node.metadata.uid ?? node.metadata.name}`, broken.length === 0 && fitting.some((ds) => templateBecomesReady(ds)));
    const why = broken.map((ds) => describeViolations(ds, here(ds)));
    const st = objOf(node["status"]);
    const wanted: Cond[] = [
      { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" },
      { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" },
      { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" },
      networkReady
        ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
        : { type: "Ready", status: "False", reason: "KubeletNotReady", message: [NODE_NOT_READY_MESSAGE, ...why].join("; ") },
    ];
    setStatus(store, nodesDef, node, { ...st, conditions: conditions(st["conditions"], wanted, { lastHeartbeatTime: "" }) }, "kubelet");
  }
}

/**
 * What one pod of a workload shows (pods.ts PodHealth), from the problems judged for the whole workload:
 * Calico's contract for calico-node, then workloadProblem(), then the never-ready annotation, then the
 * node's network (a pod that is not hostNetwork, and not the CNI itself, waits in ContainerCreating on a
 * NotReady node), then the readiness delay (per pod; `key` names the clock).
 */
function healthOf(
  w: KObject,
  problem: PodProblem | undefined,
  calico: { state: string; message: string } | undefined,
  timing: Timing,
  ignoresNetwork: boolean,
): (node: KObject | undefined, key: string) => PodHealth {
  let fixed: PodHealth | undefined;
  const template = podTemplateSpec(w);
  if (calico) {
    fixed =
      calico.state === "Init:CrashLoopBackOff"
        ? { kind: "waiting", reason: "CrashLoopBackOff", message: calico.message, phase: "Pending" }
        : { kind: "not-ready", message: calico.message };
  } else if (problem) {
    fixed =
      problem.state === "Running, not Ready"
        ? { kind: "not-ready", message: problem.message }
        : { kind: "waiting", reason: problem.reason, message: problem.message, phase: problem.state === "CrashLoopBackOff" ? "Running" : "Pending" };
  } else if (!templateBecomesReady(w)) {
    fixed = { kind: "not-ready", message: `Readiness probe failed (pod template annotation ${SIM_READY_ANNOTATION}: "false")` };
  }
  return (node, key) => {
    if (fixed) {
      timing.ready(key, false);
      return fixed;
    }
    if (node && !ignoresNetwork && !nodeIsReady(node)) {
      timing.ready(key, false);
      return { kind: "creating" };
    }
    const nm = ignoresNetwork ? undefined : networkManagerProblem(node, template);
    if (nm) {
      timing.ready(key, false);
      return { kind: "not-ready", message: nm };
    }
    return timing.ready(key, true) ? { kind: "ready" } : { kind: "creating" };
  };
}

/**
 * A pod on a node whose NetworkManager manages Calico's interfaces (NM_MANAGED_ANNOTATION, recorded by the
 * simulated kubelet; sim/networkmanager.ts): Calico's "Configure NetworkManager" says NetworkManager
 * "manipulates the routing table for interfaces in the default network namespace where Calico veth pairs are
 * anchored … This can interfere with the Calico agent's ability to route correctly". The kubelet's network
 * probes (httpGet, tcpSocket, grpc) go from the host to the pod's IP over that route (a cali* veth), so the
 * lab fails them: such a pod is Running, not Ready. Deliberately stricter than a real node, where it "can"
 * happen (when NetworkManager touches the device), so that the missing keyfile cannot pass a test; pods
 * without a network probe, hostNetwork pods and the CNI itself are not affected. Undefined when unaffected.
 */
export function networkManagerProblem(node: KObject | undefined, podSpec: JsonObject | undefined): string | undefined {
  const raw = node?.metadata.annotations?.[NM_MANAGED_ANNOTATION];
  if (!raw || !podSpec || podSpec["hostNetwork"] === true) return undefined;
  let managed: string[] = [];
  try {
    managed = (JSON.parse(raw) as unknown[]).map(String);
  } catch {
    return undefined;
  }
  if (!managed.length) return undefined;
  for (const c of arrOf(podSpec["containers"]).filter(isObj)) {
    for (const kind of ["readinessProbe", "startupProbe"] as const) {
      const probe = objOf(c[kind]);
      const how = ["httpGet", "tcpSocket", "grpc"].find((k) => isObj(probe[k]));
      if (!how) continue;
      return `Readiness probe failed: ${how} probe of container ${strOf(c["name"]) ?? ""} to the pod's IP timed out: NetworkManager manages Calico's interfaces (${managed.join(", ")}) on node ${node!.metadata.name} and takes the pod's route (Calico "Configure NetworkManager": unmanaged-devices in /etc/NetworkManager/conf.d)`;
    }
  }
  return undefined;
}

/** A pod's readiness clock, by name (known before the pod is stored, so it is made with its first status). */
const podKey = (pod: KObject): string => `pod:${pod.metadata.namespace ?? ""}/${pod.metadata.name ?? ""}`;

export function reconcileWorkloads(store: Store, timing: Timing = INSTANT, cache: ProblemCache = new ProblemCache()): void {
  const pods = new PodPass(store);
  if (pods.stored) pods.collectOrphans();
  const nodes = pods.nodes;
  const dsDef = def(store, "apps", "v1", "daemonsets");
  const daemonSets = store.raw(dsDef);
  const violations = cniViolations(store, daemonSets);
  const perNode = cniNodeFailures(store, violations, nodes);
  const problemOf = cache.judge(store);
  for (const ds of daemonSets) {
    const nodeFailures = perNode.get(ds) ?? new Map<string, CalicoViolation>();
    const fit = nodes.filter((n) => daemonSetFitsNode(ds, n as NodeLike));
    const hostNet = daemonPodSpec(ds).hostNetwork === true;
    const broken = violations.get(ds)?.length ? violations.get(ds)! : [...nodeFailures.values()];
    const podState = podStateOf(broken);
    // Calico's own contract speaks first for calico-node (calico.ts); other problems after
    const problem = podState ? undefined : problemOf(ds);
    // pods the ServiceAccount admission refuses are never created
    const failedCreate = podState === "FailedCreate" || problem?.state === "FailedCreate";
    // A violation of the whole DaemonSet fails every pod; one of a node (a duplicate address) only that node's.
    const whole = violations.get(ds) ?? [];
    const wholeState = whole.length ? podStateOf(whole) : undefined;
    const ignoresNetwork = isCniDaemonSet(ds) || hostNet;
    const health = healthOf(ds, problem, wholeState ? { state: wholeState, message: describeViolations(ds, whole) } : undefined, timing, ignoresNetwork);
    const perNodeHealth = new Map<string, ReturnType<typeof healthOf>>();
    const healthAt = (node: KObject | undefined, pod: KObject): PodHealth => {
      const name = node?.metadata.name ?? "";
      const f = wholeState ? undefined : nodeFailures.get(name);
      if (!f) return health(node, podKey(pod));
      let h = perNodeHealth.get(name);
      if (!h) {
        const st = podStateOf([f]);
        h = healthOf(ds, undefined, st ? { state: st, message: describeViolations(ds, [f]) } : undefined, timing, ignoresNetwork);
        perNodeHealth.set(name, h);
      }
      return h(node, podKey(pod));
    };
    const runs = pods.syncDaemon(ds, fit, !failedCreate, healthAt);
    const created = runs.length;
    const ready = runs.filter((r) => r.health?.kind === "ready").length;
    const status: JsonObject = {
      currentNumberScheduled: created,
      desiredNumberScheduled: fit.length,
      numberMisscheduled: 0,
      numberReady: ready,
      updatedNumberScheduled: created,
      numberAvailable: ready,
      observedGeneration: ds.metadata.generation ?? 1,
    };
    if (fit.length - ready > 0) status["numberUnavailable"] = fit.length - ready;
    if (problem) {
      status["conditions"] = conditions(objOf(ds["status"])["conditions"], [podsReadyCondition(problem)], {});
    } else if (podState) {
      // The real DaemonSet controller writes no conditions: this condition repeats what the pods show
      // (their containerStatuses) and names what is missing.
      const reason = podState === "Running, not Ready" ? "ContainersNotReady" : podState === "Running" ? "CalicoContractViolated" : podState;
      status["conditions"] = conditions(
        objOf(ds["status"])["conditions"],
        [{ type: "PodsReady", status: "False", reason, message: `pods ${podState}: ${describeViolations(ds, broken)}` }],
        {},
      );
    }
    setStatus(store, dsDef, ds, status, "kube-controller-manager");
  }

  /** Pods of a Deployment or StatefulSet: stored ones when the cluster has nodes, else counted (the seam in pods.ts). */
  const replicaPods = (w: KObject, r: number, problem: PodProblem | undefined): { count: number; ready: number } => {
    const hostNet = getIn(w, ["spec", "template", "spec", "hostNetwork"]) === true;
    const health = healthOf(w, problem, undefined, timing, hostNet);
    const create = problem?.state !== "FailedCreate";
    if (pods.stored) {
      const runs = pods.syncReplicas(w, r, create, (node, pod) => health(node, podKey(pod)));
      return { count: runs.length, ready: runs.filter((x) => x.health?.kind === "ready").length };
    }
    const count = create ? r : 0;
    return { count, ready: count > 0 && health(undefined, rolloutKey(w)).kind === "ready" ? count : 0 };
  };

  const deployDef = def(store, "apps", "v1", "deployments");
  for (const d of store.raw(deployDef)) {
    const r = Number(objOf(d["spec"])["replicas"] ?? 1);
    const problem = r > 0 ? problemOf(d) : undefined;
    const failed = r > 0 && (!templateBecomesReady(d) || problem !== undefined);
    const got = replicaPods(d, r, problem);
    const ok = r === 0 || (!failed && got.ready >= r);
    const rs = `${d.metadata.name}-${shortHash(getIn(d, ["spec", "template"]))}`;
    const status: JsonObject = { observedGeneration: d.metadata.generation ?? 1 };
    if (r > 0) Object.assign(status, { replicas: got.count, updatedReplicas: got.count });
    if (got.ready > 0) Object.assign(status, { readyReplicas: got.ready, availableReplicas: got.ready });
    if (r - got.ready > 0) status["unavailableReplicas"] = r - got.ready;
    const wanted: Cond[] = [
      ok
        ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." }
        : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." },
      ok
        ? { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `ReplicaSet "${rs}" has successfully progressed.` }
        : failed
          ? { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: `ReplicaSet "${rs}" has timed out progressing.` }
          : { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `ReplicaSet "${rs}" is progressing.` },
    ];
    if (problem) wanted.push(podsReadyCondition(problem));
    status["conditions"] = conditions(objOf(d["status"])["conditions"], wanted, { lastUpdateTime: "" }).filter((c) => problem || c["type"] !== "PodsReady");
    setStatus(store, deployDef, d, status, "kube-controller-manager");
  }

  const stsDef = def(store, "apps", "v1", "statefulsets");
  for (const s of store.raw(stsDef)) {
    const r = Number(objOf(s["spec"])["replicas"] ?? 1);
    const got = replicaPods(s, r, problemOf(s));
    const rev = `${s.metadata.name}-${shortHash(getIn(s, ["spec", "template"]))}`;
    const status: JsonObject = {
      observedGeneration: s.metadata.generation ?? 1,
      replicas: got.count,
      currentReplicas: got.count,
      updatedReplicas: got.count,
      currentRevision: rev,
      updateRevision: rev,
      collisionCount: 0,
      availableReplicas: got.ready,
    };
    if (got.ready > 0) status["readyReplicas"] = got.ready;
    setStatus(store, stsDef, s, status, "kube-controller-manager");
  }

  const rsDef = def(store, "apps", "v1", "replicasets");
  for (const s of store.raw(rsDef)) {
    const r = Number(objOf(s["spec"])["replicas"] ?? 1);
    const ok = timing.ready(rolloutKey(s), templateBecomesReady(s) && !problemOf(s));
    const status: JsonObject = { observedGeneration: s.metadata.generation ?? 1, replicas: r, fullyLabeledReplicas: r };
    if (ok && r > 0) Object.assign(status, { readyReplicas: r, availableReplicas: r });
    setStatus(store, rsDef, s, status, "kube-controller-manager");
  }

  const jobDef = def(store, "batch", "v1", "jobs");
  for (const j of store.raw(jobDef)) {
    const st = objOf(j["status"]);
    if (arrOf(st["conditions"]).some((c) => ["Complete", "Failed"].includes(String(objOf(c)["type"])))) continue;
    const spec = objOf(j["spec"]);
    const now = nowTimestamp();
    const good = templateBecomesReady(j) && !problemOf(j);
    if (good && !timing.ready(rolloutKey(j), true)) continue; // still running
    const status: JsonObject = good
      ? {
          startTime: now,
          completionTime: now,
          succeeded: Number(spec["completions"] ?? 1),
          ready: 0,
          terminating: 0,
          conditions: conditions([], [
            { type: "SuccessCriteriaMet", status: "True", reason: "CompletionsReached", message: "Reached expected number of succeeded pods" },
            { type: "Complete", status: "True", reason: "CompletionsReached", message: "Reached expected number of succeeded pods" },
          ], { lastProbeTime: "" }),
        }
      : {
          startTime: now,
          failed: Number(spec["backoffLimit"] ?? 6) + 1,
          ready: 0,
          terminating: 0,
          conditions: conditions([], [
            { type: "FailureTarget", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" },
            { type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" },
          ], { lastProbeTime: "" }),
        };
    setStatus(store, jobDef, j, status, "kube-controller-manager");
  }
}

/** All the control loops, in dependency order, everything instant (no readiness delay). */
export function reconcileAll(store: Store): void {
  reconcileCrds(store);
  reconcileNodes(store);
  reconcileWorkloads(store);
  reconcileBudgets(store);
}

export interface ReconcileOptions {
  /** How long a Node takes to turn Ready once its CNI runs, and a rollout to become ready (ms); 0: at once. */
  readyAfterMs?: number;
  /** Images that pull although they are no known release (a test's own images); their user is unknown. */
  extraImages?: readonly string[];
  /** Registry mirrors the lab declares: an image under one pulls iff its upstream path:tag is a real release. */
  registryMirrors?: readonly RegistryMirror[];
}

/** The control loops with their own clock and cache (one per server). */
export function createReconciler(opts: ReconcileOptions = {}): (store: Store) => void {
  const delay = Math.max(0, opts.readyAfterMs ?? 0);
  const cache = new ProblemCache(opts.extraImages, opts.registryMirrors);
  let timing: Timing | undefined;
  return (store) => {
    timing ??= delay > 0 ? new DelayedTiming(delay, (ms) => store.rerunAfter(ms)) : INSTANT;
    reconcileCrds(store);
    reconcileNodes(store, timing);
    reconcileWorkloads(store, timing, cache);
    reconcileBudgets(store);
  };
}

/** Readiness over time: `ready(key, eligible)` is true once `key` has been eligible for the delay. */
export interface Timing {
  ready(key: string, eligible: boolean): boolean;
}

const INSTANT: Timing = { ready: (_key, eligible) => eligible };

class DelayedTiming implements Timing {
  private readonly since = new Map<string, number>();
  constructor(
    private readonly delay: number,
    private readonly wake: (ms: number) => void,
  ) {}

  ready(key: string, eligible: boolean): boolean {
    if (!eligible) {
      this.since.delete(key);
      return false;
    }
    const now = Date.now();
    const t = this.since.get(key) ?? now;
    if (!this.since.has(key)) {
      if (this.since.size > 5000) this.since.clear();
      this.since.set(key, t);
    }
    const left = t + this.delay - now;
    if (left <= 0) return true;
    this.wake(left);
    return false;
  }
}

/** A rollout is keyed by the object and its generation: a new template starts the clock again. */
function rolloutKey(o: KObject): string {
  return `${o.kind}:${o.metadata.uid ?? `${o.metadata.namespace}/${o.metadata.name}`}:${o.metadata.generation ?? 1}`;
}

function podsReadyCondition(p: PodProblem): Cond {
  return { type: "PodsReady", status: "False", reason: p.reason, message: `pods ${p.state}: ${p.message}` };
}

/**
 * workloadProblem() per workload, cached by the workload's resourceVersion and the state of every
 * ServiceAccount, ConfigMap and RBAC object (their resourceVersions), so a reconcile pass that changed neither
 * re-evaluates nothing.
 */
export class ProblemCache {
  private readonly memo = new Map<string, PodProblem | undefined>();
  constructor(
    private readonly extraImages: readonly string[] = [],
    private readonly registryMirrors: readonly RegistryMirror[] = [],
  ) {}

  judge(store: Store): (workload: KObject) => PodProblem | undefined {
    const rawOf = (group: string, resource: string): KObject[] => {
      const d = store.registry.anyVersion(group, resource);
      return d ? store.raw(d) : [];
    };
    let view: WorkloadView | undefined;
    let epoch: string | undefined;
    const viewOf = (): WorkloadView =>
      (view ??= {
        extraImages: this.extraImages,
        registryMirrors: this.registryMirrors,
        serviceAccounts: rawOf("", "serviceaccounts"),
        configMaps: rawOf("", "configmaps"),
        rbac: {
          clusterRoles: rawOf("rbac.authorization.k8s.io", "clusterroles"),
          clusterRoleBindings: rawOf("rbac.authorization.k8s.io", "clusterrolebindings"),
          roles: rawOf("rbac.authorization.k8s.io", "roles"),
          roleBindings: rawOf("rbac.authorization.k8s.io", "rolebindings"),
        },
      });
    const epochOf = (): string => {
      if (epoch === undefined) {
        const v = viewOf();
        const all = [...v.serviceAccounts, ...(v.configMaps ?? []), ...v.rbac.clusterRoles, ...v.rbac.clusterRoleBindings, ...v.rbac.roles, ...v.rbac.roleBindings];
        epoch = shortHash(all.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}@${o.metadata.resourceVersion}`).join(","));
      }
      return epoch;
    };
    return (w) => {
      const key = `${w.kind}/${w.metadata.uid}@${w.metadata.resourceVersion}:${epochOf()}`;
      if (this.memo.has(key)) return this.memo.get(key);
      if (this.memo.size > 2000) this.memo.clear();
      const p = workloadProblem(w, viewOf());
      this.memo.set(key, p);
      return p;
    };
  }
}
