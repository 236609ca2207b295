// One configurer per distribution family, the way KubeOne keeps os_debian and os_rhel_like: everything
// that differs between Debian/Ubuntu and RHEL-likes (package manager, repositories, SELinux, the
// firewall, NetworkManager) lives behind this interface, and adding a family touches only its file.
import { UsageError } from "../../errors.js";
import type { FirewallPlan } from "../firewall.js";
import type { Step } from "../step.js";
import type { KubernetesVersion, OfflineSources, PackageManager } from "./common.js";
import { debianConfigurer } from "./debian.js";
import { rhelConfigurer } from "./rhel.js";

export interface HostSettings {
  /** What the host's firewall must let in, and whether kubesmith manages, disables or ignores it. */
  firewall?: FirewallPlan;
}

export interface DistroConfigurer {
  readonly family: "debian" | "rhel";
  readonly packageManager: PackageManager;
  /** True when the offline sources replace the online repositories for this family. */
  isOffline(offline?: OfflineSources): boolean;
  /** Shell fragment installing packages (names or name+version patterns as the manager writes them). */
  installCommand(pkgs: readonly string[], flags?: string): string;
  /** Probe check: each package is installed. */
  installedProbe(pkgs: readonly string[]): string;
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
  kubePackagesStep(v: KubernetesVersion): Step;
}

export function distroFor(pm: PackageManager): DistroConfigurer {
  if (pm === "apt") return debianConfigurer;
  if (pm === "dnf" || pm === "yum") return rhelConfigurer(pm);
  throw new UsageError(`unsupported package manager ${JSON.stringify(pm)}; kubesmith supports apt, dnf and yum`);
}

export * from "./common.js";
