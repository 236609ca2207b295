// RHEL-likes (Rocky, Alma, RHEL, CentOS Stream): dnf/yum, Docker's RPM repository for containerd.io,
// pkgs.k8s.io's RPM repository held by its exclude line; and the host settings a RHEL-like ships with that
// stand in kubeadm's and Calico's way: SELinux enforcing, firewalld's default-deny public zone,
// NetworkManager managing every interface.
//
// Commands relied on: rpm -q [--qf '%{VERSION}'], dnf/yum install, getenforce, setenforce, sed -i,
// systemctl is-active/is-enabled/disable/reload, firewall-cmd --state / --list-ports / --list-protocols /
// --add-port / --add-protocol [--permanent].
import { quote, sh } from "../../ssh/quote.js";
import { checkOpening, type FirewallPlan } from "../firewall.js";
import { installStep, repositoryStep, type PackageTool } from "../packages.js";
import { APPLY_HEADER, fileMatchesProbe, fileStep, probeAll, script, type Step } from "../step.js";
import {
  CONTAINERD_IO_PATTERN,
  KUBE_PACKAGES,
  kubePackagesStepId,
  checkMirrorUrl,
  pkgsK8sBase,
  type KubernetesVersion,
  type OfflineSources,
} from "./common.js";
import type { DistroConfigurer, HostSettings } from "./index.js";

export const RPM_REPO_FILE = "/etc/yum.repos.d/kubernetes.repo";
export const DOCKER_RPM_REPO_FILE = "/etc/yum.repos.d/docker-ce.repo";
export const SELINUX_CONFIG = "/etc/selinux/config";
export const NM_CALICO_CONF = "/etc/NetworkManager/conf.d/calico.conf";

/**
 * Calico's "Configure NetworkManager" (docs.tigera.io/calico/latest/operations/troubleshoot/troubleshooting,
 * and the system requirements page): NetworkManager must leave Calico's interfaces alone, or it takes
 * their routes away. The file and its content are Calico's.
 */
export const NM_CALICO_CONTENT =
  "[keyfile]\nunmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali\n";

/** The yum/dnf .repo file for the Kubernetes repository. Its exclude line is what holds the packages. */
export function rpmRepoFile(minor: string, offline?: OfflineSources): string {
  const base = pkgsK8sBase(minor);
  const lines = offline?.rpmRepo
    ? [
        "[kubernetes]",
        `name=Kubernetes v${minor} (local mirror)`,
        `baseurl=${checkMirrorUrl(offline.rpmRepo, "offline.rpmRepo")}`,
        "enabled=1",
        // A local mirror without signatures; see OfflineSources.rpmRepo.
        "gpgcheck=0",
        "repo_gpgcheck=0",
      ]
    : [
        "[kubernetes]",
        `name=Kubernetes v${minor}`,
        `baseurl=${base}/rpm/`,
        "enabled=1",
        "gpgcheck=1",
        `gpgkey=${base}/rpm/repodata/repomd.xml.key`,
      ];
  lines.push(`exclude=${[...KUBE_PACKAGES, "cri-tools", "kubernetes-cni"].join(" ")}`, "");
  return lines.join("\n");
}

/** dnf/yum version pattern for `name-VERSION`: "1.33.*" or exactly "1.33.2". */
export function rpmVersionPattern(v: KubernetesVersion): string {
  return v.patch ?? `${v.minor}.*`;
}

// ---------------------------------------------------------------------------------------------------
// host settings

/**
 * SELinux permissive, now and at boot, as kubeadm's install page says for Red Hat-based distributions
 * ("Set SELinux to permissive mode": `setenforce 0` and
 * `sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config`;
 * kubernetes.io/docs/setup/production-environment/tools/kubeadm/install-kubeadm/). A host without
 * SELinux tools (getenforce) has nothing to do.
 */
export function selinuxPermissiveStep(): Step {
  return {
    id: "selinux-permissive",
    what: `set SELinux permissive now (setenforce 0) and at boot (${SELINUX_CONFIG}), as kubeadm's install docs say`,
    probe: probeAll(
      script(
        "command -v getenforce >/dev/null 2>&1 || exit 0",
        '[ "$(getenforce)" != Enforcing ] || exit 1',
        sh`! grep -q '^SELINUX=enforcing$' ${SELINUX_CONFIG} 2>/dev/null`,
      ),
    ),
    apply: script(
      APPLY_HEADER,
      'if [ "$(getenforce)" = Enforcing ]; then setenforce 0; fi',
      sh`if [ -f ${SELINUX_CONFIG} ]; then sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' ${SELINUX_CONFIG}; fi`,
    ),
  };
}

/** Calico's NetworkManager file, only where NetworkManager is installed (/etc/NetworkManager exists). */
export function networkManagerStep(): Step {
  const file = { path: NM_CALICO_CONF, content: NM_CALICO_CONTENT, mode: 0o644 };
  const base = fileStep({
    id: "networkmanager-calico",
    what: `keep NetworkManager off Calico's interfaces (${NM_CALICO_CONF}: cali*, tunl*, vxlan.calico …), reload it`,
    file,
    after: ["if systemctl is-active --quiet NetworkManager; then systemctl reload NetworkManager; fi"],
  });
  return { ...base, probe: probeAll(script("[ -d /etc/NetworkManager ] || exit 0", fileMatchesProbe(file))) };
}

/** firewall-cmd flags for the openings, e.g. --add-port=6443/tcp --add-protocol=4. */
function firewallFlags(plan: FirewallPlan): string {
  return plan.openings.map((o) => quote(`--add-${checkOpening(o).kind}=${o.value}`)).join(" ");
}

/**
 * Open what the host's roles need in firewalld's default zone, at runtime and in the permanent
 * configuration (so a reload or reboot keeps it). Nothing to do while firewalld is not running; the
 * facts and preflight say so. The probe reads each list once (4 calls), whatever the number of openings.
 */
export function firewalldOpenStep(plan: FirewallPlan): Step {
  const wanted = plan.openings.map((o) => checkOpening(o).value);
  const flags = firewallFlags(plan);
  return {
    id: "firewalld-open",
    what: `open in firewalld (default zone, runtime and permanent): ${plan.openings.map((o) => `${o.value}${o.kind === "protocol" ? " (protocol)" : ""}`).join(", ")}`,
    probe: probeAll(
      script(
        "firewall-cmd --state >/dev/null 2>&1 || exit 0",
        'rt=" $(firewall-cmd --list-ports) $(firewall-cmd --list-protocols) "',
        'pm=" $(firewall-cmd --permanent --list-ports) $(firewall-cmd --permanent --list-protocols) "',
        `for w in ${wanted.map((w) => quote(w)).join(" ")}; do`,
        '  case "$rt" in *" $w "*) ;; *) exit 1;; esac',
        '  case "$pm" in *" $w "*) ;; *) exit 1;; esac',
        "done",
      ),
    ),
    apply: script(APPLY_HEADER, `firewall-cmd ${flags} >/dev/null`, `firewall-cmd --permanent ${flags} >/dev/null`),
  };
}

/** The inventory asked for no host firewall: stop firewalld and keep it from starting at boot. */
export function firewalldDisableStep(): Step {
  return {
    id: "firewalld-disable",
    what: "stop and disable firewalld (inventory: firewall: disable)",
    probe: probeAll("! systemctl is-active --quiet firewalld", "! systemctl is-enabled --quiet firewalld"),
    apply: script(
      APPLY_HEADER,
      "if systemctl is-active --quiet firewalld; then systemctl stop firewalld; fi",
      "if systemctl is-enabled --quiet firewalld; then systemctl disable firewalld; fi",
    ),
  };
}

function firewallSteps(s: HostSettings): Step[] {
  const plan = s.firewall;
  if (!plan || plan.mode === "ignore") return [];
  if (plan.mode === "disable") return [firewalldDisableStep()];
  return plan.openings.length ? [firewalldOpenStep(plan)] : [];
}

/** The RHEL-like configurer over dnf or yum (packageTool("dnf") / packageTool("yum")). */
export function rhelConfigurer(tool: PackageTool): DistroConfigurer {
  return {
    family: "rhel",
    packages: tool,
    isOffline: (offline) => Boolean(offline?.rpmRepo),
    hostSteps: (s) => [selinuxPermissiveStep(), networkManagerStep(), ...firewallSteps(s)],

    basePackagesStep() {
      // No curl on RPM systems: the repo files are written directly, and EL9's curl-minimal conflicts with curl.
      const names = ["conntrack-tools", "socat"];
      return installStep(tool, { id: "base-packages", what: `install ${names.join(", ")}`, pkgs: names });
    },

    /** containerd.io for RHEL-likes comes from Docker's repository (not in the distribution's own repos). */
    containerdRepoStep() {
      const content = [
        "[docker-ce-stable]",
        "name=Docker CE Stable (containerd.io for kubesmith)",
        "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable",
        "enabled=1",
        "gpgcheck=1",
        "gpgkey=https://download.docker.com/linux/centos/gpg",
        "",
      ].join("\n");
      return repositoryStep(tool, fileStep({
        id: "containerd-repo",
        what: `add Docker's RPM repository for containerd.io (${DOCKER_RPM_REPO_FILE})`,
        file: { path: DOCKER_RPM_REPO_FILE, content, mode: 0o644 },
      }));
    },

    containerdInstallStep() {
      const major = CONTAINERD_IO_PATTERN.replace(/\*$/, "");
      return installStep(tool, {
        id: "containerd-install",
        what: `install containerd.io ${CONTAINERD_IO_PATTERN} (replacing a distribution containerd 1.x)`,
        pkgs: [tool.versioned("containerd.io", CONTAINERD_IO_PATTERN)],
        probe: [`case "$(rpm -q --qf '%{VERSION}' containerd.io 2>/dev/null)" in ${major}*) ;; *) exit 1;; esac`],
      });
    },

    kubernetesRepoStep(minor, offline) {
      return repositoryStep(
        tool,
        fileStep({
          id: "kubernetes-repo",
          what: `add the Kubernetes v${minor} package repository (${offline?.rpmRepo ? `mirror ${offline.rpmRepo}` : "pkgs.k8s.io"})`,
          file: { path: RPM_REPO_FILE, content: rpmRepoFile(minor, offline), mode: 0o644 },
        }),
      );
    },

    kubePackagesStep(v, only) {
      const names = [...(only ?? KUBE_PACKAGES)];
      const pattern = rpmVersionPattern(v);
      return installStep(tool, {
        id: kubePackagesStepId(only),
        what: `install ${names.join(", ")} ${pattern} (held by the repository's exclude line)`,
        pkgs: names.map((p) => tool.versioned(p, pattern)),
        disableExcludes: "kubernetes",
        probe: names.map((p) => {
          const match = v.patch ? quote(v.patch) : `${quote(`${v.minor}.`)}*`;
          return `case "$(rpm -q --qf '%{VERSION}' ${quote(p)} 2>/dev/null)" in ${match}) ;; *) exit 1;; esac`;
        }),
      });
    },
  };
}
