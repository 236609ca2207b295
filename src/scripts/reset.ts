// `down`: take a node back to a clean host. kubeadm reset, then what kubeadm reset leaves behind (CNI
// interfaces and files, kube-proxy/Calico iptables and IPVS rules, etcd data, root's kubeconfig), and the
// keepalived host bundle.
import { sh } from "../ssh/quote.js";
import { APPLY_HEADER, probeAll, script, type Step } from "./step.js";
import { APISERVER_CHECK_SCRIPT, KEEPALIVED_CONF } from "./keepalived.js";
import { packageTool, type PackageManager } from "./packages.js";

/** Files kubeadm init/join write under /etc/kubernetes and /var/lib/kubelet (and kubeadm reset removes). */
export const KUBEADM_FILES = [
  "/etc/kubernetes/admin.conf",
  "/etc/kubernetes/super-admin.conf",
  "/etc/kubernetes/kubelet.conf",
  "/etc/kubernetes/bootstrap-kubelet.conf",
  "/etc/kubernetes/controller-manager.conf",
  "/etc/kubernetes/scheduler.conf",
  "/var/lib/kubelet/config.yaml",
  "/var/lib/kubelet/kubeadm-flags.env",
] as const;
export const KUBEADM_DIRS = ["/etc/kubernetes/manifests", "/etc/kubernetes/pki"] as const;

/** Interfaces Calico and kube-proxy (IPVS mode) create. tunl0 belongs to the ipip module: see cniInterfacesStep. */
export const CNI_INTERFACE_PATTERNS = ["cali*", "vxlan.calico", "kube-ipvs0"] as const;

/** Lists the host's interface names, one a line (without the @peer suffix). */
const LIST_LINKS = "ip -o link show | awk -F': ' '{ sub(/@.*/, \"\", $2); print $2 }'";

function emptyDir(dir: string): string {
  return sh`[ -z "$(ls -A ${dir} 2>/dev/null)" ]`;
}

function kubeadmResetStep(): Step {
  return {
    id: "kubeadm-reset",
    what: "kubeadm reset -f (remove the node's Kubernetes state)",
    probe: probeAll(...KUBEADM_FILES.map((f) => sh`[ ! -e ${f} ]`), ...KUBEADM_DIRS.map(emptyDir)),
    apply: script(
      APPLY_HEADER,
      "if command -v kubeadm >/dev/null 2>&1; then kubeadm reset -f; fi",
      // Without kubeadm (or when it left something): remove the same files by hand, so the probe converges.
      sh`rm -f ${[...KUBEADM_FILES]}`,
      ...KUBEADM_DIRS.map((d) => sh`if [ -d ${d} ]; then find ${d} -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi`),
    ),
  };
}

/** Case pattern list of leftover interfaces, e.g. `cali*|vxlan.calico|kube-ipvs0`; the values are fixed constants. */
const IFACE_CASE = CNI_INTERFACE_PATTERNS.join("|");

function cniInterfacesStep(): Step {
  // tunl0 is the ipip module's fallback device and cannot be deleted: it is left down and without addresses.
  const tunl0Clean =
    "! ip link show dev tunl0 >/dev/null 2>&1 || { ! ip -o link show dev tunl0 | grep -q '[<,]UP[,>]' && [ -z \"$(ip -o addr show dev tunl0)\" ]; }";
  return {
    id: "cni-interfaces",
    what: `delete CNI interfaces (${CNI_INTERFACE_PATTERNS.join(", ")}; tunl0 down without addresses)`,
    probe: probeAll(
      script(`for n in $(${LIST_LINKS}); do`, `  case $n in ${IFACE_CASE}) exit 1;; esac`, "done"),
      tunl0Clean,
    ),
    apply: script(
      APPLY_HEADER,
      `for n in $(${LIST_LINKS}); do`,
      // A veth's peer vanishes with it, so a later name in the list may be gone already.
      `  case $n in ${IFACE_CASE})`,
      '    if ! ip link delete "$n" 2>/dev/null && ip link show dev "$n" >/dev/null 2>&1; then',
      '      echo "kubesmith: cannot delete interface $n" >&2',
      "      exit 1",
      "    fi;;",
      "  esac",
      "done",
      "if ip link show dev tunl0 >/dev/null 2>&1; then",
      "  ip link delete tunl0 2>/dev/null || { ip link set dev tunl0 down; ip addr flush dev tunl0; }",
      "fi",
    ),
  };
}

export const CNI_DIRS_EMPTIED = ["/etc/cni/net.d"] as const;
/**
 * Removed whole: CNI and Calico state, the plugins Calico's install-cni copied into /opt/cni/bin (the
 * kubernetes-cni package's own plugins stay), and what kubesmith's Filebeat DaemonSet keeps on the node.
 */
export const CNI_DIRS_REMOVED = [
  "/var/lib/cni",
  "/var/lib/calico",
  "/run/calico",
  "/opt/cni/bin/calico",
  "/opt/cni/bin/calico-ipam",
  "/var/lib/kubesmith/filebeat",
] as const;

function cniFilesStep(): Step {
  return {
    id: "cni-files",
    what: `remove CNI configuration and state (${[...CNI_DIRS_EMPTIED].map((d) => `${d}/*`).join(", ")}, ${CNI_DIRS_REMOVED.join(", ")})`,
    probe: probeAll(...CNI_DIRS_EMPTIED.map(emptyDir), ...CNI_DIRS_REMOVED.map((d) => sh`[ ! -e ${d} ]`)),
    apply: script(
      APPLY_HEADER,
      ...CNI_DIRS_EMPTIED.map((d) => sh`if [ -d ${d} ]; then find ${d} -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi`),
      sh`rm -rf ${[...CNI_DIRS_REMOVED]}`,
    ),
  };
}

/**
 * awk program over `iptables-save` output. It drops the chains kube-proxy, the kubelet and Calico
 * create (KUBE-*, cali-*), every rule inside them, and every rule elsewhere that jumps to them or carries
 * a Calico "cali:" comment; everything else is printed unchanged. With -v check=1 it prints nothing and
 * exits 1 when such a line exists (0 when the rules are clean).
 */
export const IPTABLES_FILTER_AWK = [
  '/^:(KUBE-|cali-)/ || /^-A (KUBE-|cali-)/ || / -[jg] (KUBE-|cali-)/ || /--comment "?cali:/ { if (check) { found = 1; exit } next }',
  "!check { print }",
  "END { if (check) exit found }",
].join(" ");

/** iptables families the cleanup covers; a missing one is skipped. */
export const IPTABLES_FAMILIES = ["iptables", "ip6tables"] as const;

/** Probe check: no kube-proxy/Calico rules left in any iptables family present. */
export function iptablesCleanProbe(): string {
  return script(
    `for t in ${IPTABLES_FAMILIES.join(" ")}; do`,
    '  command -v "$t-save" >/dev/null 2>&1 || continue',
    `  "$t-save" | awk -v check=1 ${sh`${IPTABLES_FILTER_AWK}`} || exit 1`,
    "done",
  );
}

/**
 * Apply: for each family, save the rules, drop kube-proxy/Calico lines, restore. iptables-restore
 * replaces each table it is given whole (user chains not in the input are deleted), so the result is
 * exactly the filtered rules, atomically per table. Nothing is restored when nothing was dropped.
 */
export function iptablesCleanApply(): string {
  return script(
    `for t in ${IPTABLES_FAMILIES.join(" ")}; do`,
    '  command -v "$t-save" >/dev/null 2>&1 || continue',
    '  rules=$("$t-save")',
    `  if ! printf '%s\\n' "$rules" | awk -v check=1 ${sh`${IPTABLES_FILTER_AWK}`}; then`,
    `    printf '%s\\n' "$rules" | awk -v check=0 ${sh`${IPTABLES_FILTER_AWK}`} | "$t-restore"`,
    "  fi",
    "done",
  );
}

function iptablesStep(): Step {
  return {
    id: "iptables-rules",
    what: "remove kube-proxy and Calico iptables rules (chains KUBE-*, cali-* and jumps to them)",
    probe: probeAll(iptablesCleanProbe()),
    apply: script(APPLY_HEADER, iptablesCleanApply()),
  };
}

function ipvsStep(): Step {
  return {
    id: "ipvs-rules",
    what: "clear IPVS virtual servers (ipvsadm --clear)",
    // Only when the ip_vs module is loaded: ipvsadm would otherwise load it, and a probe changes nothing.
    probe: probeAll('[ ! -e /proc/net/ip_vs ] || ! command -v ipvsadm >/dev/null 2>&1 || [ -z "$(ipvsadm -Sn 2>/dev/null)" ]'),
    apply: script(APPLY_HEADER, "if [ -e /proc/net/ip_vs ] && command -v ipvsadm >/dev/null 2>&1; then ipvsadm --clear; fi"),
  };
}

function nftablesStep(): Step {
  // kube-proxy's nftables mode keeps its rules in its own tables.
  return {
    id: "nftables-rules",
    what: "delete kube-proxy's nftables tables (ip/ip6 kube-proxy)",
    probe: probeAll(
      script(
        "command -v nft >/dev/null 2>&1 || exit 0",
        "! nft list table ip kube-proxy >/dev/null 2>&1 && ! nft list table ip6 kube-proxy >/dev/null 2>&1",
      ),
    ),
    apply: script(
      APPLY_HEADER,
      "if command -v nft >/dev/null 2>&1; then",
      "  for f in ip ip6; do",
      '    if nft list table "$f" kube-proxy >/dev/null 2>&1; then nft delete table "$f" kube-proxy; fi',
      "  done",
      "fi",
    ),
  };
}

function etcdStep(): Step {
  return {
    id: "etcd-data",
    what: "remove etcd data (/var/lib/etcd)",
    probe: probeAll(sh`[ ! -e ${"/var/lib/etcd"} ]`),
    apply: script(APPLY_HEADER, sh`rm -rf ${"/var/lib/etcd"}`),
  };
}

const ROOT_HOME = 'home=$(getent passwd root | cut -d: -f6); home=${home:-/root}';

function rootKubeconfigStep(): Step {
  return {
    id: "root-kubeconfig",
    what: "remove root's kubeconfig ($HOME/.kube/config)",
    probe: probeAll(script(ROOT_HOME, '[ ! -e "$home/.kube/config" ]')),
    apply: script(APPLY_HEADER, ROOT_HOME, 'rm -f "$home/.kube/config"'),
  };
}

export interface KeepalivedRemoveOptions {
  configPath?: string;
  checkScriptPath?: string;
  /** Also remove the keepalived package (only when kubesmith installed it for this cluster). */
  purgePackage?: PackageManager;
}

/** Stop and disable keepalived, remove its config and the health check; optionally the package. */
export function keepalivedRemoveSteps(o: KeepalivedRemoveOptions = {}): Step[] {
  const files = [o.configPath ?? KEEPALIVED_CONF, o.checkScriptPath ?? APISERVER_CHECK_SCRIPT];
  const steps: Step[] = [
    {
      id: "keepalived-stop",
      what: "stop and disable keepalived",
      probe: probeAll("! systemctl is-active --quiet keepalived", "! systemctl is-enabled --quiet keepalived"),
      apply: script(
        APPLY_HEADER,
        "if systemctl is-active --quiet keepalived; then systemctl stop keepalived; fi",
        "if systemctl is-enabled --quiet keepalived; then systemctl disable keepalived; fi",
      ),
    },
    {
      id: "keepalived-config-remove",
      what: `remove ${files.join(", ")}`,
      probe: probeAll(...files.map((f) => sh`[ ! -e ${f} ]`)),
      apply: script(APPLY_HEADER, sh`rm -f ${files}`),
    },
  ];
  if (o.purgePackage) {
    const tool = packageTool(o.purgePackage);
    steps.push({
      id: "keepalived-package-remove",
      what: "remove the keepalived package",
      probe: probeAll(tool.absentProbe(["keepalived"])),
      apply: script(APPLY_HEADER, tool.purge(["keepalived"])),
    });
  }
  return steps;
}

export interface ResetOptions {
  /** Append keepalivedRemoveSteps (control planes that ran the VIP). */
  keepalived?: boolean | KeepalivedRemoveOptions;
}

/** The `down` steps for one host, in order. */
export function resetSteps(o: ResetOptions = {}): Step[] {
  const steps = [
    kubeadmResetStep(),
    cniInterfacesStep(),
    cniFilesStep(),
    iptablesStep(),
    nftablesStep(),
    ipvsStep(),
    etcdStep(),
    rootKubeconfigStep(),
  ];
  if (o.keepalived) steps.push(...keepalivedRemoveSteps(o.keepalived === true ? {} : o.keepalived));
  return steps;
}
