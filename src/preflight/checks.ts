// Preflight checks: pure functions over gathered facts. `check` prints them; `up` will refuse to start on
// any "fail". Thresholds follow kubeadm's own preflight (2 CPUs and 1700 MiB on control planes).
import type { HostFacts } from "../facts/gather.js";
import type { FirewallModeName, RoleName } from "../inventory/schema.js";
import { firewallOpenings } from "../scripts/firewall.js";
import { CONTAINERD, KUBERNETES, kubernetesMinor } from "../versions.js";

export type Severity = "fail" | "warn";

export interface Finding {
  host: string;
  check: string;
  severity: Severity;
  message: string;
}

export interface HostUnderCheck {
  name: string;
  roles: RoleName[];
  facts: HostFacts;
  /** The inventory's cluster.kubernetesVersion; the default minor when not given. */
  kubernetesVersion?: string;
  /** The host's firewall setting (hosts[].firewall, else cluster.firewall); default manage. */
  firewall?: FirewallModeName;
  /** The host runs keepalived (a control plane with the API VIP, a frontend with the edge VIP). */
  vrrp?: boolean;
}

/** OS id -> supported major versions. */
export const SUPPORTED_OS: Record<string, string[]> = {
  debian: ["11", "12", "13"],
  ubuntu: ["20.04", "22.04", "24.04"],
  rocky: ["8", "9"],
  almalinux: ["8", "9"],
  rhel: ["8", "9"],
  centos: ["9"],
};

export const MIN_CONTROL_PLANE_CPUS = 2;
export const MIN_CONTROL_PLANE_MEMORY_MIB = 1700;
export const MAX_CLOCK_SKEW_S = 30;

function osSupported(f: HostFacts): boolean {
  const versions = SUPPORTED_OS[f.osId];
  if (!versions) return false;
  return versions.some((v) => f.osVersion === v || f.osVersion.startsWith(`${v}.`));
}

export function checkHost(h: HostUnderCheck, localEpoch: number): Finding[] {
  const out: Finding[] = [];
  const f = h.facts;
  const add = (check: string, severity: Severity, message: string) => out.push({ host: h.name, check, severity, message });
  if (!osSupported(f)) {
    const list = Object.entries(SUPPORTED_OS)
      .map(([id, vs]) => `${id} ${vs.join("/")}`)
      .join(", ");
    add("os", "fail", `unsupported OS ${f.osPretty} (${f.osId} ${f.osVersion}); supported: ${list}`);
  }
  if (f.arch !== "x86_64" && f.arch !== "aarch64") add("arch", "fail", `unsupported architecture ${f.arch}; use x86_64 or aarch64`);
  if (h.roles.includes("control-plane")) {
    if (f.cpus < MIN_CONTROL_PLANE_CPUS)
      add("cpu", "fail", `${f.cpus} CPU(s); a control plane needs at least ${MIN_CONTROL_PLANE_CPUS}`);
    if (f.memoryMiB < MIN_CONTROL_PLANE_MEMORY_MIB)
      add("memory", "fail", `${f.memoryMiB} MiB memory; a control plane needs at least ${MIN_CONTROL_PLANE_MEMORY_MIB} MiB`);
  }
  if (f.swapActive > 0) add("swap", "warn", `swap is on (${f.swapMiB} MiB); 'up' turns it off for good`);
  // Ports Kubernetes needs must be free, unless kubeadm already set this host up (then they are ours).
  if (f.kubeadmState === "none" && f.portsInUse.length) {
    add("ports", "fail", `port(s) ${f.portsInUse.join(", ")} already in use; kubeadm needs them free — stop what listens there (ss -ltnp)`);
  }
  if (f.packageManager === "unknown") add("packages", "fail", "no apt-get, dnf or yum found; kubesmith cannot install packages here");
  if (f.epoch > 0 && Math.abs(f.epoch - localEpoch) > MAX_CLOCK_SKEW_S)
    add("clock", "warn", `clock differs from this machine by ${Math.abs(f.epoch - localEpoch)} s; certificates may be rejected — run NTP (chrony/timesyncd)`);
  // cgroup v1: the kubelet refuses it from 1.35 (failCgroupV1 defaults to true, KEP-5573).
  const k8s = h.kubernetesVersion ?? KUBERNETES.default;
  const minor = Number((kubernetesMinor(k8s) ?? KUBERNETES.default).split(".")[1]);
  if (f.cgroup === "v1" && minor >= 35) {
    add("cgroup", "fail", `cgroup v1 (/sys/fs/cgroup is not cgroup2); Kubernetes ${k8s} needs cgroup v2 — boot with systemd.unified_cgroup_hierarchy=1 or use a newer OS`);
  }
  // containerd 1.x: 1.35 is the last Kubernetes release to support it. Prepare replaces it with containerd.io
  // 2.x on a host kubeadm has not set up; on a running node kubesmith will not swap the runtime underneath.
  const cmajor = Number(/^(\d+)\./.exec(f.containerdVersion)?.[1] ?? NaN);
  if (cmajor < CONTAINERD.minMajor) {
    if (f.kubeadmState === "none") {
      add("containerd", "warn", `containerd ${f.containerdVersion} is installed; prepare replaces it with containerd.io 2.x from Docker's repository`);
    } else {
      add(
        "containerd",
        minor >= 36 ? "fail" : "warn",
        `containerd ${f.containerdVersion} runs this node; Kubernetes ${minor >= 36 ? `${k8s} needs` : `1.36 and later need`} containerd 2.x — drain the node, ` +
          `install containerd.io 2.x (or remove the node with 'kubesmith down'), then run again`,
      );
    }
  }
  // RHEL-likes: firewalld's public zone refuses kubeadm's and Calico's ports; SELinux enforcing is what
  // kubeadm's install docs turn permissive; NetworkManager must leave Calico's interfaces alone. Prepare
  // handles all three on dnf/yum hosts (distro/rhel.ts); elsewhere, and where the inventory says ignore,
  // these lines say what is left to the user.
  const rhel = f.packageManager === "dnf" || f.packageManager === "yum";
  const mode = h.firewall ?? "manage";
  if (f.firewalld === "active") {
    const needs = () =>
      firewallOpenings({
        controlPlane: h.roles.includes("control-plane"),
        worker: h.roles.includes("worker") || h.roles.includes("frontend"),
        frontend: h.roles.includes("frontend"),
        vrrp: h.vrrp ?? false,
      })
        .map((o) => (o.kind === "protocol" ? `protocol ${o.value}` : o.value))
        .join(", ");
    if (mode === "disable") add("firewall", "warn", "firewalld is active; prepare stops and disables it (inventory: firewall: disable)");
    else if (mode === "ignore") add("firewall", "warn", `firewalld is active and the inventory says firewall: ignore; let in yourself: ${needs()}`);
    else if (!rhel) add("firewall", "warn", `firewalld is active; kubesmith manages it on RHEL-likes only: let in yourself: ${needs()}`);
  }
  if (f.selinux === "enforcing") {
    add(
      "selinux",
      "warn",
      rhel
        ? "SELinux is enforcing; prepare sets it permissive now and in /etc/selinux/config, as kubeadm's install docs say"
        : "SELinux is enforcing; kubesmith changes it on RHEL-likes only: set it permissive (setenforce 0, /etc/selinux/config)",
    );
  }
  if (f.networkManager && !rhel) {
    add("networkmanager", "warn", "NetworkManager is installed; kubesmith writes Calico's /etc/NetworkManager/conf.d/calico.conf on RHEL-likes only: add it yourself (cali*, tunl*, vxlan.calico unmanaged)");
  }
  if (f.hostname && f.hostname !== h.name)
    add("hostname", "warn", `hostname is '${f.hostname}' but the inventory names it '${h.name}'; the node will be registered as '${h.name}'`);
  return out;
}

/** Checks across hosts: hostnames, product_uuid and MAC addresses must be unique (kubeadm requirement). */
export function checkAcross(hosts: HostUnderCheck[]): Finding[] {
  const out: Finding[] = [];
  const dupes = (key: string, pick: (h: HostUnderCheck) => string[], what: string) => {
    const seen = new Map<string, string>();
    for (const h of hosts) {
      for (const v of pick(h)) {
        if (!v) continue;
        const first = seen.get(v);
        if (first !== undefined && first !== h.name) {
          out.push({ host: h.name, check: key, severity: "fail", message: `${what} ${v} is the same as on ${first}; clone leftovers? give each machine its own` });
        } else seen.set(v, h.name);
      }
    }
  };
  dupes("hostname", (h) => [h.facts.hostname], "hostname");
  dupes("product_uuid", (h) => [h.facts.productUuid], "product_uuid");
  dupes("mac", (h) => h.facts.macs, "MAC address");
  return out;
}

export function runPreflight(hosts: HostUnderCheck[], localEpoch = Math.floor(Date.now() / 1000)): Finding[] {
  return [...hosts.flatMap((h) => checkHost(h, localEpoch)), ...checkAcross(hosts)];
}
