// What a node answers on one of its own addresses and a TCP port, for the ports Kubernetes opens on nodes:
// pods' hostPorts (the CNI portmap plugin) and Services' NodePorts (kube-proxy). The lab runs neither
// kube-proxy nor pods, so a health check such as the edge VIP's (keepalived-edge: curl ADDRESS:PORT/ping, run
// on the frontend host itself) is judged here from the cluster's objects, as a real node would answer it.
// Pure; nothing here runs per request.
//
// Rules, with their sources:
// - hostPort: a Running, Ready pod bound to this node whose container port has `hostPort` = PORT answers on
//   the node's addresses (hostIP unset, or hostIP = the address). The CNI portmap plugin DNATs traffic to
//   local addresses (`-m addrtype --dst-type LOCAL`) to the pod (containernetworking/plugins
//   plugins/meta/portmap, README "Port forwarding"; Calico's CNI config chains portmap with
//   `capabilities: {portMappings: true}`). 127.0.0.1 is not judged (portmap's localhost hairpin depends on
//   `snat` and route_localnet; the product does not check loopback host ports).
// - NodePort: a Service of type NodePort or LoadBalancer with `nodePort` = PORT, through kube-proxy:
//   - on 127.0.0.1: only in iptables mode with `iptables.localhostNodePorts` (default true; kube-proxy sets
//     net.ipv4.conf.all.route_localnet=1 for it). Never in nftables mode (KEP-3866 "Add an nftables-based
//     kube-proxy backend": the nftables mode "does not (and will not) support Service NodePorts on
//     127.0.0.1", changelog of 1.29) nor in ipvs mode. kube-proxy docs, `--iptables-localhost-nodeports`.
//   - on another local address: accepted when `nodePortAddresses` allows it: unset = all local IPs in iptables
//     and ipvs mode; in nftables mode the default is `primary` (the node's InternalIP only: KEP-3866,
//     kube-proxy config reference `nodePortAddresses`: "If set to primary, NodePort services will only be
//     accepted on the node's primary IPv4 and/or IPv6 address according to the Node object").
//   - then it needs a Ready endpoint: traffic a node sends to itself (the check runs on the node) goes to any
//     Ready endpoint of the Service, also with `externalTrafficPolicy: Local` (kube-proxy treats local-origin
//     traffic as cluster traffic: pkg/proxy/iptables proxier.go and nftables proxier.go, "short-circuit"
//     of locally-originated traffic; kubernetes.io/docs/reference/networking/virtual-ips "Traffic policies").
//     No Ready endpoint: iptables/nftables reject it (`reject with icmp port-unreachable`): connection refused.
// - nothing on that port: the kernel answers RST: `Connection refused` (curl exit 7).
// kube-proxy's mode and settings come from kube-system/kube-proxy's `config.conf` (kubeadm's addon); without
// it, kube-proxy's defaults (mode "" = iptables on Linux).

import { parse as parseYaml } from "yaml";
import { matchesLabelSelector } from "./selectors.js";
import { arrOf, isObj, objOf, strOf, type JsonObject, type KObject } from "./types.js";

export type ProxyMode = "iptables" | "nftables" | "ipvs";

export interface KubeProxySettings {
  mode: ProxyMode;
  localhostNodePorts: boolean;
  /** CIDRs or "primary"; undefined = the mode's default. */
  nodePortAddresses?: string[];
}

/** kube-proxy's settings from kube-system/kube-proxy (key config.conf), else its defaults. */
export function kubeProxySettings(configMaps: readonly KObject[]): KubeProxySettings {
  const cm = configMaps.find((c) => c.metadata.namespace === "kube-system" && c.metadata.name === "kube-proxy");
  let cfg: JsonObject = {};
  try {
    const parsed = parseYaml(strOf(objOf(cm?.["data"])["config.conf"]) ?? "") as unknown;
    if (isObj(parsed)) cfg = parsed;
  } catch {
    cfg = {};
  }
  const m = strOf(cfg["mode"]) ?? "";
  const mode: ProxyMode = m === "nftables" || m === "ipvs" ? m : "iptables";
  const lh = objOf(cfg["iptables"])["localhostNodePorts"];
  const npa = arrOf(cfg["nodePortAddresses"]).map(String);
  return { mode, localhostNodePorts: lh !== false, ...(npa.length ? { nodePortAddresses: npa } : {}) };
}

export type NodeAnswer = { served: true; by: string } | { served: false; message: string };

const isLoopback = (a: string) => a.startsWith("127.");

function ipInCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split("/");
  const bits = Number(bitsText ?? 32);
  const n = (s: string) => s.split(".").reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  if (!net || !/^\d+\.\d+\.\d+\.\d+$/.test(net) || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (n(ip) & mask) === (n(net) & mask);
}

function podReady(pod: KObject): boolean {
  const conds = arrOf(objOf(pod["status"])["conditions"]).filter(isObj);
  return objOf(pod["status"])["phase"] === "Running" && conds.some((c) => c["type"] === "Ready" && c["status"] === "True");
}

function internalIP(node: KObject): string | undefined {
  return strOf(arrOf(objOf(node["status"])["addresses"]).filter(isObj).find((a) => a["type"] === "InternalIP")?.["address"]);
}

/**
 * What `node` answers to a TCP connection from itself to `address`:`port` (one of its own addresses, or
 * 127.0.0.1). `pods` and `services` are the cluster's.
 */
export function nodeAnswer(
  node: KObject,
  address: string,
  port: number,
  cluster: { pods: readonly KObject[]; services: readonly KObject[]; configMaps?: readonly KObject[] },
): NodeAnswer {
  const refused: NodeAnswer = { served: false, message: `Failed to connect to ${address} port ${port}: Connection refused` };
  const name = node.metadata.name;
  const onNode = cluster.pods.filter((p) => objOf(p["spec"])["nodeName"] === name);
  if (!isLoopback(address)) {
    for (const p of onNode) {
      for (const c of arrOf(objOf(p["spec"])["containers"]).filter(isObj)) {
        for (const cp of arrOf(c["ports"]).filter(isObj)) {
          if (Number(cp["hostPort"]) !== port) continue;
          const hostIP = strOf(cp["hostIP"]);
          if (hostIP && hostIP !== "0.0.0.0" && hostIP !== address) continue;
          if (podReady(p)) return { served: true, by: `hostPort ${port} of pod ${p.metadata.namespace}/${p.metadata.name}` };
        }
      }
    }
  }
  const proxy = kubeProxySettings(cluster.configMaps ?? []);
  for (const svc of cluster.services) {
    const spec = objOf(svc["spec"]);
    if (spec["type"] !== "NodePort" && spec["type"] !== "LoadBalancer") continue;
    if (!arrOf(spec["ports"]).filter(isObj).some((sp) => Number(sp["nodePort"]) === port && (strOf(sp["protocol"]) ?? "TCP") === "TCP")) continue;
    if (isLoopback(address)) {
      if (proxy.mode !== "iptables" || !proxy.localhostNodePorts) return refused;
    } else {
      const allowed = proxy.nodePortAddresses ?? (proxy.mode === "nftables" ? ["primary"] : undefined);
      if (allowed && !allowed.some((a) => (a === "primary" ? internalIP(node) === address : ipInCidr(address, a)))) return refused;
    }
    const ns = svc.metadata.namespace;
    const selector = objOf(spec["selector"]);
    const endpoints = Object.keys(selector).length
      ? cluster.pods.filter((p) => p.metadata.namespace === ns && podReady(p) && matchesLabelSelector(p.metadata.labels, { matchLabels: selector }))
      : [];
    if (endpoints.length === 0) return refused;
    const where = [...new Set(endpoints.map((p) => String(objOf(p["spec"])["nodeName"])))].sort().join(", ");
    return { served: true, by: `NodePort ${port} of Service ${ns}/${svc.metadata.name} (kube-proxy ${proxy.mode}) → any of ${endpoints.length} Ready endpoint(s) on ${where}` };
  }
  return refused;
}
