// Would a workload's pods really start and become ready? The simulator runs no containers, so it answers
// from what a real node would find, in the order a pod's life meets it:
//
//   1. FailedCreate: the pod's ServiceAccount does not exist (ServiceAccount admission plugin,
//      plugin/pkg/admission/serviceaccount: `error looking up service account <ns>/<name>: serviceaccount
//      "<name>" not found`); "default" always exists (the ServiceAccount controller makes it).
//   2. ErrImagePull / ImagePullBackOff: an image that is not a real release (known-images.ts), init
//      containers first; kubelet's message (pkg/kubelet/images/image_manager.go).
//   3. CreateContainerConfigError: `runAsNonRoot` against the image's user (pkg/kubelet/kuberuntime/
//      security_context_others.go verifyRunAsNonRoot): the effective runAsUser (container, else pod
//      securityContext) 0 → "container's runAsUser breaks non-root policy"; no runAsUser and an image
//      user that is root → "container has runAsNonRoot and image will run as root"; a non-numeric image
//      user → "container has runAsNonRoot and image has non-numeric user (<u>), cannot verify user is
//      non-root". Each followed by ` (pod: "<pod>", container: <name>)`.
//   4. CrashLoopBackOff: the program's ServiceAccount may not do what the program needs (workload-needs.ts,
//      rbac.ts); its first list is refused with the API server's forbidden message and it exits.
//   4b. CrashLoopBackOff: the program refuses its own config file, read from the ConfigMap the pod mounts
//      (program-config.ts: Filebeat 9's disabled log/container inputs).
//   5. Running, not Ready: a probe names a container port the container does not declare (pkg/kubelet/
//      prober/prober.go: findPortByName, `couldn't find port: <name> in <container>`): the readiness probe
//      never passes (a liveness probe makes it restart: CrashLoopBackOff).
//
// Evaluated on reconcile (never per request), and cached per template and RBAC state by the caller.

import { backOffMessage, pullImage, type RegistryMirror } from "./known-images.js";
import { authorize, authorizeNonResource, serviceAccountUser, type RbacObjects } from "./rbac.js";
import { arrOf, getIn, isObj, objOf, strOf, type JsonObject, type KObject } from "./types.js";
import { programConfigProblem } from "./program-config.js";
import { containersOf, isAnyOf, isNonResource, programOf, type Need, type ResourceNeed } from "./workload-needs.js";

export type PodState = "FailedCreate" | "ImagePullBackOff" | "CreateContainerConfigError" | "CrashLoopBackOff" | "Running, not Ready";

export interface PodProblem {
  state: PodState;
  /** The pod's waiting reason (or the event's, for FailedCreate). */
  reason: string;
  message: string;
}

export interface WorkloadView {
  serviceAccounts: readonly KObject[];
  rbac: RbacObjects;
  /** Images a test declared as existing (the simulator's extraImages option). */
  extraImages?: readonly string[];
  /** Registry mirrors the lab declares (known-images.ts RegistryMirror). */
  registryMirrors?: readonly RegistryMirror[];
  /** ConfigMaps, for programs whose config file the pod mounts from one (program-config.ts). */
  configMaps?: readonly KObject[];
}

/** Pod spec of a workload (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job: spec.template.spec; CronJob: one level deeper). */
export function podTemplateSpec(workload: KObject): JsonObject | undefined {
  const direct = getIn(workload, ["spec", "template", "spec"]);
  if (isObj(direct)) return direct;
  const cron = getIn(workload, ["spec", "jobTemplate", "spec", "template", "spec"]);
  return isObj(cron) ? cron : undefined;
}

/** A pod name as the controller would make it, for messages: `<workload>-<suffix>`. */
function podName(workload: KObject): string {
  return `${workload.metadata.namespace ?? ""}/${workload.metadata.name ?? ""}-xxxxx`;
}

function userOf(sc: unknown): number | undefined {
  const v = objOf(sc)["runAsUser"];
  return typeof v === "number" ? v : undefined;
}

function nonRootOf(sc: unknown): boolean | undefined {
  const v = objOf(sc)["runAsNonRoot"];
  return typeof v === "boolean" ? v : undefined;
}

/** kubelet's verifyRunAsNonRoot for one container; undefined when it may start. */
export function runAsNonRootProblem(pod: JsonObject, container: JsonObject, imageUser: string | undefined, podRef: string): string | undefined {
  const csc = container["securityContext"];
  const psc = pod["securityContext"];
  const nonRoot = nonRootOf(csc) ?? nonRootOf(psc);
  if (nonRoot !== true) return undefined;
  const where = ` (pod: "${podRef}", container: ${strOf(container["name"]) ?? ""})`;
  const uid = userOf(csc) ?? userOf(psc);
  if (uid !== undefined) return uid === 0 ? `container's runAsUser breaks non-root policy${where}` : undefined;
  if (imageUser === undefined) return undefined; // a test registry's image: the user is not known here
  const user = imageUser.split(":")[0]!;
  if (user === "" || user === "root" || user === "0") return `container has runAsNonRoot and image will run as root${where}`;
  if (!/^\d+$/.test(user)) return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root${where}`;
  return undefined;
}

function probePortProblem(container: JsonObject): { probe: string; message: string } | undefined {
  const names = new Set(arrOf(container["ports"]).map((p) => strOf(objOf(p)["name"])).filter((n): n is string => !!n));
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const p = objOf(container[probe]);
    for (const kind of ["httpGet", "tcpSocket", "grpc"]) {
      const port = objOf(p[kind])["port"];
      if (typeof port === "string" && !/^\d+$/.test(port) && !names.has(port)) {
        return { probe, message: `${probe} of container ${strOf(container["name"]) ?? ""}: couldn't find port: ${port} in ${strOf(container["name"]) ?? ""}` };
      }
    }
  }
  return undefined;
}

/** The first permission the program needs that its ServiceAccount lacks: the API server's refusal. */
export function missingPermission(rbac: RbacObjects, namespace: string, sa: string, needs: readonly Need[]): string | undefined {
  const user = serviceAccountUser(namespace, sa);
  const check = (n: ResourceNeed): string | undefined => {
    for (const verb of n.verbs) {
      const d = authorize(rbac, user, { verb, apiGroup: n.apiGroup, resource: n.resource, ...(n.subresource ? { subresource: n.subresource } : {}) });
      if (!d.allowed) return d.reason;
    }
    return undefined;
  };
  for (const n of needs) {
    if (isNonResource(n)) {
      for (const verb of n.verbs) {
        const d = authorizeNonResource(rbac, user, verb, n.nonResourceURL);
        if (!d.allowed) return d.reason;
      }
    } else if (isAnyOf(n)) {
      const refusals = n.anyOf.map(check);
      if (refusals.every((r) => r !== undefined)) return refusals[0];
    } else {
      const r = check(n);
      if (r) return r;
    }
  }
  return undefined;
}

/** Why this workload's pods would not become ready, or undefined when they would. */
export function workloadProblem(workload: KObject, view: WorkloadView): PodProblem | undefined {
  const pod = podTemplateSpec(workload);
  if (!pod) return undefined;
  const ns = workload.metadata.namespace ?? "";
  const podRef = podName(workload);
  const sa = strOf(pod["serviceAccountName"]) || strOf(pod["serviceAccount"]) || "default";
  if (sa !== "default" && !view.serviceAccounts.some((s) => s.metadata.namespace === ns && s.metadata.name === sa)) {
    return {
      state: "FailedCreate",
      reason: "FailedCreate",
      message: `Error creating: pods "${workload.metadata.name ?? ""}-" is forbidden: error looking up service account ${ns}/${sa}: serviceaccount "${sa}" not found`,
    };
  }
  const all = [...containersOf(pod, "initContainers"), ...containersOf(pod, "containers")];
  const users = new Map<JsonObject, string | undefined>();
  for (const c of all) {
    const image = strOf(c["image"]) ?? "";
    const pulled = pullImage(image, view.extraImages, view.registryMirrors);
    if (!pulled.ok) return { state: "ImagePullBackOff", reason: "ImagePullBackOff", message: `container ${strOf(c["name"]) ?? ""}: ${backOffMessage(image, pulled.message)}` };
    users.set(c, pulled.user);
  }
  for (const c of all) {
    const why = runAsNonRootProblem(pod, c, users.get(c), podRef);
    if (why) return { state: "CreateContainerConfigError", reason: "CreateContainerConfigError", message: `container ${strOf(c["name"]) ?? ""}: ${why}` };
  }
  const automount = pod["automountServiceAccountToken"] !== false;
  for (const c of all) {
    const program = programOf(c, view.registryMirrors);
    if (!program) continue;
    const refusal = automount
      ? missingPermission(view.rbac, ns, sa, program.needs(c))
      : `no ServiceAccount token mounted (automountServiceAccountToken: false), so ${program.program} cannot reach the API`;
    if (refusal) {
      return { state: "CrashLoopBackOff", reason: "CrashLoopBackOff", message: `container ${strOf(c["name"]) ?? ""} (${program.program}) exits at startup: ${refusal}` };
    }
  }
  for (const c of containersOf(pod, "containers")) {
    const why = programConfigProblem(pod, c, ns, view.configMaps ?? [], view.registryMirrors);
    if (why) return { state: "CrashLoopBackOff", reason: "CrashLoopBackOff", message: `container ${strOf(c["name"]) ?? ""} exits at startup: ${why}` };
  }
  for (const c of containersOf(pod, "containers")) {
    const p = probePortProblem(c);
    if (p) {
      return p.probe === "readinessProbe"
        ? { state: "Running, not Ready", reason: "ContainersNotReady", message: `Readiness probe failed: ${p.message}` }
        : { state: "CrashLoopBackOff", reason: "CrashLoopBackOff", message: `${p.probe === "livenessProbe" ? "Liveness" : "Startup"} probe failed, restarting: ${p.message}` };
    }
  }
  return undefined;
}
