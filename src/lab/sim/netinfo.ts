// Which address a node's components take when nobody tells them: read from the host's own network namespace
// (the simulator runs inside it), as the real programs read it. On the lab's vagrant network (lab.ts) every
// host has eth0 = the same NAT address with the default route, and eth1 = the private network, as VirtualBox
// VMs made by Vagrant do: the kubernetes.io blog "Avoiding the Default Address when Using kubeadm to Create a
// Cluster" (2021-06-08, kubernetes/website content/en/blog/_posts/2021-06-08-Kubeadm-Avoid-Default-Address.md)
// describes exactly that trap: "The NAT adapter interfaces all get the same IP address, 10.0.2.15, and so do not
// provide connectivity between the VMs but appear in the default route."
import { readFileSync } from "node:fs";
import os from "node:os";

export interface NicInfo {
  name: string;
  /** IPv4 addresses with prefix, e.g. 198.18.5.11/24. */
  ipv4: string[];
  /** The interface of the (lowest-metric) IPv4 default route. */
  defaultRoute?: boolean;
}

/** The IPv4 default route's interface, from /proc/net/route (per network namespace): undefined when none. */
export function defaultRouteInterface(routeFile = "/proc/net/route"): string | undefined {
  let text = "";
  try {
    text = readFileSync(routeFile, "utf8");
  } catch {
    return undefined;
  }
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Iface Destination Gateway Flags RefCnt Use Metric Mask …; flags 0x1 = RTF_UP
    if (f.length < 8 || f[1] !== "00000000" || f[7] !== "00000000" || (parseInt(f[3]!, 16) & 1) === 0) continue;
    const metric = Number(f[6]);
    if (!best || metric < best.metric) best = { iface: f[0]!, metric };
  }
  return best?.iface;
}

/**
 * The host's interfaces that are up, in the kernel's order (ifindex), with their IPv4 addresses: what
 * Go's net.Interfaces() + Addrs() give calico-node. Node's os.networkInterfaces() lists only interfaces
 * that are up and running, in getifaddrs order.
 */
export function hostInterfaces(): NicInfo[] {
  const def = defaultRouteInterface();
  const out: NicInfo[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    const ipv4 = (addrs ?? []).filter((a) => a.family === "IPv4").map((a) => a.cidr ?? `${a.address}/32`);
    out.push({ name, ipv4, ...(name === def ? { defaultRoute: true } : {}) });
  }
  return out;
}

/**
 * The address of the default-route interface (k8s.io/apimachinery pkg/util/net/interface.go
 * ChooseHostInterface: the interface of the default route in /proc/net/route, its first global unicast
 * IPv4). Undefined without a default route.
 */
export function defaultRouteAddress(nics: NicInfo[] = hostInterfaces()): string | undefined {
  const nic = nics.find((n) => n.defaultRoute);
  return nic?.ipv4.map((c) => c.split("/")[0]!).find((a) => !a.startsWith("127."));
}

/** Addresses /etc/hosts gives a name (getaddrinfo's files source; lab hosts have no DNS). */
export function hostsFileLookup(name: string, file = "/etc/hosts"): string[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.replace(/#.*/, "").trim().split(/\s+/);
    if (f.length >= 2 && f.slice(1).some((n) => n.toLowerCase() === name.toLowerCase()) && /^\d+\.\d+\.\d+\.\d+$/.test(f[0]!)) out.push(f[0]!);
  }
  return out;
}

/**
 * The kubelet's node IP when `--node-ip` is not given (kubernetes/kubernetes pkg/kubelet/nodestatus/setters.go
 * NodeAddress, no cloud provider): the node name if it is an IP; else the first address the node name resolves
 * to that is not loopback and sits on one of this host's interfaces (validateNodeIP); else the default-route
 * interface's address (utilnet.ResolveBindAddress → ChooseHostInterface). The kubelet docs: "--node-ip: IP
 * address … of the node. If unset, kubelet will use the node's default IPv4 address, if any".
 * Undefined when none of these gives one.
 */
export function kubeletDefaultNodeIP(nodeName: string, nics: NicInfo[] = hostInterfaces(), hostsFile = "/etc/hosts"): string | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(nodeName)) return nodeName;
  const local = new Set(nics.flatMap((n) => n.ipv4.map((c) => c.split("/")[0]!)));
  const resolved = hostsFileLookup(nodeName, hostsFile).find((a) => !a.startsWith("127.") && local.has(a));
  return resolved ?? defaultRouteAddress(nics);
}
