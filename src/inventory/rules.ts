// Rules that span several fields of a schema-valid inventory. Pure: the inventory plus a lookup into the
// source text (positions, and whether a value came from ${VAR}) in, issues out.
//
// Conventions the rules encode (the example inventories repeat the ones a user meets):
// - A frontend host is a worker too: `roles: [frontend]` alone is fine; it is a worker labelled
//   role=frontend that the edge add-ons land on.
// - A VIP (cluster.controlPlaneEndpoint.vip, cluster.edgeVIP.vip) must be a free address in the network of
//   every host that may carry it (the control planes, or the frontends). That network is taken to be the
//   /24 around each host's address unless the VIP sets `prefix:` (e.g. prefix: 16 on a /16 LAN).
// - A host's "IP" for the network rules is internalAddress, else address when it is an IPv4 address.
// - Suggested free CIDRs avoid the pod/service CIDRs, the VIPs and the /24 around every host address.
import type { InventoryIssue } from "../errors.js";
import {
  cidrContains,
  cidrsOverlap,
  cidrWithHostBits,
  intToIpv4,
  isAddressOrHostname,
  isIPv4,
  networkOf,
  parseCidr,
  suggestFreeCidr,
  unusableAddressProblem,
  type Cidr,
} from "./net.js";
import { showString } from "./show.js";
import { KUBERNETES, isSupportedKubernetes } from "../versions.js";
import { EDGE_ADDONS, type HostSpec, type Inventory } from "./schema.js";
import { type FieldPath, formatPath, type SourceLookup } from "./source.js";

export interface RuleResult {
  errors: InventoryIssue[];
  warnings: InventoryIssue[];
}

export const isControlPlane = (h: HostSpec): boolean => h.roles.includes("control-plane");
export const isFrontend = (h: HostSpec): boolean => h.roles.includes("frontend");
/** Workers for scheduling purposes: a frontend host is a worker too. */
export const isWorker = (h: HostSpec): boolean => h.roles.includes("worker") || h.roles.includes("frontend");

/** The IPv4 address a host uses inside the cluster, when known. */
export function hostIp(h: HostSpec): string | undefined {
  return h.internalAddress ?? (isIPv4(h.address) ? h.address : undefined);
}

const DEFAULT_VIP_PREFIX = 24;

/** Does a proxy URL carry credentials (scheme://user[:password]@host)? */
export function proxyHasCredentials(url: string): boolean {
  return /^[a-z]+:\/\/[^/]*@/i.test(url);
}
const SECRET_KEYS = new Set(["password", "passphrase"]);

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function listSome(items: string[], max = 5): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

export function checkRules(inv: Inventory, src: SourceLookup): RuleResult {
  const errors: InventoryIssue[] = [];
  const warnings: InventoryIssue[] = [];
  const make = (path: FieldPath, message: string, hint?: string, atKey = false): InventoryIssue => {
    const pos = atKey ? src.keyPos(path) : src.pos(path);
    return {
      file: src.file,
      ...(pos ? { line: pos.line, column: pos.column } : {}),
      path: formatPath(path),
      message,
      ...(hint ? { hint } : {}),
    };
  };
  const error = (path: FieldPath, message: string, hint?: string) => errors.push(make(path, message, hint));
  const warn = (path: FieldPath, message: string, hint?: string) => warnings.push(make(path, message, hint));
  const lineOf = (path: FieldPath) => src.pos(path)?.line;

  const hosts = inv.hosts;
  const cluster = inv.cluster;

  // --- the Kubernetes minor is one kubesmith installs (src/versions.ts) ---------------------------
  if (!isSupportedKubernetes(cluster.kubernetesVersion)) {
    error(
      ["cluster", "kubernetesVersion"],
      `Kubernetes ${cluster.kubernetesVersion} is not supported; kubesmith installs ${KUBERNETES.supported.join(" and ")}`,
      `set kubernetesVersion: "${KUBERNETES.default}" (the default), or another of ${KUBERNETES.supported.join(", ")}`,
    );
  }

  // --- addresses are IPv4 addresses or DNS names -------------------------------------------------
  const checkAddress = (path: FieldPath, value: string) => {
    if (!isAddressOrHostname(value)) {
      error(path, `must be an IPv4 address or a DNS name (got ${showString(value)})`);
      return;
    }
    const unusable = unusableAddressProblem(value);
    if (unusable) error(path, `${value} ${unusable}`);
  };
  hosts.forEach((h, i) => {
    checkAddress(["hosts", i, "address"], h.address);
    if (h.internalAddress !== undefined) checkAddress(["hosts", i, "internalAddress"], h.internalAddress);
    if (h.ssh?.bastion) checkAddress(["hosts", i, "ssh", "bastion", "address"], h.ssh.bastion.address);
  });
  if (inv.ssh?.bastion) checkAddress(["ssh", "bastion", "address"], inv.ssh.bastion.address);
  const cpe = cluster.controlPlaneEndpoint;
  if (cpe && "loadBalancer" in cpe) {
    const m = /^(.*?)(?::(\d+))?$/.exec(cpe.loadBalancer);
    const host = m?.[1] ?? "";
    const port = m?.[2] === undefined ? undefined : Number(m[2]);
    if (!isAddressOrHostname(host) || (port !== undefined && (port < 1 || port > 65535))) {
      error(
        ["cluster", "controlPlaneEndpoint", "loadBalancer"],
        `must be host or host:port with an IPv4 address or DNS name (got ${showString(cpe.loadBalancer)})`,
      );
    } else if (unusableAddressProblem(host)) {
      error(["cluster", "controlPlaneEndpoint", "loadBalancer"], `${host} ${unusableAddressProblem(host)}`);
    }
  }

  // --- roles ------------------------------------------------------------------------------------
  const controlPlanes = hosts.filter(isControlPlane);
  const frontends = hosts.filter(isFrontend);
  if (controlPlanes.length === 0) {
    error(["hosts"], "no host has the control-plane role", "add control-plane to the roles of one host (or of three, for high availability)");
  } else if (controlPlanes.length % 2 === 0) {
    const n = controlPlanes.length;
    warn(
      ["hosts"],
      `${n} control planes: etcd needs a majority, so ${n} survive no more failures than ${n - 1}`,
      `use an odd number of control planes (1, 3 or 5)`,
    );
  }
  if (controlPlanes.length > 1 && !cpe) {
    error(
      ["cluster", "controlPlaneEndpoint"],
      `missing controlPlaneEndpoint: ${controlPlanes.length} control planes need one shared API address`,
      "add cluster.controlPlaneEndpoint with vip: (a free address) and interface: for keepalived, or loadBalancer: host:port",
    );
  }

  // --- user / sudo ---------------------------------------------------------------------------------
  hosts.forEach((h, i) => {
    if (h.user !== undefined && h.ssh?.user !== undefined && h.user !== h.ssh.user) {
      error(["hosts", i, "ssh", "user"], `conflicts with hosts[${i}].user (${showString(h.user)})`, "set the user in one place");
    }
    if (h.port !== undefined && h.ssh?.port !== undefined && h.port !== h.ssh.port) {
      error(["hosts", i, "ssh", "port"], `conflicts with hosts[${i}].port (${h.port})`, "set the port in one place");
    }
    const user = h.ssh?.user ?? h.user ?? inv.ssh?.user ?? "root";
    if (h.sudo === false && user !== "root") {
      error(
        ["hosts", i, "sudo"],
        `user ${showString(user)} cannot become root with sudo: false`,
        "use sudo: true for passwordless sudo, sudo: { password: ${SUDO_PASSWORD} }, or log in as root",
      );
    }
  });

  // --- unique names and addresses ---------------------------------------------------------------
  const names = new Map<string, number>();
  hosts.forEach((h, i) => {
    const first = names.get(h.name);
    if (first === undefined) names.set(h.name, i);
    else {
      error(
        ["hosts", i, "name"],
        `host name '${h.name}' is already used by hosts[${first}] (line ${lineOf(["hosts", first, "name"]) ?? "?"})`,
        "node names must be unique",
      );
    }
  });
  const owners = new Map<string, { index: number; field: "address" | "internalAddress" }>();
  hosts.forEach((h, i) => {
    const mine = new Set<string>();
    for (const field of ["address", "internalAddress"] as const) {
      const v = h[field]?.toLowerCase();
      if (v === undefined || mine.has(v)) continue;
      mine.add(v);
      const other = owners.get(v);
      if (other && other.index !== i) {
        const otherName = hosts[other.index]?.name ?? "?";
        error(
          ["hosts", i, field],
          `address ${v} is already used by ${otherName} (hosts[${other.index}].${other.field}, line ${lineOf(["hosts", other.index, other.field]) ?? "?"})`,
          "each host needs its own address",
        );
      } else if (!other) owners.set(v, { index: i, field });
    }
  });

  // --- VIPs --------------------------------------------------------------------------------------
  interface Vip {
    what: string;
    vip: string;
    prefix: number;
    path: FieldPath;
    carriers: HostSpec[];
    carrierRole: string;
  }
  const vips: Vip[] = [];
  if (cpe && "vip" in cpe) {
    vips.push({
      what: "the control-plane VIP",
      vip: cpe.vip,
      prefix: cpe.prefix ?? DEFAULT_VIP_PREFIX,
      path: ["cluster", "controlPlaneEndpoint", "vip"],
      carriers: controlPlanes,
      carrierRole: "control plane",
    });
  }
  if (cluster.edgeVIP) {
    vips.push({
      what: "the edge VIP",
      vip: cluster.edgeVIP.vip,
      prefix: cluster.edgeVIP.prefix ?? DEFAULT_VIP_PREFIX,
      path: ["cluster", "edgeVIP", "vip"],
      carriers: frontends,
      carrierRole: "frontend",
    });
  }
  for (const v of vips) {
    const unusable = unusableAddressProblem(v.vip);
    if (unusable) {
      error(v.path, `${v.vip} ${unusable}`, "a VIP must be a free unicast address in the hosts' network");
      continue;
    }
    // The network and broadcast addresses of the VIP's subnet are no host's (RFC 919, RFC 922); /31 and
    // /32 have none (RFC 3021).
    if (v.prefix <= 30) {
      const net = networkOf(v.vip, v.prefix);
      const broadcast = intToIpv4((net.base + 2 ** (32 - v.prefix) - 1) >>> 0);
      const which = v.vip === intToIpv4(net.base) ? "network" : v.vip === broadcast ? "broadcast" : undefined;
      if (which) {
        error(
          v.path,
          `${v.vip} is the ${which} address of its /${v.prefix} subnet ${net.text}, not a usable address`,
          `choose a free address between ${intToIpv4(net.base + 1)} and ${intToIpv4((net.base + 2 ** (32 - v.prefix) - 2) >>> 0)}`,
        );
        continue;
      }
    }
    const owner = hosts.findIndex((h) => h.address === v.vip || h.internalAddress === v.vip);
    if (owner >= 0) {
      const h = hosts[owner]!;
      error(
        v.path,
        `${v.vip} is the address of host ${h.name} (hosts[${owner}].${h.address === v.vip ? "address" : "internalAddress"})`,
        "a VIP must be a free address that no host owns; keepalived moves it between hosts",
      );
      continue;
    }
    const outside: string[] = [];
    let suggestNet: string | undefined;
    for (const h of v.carriers) {
      const ip = hostIp(h);
      if (!ip) {
        warn(
          v.path,
          `cannot check that ${v.vip} is in the network of ${v.carrierRole} ${h.name}: its address is a DNS name`,
          "set internalAddress: on that host",
        );
        continue;
      }
      const net = networkOf(ip, v.prefix);
      if (!cidrContains(net, v.vip)) {
        outside.push(`${h.name} (${ip})`);
        suggestNet ??= net.text;
      }
    }
    if (outside.length > 0) {
      error(
        v.path,
        `${v.vip} is outside the /${v.prefix} network of ${v.carrierRole}${outside.length > 1 ? "s" : ""} ${listSome(outside)}`,
        `keepalived can only move a VIP within the hosts' own network: choose a free address in ${suggestNet}, or set prefix: to the network's real prefix length`,
      );
    }
  }
  if (vips.length === 2 && vips[0]!.vip === vips[1]!.vip) {
    error(["cluster", "edgeVIP", "vip"], `${vips[1]!.vip} is also the control-plane VIP`, "the two VIPs must be different free addresses");
  }

  // --- CIDRs vs each other and the hosts -------------------------------------------------------
  const pod = parseCidr(cluster.podCIDR);
  const svc = parseCidr(cluster.serviceCIDR);
  for (const name of ["podCIDR", "serviceCIDR"] as const) {
    const fixed = cidrWithHostBits(cluster[name]);
    if (fixed) error(["cluster", name], `${cluster[name]} has host bits set: the network of that range is ${fixed}`, `write ${name}: ${fixed}`);
  }
  // kube-apiserver refuses a service range of more than 20 host bits (--service-cluster-ip-range: "for
  // 32-bit addresses, the mask must be >= 12", cmd/kube-apiserver/app/options/validation.go). At the other
  // end kubeadm gives the cluster DNS Service the range's 10th address (GetDNSIP, indexed IP 10) and the
  // API server's allocator never hands out the network and broadcast addresses, so a range smaller than
  // /28 (16 addresses) cannot even hold kube-dns; kubesmith asks for at least a /24 (254 Services).
  if (svc.prefix < 12) {
    error(["cluster", "serviceCIDR"], `serviceCIDR ${svc.text} is too large: kube-apiserver takes at most a /12 (20 bits of Service addresses)`, "use e.g. 10.96.0.0/12 (the default)");
  } else if (svc.prefix > 24) {
    error(
      ["cluster", "serviceCIDR"],
      `serviceCIDR ${svc.text} is too small: kubesmith needs at least a /24 (kubeadm puts cluster DNS on the 10th address, and every Service takes one)`,
      "use e.g. 10.96.0.0/12 (the default) or a /16",
    );
  }
  const hostIps: Array<{ label: string; ip: string }> = [];
  for (const h of hosts) {
    for (const ip of new Set([h.address, h.internalAddress])) {
      if (ip !== undefined && isIPv4(ip)) hostIps.push({ label: `host ${h.name} (${ip})`, ip });
    }
  }
  const vipIps = vips.map((v) => ({ label: `${v.what} (${v.vip})`, ip: v.vip }));
  const avoidLan: Cidr[] = [...hostIps, ...vipIps].map((x) => networkOf(x.ip, 24));
  const suggest = (c: Cidr, other: Cidr, preferred: string[]) =>
    suggestFreeCidr(Math.min(Math.max(c.prefix, 8), 24), [other, ...avoidLan], preferred);
  const POD_DEFAULTS = ["10.244.0.0/16", "10.42.0.0/16", "172.20.0.0/16"];
  const SVC_DEFAULTS = ["10.96.0.0/12", "10.112.0.0/12", "10.43.0.0/16"];

  let podClash = false;
  if (cidrsOverlap(pod, svc)) {
    podClash = true;
    const alt = suggest(pod, svc, POD_DEFAULTS);
    error(
      ["cluster", "podCIDR"],
      `podCIDR ${pod.text} overlaps serviceCIDR ${svc.text}: pods and Services would get the same addresses${alt ? `; choose e.g. ${alt}` : ""}`,
    );
  }
  const checkContains = (c: Cidr, other: Cidr, name: "podCIDR" | "serviceCIDR", why: string, preferred: string[]) => {
    const inside = [...hostIps, ...vipIps].filter((x) => cidrContains(c, x.ip));
    if (inside.length === 0) return;
    const hostsInside = inside.filter((x) => x.label.startsWith("host "));
    const labels = inside.map((x) => x.label);
    const subject = hostsInside.length > 1 ? `hosts ${listSome(labels.map((l) => l.replace(/^host /, "")))}` : listSome(labels);
    const alt = suggest(c, other, preferred);
    error(["cluster", name], `${name} ${c.text} contains ${subject}: ${why}${alt ? `; choose e.g. ${alt}` : ""}`);
  };
  if (!podClash) {
    checkContains(pod, svc, "podCIDR", "Calico would route the LAN into the pod network", POD_DEFAULTS);
  }
  checkContains(svc, pod, "serviceCIDR", "kube-proxy would capture that traffic as Service traffic", SVC_DEFAULTS);

  // --- edge add-ons need frontends -----------------------------------------------------------------
  for (const name of EDGE_ADDONS) {
    const addon = inv.addons?.[name];
    if (!addon?.enabled) continue;
    if (frontends.length === 0) {
      error(
        ["addons", name],
        `add-on ${name} needs at least one host with the frontend role`,
        `add frontend to the roles of a host, or set addons.${name}.enabled: false`,
      );
    }
    if (name === "keepalived-edge" && !cluster.edgeVIP) {
      error(
        ["addons", name],
        "add-on keepalived-edge needs cluster.edgeVIP",
        "add cluster.edgeVIP with vip: (a free address in the frontends' network) and interface:",
      );
    }
  }
  // Both keepalived setups own /etc/keepalived/keepalived.conf: one host cannot run both.
  if (cluster.controlPlaneEndpoint && "vip" in cluster.controlPlaneEndpoint && inv.addons?.["keepalived-edge"]?.enabled) {
    inv.hosts.forEach((h, i) => {
      if (h.roles.includes("control-plane") && h.roles.includes("frontend")) {
        error(
          ["hosts", i, "roles"],
          `host ${h.name} is a control plane behind the keepalived VIP and a frontend holding the edge VIP; one keepalived cannot do both`,
          "make the frontend role another host's, or use an external load balancer for the control plane",
        );
      }
    });
  }
  if (cluster.edgeVIP && !inv.addons?.["keepalived-edge"]?.enabled) {
    warn(
      ["cluster", "edgeVIP"],
      "edgeVIP is set but the keepalived-edge add-on is not enabled, so nothing will hold it",
      "add addons: { keepalived-edge: { enabled: true } } or remove cluster.edgeVIP",
    );
  }

  // --- secrets only from the environment ---------------------------------------------------------
  const walk = (value: unknown, path: Array<string | number>) => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (path.length === 0 && k === "addons") continue;
        if (SECRET_KEYS.has(k) && typeof v === "string") {
          if (!src.fromEnv([...path, k])) {
            const parent = path[path.length - 1];
            const what = parent === "sudo" ? "SUDO_PASSWORD" : `${parent === "bastion" ? "BASTION" : "SSH"}_${k === "password" ? "PASSWORD" : "KEY_PASSPHRASE"}`;
            error([...path, k], "a secret must not be written in the inventory", `write it as \${${what}} and export it; secrets are never stored in the inventory`);
          }
        } else walk(v, [...path, k]);
      }
    }
  };
  walk(inv, []);
  // A proxy URL carrying user:password@ is a secret too (written into 0600 files on the hosts only).
  for (const k of ["http", "https"] as const) {
    const url = inv.proxy?.[k];
    if (url !== undefined && proxyHasCredentials(url) && !src.fromEnv(["proxy", k])) {
      error(["proxy", k], "a proxy URL with user:password@ is a secret and must not be written in the inventory", `write it as \${${k.toUpperCase()}_PROXY} and export it`);
    }
  }

  // --- host key policy -------------------------------------------------------------------------------
  if (inv.ssh?.hostKeyPolicy === "off") {
    warn(
      ["ssh", "hostKeyPolicy"],
      "host keys are not checked: anyone on the network path can impersonate a host and receive its credentials",
      "use accept-new (trust on first use) or strict",
    );
  }

  return { errors, warnings };
}
