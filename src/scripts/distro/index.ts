// One configurer per distribution family, the way KubeOne keeps os_debian and os_rhel_like: everything
// that differs between Debian/Ubuntu and RHEL-likes (package manager, repositories, SELinux, the
// firewall, NetworkManager) lives behind this interface, and adding a family touches only its file.
import type { FirewallPlan } from "../firewall.js";
import { packageTool, type PackageManager, type PackageTool } from "../packages.js";
import type { Step } from "../step.js";
import type { KubePackage, KubernetesVersion, OfflineSources } from "./common.js";
import { debianConfigurer } from "./debian.js";
import { rhelConfigurer } from "./rhel.js";

export interface HostSettings {
  /** What the host's firewall must let in, and whether kubesmith manages, disables or ignores it. */
  firewall?: FirewallPlan;
}

export interface DistroConfigurer {
  readonly family: "debian" | "rhel";
  /** The family's package manager (packages.ts). */
  readonly packages: PackageTool;
  /** True when the offline sources replace the online repositories for this family. */
  isOffline(offline?: OfflineSources): boolean;
  /**
   * The family's own host settings, run before anything is installed: on RHEL-likes SELinux, NetworkManager
   * and firewalld; none on Debian/Ubuntu.
   */
  hostSteps(settings: HostSettings): Step[];
  basePackagesStep(offline: boolean): Step;
  /** Docker's repository for containerd.io (only when online). */
  containerdRepoStep(): Step;
  containerdInstallStep(): Step;
  kubernetesRepoStep(minor: string, offline?: OfflineSources): Step;
  /** kubelet, kubeadm, kubectl at v (held); `only`: just those of them (an upgrade does kubeadm first). */
  kubePackagesStep(v: KubernetesVersion, only?: readonly KubePackage[]): Step;
}

export function distroFor(pm: PackageManager): DistroConfigurer {
  const tool = packageTool(pm);
  return tool.family === "debian" ? debianConfigurer : rhelConfigurer(tool);
}

export * from "./common.js";
