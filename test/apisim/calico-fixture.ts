// A minimal Calico-shaped install that satisfies the simulator's Calico contract (src/lab/apisim/calico.ts):
// the CRDs calico-node needs, its two ServiceAccounts, the CNI-token RBAC, and a calico-node DaemonSet with
// install-cni (SLEEP=false) and the CNI config dir mounted. Written for the tests, much smaller than
// upstream's manifest; tests that need the real thing read ../shared/upstream (test/helpers/upstream.ts).
import { stringify } from "yaml";
import { CALICO_NODE_CRDS, type KObject } from "../../src/lab/apisim/index.js";

const NAMESPACED = new Set(["networkpolicies", "networksets", "stagednetworkpolicies", "stagedkubernetesnetworkpolicies"]);

const KINDS: Record<string, string> = {
  clusterinformations: "ClusterInformation",
  blockaffinities: "BlockAffinity",
  ippools: "IPPool",
  felixconfigurations: "FelixConfiguration",
  tiers: "Tier",
  globalnetworkpolicies: "GlobalNetworkPolicy",
  stagedglobalnetworkpolicies: "StagedGlobalNetworkPolicy",
  globalnetworksets: "GlobalNetworkSet",
  networkpolicies: "NetworkPolicy",
  stagednetworkpolicies: "StagedNetworkPolicy",
  stagedkubernetesnetworkpolicies: "StagedKubernetesNetworkPolicy",
  networksets: "NetworkSet",
  hostendpoints: "HostEndpoint",
  ipamblocks: "IPAMBlock",
  bgpconfigurations: "BGPConfiguration",
  bgppeers: "BGPPeer",
  bgpfilters: "BGPFilter",
};

function kindOf(plural: string): string {
  const k = KINDS[plural];
  if (!k) throw new Error(`calico-fixture: no kind for the CRD ${plural}; add it to KINDS`);
  return k;
}

export function calicoCrds(): KObject[] {
  return CALICO_NODE_CRDS.map(({ plural }) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.crd.projectcalico.org` },
    spec: {
      group: "crd.projectcalico.org",
      names: { kind: kindOf(plural), listKind: `${kindOf(plural)}List`, plural, singular: kindOf(plural).toLowerCase() },
      scope: NAMESPACED.has(plural) ? "Namespaced" : "Cluster",
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  }));
}

/** ServiceAccounts, ClusterRole with the CNI-token rule, and its binding (kube-system). */
export function calicoAccess(): KObject[] {
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "calico-node", namespace: "kube-system" } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "calico-cni-plugin", namespace: "kube-system" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "calico-node" },
      rules: [
        { apiGroups: [""], resources: ["serviceaccounts/token"], resourceNames: ["calico-cni-plugin"], verbs: ["create"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "calico-node" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "calico-node" },
      subjects: [{ kind: "ServiceAccount", name: "calico-node", namespace: "kube-system" }],
    },
  ];
}

/** Everything calico-node needs besides its DaemonSet. */
export function calicoPrerequisites(): KObject[] {
  return [...calicoCrds(), ...calicoAccess()];
}

export function calicoNodeDaemonSet(opts: { tolerations?: unknown[]; image?: string } = {}): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "calico-node", namespace: "kube-system", labels: { "k8s-app": "calico-node" } },
    spec: {
      selector: { matchLabels: { "k8s-app": "calico-node" } },
      template: {
        metadata: { labels: { "k8s-app": "calico-node" } },
        spec: {
          hostNetwork: true,
          serviceAccountName: "calico-node",
          tolerations: opts.tolerations ?? [{ operator: "Exists" }],
          initContainers: [
            {
              name: "install-cni",
              image: "docker.io/calico/cni:v3.31.7",
              command: ["/opt/cni/bin/install"],
              env: [{ name: "SLEEP", value: "false" }],
              volumeMounts: [{ name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" }],
            },
          ],
          containers: [
            {
              name: "calico-node",
              image: opts.image ?? "docker.io/calico/node:v3.31.7",
              volumeMounts: [{ name: "cni-net-dir", mountPath: "/host/etc/cni/net.d" }],
            },
          ],
          volumes: [{ name: "cni-net-dir", hostPath: { path: "/etc/cni/net.d" } }],
        },
      },
    },
  };
}

/** The whole fixture as one multi-document YAML (for kubectl apply -f). */
export function toYamlDocs(objects: readonly KObject[]): string {
  return objects.map((o) => stringify(o)).join("---\n");
}
