// What a host's firewall must let in, from its roles: one pure list, family-independent. The RHEL-like
// configurer (distro/rhel.ts) turns it into firewalld steps; see docs/architecture.md ("Rocky 9").
//
// Sources, each next to its rule below:
//  - kubeadm "Ports and Protocols" (kubernetes.io/docs/reference/networking/ports-and-protocols/):
//    control plane: TCP 6443 API server, 2379-2380 etcd, 10250 kubelet, 10259 kube-scheduler,
//    10257 kube-controller-manager; worker: TCP 10250 kubelet, 10256 kube-proxy, 30000-32767 NodePorts.
//  - Calico "System requirements", network requirements table
//    (docs.tigera.io/calico/latest/getting-started/kubernetes/requirements): BGP TCP 179 between all
//    nodes; IP-in-IP "often represented by its protocol number 4"; VXLAN UDP 4789 when used.
//    kubesmith's Calico (official manifest and addons/calico) uses BIRD (BGP) and CALICO_IPV4POOL_IPIP=Always.
//  - VRRP is IP protocol 112 (RFC 5798; /etc/protocols "vrrp"), sent by keepalived between the hosts
//    sharing a VIP (RHEL 9 "Configuring and managing high availability clusters"/keepalived guides open it
//    with firewalld's protocol vrrp).
//  - Traefik serves 80/443 as host ports on the frontends (docs/architecture.md, "The edge").
import { UsageError } from "../errors.js";

export type FirewallMode = "manage" | "disable" | "ignore";

/** One thing to let in: a TCP/UDP port or range ("6443/tcp", "2379-2380/tcp") or an IP protocol ("4", "vrrp"). */
export interface FirewallOpening {
  kind: "port" | "protocol";
  /** firewalld's notation: "6443/tcp", "30000-32767/tcp"; protocols by number or /etc/protocols name. */
  value: string;
  why: string;
}

export interface FirewallRoles {
  controlPlane: boolean;
  /** Runs workloads (worker or frontend). */
  worker: boolean;
  frontend: boolean;
  /** Runs keepalived: a control plane holding the API VIP, or a frontend holding the edge VIP. */
  vrrp: boolean;
  /** Calico's encapsulation; default ipip (kubesmith's manifests). */
  encapsulation?: "ipip" | "vxlan";
}

export interface FirewallPlan {
  mode: FirewallMode;
  openings: FirewallOpening[];
}

const port = (value: string, why: string): FirewallOpening => ({ kind: "port", value, why });
const protocol = (value: string, why: string): FirewallOpening => ({ kind: "protocol", value, why });

/** What the host's firewall must let in, in a stable order, without duplicates. */
export function firewallOpenings(r: FirewallRoles): FirewallOpening[] {
  const out: FirewallOpening[] = [];
  if (r.controlPlane) {
    // kubeadm "Ports and Protocols", control plane
    out.push(
      port("6443/tcp", "Kubernetes API server"),
      port("2379-2380/tcp", "etcd server client API and peers"),
      port("10259/tcp", "kube-scheduler"),
      port("10257/tcp", "kube-controller-manager"),
    );
  }
  // every node runs a kubelet and calico-node (kubeadm: kubelet API on control planes and workers)
  out.push(port("10250/tcp", "kubelet API"));
  // kubeadm "Ports and Protocols", worker: kube-proxy's health check (load balancers probe it)
  out.push(port("10256/tcp", "kube-proxy health check"));
  // Calico network requirements: BGP between all nodes, and the encapsulation in use
  out.push(port("179/tcp", "Calico BGP (BIRD)"));
  if ((r.encapsulation ?? "ipip") === "ipip") out.push(protocol("4", "Calico IP-in-IP (IP protocol 4)"));
  else out.push(port("4789/udp", "Calico VXLAN"));
  if (r.worker || r.frontend) out.push(port("30000-32767/tcp", "NodePort Services"));
  if (r.frontend) out.push(port("80/tcp", "Traefik (host port)"), port("443/tcp", "Traefik (host port)"));
  if (r.vrrp) out.push(protocol("vrrp", "keepalived VRRP (IP protocol 112)"));
  const seen = new Set<string>();
  return out.filter((o) => {
    const k = `${o.kind}:${o.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const PORT_RE = /^(\d{1,5})(-(\d{1,5}))?\/(tcp|udp|sctp|dccp)$/;
const PROTO_RE = /^([0-9]{1,3}|[a-z][a-z0-9-]*)$/;

/** Refuses what firewall-cmd would refuse, before it reaches a shell. */
export function checkOpening(o: FirewallOpening): FirewallOpening {
  if (o.kind === "port") {
    const m = PORT_RE.exec(o.value);
    const lo = Number(m?.[1]);
    const hi = m?.[3] !== undefined ? Number(m[3]) : lo;
    if (!m || lo < 1 || hi > 65535 || hi < lo) throw new UsageError(`firewall port ${JSON.stringify(o.value)} must look like 6443/tcp or 30000-32767/tcp`);
  } else if (!PROTO_RE.test(o.value) || (/^\d+$/.test(o.value) && Number(o.value) > 255)) {
    throw new UsageError(`firewall protocol ${JSON.stringify(o.value)} must be a protocol number 0-255 or a name from /etc/protocols`);
  }
  return o;
}
