// What every distribution family shares: the inputs of OS preparation and the version arithmetic. The
// family-specific parts live in debian.ts and rhel.ts behind the DistroConfigurer interface (index.ts).
import { UsageError } from "../../errors.js";

export type { PackageManager } from "../packages.js";

export interface OfflineSources {
  /**
   * A local mirror of the pkgs.k8s.io Debian repository (a flat repository, as upstream: `URL /`); it must
   * also carry containerd.io 2.x (Docker's repository is not added when it is set).
   * It is written with `[trusted=yes]` and no key is fetched: acceptable only for a mirror on your own
   * network that you trust, since apt then skips signature checks for it.
   */
  aptRepo?: string;
  /**
   * A local mirror (baseurl) of the pkgs.k8s.io RPM repository; it must also carry containerd.io. Written
   * with gpgcheck=0 and no key is fetched: acceptable only for a mirror on your own network.
   */
  rpmRepo?: string;
  /** Registry for the control-plane images; containerd's sandbox (pause) image is taken from it too. */
  imageRepository?: string;
  /** Registry host → mirror URLs, written as containerd hosts.toml files (see containerd.ts). */
  registryMirrors?: Readonly<Record<string, readonly string[]>>;
}

export interface KubernetesVersion {
  /** "1.33" */
  minor: string;
  /** "1.33.2" when a patch was given. */
  patch?: string;
}

/** Parses "1.33", "1.33.2" or "v1.33.2". */
export function parseKubernetesVersion(v: string): KubernetesVersion {
  const m = /^v?(1\.\d{1,3})(?:\.(\d+))?$/.exec(v.trim());
  if (!m || m[1] === undefined) {
    throw new UsageError(`kubernetesVersion ${JSON.stringify(v)} is not a version like 1.33 or 1.33.2`);
  }
  return m[2] !== undefined ? { minor: m[1], patch: `${m[1]}.${m[2]}` } : { minor: m[1] };
}

export const KUBE_PACKAGES = ["kubelet", "kubeadm", "kubectl"] as const;
export type KubePackage = (typeof KUBE_PACKAGES)[number];

/** The step id of a Kubernetes package install: all three, or only some of them (upgrade). */
export function kubePackagesStepId(only?: readonly KubePackage[]): string {
  return only && only.length < KUBE_PACKAGES.length ? `kubernetes-packages-${only.join("-")}` : "kubernetes-packages";
}
/** containerd.io versions kubesmith accepts: containerd 2.x (Kubernetes ≥ 1.36 needs it; see src/versions.ts). */
export const CONTAINERD_IO_PATTERN = "2.*";

export function checkMirrorUrl(url: string, field: string): string {
  // Shell safety comes from quote(); this only keeps the URL from breaking the file it is written into.
  if (!/^(https?|file|ftp):\/\/\S+$/.test(url)) {
    throw new UsageError(`${field} ${JSON.stringify(url)} must be an http(s)://, ftp:// or file:// URL without spaces`);
  }
  return url;
}

/** pkgs.k8s.io base URL of one minor, e.g. https://pkgs.k8s.io/core:/stable:/v1.33 */
export function pkgsK8sBase(minor: string): string {
  return `https://pkgs.k8s.io/core:/stable:/v${minor}`;
}
