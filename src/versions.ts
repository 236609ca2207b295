// Every version kubesmith pins for real clusters, in one place, each with where it came from and when it
// was last checked. Add-on bundle images are pinned in addons/<name>/addon.yaml; docs/versions.md lists
// them all with their sources. Change a pin here and in that table together.

export interface Pin {
  /** Where the fact comes from. */
  source: string;
  /** The day the pin was last checked against its source. */
  checked: string;
}

/**
 * Kubernetes minors kubesmith installs. Upstream supports 1.35–1.37 today (2026-11); the chosen Calico
 * release (below) is tested on 1.34–1.36, so the newest minor both support is the default.
 */
export const KUBERNETES = {
  default: "1.36",
  supported: ["1.35", "1.36"] as readonly string[],
  source: "kubernetes.io/releases (supported minors); Calico v3.32 system requirements (tested on 1.34–1.36)",
  checked: "2026-11-30",
} as const satisfies Pin & Record<string, unknown>;

/** The official Calico release manifest, fetched at run time and refused unless its sha256 matches. */
export const CALICO = {
  version: "v3.32.1",
  url: "https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/calico.yaml",
  sha256: "a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744",
  /** The Kubernetes minors this Calico release is tested on (Calico v3.32 system requirements); `kubesmith upgrade` checks it. */
  kubernetes: ">=1.34 <=1.36",
  source: "projectcalico/calico tag v3.32.1, manifests/calico.yaml (sha256 of the file as served at the tag); Calico v3.32 system requirements (Kubernetes 1.34–1.36)",
  checked: "2026-11-30",
} as const satisfies Pin & Record<string, unknown>;

/** "1.36" → true when kubesmith supports that minor (a patch like 1.36.2 counts as its minor). */
export function isSupportedKubernetes(version: string): boolean {
  const m = /^v?(\d+\.\d+)/.exec(version);
  return !!m && KUBERNETES.supported.includes(m[1]!);
}

/** A Kubernetes version ("1.36", "1.36.2", "v1.36.2") reduced to its minor, or undefined. */
export function kubernetesMinor(version: string): string | undefined {
  return /^v?(\d+\.\d+)/.exec(version)?.[1];
}

/**
 * The container runtime kubesmith installs on every distribution: containerd 2.x from Docker's repository
 * (package containerd.io; Debian 12 ships containerd 1.6 and Ubuntu 24.04 1.7, too old for Kubernetes ≥ 1.36,
 * whose kubelet needs the CRI RuntimeConfig method that containerd has from 2.0, KEP-4033). The config file
 * kubesmith renders is containerd's config version 3, which containerd reads from 2.0 on.
 */
export const CONTAINERD = {
  package: "containerd.io",
  /** The lowest major kubesmith accepts after prepare. */
  minMajor: 2,
  configVersion: 3,
  aptRepo: "https://download.docker.com/linux/<debian|ubuntu> <codename> stable (key: …/gpg)",
  rpmRepo: "https://download.docker.com/linux/centos/$releasever/$basearch/stable (key: …/centos/gpg)",
  source:
    "docs.docker.com/engine/install/debian and …/ubuntu (repository and key); containerd docs/cri/config.md (config version 3, " +
    "introduced in 2.0); kubernetes CHANGELOG-1.35 (last release supporting containerd 1.x)",
  checked: "2026-11-30",
} as const satisfies Pin & Record<string, unknown>;

/**
 * kubeadm's pause (sandbox) image tag per minor: cmd/kubeadm/app/constants/constants.go PauseVersion. containerd's
 * sandbox image is set to the same, so kubeadm's preflight does not warn and the kubelet never garbage-collects it.
 */
export const PAUSE = {
  registry: "registry.k8s.io",
  byMinor: { "1.35": "3.10.1", "1.36": "3.10.1" } as Readonly<Record<string, string>>,
  source:
    "kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go PauseVersion: 3.10.1 seen at v1.35.8; for 1.36 " +
    "NOT checked against the tag (assumed unchanged; check with `kubeadm config images list` on 1.36)",
  checked: "2026-11-30",
} as const satisfies Pin & Record<string, unknown>;

/** The pause image kubeadm uses for a Kubernetes version; `repository` replaces registry.k8s.io (offline mirror). */
export function pauseImage(kubernetesVersion: string, repository?: string): string {
  const minor = kubernetesMinor(kubernetesVersion) ?? KUBERNETES.default;
  const tag = PAUSE.byMinor[minor] ?? PAUSE.byMinor[KUBERNETES.default]!;
  return `${repository ?? PAUSE.registry}/pause:${tag}`;
}
