// /etc/os-release contents for the operating systems a lab host can pretend to be.
import type { LabOs } from "./types.js";

export const OS_RELEASE: Record<LabOs, string> = {
  "debian-12": `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`,
  "ubuntu-24.04": `PRETTY_NAME="Ubuntu 24.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.2 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`,
  "rocky-9": `NAME="Rocky Linux"
VERSION="9.5 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.5"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
`,
};

/** Which package manager family a host uses. */
export function osFamily(os: LabOs): "debian" | "rhel" {
  return os === "rocky-9" ? "rhel" : "debian";
}

/**
 * Files a RHEL-like lab host starts with, relative to its overlay upper dirs ("etc/…" is /etc, "var-lib/…"
 * is /var/lib); a key ending in "/" is a directory. As a fresh Rocky 9 installs:
 *  - SELinux enforcing, targeted policy (/etc/selinux/config as the selinux-policy package writes it);
 *  - NetworkManager running, with an empty /etc/NetworkManager/conf.d (Calico's "Configure
 *    NetworkManager" asks for a file there);
 *  - firewalld running with the public zone (its state and rules: sim/firewalld.ts).
 */
export function rhelHostFiles(): Record<string, string> {
  return {
    "etc/selinux/config": [
      "# This file controls the state of SELinux on the system.",
      "# SELINUX= can take one of these three values:",
      "#     enforcing - SELinux security policy is enforced.",
      "#     permissive - SELinux prints warnings instead of enforcing.",
      "#     disabled - No SELinux policy is loaded.",
      "SELINUX=enforcing",
      "# SELINUXTYPE= can take one of these three values:",
      "#     targeted - Targeted processes are protected,",
      "#     minimum - Modification of targeted policy. Only selected processes are protected.",
      "#     mls - Multi Level Security protection.",
      "SELINUXTYPE=targeted",
      "",
    ].join("\n"),
    "etc/NetworkManager/NetworkManager.conf": "# Configuration file for NetworkManager.\n# See \"man 5 NetworkManager.conf\" for details.\n[main]\n#plugins=keyfile,ifcfg-rh\n",
    "etc/NetworkManager/conf.d/": "",
    "etc/firewalld/firewalld.conf": "# firewalld config file\nDefaultZone=public\nFirewallBackend=nftables\n",
    "var-lib/kubesim/units.json": `${JSON.stringify({ firewalld: { enabled: true, active: true }, NetworkManager: { enabled: true, active: true } }, null, 2)}\n`,
  };
}
