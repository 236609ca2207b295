// The add-on bundle contract (issue 4). A bundle is a directory addons/<name>/ (built in) or under
// --addons-dir (the user's own), with:
//   addon.yaml          metadata (AddonManifest below)
//   values.yaml         default values
//   values.schema.json  JSON Schema (draft 2020-12) of the values; overrides are checked against it (ajv)
//   templates/*.yaml    LiquidJS templates, strict (an undefined variable or filter is an error)
// Rendering is pure: (bundle, values, release, cluster facts) -> objects or host files. Apply is separate.
// A DaemonSet that must have a pod on given hosts says so with the annotation kubesmith.io/must-run-on
// (MUST_RUN_ON_ANNOTATION below); the rollout wait fails when it is scheduled on fewer of them.
import type { KubeObject } from "../kube/client.js";

export type AddonTarget = "cluster" | "hosts";

export interface AddonManifest {
  name: string;
  version: string;
  description: string;
  /** cluster: objects applied through the API; hosts: files, packages and services over SSH. */
  target: AddonTarget;
  /** Default namespace of the release (cluster bundles). */
  namespace?: string;
  /**
   * The Kubernetes minors the bundle is known to work on, e.g. ">=1.33 <=1.36" (src/util/kube-range.ts);
   * `kubesmith upgrade` refuses a target outside it. Absent: not checked.
   */
  kubernetes?: string;
  /** Bundles that must be applied (and ready) first. */
  dependsOn?: string[];
  /** Pinned images, by a short key; templates read them as images.<key>. Never a :latest tag. */
  images?: Record<string, string>;
  /** Host bundles: which hosts (by inventory role) get it. */
  hosts?: { role: "control-plane" | "worker" | "frontend" };
  /** Host bundles: packages installed per package manager, and systemd services enabled and started. */
  packages?: { apt?: string[]; dnf?: string[] };
  services?: string[];
  /** Host bundles: templates rendered to files on each selected host. */
  files?: { template: string; path: string; mode?: string; secret?: boolean; validate?: string; restart?: string[] }[];
  /** Shown at the end of `up`: how to reach what this bundle runs (a template string). */
  access?: string[];
  /** On by default when the inventory does not mention the bundle. */
  enabledByDefault?: boolean;
  /** Kinds of custom resources this bundle renders that are cluster-scoped (no metadata.namespace is
   *  defaulted for them); CRDs rendered by the bundle itself are read for their scope too. */
  clusterScopedKinds?: string[];
}

export interface Bundle {
  dir: string;
  manifest: AddonManifest;
  defaults: Record<string, unknown>;
  schema?: Record<string, unknown>;
  /** template file name -> source text */
  templates: Record<string, string>;
}

export interface Release {
  /** Release name; default the bundle name. One bundle may be installed as several releases. */
  name: string;
  namespace: string;
}

/** A node taint as the inventory writes it (and kubesmith applies it). */
export interface NodeTaint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/**
 * Where a DaemonSet MUST run: a DaemonSet whose metadata carries this annotation, with the comma-separated
 * node names (inventory host names) it must have a pod on, fails its rollout when the DaemonSet controller
 * schedules it on fewer nodes than that (a taint not tolerated, a label not matched), naming the hosts
 * without a pod, instead of counting "0 of 0 ready" as a success. Templates render it from cluster.hosts,
 * e.g. every frontend: the names of the hosts whose roles contain "frontend"; every node: all names.
 */
export const MUST_RUN_ON_ANNOTATION = "kubesmith.io/must-run-on";

/** What templates see besides values. */
export interface RenderContext {
  values: Record<string, unknown>;
  release: Release;
  images: Record<string, string>;
  cluster: {
    name: string;
    podCIDR: string;
    serviceCIDR: string;
    edgeVIP?: { vip: string; interface: string; prefix?: number };
    /**
     * Inventory hosts (= node names) with roles, addresses (host bundles use these for peers) and the taints
     * their nodes get: the inventory's, or kubeadm's control-plane taint for a control plane without any.
     */
    hosts: { name: string; address: string; roles: string[]; taints?: NodeTaint[] }[];
    /**
     * The taints of the frontend hosts' nodes, each once: what a workload meant for every frontend must
     * tolerate (render tolerations from it rather than guessing keys).
     */
    frontendTaints: NodeTaint[];
    /**
     * Where people reach the cluster's services, for access lines: `node`, an address any NodePort answers
     * on (the first frontend's, else the first worker's, else the first host's), and `frontend`, where the
     * frontends' host ports answer (the edge VIP, else the first frontend's address, else `node`). The
     * addresses the operator's machine uses (the inventory's `address`, not `internalAddress`).
     */
    access: { node: string; frontend: string };
  };
  /** Host bundles: the host being rendered for. */
  host?: { name: string; address: string; roles: string[]; index: number };
}

/** Labels every object of a release carries; prune selects on them. */
export const RELEASE_LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  addon: "kubesmith.io/addon",
  release: "kubesmith.io/release",
} as const;

export interface RenderedCluster {
  bundle: string;
  release: Release;
  objects: KubeObject[];
}

export interface RenderedHostFile {
  path: string;
  content: string;
  mode: number;
  secret: boolean;
  validate?: string;
  restart?: string[];
}

export interface RenderedHosts {
  bundle: string;
  release: Release;
  /** host name -> files for that host */
  files: Record<string, RenderedHostFile[]>;
  packages: { apt: string[]; dnf: string[] };
  services: string[];
}
