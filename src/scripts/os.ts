// Preparing a host's OS for kubeadm: kernel modules, sysctls, swap, containerd 2.x (containerd.io from
// Docker's repository on every distribution; its config rendered whole, see containerd.ts), the Kubernetes
// package repository for the chosen minor, and pinned, held kubeadm/kubelet/kubectl.
//
// Commands the scripts rely on (real hosts have them; the lab's node simulator must play the ones it
// fakes): dpkg-query -W -f='${Status}' / '${Status} ${Version}', rpm -q [--qf '%{VERSION}'], apt-get,
// apt-mark hold, dnf/yum install, systemctl is-enabled/is-active/enable/restart, modprobe, sysctl -n,
// sysctl --system, swapoff -a, curl, gpg --dearmor, awk, stat -c %a; /etc/os-release (ID, ID_LIKE,
// VERSION_CODENAME, UBUNTU_CODENAME) for Docker's apt repository.
import { quote, sh } from "../ssh/quote.js";
import { UsageError } from "../errors.js";
import { containerdConfigStep } from "./containerd.js";
import {
  APPLY_HEADER,
  debInstalledProbe,
  fileMatchesProbe,
  fileStep,
  probeAll,
  rpmInstalledProbe,
  script,
  writeFileApply,
  type Step,
} from "./step.js";

export type PackageManager = "apt" | "dnf" | "yum";

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

export interface PrepareOsOptions {
  packageManager: PackageManager;
  /** "1.33" (newest patch of that minor) or "1.33.2". */
  kubernetesVersion: string;
  offline?: OfflineSources;
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
export const MODULES_FILE = "/etc/modules-load.d/kubernetes.conf";
export const SYSCTL_FILE = "/etc/sysctl.d/99-kubernetes.conf";
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const APT_KEYRING = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
export const APT_SOURCES = "/etc/apt/sources.list.d/kubernetes.list";
export const RPM_REPO_FILE = "/etc/yum.repos.d/kubernetes.repo";
export const DOCKER_RPM_REPO_FILE = "/etc/yum.repos.d/docker-ce.repo";
export const DOCKER_APT_KEYRING = "/etc/apt/keyrings/docker.asc";
export const DOCKER_APT_SOURCES = "/etc/apt/sources.list.d/docker.list";
/** containerd.io versions kubesmith accepts: containerd 2.x (Kubernetes ≥ 1.36 needs it; see src/versions.ts). */
export const CONTAINERD_IO_PATTERN = "2.*";

export const KERNEL_MODULES = ["overlay", "br_netfilter"] as const;
export const SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["net.bridge.bridge-nf-call-iptables", "1"],
  ["net.bridge.bridge-nf-call-ip6tables", "1"],
  ["net.ipv4.ip_forward", "1"],
];

function checkMirrorUrl(url: string, field: string): string {
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
    probe: probeAll(fileMatchesProbe(file), ...SYSCTLS.map(([k, v]) => sh`[ "$(sysctl -n ${k} 2>/dev/null)" = ${v} ]`)),
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
// packages

function aptInstall(pkgs: readonly string[], flags = ""): string {
  return script(
    "export DEBIAN_FRONTEND=noninteractive",
    "apt-get update -q",
    `apt-get install -y -q ${flags ? `${flags} ` : ""}${sh`${[...pkgs]}`}`,
  );
}

/** dnf/yum install; `pm` is one of the fixed names, so it is written as it is. */
function rpmInstall(pm: PackageManager, pkgs: readonly string[], flags = ""): string {
  return `${pm} install -y ${flags ? `${flags} ` : ""}${sh`${[...pkgs]}`}`;
}

function basePackages(pm: PackageManager, offline: boolean): string[] {
  if (pm === "apt") return offline ? ["ca-certificates", "conntrack", "socat"] : ["ca-certificates", "curl", "gpg", "conntrack", "socat"];
  // No curl on RPM systems: the repo files are written directly, and EL9's curl-minimal conflicts with curl.
  return ["conntrack-tools", "socat"];
}

function basePackagesStep(pm: PackageManager, offline: boolean): Step {
  const pkgs = basePackages(pm, offline);
  return {
    id: "base-packages",
    what: `install ${pkgs.join(", ")}`,
    probe: pm === "apt" ? probeAll(debInstalledProbe(pkgs)) : probeAll(rpmInstalledProbe(pkgs)),
    apply: script(APPLY_HEADER, pm === "apt" ? aptInstall(pkgs) : rpmInstall(pm, pkgs)),
  };
}

/** containerd.io for RHEL-likes comes from Docker's repository (not in the distribution's own repos). */
function dockerRpmRepoStep(): Step {
  const content = [
    "[docker-ce-stable]",
    "name=Docker CE Stable (containerd.io for kubesmith)",
    "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable",
    "enabled=1",
    "gpgcheck=1",
    "gpgkey=https://download.docker.com/linux/centos/gpg",
    "",
  ].join("\n");
  return fileStep({
    id: "containerd-repo",
    what: `add Docker's RPM repository for containerd.io (${DOCKER_RPM_REPO_FILE})`,
    file: { path: DOCKER_RPM_REPO_FILE, content, mode: 0o644 },
  });
}

/**
 * Shell fragment setting $d (debian or ubuntu) and $c (the release codename) from /etc/os-release, for
 * Docker's apt repository (download.docker.com/linux/$d $c stable). Derivatives map to their parent.
 */
export const DOCKER_APT_DISTRO = script(
  ". /etc/os-release",
  'case " ${ID:-} ${ID_LIKE:-} " in',
  '  *" ubuntu "*) d=ubuntu; c=${UBUNTU_CODENAME:-${VERSION_CODENAME:-}} ;;',
  "  *) d=debian; c=${VERSION_CODENAME:-} ;;",
  "esac",
  '[ -n "$c" ]',
);
/** The sources line, from $d and $c (see DOCKER_APT_DISTRO); printed with printf. */
const DOCKER_APT_LINE = `"deb [signed-by=${DOCKER_APT_KEYRING}] https://download.docker.com/linux/$d $c stable"`;

/** containerd.io for Debian/Ubuntu comes from Docker's apt repository (the distributions ship containerd 1.x). */
function dockerAptRepoStep(): Step {
  return {
    id: "containerd-repo",
    what: `add Docker's apt repository for containerd.io (${DOCKER_APT_SOURCES}, key ${DOCKER_APT_KEYRING})`,
    probe: probeAll(
      sh`[ -s ${DOCKER_APT_KEYRING} ]`,
      // one check: the distro variables must live in the same subshell as the comparison
      script(DOCKER_APT_DISTRO, `[ "$(cat ${quote(DOCKER_APT_SOURCES)} 2>/dev/null)" = ${DOCKER_APT_LINE} ]`),
    ),
    apply: script(
      APPLY_HEADER,
      DOCKER_APT_DISTRO,
      "install -d -m 0755 /etc/apt/keyrings",
      // Downloaded to a file first (dash has no pipefail); apt reads the armored key as it is (.asc).
      sh`curl -fsSL --retry 3 -o ${`${DOCKER_APT_KEYRING}.kubesmith-tmp`}` + ' "https://download.docker.com/linux/$d/gpg"',
      sh`[ -s ${`${DOCKER_APT_KEYRING}.kubesmith-tmp`} ]`,
      sh`chmod 644 ${`${DOCKER_APT_KEYRING}.kubesmith-tmp`}`,
      sh`mv -f ${`${DOCKER_APT_KEYRING}.kubesmith-tmp`} ${DOCKER_APT_KEYRING}`,
      `printf '%s\\n' ${DOCKER_APT_LINE} > ${quote(`${DOCKER_APT_SOURCES}.kubesmith-tmp`)}`,
      sh`chmod 644 ${`${DOCKER_APT_SOURCES}.kubesmith-tmp`}`,
      sh`mv -f ${`${DOCKER_APT_SOURCES}.kubesmith-tmp`} ${DOCKER_APT_SOURCES}`,
      "apt-get update -q",
    ),
  };
}

/**
 * containerd.io 2.x on every distribution. On Debian/Ubuntu it replaces the distribution's containerd
 * (and runc), which apt removes as containerd.io conflicts with them; a containerd.io 1.x is upgraded.
 */
function containerdInstallStep(pm: PackageManager): Step {
  const major = CONTAINERD_IO_PATTERN.replace(/\*$/, "");
  const probe =
    pm === "apt"
      ? `case "$(dpkg-query -W -f='\${Status} \${Version}' containerd.io 2>/dev/null)" in *' ok installed '${major}*) ;; *) exit 1;; esac`
      : `case "$(rpm -q --qf '%{VERSION}' containerd.io 2>/dev/null)" in ${major}*) ;; *) exit 1;; esac`;
  return {
    id: "containerd-install",
    what: `install containerd.io ${CONTAINERD_IO_PATTERN} (replacing a distribution containerd 1.x)`,
    probe: probeAll(probe),
    apply: script(
      APPLY_HEADER,
      pm === "apt" ? aptInstall([`containerd.io=${CONTAINERD_IO_PATTERN}`]) : rpmInstall(pm, [`containerd.io-${CONTAINERD_IO_PATTERN}`]),
    ),
  };
}

function serviceEnabledStep(id: string, unit: string, start: boolean): Step {
  return {
    id,
    what: start ? `enable and start ${unit}` : `enable ${unit}`,
    probe: probeAll(
      sh`systemctl is-enabled --quiet ${unit}`,
      start ? sh`systemctl is-active --quiet ${unit}` : undefined,
    ),
    apply: script(APPLY_HEADER, start ? sh`systemctl enable --now ${unit}` : sh`systemctl enable ${unit}`),
  };
}

// ---------------------------------------------------------------------------------------------------
// the Kubernetes package repository

/** The apt sources line for the Kubernetes repository. */
export function aptSourcesLine(minor: string, offline?: OfflineSources): string {
  if (offline?.aptRepo) return `deb [trusted=yes] ${checkMirrorUrl(offline.aptRepo, "offline.aptRepo")} /`;
  return `deb [signed-by=${APT_KEYRING}] ${pkgsK8sBase(minor)}/deb/ /`;
}

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

function kubernetesRepoStep(pm: PackageManager, minor: string, offline?: OfflineSources): Step {
  if (pm !== "apt") {
    return fileStep({
      id: "kubernetes-repo",
      what: `add the Kubernetes v${minor} package repository (${offline?.rpmRepo ? `mirror ${offline.rpmRepo}` : "pkgs.k8s.io"})`,
      file: { path: RPM_REPO_FILE, content: rpmRepoFile(minor, offline), mode: 0o644 },
    });
  }
  const list = { path: APT_SOURCES, content: `${aptSourcesLine(minor, offline)}\n`, mode: 0o644 };
  if (offline?.aptRepo) {
    return {
      id: "kubernetes-repo",
      what: `add the Kubernetes v${minor} package repository (mirror ${offline.aptRepo}, trusted, no key)`,
      probe: probeAll(fileMatchesProbe(list)),
      apply: script(APPLY_HEADER, writeFileApply(list), "apt-get update -q"),
    };
  }
  const keyUrl = `${pkgsK8sBase(minor)}/deb/Release.key`;
  return {
    id: "kubernetes-repo",
    what: `add the Kubernetes v${minor} package repository (pkgs.k8s.io, key ${APT_KEYRING})`,
    probe: probeAll(sh`[ -s ${APT_KEYRING} ]`, fileMatchesProbe(list)),
    apply: script(
      APPLY_HEADER,
      "install -d -m 0755 /etc/apt/keyrings",
      // The key is downloaded to a file first: dash has no pipefail, and `curl | gpg` would hide a failed
      // download behind an empty keyring.
      'key=$(mktemp)',
      'trap \'rm -f "$key"\' EXIT',
      sh`curl -fsSL --retry 3 -o "$key" ${keyUrl}`,
      '[ -s "$key" ]',
      sh`gpg --batch --yes --dearmor -o ${`${APT_KEYRING}.kubesmith-tmp`} "$key"`,
      sh`chmod 644 ${`${APT_KEYRING}.kubesmith-tmp`}`,
      sh`mv -f ${`${APT_KEYRING}.kubesmith-tmp`} ${APT_KEYRING}`,
      writeFileApply(list),
      "apt-get update -q",
    ),
  };
}

// ---------------------------------------------------------------------------------------------------
// kubeadm, kubelet, kubectl

/** apt version pattern: "1.33.*" for a minor, "1.33.2-*" for a patch (any packaging revision, e.g. -1.1). */
export function aptVersionPattern(v: KubernetesVersion): string {
  return v.patch ? `${v.patch}-*` : `${v.minor}.*`;
}

/** dnf/yum version pattern for `name-VERSION`: "1.33.*" or exactly "1.33.2". */
export function rpmVersionPattern(v: KubernetesVersion): string {
  return v.patch ?? `${v.minor}.*`;
}

function kubePackagesStep(pm: PackageManager, v: KubernetesVersion): Step {
  const pkgs = [...KUBE_PACKAGES];
  if (pm === "apt") {
    const pattern = aptVersionPattern(v);
    return {
      id: "kubernetes-packages",
      what: `install ${pkgs.join(", ")} ${pattern} and hold them (apt-mark hold)`,
      // "hold ok installed VERSION": installed, held, and at the pinned version.
      probe: probeAll(
        ...pkgs.map(
          (p) =>
            `case "$(dpkg-query -W -f='\${Status} \${Version}' ${quote(p)} 2>/dev/null)" in ${quote(`hold ok installed ${pattern.replace(/\*$/, "")}`)}*) ;; *) exit 1;; esac`,
        ),
      ),
      apply: script(
        APPLY_HEADER,
        aptInstall(
          pkgs.map((p) => `${p}=${pattern}`),
          "--allow-downgrades --allow-change-held-packages",
        ),
        sh`apt-mark hold ${pkgs}`,
      ),
    };
  }
  const pattern = rpmVersionPattern(v);
  return {
    id: "kubernetes-packages",
    what: `install ${pkgs.join(", ")} ${pattern} (held by the repository's exclude line)`,
    probe: probeAll(
      ...pkgs.map((p) => {
        const match = v.patch ? quote(v.patch) : `${quote(`${v.minor}.`)}*`;
        return `case "$(rpm -q --qf '%{VERSION}' ${quote(p)} 2>/dev/null)" in ${match}) ;; *) exit 1;; esac`;
      }),
    ),
    apply: script(APPLY_HEADER, rpmInstall(pm, pkgs.map((p) => `${p}-${pattern}`), "--disableexcludes=kubernetes")),
  };
}

/**
 * The OS preparation steps, in order. Every probe is read-only and exact: it passes only when its apply
 * would change nothing.
 */
export function prepareOsSteps(opts: PrepareOsOptions): Step[] {
  const pm = opts.packageManager;
  if (pm !== "apt" && pm !== "dnf" && pm !== "yum") {
    throw new UsageError(`unsupported package manager ${JSON.stringify(pm)}; kubesmith supports apt, dnf and yum`);
  }
  const v = parseKubernetesVersion(opts.kubernetesVersion);
  const offline = opts.offline;
  const isOffline = pm === "apt" ? Boolean(offline?.aptRepo) : Boolean(offline?.rpmRepo);
  return [
    kernelModulesStep(),
    sysctlStep(),
    swapStep(),
    basePackagesStep(pm, isOffline),
    ...(isOffline ? [] : [pm === "apt" ? dockerAptRepoStep() : dockerRpmRepoStep()]),
    containerdInstallStep(pm),
    containerdConfigStep({
      kubernetesVersion: opts.kubernetesVersion,
      ...(offline?.imageRepository ? { imageRepository: offline.imageRepository } : {}),
      ...(offline?.registryMirrors ? { registryMirrors: offline.registryMirrors } : {}),
    }),
    serviceEnabledStep("containerd-service", "containerd", true),
    kubernetesRepoStep(pm, v.minor, offline),
    kubePackagesStep(pm, v),
    serviceEnabledStep("kubelet-enable", "kubelet", false),
  ];
}
