// Debian and Ubuntu: apt, Docker's apt repository for containerd.io, pkgs.k8s.io's Debian repository,
// apt-mark hold. No family-specific host settings (no SELinux; ufw is not managed).
//
// Commands relied on: dpkg-query -W -f='${Status}' / '${Status} ${Version}', apt-get, apt-mark hold,
// curl, awk, base64 -d (the key dearmored without gpg); /etc/os-release (ID, ID_LIKE, VERSION_CODENAME, UBUNTU_CODENAME).
import { quote, sh } from "../../ssh/quote.js";
import { dpkgStatus, installStep, packageTool, repositoryStep } from "../packages.js";
import { APPLY_HEADER, fileMatchesProbe, probeAll, script, writeFileApply } from "../step.js";
import {
  CONTAINERD_IO_PATTERN,
  KUBE_PACKAGES,
  kubePackagesStepId,
  checkMirrorUrl,
  pkgsK8sBase,
  type KubernetesVersion,
  type OfflineSources,
} from "./common.js";
import type { DistroConfigurer } from "./index.js";

export const APT_KEYRING = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
export const APT_SOURCES = "/etc/apt/sources.list.d/kubernetes.list";
export const DOCKER_APT_KEYRING = "/etc/apt/keyrings/docker.asc";
export const DOCKER_APT_SOURCES = "/etc/apt/sources.list.d/docker.list";

const apt = packageTool("apt");

/**
 * Apply fragment: the ASCII-armored OpenPGP key in file "$key" written as the binary keyring `out`, as
 * `gpg --dearmor` does, with awk and base64 only: the repositories are added before anything is installed
 * (so that the package index is refreshed once per run), and gpg is not on every cloud image. The armor is
 * RFC 4880 section 6.2: a BEGIN line, optional "Key: Value" headers ended by a blank line, the base64 body,
 * an optional "=" CRC-24 line, the END line. A key without a body leaves an empty file, which the caller's
 * size check refuses.
 */
export function dearmorApply(out: string): string {
  const awk =
    '{ sub(/\\r$/, "") } /^-----BEGIN PGP PUBLIC KEY BLOCK-----$/ { s = 1; next } s == 1 && /^[A-Za-z-]+: / { next } s == 1 && /^$/ { s = 2; next } s == 1 { s = 2 } /^-----END PGP PUBLIC KEY BLOCK-----$/ { exit } s == 2 && !/^=/ { print }';
  return script(sh`awk ${awk} "$key" | base64 -d > ${`${out}.kubesmith-tmp`}`, sh`[ -s ${`${out}.kubesmith-tmp`} ]`);
}

/**
 * Apply fragment for the repository steps, which run before base-packages: curl fetches the keys. Cloud
 * images of Debian and Ubuntu have it; a host without it gets it here (the index refreshed for that).
 */
const CURL_FIRST = script(
  "if ! command -v curl >/dev/null 2>&1; then",
  `  ${apt.refreshIndex()}`,
  `  ${apt.install(["ca-certificates", "curl"]).split("\n").join("\n  ")}`,
  "fi",
);

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

/** The apt sources line for the Kubernetes repository. */
export function aptSourcesLine(minor: string, offline?: OfflineSources): string {
  if (offline?.aptRepo) return `deb [trusted=yes] ${checkMirrorUrl(offline.aptRepo, "offline.aptRepo")} /`;
  return `deb [signed-by=${APT_KEYRING}] ${pkgsK8sBase(minor)}/deb/ /`;
}

/** apt version pattern: "1.33.*" for a minor, "1.33.2-*" for a patch (any packaging revision, e.g. -1.1). */
export function aptVersionPattern(v: KubernetesVersion): string {
  return v.patch ? `${v.patch}-*` : `${v.minor}.*`;
}

export const debianConfigurer: DistroConfigurer = {
  family: "debian",
  isOffline: (offline) => Boolean(offline?.aptRepo),
  packages: apt,
  hostSteps: () => [],

  basePackagesStep(offline) {
    const pkgs = offline ? ["ca-certificates", "conntrack", "socat"] : ["ca-certificates", "curl", "gpg", "conntrack", "socat"];
    return installStep(apt, { id: "base-packages", what: `install ${pkgs.join(", ")}`, pkgs });
  },

  /** containerd.io for Debian/Ubuntu comes from Docker's apt repository (the distributions ship containerd 1.x). */
  containerdRepoStep() {
    return repositoryStep(apt, {
      id: "containerd-repo",
      what: `add Docker's apt repository for containerd.io (${DOCKER_APT_SOURCES}, key ${DOCKER_APT_KEYRING})`,
      probe: probeAll(
        sh`[ -s ${DOCKER_APT_KEYRING} ]`,
        // one check: the distro variables must live in the same subshell as the comparison
        script(DOCKER_APT_DISTRO, `[ "$(cat ${quote(DOCKER_APT_SOURCES)} 2>/dev/null)" = ${DOCKER_APT_LINE} ]`),
      ),
      apply: script(
        APPLY_HEADER,
        CURL_FIRST,
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
      ),
    });
  },

  /** containerd.io 2.x; apt removes the distribution's containerd (and runc), which conflict with it. */
  containerdInstallStep() {
    const major = CONTAINERD_IO_PATTERN.replace(/\*$/, "");
    return installStep(apt, {
      id: "containerd-install",
      what: `install containerd.io ${CONTAINERD_IO_PATTERN} (replacing a distribution containerd 1.x)`,
      pkgs: [apt.versioned("containerd.io", CONTAINERD_IO_PATTERN)],
      probe: [`case "${dpkgStatus("containerd.io", true)}" in *' ok installed '${major}*) ;; *) exit 1;; esac`],
    });
  },

  kubernetesRepoStep(minor, offline) {
    const list = { path: APT_SOURCES, content: `${aptSourcesLine(minor, offline)}\n`, mode: 0o644 };
    if (offline?.aptRepo) {
      return repositoryStep(apt, {
        id: "kubernetes-repo",
        what: `add the Kubernetes v${minor} package repository (mirror ${offline.aptRepo}, trusted, no key)`,
        probe: probeAll(fileMatchesProbe(list)),
        apply: script(APPLY_HEADER, writeFileApply(list)),
      });
    }
    const keyUrl = `${pkgsK8sBase(minor)}/deb/Release.key`;
    return repositoryStep(apt, {
      id: "kubernetes-repo",
      what: `add the Kubernetes v${minor} package repository (pkgs.k8s.io, key ${APT_KEYRING})`,
      probe: probeAll(sh`[ -s ${APT_KEYRING} ]`, fileMatchesProbe(list)),
      apply: script(
        APPLY_HEADER,
        CURL_FIRST,
        "install -d -m 0755 /etc/apt/keyrings",
        // The key is downloaded to a file first: dash has no pipefail, and `curl | …` would hide a failed
        // download behind an empty keyring.
        'key=$(mktemp)',
        'trap \'rm -f "$key"\' EXIT',
        sh`curl -fsSL --retry 3 -o "$key" ${keyUrl}`,
        '[ -s "$key" ]',
        dearmorApply(APT_KEYRING),
        sh`chmod 644 ${`${APT_KEYRING}.kubesmith-tmp`}`,
        sh`mv -f ${`${APT_KEYRING}.kubesmith-tmp`} ${APT_KEYRING}`,
        writeFileApply(list),
      ),
    });
  },

  kubePackagesStep(v, only) {
    const pkgs = [...(only ?? KUBE_PACKAGES)];
    const pattern = aptVersionPattern(v);
    return installStep(apt, {
      id: kubePackagesStepId(only),
      what: `install ${pkgs.join(", ")} ${pattern} and hold them (apt-mark hold)`,
      pkgs: pkgs.map((p) => apt.versioned(p, pattern)),
      replaceHeld: true,
      hold: pkgs,
      // "hold ok installed VERSION": installed, held, and at the pinned version.
      probe: pkgs.map(
        (p) =>
          `case "${dpkgStatus(p, true)}" in ${quote(`hold ok installed ${pattern.replace(/\*$/, "")}`)}*) ;; *) exit 1;; esac`,
      ),
    });
  },
};
