// The Kubernetes API simulator: public surface for the lab and the tests.
export { startApiServer, type ApiServer, type ApiServerOptions, type Identity } from "./server.js";
export { createCa, ensureServingCert, issueClientCert, kubeconfigYaml, writeAdminKubeconfig } from "./pki.js";
export { nodeObject, registerNode, deleteNode, credentialsFromKubeconfig, apiRequest, type NodeSpecInput } from "./nodes.js";
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
  calicoContract,
  describeViolations,
  isCalicoDaemonSet,
  podStateOf,
  viewFromObjects,
  type CalicoRule,
  type CalicoView,
  type CalicoViolation,
} from "./calico.js";
export { authorize, forbiddenMessage, rbacFromObjects, ruleAllows, serviceAccountUser, type Decision, type RbacObjects, type ResourceRequest, type UserInfo } from "./rbac.js";
export { Store, DEFAULT_NAMESPACES, type WatchEvent } from "./store.js";
export { BUILTIN_RESOURCES, type ResourceDef } from "./resources.js";
export { StatusError } from "./status.js";
export type { KObject } from "./types.js";
