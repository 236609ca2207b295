// The Kubernetes API simulator: public surface for the lab and the tests.
export { startApiServer, DEFAULT_READY_AFTER_MS, type ApiServer, type ApiServerOptions, type Identity } from "./server.js";
export { createCa, ensureServingCert, issueClientCert, kubeconfigYaml, writeAdminKubeconfig } from "./pki.js";
export { nodeObject, registerNode, deleteNode, credentialsFromKubeconfig, apiRequest, nodeInterfaces, INTERFACES_ANNOTATION, type NodeSpecInput, type NodeInterface } from "./nodes.js";
export {
  daemonPodDefaultTolerations,
  daemonPodSpec,
  daemonSetFitsNode,
  daemonSetNodes,
  podFitsNode,
  schedulingProblems,
  tolerates,
  untoleratedTaints,
  type NodeLike,
  type PodSpecLike,
  type Taint,
  type Toleration,
} from "./scheduling.js";
export { CNI_LABEL, SIM_READY_ANNOTATION, NODE_NOT_READY_MESSAGE, isCniDaemonSet, calicoViewOf } from "./controller.js";
export {
  CALICO_NODE_CRDS,
  DEFAULT_INTERFACES_TO_EXCLUDE,
  calicoContract,
  calicoNodeFailures,
  calicoNodeIPv4,
  describeViolations,
  isCalicoDaemonSet,
  podStateOf,
  viewFromObjects,
  type CalicoNodeInput,
  type CalicoRule,
  type CalicoView,
  type CalicoViolation,
} from "./calico.js";
export { authorizeNonResource, authorize, forbiddenMessage, rbacFromObjects, ruleAllows, serviceAccountUser, type Decision, type RbacObjects, type ResourceRequest, type UserInfo } from "./rbac.js";
export { Store, DEFAULT_NAMESPACES, type WatchEvent } from "./store.js";
export { BUILTIN_RESOURCES, type ResourceDef } from "./resources.js";
export { StatusError } from "./status.js";
export type { KObject } from "./types.js";
export { KNOWN_IMAGES, parseImageRef, normalizedImage, pullImage, pinProblem, backOffMessage, type KnownImage, type ImageRef } from "./known-images.js";
export { WORKLOAD_NEEDS, programOf, type Need, type ProgramNeeds } from "./workload-needs.js";
export { workloadProblem, runAsNonRootProblem, missingPermission, podTemplateSpec, type PodProblem, type PodState } from "./workloads.js";
export { bootstrapRbacObjects, impersonate, certificateUser } from "./authz.js";
export { createReconciler, type ReconcileOptions } from "./controller.js";
