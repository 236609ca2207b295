// Calico's CNI contract: would the calico-node DaemonSet, as applied, really start on a node, given the
// other objects in the cluster? Pure functions over a "view" of the cluster (built from the store on
// reconcile, or from a manifest for a check without a server). Every rule cites the upstream code or
// manifest it follows; the Calico sources are projectcalico/calico at the tags v3.31.7 and v3.32.1 (both
// behave the same for every rule here), the manifests are ../shared/upstream/calico/calico-v3.31.7.yaml and
// calico-v3.32.1.yaml (projectcalico/calico manifests/calico.yaml at those tags).
//
// What each broken rule does on a real cluster (the `podState` of a violation):
//   - install-cni (an init container) exits with an error or never finishes, so the calico-node container
//     never starts: Init:CrashLoopBackOff, and no CNI config is written (the node stays NotReady);
//   - calico-node's startup exits: CrashLoopBackOff;
//   - calico-node runs but Felix/BIRD never sync, so its readiness probe fails: Running, not Ready;
//   - the DaemonSet controller cannot create the pod at all: FailedCreate.
// Two rules are upstream requirements whose breakage shows later, not at the first start (the CNI token
// is not refreshed and expires after 24 h; a pool outside the cluster's pod CIDR breaks kube-proxy's and
// the cluster's idea of pod addresses). The simulator reports those at once, so they cannot slip through.

import { cidrContains, parseCidr, type Cidr } from "../../inventory/net.js";
import { parseAllDocuments } from "yaml";
import { authorize, rbacFromObjects, serviceAccountUser, type RbacObjects } from "./rbac.js";
import { arrOf, getIn, isObj, objOf, strOf, type JsonObject, type KObject } from "./types.js";

export const CALICO_GROUP = "crd.projectcalico.org";

/** Where a required CRD is read, and so what its absence does. */
type CrdNeed = "startup" | "syncer";

/**
 * The Calico CRDs calico-node reads before it is Ready (the datastore is the Kubernetes API, as in the
 * upstream manifest: DATASTORE_TYPE=kubernetes). Versions v1 of group crd.projectcalico.org.
 */
export const CALICO_NODE_CRDS: readonly { plural: string; need: CrdNeed; why: string }[] = [
  // node/pkg/lifecycle/startup/startup.go Run(): ensureKDDMigrated reads ClusterInformation "default"
  // (libcalico-go/lib/upgrade/migrator ShouldMigrate); EnsureInitialized writes it (libcalico-go/lib/clientv3
  // client.go ensureClusterInformation). An error ends startup (utils.Terminate).
  { plural: "clusterinformations", need: "startup", why: "startup reads and writes ClusterInformation" },
  // Run(): cli.IPAM().UpgradeHost lists BlockAffinities (libcalico-go/lib/ipam/ipam.go attemptUpgradeHost)
  { plural: "blockaffinities", need: "startup", why: "startup upgrades the host's BlockAffinities" },
  // configureIPPools(): client.IPPools().List, then creates the default pool
  { plural: "ippools", need: "startup", why: "startup lists and creates IPPools" },
  // ensureDefaultConfig(): FelixConfigurations().Get/Create "default"
  { plural: "felixconfigurations", need: "startup", why: "startup writes the default FelixConfiguration" },
  // EnsureInitialized → ensureTierExists for the default, adminnetworkpolicy and baselineadminnetworkpolicy Tiers
  { plural: "tiers", need: "startup", why: "startup creates the default Tiers" },
  // Felix's syncer lists these before Felix reports ready (libcalico-go/lib/backend/syncersv1/felixsyncer/
  // felixsyncerv1.go: GlobalNetworkPolicy, StagedGlobalNetworkPolicy, GlobalNetworkSet, NetworkPolicy,
  // StagedNetworkPolicy, StagedKubernetesNetworkPolicy, NetworkSet, HostEndpoint, BGPConfiguration, BGPPeer
  // and the IPAM blocks); the manifest's readinessProbe runs `calico-node -felix-ready -bird-ready`.
  { plural: "globalnetworkpolicies", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "stagedglobalnetworkpolicies", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "globalnetworksets", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "networkpolicies", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "stagednetworkpolicies", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "stagedkubernetesnetworkpolicies", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "networksets", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "hostendpoints", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "ipamblocks", need: "syncer", why: "Felix's syncer lists them" },
  { plural: "bgpconfigurations", need: "syncer", why: "Felix's and BIRD's (confd) syncers list them" },
  { plural: "bgppeers", need: "syncer", why: "Felix's and BIRD's (confd) syncers list them" },
  // BIRD's configuration daemon also lists BGPFilters (libcalico-go/lib/backend/syncersv1/bgpsyncer/bgpsyncer.go)
  { plural: "bgpfilters", need: "syncer", why: "BIRD's (confd) syncer lists them" },
];

/** cni-plugin/pkg/install/install.go and node/pkg/cni/token_watch.go: the default CNI ServiceAccount. */
export const DEFAULT_CNI_SERVICE_ACCOUNT = "calico-cni-plugin";
/** node/pkg/lifecycle/startup/startup.go DEFAULT_IPV4_POOL_CIDR, used when nothing else sets the pool. */
export const DEFAULT_IPV4_POOL_CIDR = "192.168.0.0/16";
/** The CNI config directory on the host (install.go CNI_NET_DIR default; the manifest's cni-net-dir volume). */
export const CNI_NET_DIR = "/etc/cni/net.d";

export type CalicoRule = "crds" | "service-accounts" | "cni-token-rbac" | "install-cni-sleep" | "cni-net-dir" | "ipv4-pool-cidr" | "ip-autodetection";

export interface CalicoViolation {
  rule: CalicoRule;
  /** What is missing or wrong, in one line. */
  message: string;
  /** What the calico-node pod shows on a real cluster. */
  podState: "FailedCreate" | "Init:CrashLoopBackOff" | "CrashLoopBackOff" | "Running, not Ready" | "Running";
}

/** The objects the contract reads. */
export interface CalicoView {
  crds: readonly KObject[];
  serviceAccounts: readonly KObject[];
  configMaps: readonly KObject[];
  /** crd.projectcalico.org IPPools that already exist. */
  ipPools: readonly KObject[];
  rbac: RbacObjects;
  /** Is a CRD Established? (A manifest-only view takes every CRD as established.) */
  established(crd: KObject): boolean;
}

const CALICO_NODE_NAMESPACES = new Set(["kube-system", "calico-system"]);

function podSpec(ds: KObject): JsonObject {
  return objOf(getIn(ds, ["spec", "template", "spec"]));
}

function containers(ds: KObject, field: "containers" | "initContainers"): JsonObject[] {
  return arrOf(podSpec(ds)[field]).filter(isObj);
}

/** calico/node's image, any registry (docker.io/calico/node, quay.io/calico/node, …). */
const CALICO_NODE_IMAGE = /(^|\/)calico\/node(:|@|$)/;

/**
 * Is this Calico's calico-node DaemonSet? By name in the namespaces Calico installs to (the manifest's
 * kube-system, the operator's calico-system), or by running the calico/node image anywhere, so that a
 * rename or a kubesmith.io/cni label cannot take it around the contract.
 */
export function isCalicoDaemonSet(ds: KObject): boolean {
  if (ds.metadata.name === "calico-node" && CALICO_NODE_NAMESPACES.has(ds.metadata.namespace ?? "")) return true;
  return [...containers(ds, "containers"), ...containers(ds, "initContainers")].some((c) => CALICO_NODE_IMAGE.test(strOf(c["image"]) ?? ""));
}

/** A container's env value: `value`, or a configMapKeyRef resolved in the pod's namespace; undefined if unset. */
function envValue(view: CalicoView, namespace: string, container: JsonObject | undefined, name: string): string | undefined {
  const e = arrOf(container?.["env"]).map(objOf).find((x) => x["name"] === name);
  if (!e) return undefined;
  if (typeof e["value"] === "string") return e["value"];
  const ref = objOf(getIn(e, ["valueFrom", "configMapKeyRef"]));
  if (typeof ref["name"] === "string" && typeof ref["key"] === "string") {
    const cm = view.configMaps.find((c) => c.metadata.namespace === namespace && c.metadata.name === ref["name"]);
    return strOf(objOf(cm?.["data"])[ref["key"]]);
  }
  // no value and no valueFrom is the empty string; other sources (fieldRef, secretKeyRef) are not known here
  return isObj(e["valueFrom"]) ? undefined : "";
}

/** strconv.ParseBool, which envconfig uses for SLEEP: the spellings of false. */
const GO_FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** The pod CIDR(s) of a kubeadm cluster: kube-system/kubeadm-config, ClusterConfiguration networking.podSubnet. */
export function kubeadmPodSubnets(view: CalicoView): Cidr[] | undefined {
  const cm = view.configMaps.find((c) => c.metadata.namespace === "kube-system" && c.metadata.name === "kubeadm-config");
  const text = strOf(objOf(cm?.["data"])["ClusterConfiguration"]);
  if (!text) return undefined;
  // parsed once per text: the controllers ask on every reconcile
  if (!podSubnetCache.has(text)) {
    if (podSubnetCache.size > 16) podSubnetCache.clear();
    podSubnetCache.set(text, parsePodSubnets(text));
  }
  return podSubnetCache.get(text);
}

const podSubnetCache = new Map<string, Cidr[] | undefined>();

function parsePodSubnets(text: string): Cidr[] | undefined {
  let sub: unknown;
  try {
    sub = getIn(parseAllDocuments(text)[0]?.toJS(), ["networking", "podSubnet"]);
  } catch {
    return undefined;
  }
  if (typeof sub !== "string" || !sub.trim()) return undefined;
  const out = sub.split(",").flatMap((s) => {
    try {
      return [parseCidr(s.trim())];
    } catch {
      return []; // an IPv6 subnet of a dual-stack cluster
    }
  });
  return out.length ? out : undefined;
}

/**
 * calico-node's pod-CIDR autodetection (startup.go extractKubeadmCIDRs): the text after "podSubnet: " on
 * the first line of kubeadm-config's data that has it, split at commas, the first IPv4 entry.
 */
function kubeadmDetectedV4(view: CalicoView): string | undefined {
  const cm = view.configMaps.find((c) => c.metadata.namespace === "kube-system" && c.metadata.name === "kubeadm-config");
  for (const value of Object.values(objOf(cm?.["data"]))) {
    if (typeof value !== "string") continue;
    const m = /podSubnet: (.*)/.exec(value);
    if (!m) continue;
    for (const part of m[1]!.split(",")) {
      if (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(part)) return part;
      if (!/^[0-9a-fA-F:]+\/\d+$/.test(part)) return undefined; // an unparsable entry ends the scan, as upstream
    }
    return undefined;
  }
  return undefined;
}

function inside(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.base);
}

/** Every way this calico-node DaemonSet fails the contract; empty when calico-node would start and be Ready. */
export function calicoContract(ds: KObject, view: CalicoView): CalicoViolation[] {
  const out: CalicoViolation[] = [];
  const ns = ds.metadata.namespace ?? "";
  const spec = podSpec(ds);
  const node = containers(ds, "containers").find((c) => c["name"] === "calico-node");
  const installCni = containers(ds, "initContainers").find((c) => c["name"] === "install-cni");

  // --- ServiceAccounts.
  // The pod's own ServiceAccount: without it the ServiceAccount admission plugin refuses the pod
  // (plugin/pkg/admission/serviceaccount), so the DaemonSet controller cannot create it. "default" is made
  // in every namespace by the ServiceAccount controller, so it always exists.
  const podSa = strOf(spec["serviceAccountName"]) || strOf(spec["serviceAccount"]) || "default";
  const saExists = (name: string): boolean =>
    name === "default" || view.serviceAccounts.some((s) => s.metadata.namespace === ns && s.metadata.name === name);
  // The CNI plugin's ServiceAccount: install-cni asks for a token for it (TokenRequest; install.go
  // writeKubeconfig → node/pkg/cni/token_watch.go UpdateToken, name from CALICO_CNI_SERVICE_ACCOUNT or
  // "calico-cni-plugin", namespace = the pod's) and exits on failure (logrus Fatal) before it writes the
  // CNI config. The manifests ship it: ServiceAccount kube-system/calico-cni-plugin.
  const cniSa = envValue(view, ns, installCni, "CALICO_CNI_SERVICE_ACCOUNT") || DEFAULT_CNI_SERVICE_ACCOUNT;
  const missingSa = [...new Set([podSa, cniSa])].filter((n) => !saExists(n));
  if (missingSa.length) {
    out.push({
      rule: "service-accounts",
      message: `ServiceAccount ${missingSa.map((n) => `${ns}/${n}`).join(", ")} not found`,
      podState: missingSa.includes(podSa) ? "FailedCreate" : "Init:CrashLoopBackOff",
    });
  }

  // --- RBAC for the CNI token: the TokenRequest above is `create` on `serviceaccounts/token` named after
  // the CNI ServiceAccount, made with the pod's own ServiceAccount. The manifests grant it in ClusterRole
  // calico-node (rule "Used for creating service account tokens to be used by the CNI plugin").
  const tokenReq = { verb: "create", apiGroup: "", resource: "serviceaccounts", subresource: "token", name: cniSa, namespace: ns };
  const token = authorize(view.rbac, serviceAccountUser(ns, podSa), tokenReq);
  if (!token.allowed) {
    out.push({ rule: "cni-token-rbac", message: `install-cni cannot get the CNI token: ${token.reason}`, podState: "Init:CrashLoopBackOff" });
  }

  // --- install-cni must exit. install.go: `ShouldSleep bool envconfig:"SLEEP" default:"true"`; after writing
  // the config it loops while ShouldSleep (watching TLS files it does not have in this install, which ends
  // it with an error), so the init container never completes and calico-node never starts. The manifests set
  // SLEEP=false ("Prevents the container from sleeping forever").
  if (!installCni) {
    out.push({ rule: "install-cni-sleep", message: "no install-cni init container: nothing installs the CNI binaries and config", podState: "Running, not Ready" });
  } else {
    const sleep = envValue(view, ns, installCni, "SLEEP");
    if (sleep === undefined || !GO_FALSE.has(sleep)) {
      out.push({
        rule: "install-cni-sleep",
        message: `init container install-cni has ${sleep === undefined ? "no SLEEP env" : `SLEEP=${JSON.stringify(sleep)}`}; without SLEEP=false the installer does not exit, so calico-node never starts`,
        podState: "Init:CrashLoopBackOff",
      });
    }
  }

  // --- calico-node must mount the CNI config dir: its token refresher (`calico-node -monitor-token`,
  // node/pkg/cni/token_watch.go) rewrites /host/etc/cni/net.d/calico-kubeconfig before the token expires
  // (24 h); the manifests mount volume cni-net-dir (hostPath /etc/cni/net.d) there, "For maintaining CNI
  // plugin API credentials". Without it the write fails and the CNI plugin loses API access a day later.
  const volumes = arrOf(spec["volumes"]).filter(isObj);
  const hostPathOf = (volName: unknown): string | undefined =>
    strOf(getIn(volumes.find((v) => v["name"] === volName), ["hostPath", "path"]))?.replace(/\/+$/, "");
  const netDirMount = arrOf(node?.["volumeMounts"])
    .filter(isObj)
    .find((m) => hostPathOf(m["name"]) === CNI_NET_DIR && strOf(m["mountPath"])?.replace(/\/+$/, "") === "/host/etc/cni/net.d" && m["readOnly"] !== true);
  if (!netDirMount) {
    out.push({
      rule: "cni-net-dir",
      message: `container calico-node does not mount hostPath ${CNI_NET_DIR} writable at /host/etc/cni/net.d, so the CNI plugin's token is never refreshed`,
      podState: "Running",
    });
  }

  // --- CRDs, Established and serving v1 (libcalico-go's Kubernetes backend uses crd.projectcalico.org/v1).
  const bad: string[] = [];
  let startupBroken = false;
  for (const c of CALICO_NODE_CRDS) {
    const name = `${c.plural}.${CALICO_GROUP}`;
    const crd = view.crds.find((x) => x.metadata.name === name);
    const servesV1 = arrOf(getIn(crd, ["spec", "versions"])).some((v) => objOf(v)["name"] === "v1" && objOf(v)["served"] !== false);
    const why = !crd ? "missing" : !view.established(crd) ? "not Established" : !servesV1 ? "does not serve v1" : undefined;
    if (!why) continue;
    bad.push(`${name} (${why})`);
    if (c.need === "startup") startupBroken = true;
  }
  if (bad.length) {
    out.push({
      rule: "crds",
      message: `CustomResourceDefinitions calico-node needs are not ready: ${bad.join(", ")}`,
      podState: startupBroken ? "CrashLoopBackOff" : "Running, not Ready",
    });
  }

  // --- The IPv4 pool must lie in the cluster's pod CIDR. The manifests: CALICO_IPV4POOL_CIDR "should fall
  // within `--cluster-cidr`". Which pool calico-node uses (startup.go configureIPPools): an IPv4 IPPool that
  // already exists; else CALICO_IPV4POOL_CIDR; else, on kubeadm, the podSubnet of kube-system/kubeadm-config
  // when its ServiceAccount may `get` that ConfigMap (a Forbidden answer means "not kubeadm"); else
  // 192.168.0.0/16 (upstream moves off it only when a host address overlaps it). "none" or
  // NO_DEFAULT_POOLS=true: no IPv4 pool is made.
  const podSubnets = kubeadmPodSubnets(view);
  const existing = view.ipPools
    .map((p) => ({ cidr: strOf(getIn(p, ["spec", "cidr"])) ?? "", disabled: getIn(p, ["spec", "disabled"]) === true, name: p.metadata.name ?? "" }))
    .filter((p) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(p.cidr));
  const pools: { cidr: string; from: string }[] = [];
  if (existing.length) {
    for (const p of existing) if (!p.disabled) pools.push({ cidr: p.cidr, from: `IPPool ${p.name}` });
  } else if ((envValue(view, ns, node, "NO_DEFAULT_POOLS") ?? "").toLowerCase() !== "true") {
    const env = envValue(view, ns, node, "CALICO_IPV4POOL_CIDR") ?? "";
    if (env === "none") {
      // no IPv4 pool
    } else if (env) {
      pools.push({ cidr: env, from: "CALICO_IPV4POOL_CIDR" });
    } else {
      const canRead = authorize(view.rbac, serviceAccountUser(ns, podSa), { verb: "get", apiGroup: "", resource: "configmaps", name: "kubeadm-config", namespace: "kube-system" }).allowed;
      const detected = canRead ? kubeadmDetectedV4(view) : undefined;
      pools.push(detected ? { cidr: detected, from: "kubeadm-config podSubnet" } : { cidr: DEFAULT_IPV4_POOL_CIDR, from: "calico-node's default" });
    }
  }
  for (const p of pools) {
    let cidr: Cidr;
    try {
      cidr = parseCidr(p.cidr);
    } catch {
      // startup.go: "Invalid CIDR specified in CALICO_IPV4POOL_CIDR", then Terminate
      out.push({ rule: "ipv4-pool-cidr", message: `IPv4 pool ${JSON.stringify(p.cidr)} (${p.from}) is not an IPv4 CIDR`, podState: "CrashLoopBackOff" });
      continue;
    }
    if (podSubnets && !podSubnets.some((s) => inside(cidr, s))) {
      out.push({
        rule: "ipv4-pool-cidr",
        message: `IPv4 pool ${p.cidr} (${p.from}) is not inside the cluster's pod CIDR ${podSubnets.map((s) => s.text).join(",")} (kubeadm-config podSubnet)`,
        podState: "Running",
      });
    }
  }
  return out;
}

/** A view of a manifest alone, as if applied to an empty cluster (every CRD in it becomes Established). */
export function viewFromObjects(objects: readonly KObject[]): CalicoView {
  const kind = (k: string): KObject[] => objects.filter((o) => o.kind === k);
  return {
    crds: kind("CustomResourceDefinition"),
    serviceAccounts: kind("ServiceAccount"),
    configMaps: kind("ConfigMap"),
    ipPools: objects.filter((o) => o.kind === "IPPool" && (o.apiVersion ?? "").startsWith(`${CALICO_GROUP}/`)),
    rbac: rbacFromObjects(objects),
    established: () => true,
  };
}

const POD_STATE_ORDER: readonly CalicoViolation["podState"][] = ["FailedCreate", "Init:CrashLoopBackOff", "CrashLoopBackOff", "Running, not Ready", "Running"];

/** The state the pods show: the earliest stage of the pod's life that fails. */
export function podStateOf(violations: readonly CalicoViolation[]): CalicoViolation["podState"] | undefined {
  return POD_STATE_ORDER.find((s) => violations.some((v) => v.podState === s));
}

/** One line naming what keeps calico-node from starting (for the Node condition and the DaemonSet status). */
export function describeViolations(ds: KObject, violations: readonly CalicoViolation[]): string {
  return `calico-node (${ds.metadata.namespace ?? ""}/${ds.metadata.name ?? ""}) cannot start: ${violations.map((v) => v.message).join("; ")}`;
}

// ---------------------------------------------------------------------------------------------------------
// The node's address: calico-node's IPv4 autodetection, per node (node/pkg/lifecycle/startup/startup.go
// configureIPsAndSubnets, autodetection/autodetection_methods.go; docs.tigera.io "Configure IP autodetection").
// The env `IP` decides: "none" no IPv4; an address: that address; unset or "autodetect": the method in
// IP_AUTODETECTION_METHOD, default first-found ("the first valid IP address on the first interface (excluding
// local interfaces such as the docker bridge)"). Then startup.go checkConflictingNodes: another Calico node
// already using the same IPv4 address ends startup ("Calico node '%s' is already using the IPv4 address %s.",
// then Terminate): the pod crash-loops and its node never gets a CNI.

/** node/pkg/lifecycle/startup/autodetection/autodetection_linux.go DEFAULT_INTERFACES_TO_EXCLUDE (v3.31/v3.32). */
export const DEFAULT_INTERFACES_TO_EXCLUDE: readonly string[] = [
  "^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo", "^cali.*", "^tunl.*", "^flannel.*",
  "^kube-ipvs.*", "^cni.*", "^vxlan\\.calico.*", "^vxlan-v6\\.calico.*", "^wireguard\\.cali.*", "^wg-v6\\.cali.*",
  "^nodelocaldns.*",
];

/** What the node simulator knows of a host's interfaces (apisim/nodes.ts NodeInterface). */
export interface CalicoNic {
  name: string;
  ipv4: string[];
  defaultRoute?: boolean;
}

export interface CalicoNodeInput {
  name: string;
  internalIP?: string;
  /** Kernel order; undefined when the node was made without them (then first-found sees only the InternalIP). */
  interfaces?: readonly CalicoNic[];
}

const ipOf = (cidr: string): string => cidr.split("/")[0]!;
const validV4 = (a: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith("127.") && !a.startsWith("169.254.");

function regexes(list: readonly string[]): RegExp[] {
  return list.map((r) => {
    try {
      return new RegExp(r);
    } catch {
      return /$^/;
    }
  });
}

/** Go's FilteredEnumeration: the first interface (kernel order) passing the filters that has a valid IPv4 in `cidrs` (if given). */
function enumerate(nics: readonly CalicoNic[], incl: RegExp[], excl: RegExp[], cidrs: Cidr[] = []): string | undefined {
  for (const n of nics) {
    if (incl.length && !incl.some((r) => r.test(n.name))) continue;
    if (excl.some((r) => r.test(n.name))) continue;
    const a = n.ipv4.map(ipOf).find((x) => validV4(x) && (cidrs.length === 0 || cidrs.some((c) => cidrContains(c, x))));
    if (a) return a;
  }
  return undefined;
}

/** The IPv4 address calico-node of this DaemonSet takes on the node, or why it cannot start. */
export function calicoNodeIPv4(ds: KObject, view: CalicoView, node: CalicoNodeInput): { address?: string; method: string; error?: string } {
  const ns = ds.metadata.namespace ?? "";
  const c = containers(ds, "containers").find((x) => x["name"] === "calico-node");
  const ip = (envValue(view, ns, c, "IP") ?? "").trim();
  if (ip.toLowerCase() === "none") return { method: "IP=none" };
  if (ip && ip.toLowerCase() !== "autodetect") return { address: ipOf(ip), method: "IP" };
  const method = (envValue(view, ns, c, "IP_AUTODETECTION_METHOD") ?? "").trim() || "first-found";
  // Without the lab's interface list (a Node a test made by hand), the host's only known address is the InternalIP.
  const nics: readonly CalicoNic[] = node.interfaces ?? (node.internalIP ? [{ name: "eth0", ipv4: [`${node.internalIP}/32`] }] : []);
  // nothing known about the host at all: nothing to judge
  if (!node.interfaces && !node.internalIP) return { method };
  let address: string | undefined;
  const after = (prefix: string) => method.slice(prefix.length).split(",").map((s) => s.trim()).filter(Boolean);
  if (method === "first-found") address = enumerate(nics, [], regexes(DEFAULT_INTERFACES_TO_EXCLUDE));
  else if (method === "kubernetes-internal-ip") address = node.internalIP;
  else if (method.startsWith("interface=")) address = enumerate(nics, regexes(after("interface=")), []);
  else if (method.startsWith("skip-interface=")) address = enumerate(nics, [], regexes(after("skip-interface=")));
  else if (method.startsWith("cidr=")) {
    const cidrs = after("cidr=").flatMap((s) => {
      try {
        return [parseCidr(s)];
      } catch {
        return [];
      }
    });
    address = enumerate(nics, [], [], cidrs);
  } else if (method.startsWith("can-reach=")) {
    // the source address the kernel picks towards the destination: an on-link subnet, else the default route
    const dest = method.slice("can-reach=".length).trim();
    if (/^\d+\.\d+\.\d+\.\d+$/.test(dest)) {
      const onLink = nics.flatMap((n) => n.ipv4).find((cidr) => {
        try {
          return cidrContains(parseCidr(cidr), dest);
        } catch {
          return false;
        }
      });
      address = onLink ? ipOf(onLink) : nics.find((n) => n.defaultRoute)?.ipv4.map(ipOf).find(validV4);
    }
  } else {
    return { method, error: `Invalid IP autodetection method: ${method}` };
  }
  if (!address) {
    return {
      method,
      error: "Couldn't autodetect an IPv4 address. If auto-detecting, choose a different autodetection method. Otherwise provide an IPv4 address using the IP environment variable.",
    };
  }
  return { address, method };
}

/**
 * Per-node failures of this calico-node DaemonSet on the nodes it runs on (in creation order: the node that
 * registered an address first keeps it, as checkConflictingNodes compares against Calico nodes already there).
 */
export function calicoNodeFailures(ds: KObject, view: CalicoView, nodes: readonly CalicoNodeInput[]): Map<string, CalicoViolation> {
  const out = new Map<string, CalicoViolation>();
  const holder = new Map<string, string>();
  for (const n of nodes) {
    const r = calicoNodeIPv4(ds, view, n);
    if (r.error) {
      out.set(n.name, { rule: "ip-autodetection", message: `on node ${n.name}: ${r.error}`, podState: "CrashLoopBackOff" });
      continue;
    }
    if (!r.address) continue;
    const first = holder.get(r.address);
    if (first === undefined) {
      holder.set(r.address, n.name);
      continue;
    }
    out.set(n.name, {
      rule: "ip-autodetection",
      message: `on node ${n.name}: Calico node '${first}' is already using the IPv4 address ${r.address} (${r.method}); calico-node exits (IPv4 address conflict)`,
      podState: "CrashLoopBackOff",
    });
  }
  return out;
}
