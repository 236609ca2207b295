// Preparing a host's OS for kubeadm: kernel modules, sysctls, swap, the distribution family's own host
// settings (RHEL-likes: SELinux, NetworkManager, firewalld), containerd 2.x (containerd.io from Docker's
// repository on every distribution; its config rendered whole, see containerd.ts), the Kubernetes package
// repository for the chosen minor, and pinned, held kubeadm/kubelet/kubectl. What differs between
// distribution families lives in distro/ (one configurer per family); this file puts the steps in order.
//
// Commands the scripts rely on (real hosts have them; the lab's node simulator must play the ones it
// fakes): systemctl is-enabled/is-active/enable/restart, modprobe, sysctl -n, sysctl --system, swapoff -a,
// awk, stat -c %a; and those listed in distro/debian.ts and distro/rhel.ts.
import { sh } from "../ssh/quote.js";
import { containerdConfigStep } from "./containerd.js";
import { packageProxyStep, serviceProxyStep, type ProxySettings } from "./proxy.js";
import { distroFor, parseKubernetesVersion, type HostSettings, type OfflineSources, type PackageManager } from "./distro/index.js";
import { serviceEnabledStep } from "./packages.js";
import { APPLY_HEADER, fileMatchesProbe, probeAll, script, writeFileApply, type Step } from "./step.js";

export {
  CONTAINERD_IO_PATTERN,
  KUBE_PACKAGES,
  parseKubernetesVersion,
  pkgsK8sBase,
  type KubernetesVersion,
  type OfflineSources,
  type PackageManager,
} from "./distro/common.js";
export { distroFor, type DistroConfigurer, type HostSettings } from "./distro/index.js";
export { APT_KEYRING, APT_SOURCES, DOCKER_APT_DISTRO, DOCKER_APT_KEYRING, DOCKER_APT_SOURCES, aptSourcesLine, aptVersionPattern } from "./distro/debian.js";
export { DOCKER_RPM_REPO_FILE, NM_CALICO_CONF, NM_CALICO_CONTENT, RPM_REPO_FILE, SELINUX_CONFIG, rpmRepoFile, rpmVersionPattern } from "./distro/rhel.js";

export interface PrepareOsOptions extends HostSettings {
  packageManager: PackageManager;
  /** "1.33" (newest patch of that minor) or "1.33.2". */
  kubernetesVersion: string;
  offline?: OfflineSources;
  /** The inventory's proxy (proxy.ts); without it, steps remove what an earlier run wrote. */
  proxy?: ProxySettings | undefined;
}

export const MODULES_FILE = "/etc/modules-load.d/kubernetes.conf";
export const SYSCTL_FILE = "/etc/sysctl.d/99-kubernetes.conf";
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";

export const KERNEL_MODULES = ["overlay", "br_netfilter"] as const;
export const SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["net.bridge.bridge-nf-call-iptables", "1"],
  ["net.bridge.bridge-nf-call-ip6tables", "1"],
  ["net.ipv4.ip_forward", "1"],
];

// ---------------------------------------------------------------------------------------------------
// kernel modules, sysctls, swap

function kernelModulesStep(): Step {
  const file = { path: MODULES_FILE, content: `${KERNEL_MODULES.join("\n")}\n`, mode: 0o644 };
  return {
    id: "kernel-modules",
    what: `load kernel modules ${KERNEL_MODULES.join(", ")} (now and at boot)`,
    // Functional checks rather than /sys/module: they also pass when the code is built into the kernel.
    probe: probeAll(
      fileMatchesProbe(file),
      "grep -q '[[:space:]]overlay$' /proc/filesystems",
      "[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]",
    ),
    apply: script(APPLY_HEADER, writeFileApply(file), ...KERNEL_MODULES.map((m) => sh`modprobe ${m}`)),
  };
}

function sysctlStep(): Step {
  const file = { path: SYSCTL_FILE, content: SYSCTLS.map(([k, v]) => `${k} = ${v}\n`).join(""), mode: 0o644 };
  return {
    id: "sysctl",
    what: `set ${SYSCTLS.map(([k, v]) => `${k}=${v}`).join(", ")} (now and at boot)`,
    // one sysctl for every key: it prints their values one per line, in order (a key it cannot read prints none)
    probe: probeAll(fileMatchesProbe(file), sh`[ "$(sysctl -n ${SYSCTLS.map(([k]) => k)} 2>/dev/null)" = ${SYSCTLS.map(([, v]) => v).join("\n")} ]`),
    // `sysctl --system` also loads every other file, and fails for a key some other file sets that this
    // kernel lacks; then our own file is applied on its own, so that only our keys decide.
    apply: script(APPLY_HEADER, writeFileApply(file), sh`sysctl --system >/dev/null 2>&1 || sysctl -p ${SYSCTL_FILE} >/dev/null`),
  };
}

/**
 * awk program: prints fstab with every active swap entry (third field "swap", not a comment) commented
 * out, everything else unchanged. With -v check=1 it prints nothing and exits 0 only when no active
 * swap entry is left.
 */
export const FSTAB_SWAP_AWK =
  'check && $1 !~ /^#/ && $3 == "swap" { found = 1; exit } check { next } $1 !~ /^#/ && $3 == "swap" { print "#" $0; next } { print } END { if (check) exit found }';

/** Probe check: no active swap entry in the fstab at `path`. */
export function fstabSwapProbe(path = "/etc/fstab"): string {
  return sh`[ ! -f ${path} ] || awk -v check=1 ${FSTAB_SWAP_AWK} ${path}`;
}

/** Apply fragment: comment out swap entries in the fstab at `path`, keeping a backup (path.kubesmith.bak, first one wins). */
export function fstabSwapApply(path = "/etc/fstab"): string {
  const tmp = `${path}.kubesmith-tmp`;
  const bak = `${path}.kubesmith.bak`;
  return script(
    sh`if [ -f ${path} ] && ! awk -v check=1 ${FSTAB_SWAP_AWK} ${path}; then`,
    sh`  [ -e ${bak} ] || cp -p ${path} ${bak}`,
    sh`  awk -v check=0 ${FSTAB_SWAP_AWK} ${path} > ${tmp}`,
    sh`  chmod --reference=${path} ${tmp} 2>/dev/null || chmod 644 ${tmp}`,
    sh`  mv -f ${tmp} ${path}`,
    "fi",
  );
}

function swapStep(): Step {
  return {
    id: "swap-off",
    what: "turn swap off now and for good (swap entries in /etc/fstab commented out, backup /etc/fstab.kubesmith.bak)",
    probe: probeAll("awk 'NR > 1 { exit 1 }' /proc/swaps", fstabSwapProbe()),
    apply: script(APPLY_HEADER, "swapoff -a", fstabSwapApply()),
  };
}

// ---------------------------------------------------------------------------------------------------
/**
 * The OS preparation steps, in order. Every probe is read-only and exact: it passes only when its apply
 * would change nothing. The package repositories come before the first install, so that a run refreshes
 * each host's package index once (see packages.ts), not once per repository.
 */
export function prepareOsSteps(opts: PrepareOsOptions): Step[] {
  const d = distroFor(opts.packageManager);
  const v = parseKubernetesVersion(opts.kubernetesVersion);
  const offline = opts.offline;
  const isOffline = d.isOffline(offline);
  return [
    kernelModulesStep(),
    sysctlStep(),
    swapStep(),
    ...d.hostSteps(opts.firewall ? { firewall: opts.firewall } : {}),
    packageProxyStep(opts.packageManager, opts.proxy),
    ...(isOffline ? [] : [d.containerdRepoStep()]),
    d.kubernetesRepoStep(v.minor, offline),
    d.basePackagesStep(isOffline),
    d.containerdInstallStep(),
    containerdConfigStep({
      kubernetesVersion: opts.kubernetesVersion,
      ...(offline?.imageRepository ? { imageRepository: offline.imageRepository } : {}),
      ...(offline?.registryMirrors ? { registryMirrors: offline.registryMirrors } : {}),
    }),
    serviceProxyStep("containerd", opts.proxy),
    serviceEnabledStep({ id: "containerd-service", unit: "containerd", start: true }),
    d.kubePackagesStep(v),
    serviceEnabledStep({ id: "kubelet-enable", unit: "kubelet", start: false }),
    serviceProxyStep("kubelet", opts.proxy),
  ];
}
