// What each program asks the Kubernetes API for, by image: the simulator checks that the ServiceAccount of
// every workload running it may do all of it (rbac.ts), and a program refused at startup crashes
// (CrashLoopBackOff) as it does on a real cluster, its informers' list failing with the API server's
// "forbidden" message. Every table cites the program's own documentation or source. The needs are the
// program's, never the product's: a ClusterRole that the product wrote is what gets checked against them.

import { mirroredFrom, parseImageRef, type RegistryMirror } from "./known-images.js";
import { arrOf, isObj, objOf, strOf, type JsonObject } from "./types.js";

/** One API permission: verbs on a resource (cluster-wide: informers list and watch at the cluster scope). */
export interface ResourceNeed {
  verbs: readonly string[];
  apiGroup: string;
  resource: string;
  subresource?: string;
}

export interface NonResourceNeed {
  verbs: readonly string[];
  nonResourceURL: string;
}

/** One of several (a program that uses whichever the configuration picks). */
export interface AnyOfNeed {
  anyOf: readonly ResourceNeed[];
}

export type Need = ResourceNeed | NonResourceNeed | AnyOfNeed;

export interface ProgramNeeds {
  program: string;
  /** Repositories (registry/repository, normalized) running this program. */
  images: readonly string[];
  source: string;
  /** What the program asks for, given the container it runs in (its args may narrow it). */
  needs(container: JsonObject): Need[];
}

const LW = ["list", "watch"] as const;
const GLW = ["get", "list", "watch"] as const;

/**
 * kube-state-metrics' resources: the name --resources takes → API group and resource it lists and watches.
 * Source: kube-state-metrics docs/developer/cli-arguments.md (--resources, its default list) and
 * internal/store/builder.go (one reflector per enabled resource, list+watch at the cluster scope).
 */
const KSM_RESOURCES: Record<string, [string, string]> = {
  certificatesigningrequests: ["certificates.k8s.io", "certificatesigningrequests"],
  configmaps: ["", "configmaps"],
  cronjobs: ["batch", "cronjobs"],
  daemonsets: ["apps", "daemonsets"],
  deployments: ["apps", "deployments"],
  endpoints: ["", "endpoints"],
  endpointslices: ["discovery.k8s.io", "endpointslices"],
  horizontalpodautoscalers: ["autoscaling", "horizontalpodautoscalers"],
  ingresses: ["networking.k8s.io", "ingresses"],
  ingressclasses: ["networking.k8s.io", "ingressclasses"],
  jobs: ["batch", "jobs"],
  leases: ["coordination.k8s.io", "leases"],
  limitranges: ["", "limitranges"],
  mutatingwebhookconfigurations: ["admissionregistration.k8s.io", "mutatingwebhookconfigurations"],
  namespaces: ["", "namespaces"],
  networkpolicies: ["networking.k8s.io", "networkpolicies"],
  nodes: ["", "nodes"],
  persistentvolumeclaims: ["", "persistentvolumeclaims"],
  persistentvolumes: ["", "persistentvolumes"],
  poddisruptionbudgets: ["policy", "poddisruptionbudgets"],
  pods: ["", "pods"],
  replicasets: ["apps", "replicasets"],
  replicationcontrollers: ["", "replicationcontrollers"],
  resourcequotas: ["", "resourcequotas"],
  secrets: ["", "secrets"],
  services: ["", "services"],
  statefulsets: ["apps", "statefulsets"],
  storageclasses: ["storage.k8s.io", "storageclasses"],
  validatingwebhookconfigurations: ["admissionregistration.k8s.io", "validatingwebhookconfigurations"],
  volumeattachments: ["storage.k8s.io", "volumeattachments"],
};
/** --resources' default (cli-arguments.md): every resource above except the opt-in ones. */
const KSM_DEFAULT = Object.keys(KSM_RESOURCES).filter((r) => !["endpointslices", "ingressclasses"].includes(r));

/** The value of `--flag=value` or `--flag value` among a container's args (or command). */
export function flagValue(container: JsonObject, flag: string): string | undefined {
  const args = [...arrOf(container["command"]), ...arrOf(container["args"])].filter((a): a is string => typeof a === "string");
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
    if (a === flag) return args[i + 1];
  }
  return undefined;
}

export const WORKLOAD_NEEDS: readonly ProgramNeeds[] = [
  {
    program: "Prometheus (kubernetes_sd_configs)",
    images: ["quay.io/prometheus/prometheus", "docker.io/prom/prometheus"],
    source:
      "prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config (roles node, service, pod, endpoints, endpointslice) and " +
      "prometheus/prometheus documentation/examples/rbac-setup.yml (nodes, nodes/metrics, services, endpoints, pods: get/list/watch; nonResourceURLs /metrics: get); " +
      "the endpoints role lists endpoints, the endpointslice role endpointslices (discovery/kubernetes/endpoints.go, endpointslice.go)",
    needs: () => [
      { verbs: LW, apiGroup: "", resource: "nodes" },
      { verbs: LW, apiGroup: "", resource: "services" },
      { verbs: LW, apiGroup: "", resource: "pods" },
      { anyOf: [{ verbs: LW, apiGroup: "", resource: "endpoints" }, { verbs: LW, apiGroup: "discovery.k8s.io", resource: "endpointslices" }] },
      // scraping the kubelets (and cAdvisor) with its token: kubelet authorizes `get nodes/metrics`
      { verbs: ["get"], apiGroup: "", resource: "nodes", subresource: "metrics" },
      // scraping the API server's own /metrics
      { verbs: ["get"], nonResourceURL: "/metrics" },
    ],
  },
  {
    program: "kube-state-metrics",
    images: ["registry.k8s.io/kube-state-metrics/kube-state-metrics"],
    source: "kube-state-metrics docs/developer/cli-arguments.md (--resources) and internal/store/builder.go; its examples/standard/cluster-role.yaml grants list/watch of each",
    needs: (c) => {
      const given = flagValue(c, "--resources");
      const names = given ? given.split(",").map((s) => s.trim()).filter(Boolean) : KSM_DEFAULT;
      return names.flatMap((n) => {
        const r = KSM_RESOURCES[n];
        return r ? [{ verbs: LW, apiGroup: r[0], resource: r[1] }] : [];
      });
    },
  },
  {
    program: "Traefik (Kubernetes Ingress provider)",
    images: ["docker.io/library/traefik", "docker.io/traefik/traefik"],
    source:
      "doc.traefik.io/traefik/reference/install-configuration/providers/kubernetes/kubernetes-ingress/ (its RBAC: services, secrets; discovery.k8s.io endpointslices; " +
      "networking.k8s.io ingresses, ingressclasses: get/list/watch; ingresses/status: update); pkg/provider/kubernetes/ingress/client.go (informers)",
    needs: () => [
      { verbs: LW, apiGroup: "", resource: "services" },
      { verbs: LW, apiGroup: "", resource: "secrets" },
      { verbs: LW, apiGroup: "discovery.k8s.io", resource: "endpointslices" },
      { verbs: LW, apiGroup: "networking.k8s.io", resource: "ingresses" },
      { verbs: LW, apiGroup: "networking.k8s.io", resource: "ingressclasses" },
      { verbs: ["update"], apiGroup: "networking.k8s.io", resource: "ingresses", subresource: "status" },
    ],
  },
  {
    program: "Filebeat (add_kubernetes_metadata)",
    images: ["docker.elastic.co/beats/filebeat", "docker.io/elastic/filebeat"],
    source:
      "elastic.co/docs/reference/beats/filebeat/running-on-kubernetes (filebeat-kubernetes.yaml ClusterRole: namespaces, pods, nodes get/watch/list; apps replicasets get/list/watch) and " +
      "add_kubernetes_metadata (libbeat/autodiscover and processors/add_kubernetes_metadata: pod, namespace and node watchers, ReplicaSet owner lookup)",
    needs: () => [
      { verbs: GLW, apiGroup: "", resource: "pods" },
      { verbs: GLW, apiGroup: "", resource: "namespaces" },
      { verbs: GLW, apiGroup: "", resource: "nodes" },
      { verbs: GLW, apiGroup: "apps", resource: "replicasets" },
    ],
  },
  {
    program: "calico-kube-controllers (node controller, the manifest's ENABLED_CONTROLLERS=node)",
    images: ["quay.io/calico/kube-controllers", "docker.io/calico/kube-controllers"],
    source:
      "projectcalico/calico manifests/calico.yaml at v3.31.7 and v3.32.1, ClusterRole calico-kube-controllers and its comments (\"Nodes are watched to monitor for deletions\", \"Pods are watched to check for existence as part of IPAM controller\", " +
      "\"IPAM resources are manipulated …\", \"Pools are watched …\", \"Needs access to update clusterinformations\", \"KubeControllersConfiguration is where it gets its config\")",
    needs: () => [
      { verbs: GLW, apiGroup: "", resource: "nodes" },
      { verbs: GLW, apiGroup: "", resource: "pods" },
      { verbs: ["get", "list", "watch", "create", "update", "delete"], apiGroup: "crd.projectcalico.org", resource: "ipamblocks" },
      { verbs: ["get", "list", "watch", "create", "update", "delete"], apiGroup: "crd.projectcalico.org", resource: "ipamhandles" },
      { verbs: ["get", "list", "watch", "create", "update", "delete"], apiGroup: "crd.projectcalico.org", resource: "blockaffinities" },
      { verbs: LW, apiGroup: "crd.projectcalico.org", resource: "ippools" },
      { verbs: ["get", "create", "update"], apiGroup: "crd.projectcalico.org", resource: "clusterinformations" },
      { verbs: ["get", "create", "update", "watch"], apiGroup: "crd.projectcalico.org", resource: "kubecontrollersconfigurations" },
    ],
  },
];

/** The program a container's image runs, if the table knows it. */
export function programOf(container: unknown, mirrors: readonly RegistryMirror[] = []): ProgramNeeds | undefined {
  const image = strOf(objOf(container)["image"]);
  if (!image) return undefined;
  // an image under a declared mirror runs the program of the upstream image it copies
  for (const candidate of mirroredFrom(image, mirrors) ?? [image]) {
    const ref = parseImageRef(candidate);
    const repo = `${ref.registry}/${ref.repository}`;
    const found = WORKLOAD_NEEDS.find((p) => p.images.includes(repo));
    if (found) return found;
  }
  return undefined;
}

export function isAnyOf(n: Need): n is AnyOfNeed {
  return "anyOf" in n;
}

export function isNonResource(n: Need): n is NonResourceNeed {
  return "nonResourceURL" in n;
}

export function containersOf(podSpec: JsonObject, field: "containers" | "initContainers"): JsonObject[] {
  return arrOf(podSpec[field]).filter(isObj);
}
