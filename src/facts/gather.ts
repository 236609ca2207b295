// Host facts: one POSIX shell script run per host, printing key=value lines, and a pure parser.
// Keeping the script and the parser pure lets tests check both without a host.
import type { PackageManager } from "../scripts/packages.js";

export interface HostFacts {
  hostname: string;
  osId: string;
  osVersion: string;
  osPretty: string;
  arch: string;
  kernel: string;
  cpus: number;
  memoryMiB: number;
  swapMiB: number;
  /** Active swap devices/files from /proc/swaps. */
  swapActive: number;
  productUuid: string;
  macs: string[];
  /** What kubeadm left on the host: none, worker (kubelet.conf), control-plane (apiserver manifest). */
  kubeadmState: "none" | "worker" | "control-plane";
  /** /etc/kubernetes/kubelet.conf exists (kubeadm joined or initialised the host); unknown when not reported. */
  kubeletConf?: boolean;
  kubeletVersion: string;
  kubeadmVersion: string;
  containerRuntime: string;
  packageManager: PackageManager | "unknown";
  tools: Record<string, boolean>;
  /** Host clock, seconds since the epoch. */
  epoch: number;
  /** Of the ports Kubernetes needs (KUBE_PORTS), those something already listens on. */
  portsInUse: number[];
  /** cgroup hierarchy from the type of /sys/fs/cgroup: cgroup2fs → v2, tmpfs (v1 or hybrid) → v1. */
  cgroup: "v1" | "v2" | "unknown";
  /** Upstream version of the installed containerd (`containerd --version`, without a leading v), or "". */
  containerdVersion: string;
  /** firewalld running (`systemctl is-active firewalld`); a host without it reads inactive. */
  firewalld: "active" | "inactive";
  /** SELinux mode (`getenforce`); a host without SELinux tools reads disabled. */
  selinux: "enforcing" | "permissive" | "disabled";
  /** NetworkManager installed (/etc/NetworkManager exists): Calico needs its interfaces left unmanaged. */
  networkManager: boolean;
}

/** API server, kubelet, etcd client and peer. */
export const KUBE_PORTS = [6443, 10250, 2379, 2380] as const;

export const PROBED_TOOLS = ["conntrack", "socat", "ip", "iptables", "curl"] as const;

/**
 * The facts script. Read-only: it changes nothing on the host. It runs on every host at the start of every
 * run, so it reads files with the shell's own `read` where one line or a few fields will do, and starts a
 * program only for what the shell cannot read itself (issue 12: 30 → 16 processes per host).
 */
export function factsScript(): string {
  return [
    "set +e",
    "export LC_ALL=C",
    'kv() { printf "%s=%s\\n" "$1" "$2"; }',
    "has() { command -v \"$1\" >/dev/null 2>&1; }",
    // the kernel's hostname (what hostname(1) prints), from /proc
    "h=; read -r h 2>/dev/null </proc/sys/kernel/hostname || h=$(hostname 2>/dev/null || uname -n)",
    'kv hostname "$h"',
    "if [ -r /etc/os-release ]; then . /etc/os-release; fi",
    'kv os_id "${ID:-unknown}"',
    'kv os_version "${VERSION_ID:-unknown}"',
    'kv os_pretty "${PRETTY_NAME:-unknown}"',
    // uname prints the release before the machine, whatever the order of the flags
    "set -- $(uname -rm)",
    'kv arch "${2:-}"',
    'kv kernel "${1:-}"',
    'kv cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"',
    "mem=; swap=; while read -r k v _; do case $k in MemTotal:) mem=$v ;; SwapTotal:) swap=$v ;; esac; done 2>/dev/null </proc/meminfo",
    'kv mem_kib "$mem"',
    'kv swap_kib "$swap"',
    // /proc/swaps: a header line, then one line per active swap area
    "n=0; while read -r _; do n=$((n + 1)); done 2>/dev/null </proc/swaps; [ \"$n\" -gt 0 ] && n=$((n - 1))",
    'kv swap_active "$n"',
    "uuid=; read -r uuid 2>/dev/null </sys/class/dmi/id/product_uuid || read -r uuid 2>/dev/null </etc/machine-id",
    'kv product_uuid "$uuid"',
    "macs=''",
    "for d in /sys/class/net/*; do n=${d##*/}; [ \"$n\" = lo ] && continue; [ -e \"$d/device\" ] || [ -e \"$d/phys_port_id\" ] || case $n in eth*|en*|wl*) ;; *) continue;; esac; m=; read -r m 2>/dev/null <\"$d/address\"; [ -n \"$m\" ] && macs=\"$macs $m\"; done",
    'kv macs "$macs"',
    "if [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then st=control-plane; elif [ -f /etc/kubernetes/kubelet.conf ]; then st=worker; else st=none; fi",
    'kv kubeadm_state "$st"',
    // The join guard's answer (scripts/kubeadm.ts joinGuardProbe) with the facts, not in a command of its own.
    "if [ -f /etc/kubernetes/kubelet.conf ]; then kv kubelet_conf 1; else kv kubelet_conf 0; fi",
    // "Kubernetes v1.36.3": the second word
    "set --; has kubelet && set -- $(kubelet --version 2>/dev/null)",
    'kv kubelet_version "${2:-}"',
    'v=; has kubeadm && v=$(kubeadm version -o short 2>/dev/null)',
    'kv kubeadm_version "$v"',
    "rt=''; for t in containerd crio dockerd; do has $t && { rt=$t; break; }; done",
    'kv container_runtime "$rt"',
    // The OS family decides the package manager; the PATH only breaks the tie (dnf or yum on RHEL-likes).
    'pm=unknown; case " ${ID:-} ${ID_LIKE:-} " in',
    '  *" debian "*|*" ubuntu "*) has apt-get && pm=apt ;;',
    '  *" rhel "*|*" fedora "*|*" centos "*) if has dnf; then pm=dnf; elif has yum; then pm=yum; fi ;;',
    '  *) if has apt-get; then pm=apt; elif has dnf; then pm=dnf; elif has yum; then pm=yum; fi ;;',
    "esac",
    'kv package_manager "$pm"',
    `for t in ${PROBED_TOOLS.join(" ")}; do if has $t; then kv "tool_$t" 1; else kv "tool_$t" 0; fi; done`,
    'kv epoch "$(date +%s)"',
    // Listening TCP ports from the kernel's tables (no ss/netstat needed): hex port in field 2, state 0A =
    // LISTEN; each port once. cat, so that a kernel without IPv6 (no tcp6) still gives the IPv4 ones.
    // Only before kubeadm has run: preflight's port check (checks.ts) is for such hosts alone, and reading
    // /proc/net/tcp walks every bucket of the machine's TCP hash (issue 12: ≈ 10 ms a read on a 24 GiB lab
    // machine, 7 % of a converged 200-host `up`'s CPU).
    "[ \"$st\" = none ] && kv listening \"$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == \"0A\" { split($2, a, \":\"); if (!(a[2] in seen)) { seen[a[2]] = 1; printf \"%s \", a[2] } }')\"",
    // cgroup v2 only when /sys/fs/cgroup itself is cgroup2 (a hybrid host mounts it under unified/: v1 for
    // the kubelet). The lab answers this from its simulated hardware (src/lab/lab.ts STAT_SHIM).
    'kv cgroup_fs "$(stat -fc %T /sys/fs/cgroup/ 2>/dev/null)"',
    // "containerd containerd.io 2.2.1 <commit>" or "containerd github.com/containerd/containerd/v2 v2.1.4 <commit>": the third word
    "set --; has containerd && set -- $(containerd --version 2>/dev/null)",
    'kv containerd_version "${3:-}"',
    // RHEL-likes ship firewalld (default-deny public zone), SELinux enforcing and NetworkManager
    'kv firewalld "$(systemctl is-active firewalld 2>/dev/null)"',
    'v=; has getenforce && v=$(getenforce 2>/dev/null)',
    'kv selinux "$v"',
    'if [ -d /etc/NetworkManager ]; then kv network_manager 1; else kv network_manager 0; fi',
    "exit 0",
  ].join("\n");
}

export function parseFacts(stdout: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const s = (k: string, d = "") => kv.get(k) ?? d;
  const n = (k: string) => {
    const v = Number.parseInt(s(k, "0"), 10);
    return Number.isFinite(v) ? v : 0;
  };
  const pm = s("package_manager", "unknown");
  const state = s("kubeadm_state", "none");
  const tools: Record<string, boolean> = {};
  for (const t of PROBED_TOOLS) tools[t] = s(`tool_${t}`) === "1";
  return {
    hostname: s("hostname"),
    osId: s("os_id", "unknown"),
    osVersion: s("os_version", "unknown"),
    osPretty: s("os_pretty", "unknown"),
    arch: s("arch"),
    kernel: s("kernel"),
    cpus: n("cpus"),
    memoryMiB: Math.floor(n("mem_kib") / 1024),
    swapMiB: Math.floor(n("swap_kib") / 1024),
    swapActive: n("swap_active"),
    productUuid: s("product_uuid").toLowerCase(),
    macs: s("macs").split(/\s+/).filter(Boolean).map((m) => m.toLowerCase()),
    kubeadmState: state === "control-plane" || state === "worker" ? state : "none",
    ...(kv.has("kubelet_conf") ? { kubeletConf: s("kubelet_conf") === "1" } : {}),
    kubeletVersion: s("kubelet_version"),
    kubeadmVersion: s("kubeadm_version"),
    containerRuntime: s("container_runtime"),
    packageManager: pm === "apt" || pm === "dnf" || pm === "yum" ? pm : "unknown",
    tools,
    epoch: n("epoch"),
    portsInUse: s("listening")
      .split(/\s+/)
      .filter(Boolean)
      .map((h) => Number.parseInt(h, 16))
      .filter((p): p is (typeof KUBE_PORTS)[number] => (KUBE_PORTS as readonly number[]).includes(p))
      .sort((a, b) => a - b),
    cgroup: s("cgroup_fs") === "cgroup2fs" ? "v2" : s("cgroup_fs") === "tmpfs" ? "v1" : "unknown",
    containerdVersion: s("containerd_version").replace(/^v/, ""),
    firewalld: s("firewalld") === "active" ? "active" : "inactive",
    selinux: ((m) => (m === "enforcing" || m === "permissive" ? m : "disabled"))(s("selinux").toLowerCase()),
    networkManager: s("network_manager") === "1",
  };
}
