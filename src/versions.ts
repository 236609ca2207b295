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
  source: "projectcalico/calico tag v3.32.1, manifests/calico.yaml (sha256 of the file as served at the tag)",
  checked: "2026-11-30",
} as const satisfies Pin & Record<string, unknown>;

/** "1.36" → true when kubesmith supports that minor (a patch like 1.36.2 counts as its minor). */
export function isSupportedKubernetes(version: string): boolean {
  const m = /^v?(\d+\.\d+)/.exec(version);
  return !!m && KUBERNETES.supported.includes(m[1]!);
}
