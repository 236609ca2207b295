// `kubesmith status`, the work (see status.ts): inventory, SSH facts and the API, put together.
import { dirname } from "node:path";
import { buildModel, type ClusterModel } from "../cluster/model.js";
import { KubesmithError } from "../errors.js";
import { factsScript, parseFacts, type HostFacts } from "../facts/gather.js";
import { loadInventory } from "../inventory/load.js";
import { KubeClient, nodeReady, type KubeObject } from "../kube/client.js";
import { connectKube } from "../phases/api.js";
import type { ClusterOptions } from "../phases/context.js";
import { SshPool } from "../ssh/pool.js";
import { targetsFromInventory } from "../ssh/targets.js";
import type { Reporter, RunEvent } from "../ui/events.js";
import { table } from "../ui/table.js";
import { parseConcurrency } from "./check.js";
import { resolveInventoryPath } from "./inventory.js";
import type { StatusOptions } from "./status.js";
import { statusCertWarnings } from "./certs-run.js";

export const MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=kubesmith";
const RELEASE = "kubesmith.io/release";
const ADDON = "kubesmith.io/addon";

/** Kinds listed for add-on releases; the workloads among them get ready counts. */
export const RELEASE_KINDS: [string, string][] = [
  ["apps/v1", "Deployment"],
  ["apps/v1", "DaemonSet"],
  ["apps/v1", "StatefulSet"],
  ["v1", "Service"],
  ["v1", "ConfigMap"],
  ["v1", "ServiceAccount"],
];

export interface NodeStatus {
  name: string;
  address: string;
  roles: string[];
  /** From SSH; "unreachable" when the host did not answer. */
  kubeadm: string;
  /** From the API; undefined when the node is not registered or the API is unreachable. */
  ready?: boolean;
  kubeletVersion?: string;
  os?: string;
  error?: string;
}

export interface VipStatus {
  name: "control-plane" | "edge";
  vip: string;
  /** Hosts that have the address (more than one is a split brain). */
  holders: string[];
}

export interface WorkloadStatus {
  kind: string;
  namespace: string;
  name: string;
  ready: number;
  desired: number;
}

export interface ReleaseStatus {
  release: string;
  objects: number;
  workloads: WorkloadStatus[];
  healthy: boolean;
}

export interface ClusterStatus {
  cluster: string;
  endpoint: string;
  nodes: NodeStatus[];
  vips: VipStatus[];
  api: { reachable: boolean; error?: string };
  releases: ReleaseStatus[];
  warnings: string[];
}

/** Which hosts carry the address, from each host's `ip -o addr show`. */
export function vipHolders(vip: string, addrs: Map<string, string>): string[] {
  const re = new RegExp(`\\binet ${vip.replace(/\./g, "\\.")}/\\d+`);
  return [...addrs].filter(([, out]) => re.test(out)).map(([h]) => h).sort();
}

function workload(o: KubeObject): WorkloadStatus | undefined {
  const st = (o["status"] ?? {}) as Record<string, number | undefined>;
  const spec = (o["spec"] ?? {}) as Record<string, number | undefined>;
  const base = { kind: o.kind, namespace: o.metadata.namespace ?? "", name: o.metadata.name };
  if (o.kind === "Deployment" || o.kind === "StatefulSet") return { ...base, ready: st["readyReplicas"] ?? 0, desired: spec["replicas"] ?? 1 };
  if (o.kind === "DaemonSet") return { ...base, ready: st["numberReady"] ?? 0, desired: st["desiredNumberScheduled"] ?? 0 };
  return undefined;
}

/** Objects labelled as kubesmith's, grouped by release (or add-on, for bundles without a release label). */
export function groupReleases(objects: KubeObject[]): ReleaseStatus[] {
  const by = new Map<string, ReleaseStatus>();
  for (const o of objects) {
    const labels = o.metadata.labels ?? {};
    const key = labels[RELEASE] ?? labels[ADDON] ?? "(unlabelled)";
    let r = by.get(key);
    if (!r) by.set(key, (r = { release: key, objects: 0, workloads: [], healthy: true }));
    r.objects++;
    const w = workload(o);
    if (w) {
      r.workloads.push(w);
      if (w.ready < w.desired) r.healthy = false;
    }
  }
  return [...by.values()].sort((a, b) => a.release.localeCompare(b.release));
}

export async function releaseStatus(kube: KubeClient): Promise<ReleaseStatus[]> {
  const all: KubeObject[] = [];
  for (const [apiVersion, kind] of RELEASE_KINDS) {
    all.push(...(await kube.list(apiVersion, kind, { labelSelector: MANAGED_BY_SELECTOR })));
  }
  return groupReleases(all);
}

const oneLine = (e: unknown) => (e instanceof KubesmithError ? e.oneLine() : e instanceof Error ? e.message : String(e));

export async function gatherStatus(opts: StatusOptions): Promise<ClusterStatus> {
  const concurrency = parseConcurrency(opts.concurrency);
  const loaded = await loadInventory(resolveInventoryPath(opts.inventory));
  const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file), inventoryFile: loaded.file, ...(opts.hostKeyPolicy ? { hostKeyPolicy: opts.hostKeyPolicy } : {}) });
  const model: ClusterModel = buildModel(loaded, targets);
  const warnings: string[] = loaded.warnings.map((w) => `${w.path ? `${w.path}: ` : ""}${w.message}`);
  const reporter: Reporter = {
    emit(e: RunEvent) {
      if (e.kind === "warning") warnings.push(`${e.host ? `${e.host}: ` : ""}${e.message}`);
    },
  };
  const pool = new SshPool({ concurrency, onWarning: (host, message) => warnings.push(`${host}: ${message}`) });
  const inv = loaded.inventory;
  const edge = inv.cluster.edgeVIP;
  const status: ClusterStatus = {
    cluster: model.name,
    endpoint: `${model.endpoint.host}:${model.endpoint.port}`,
    nodes: [],
    vips: [],
    api: { reachable: false },
    releases: [],
    warnings,
  };
  let kube: KubeClient | undefined;
  try {
    const wantsAddrs = (name: string) => {
      const h = model.hosts.find((x) => x.name === name)!;
      return (model.endpoint.kind === "vip" && h.isControlPlane) || (!!edge && h.isFrontend);
    };
    const results = await pool.forEachHost(targets, async (runner, t) => {
      const facts = parseFacts((await runner.exec(factsScript(), { sudo: true, label: "gather facts" })).stdout);
      const addrs = wantsAddrs(t.name) ? (await runner.exec("ip -o addr show", { label: "addresses" })).stdout : undefined;
      return { facts, addrs };
    });
    const facts = new Map<string, HostFacts>();
    const addrs = new Map<string, string>();
    const edgeAddrs = new Map<string, string>();
    for (const h of model.hosts) {
      const r = results.get(h.name);
      const node: NodeStatus = { name: h.name, address: h.address, roles: h.spec.roles, kubeadm: "unreachable" };
      if (r?.status === "fulfilled") {
        facts.set(h.name, r.value.facts);
        node.kubeadm = r.value.facts.kubeadmState;
        node.os = `${r.value.facts.osId} ${r.value.facts.osVersion}`;
        if (r.value.facts.kubeletVersion) node.kubeletVersion = r.value.facts.kubeletVersion;
        if (r.value.addrs !== undefined && h.isControlPlane) addrs.set(h.name, r.value.addrs);
        if (r.value.addrs !== undefined && h.isFrontend) edgeAddrs.set(h.name, r.value.addrs);
      } else if (r) node.error = oneLine(r.reason);
      status.nodes.push(node);
    }
    if (model.endpoint.kind === "vip") status.vips.push({ name: "control-plane", vip: model.endpoint.host, holders: vipHolders(model.endpoint.host, addrs) });
    if (edge) status.vips.push({ name: "edge", vip: edge.vip, holders: vipHolders(edge.vip, edgeAddrs) });

    // The API: admin.conf from the first control plane that kubeadm set up.
    const cp = model.controlPlanes.find((h) => facts.get(h.name)?.kubeadmState === "control-plane");
    if (!cp) status.api.error = "no control plane is set up (kubeadm has not run, or the control planes are unreachable)";
    else {
      try {
        const runner = await pool.connect(cp.target);
        const adminConf = (await runner.download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
        // certificates under 30 days, as this one control plane's kubeadm sees them (certs-run.ts)
        warnings.push(...(await statusCertWarnings(runner)));
        const options: ClusterOptions = { inventory: loaded.file, dryRun: true, concurrency, stateDir: "", ...(opts.apiTunnel ? { apiTunnel: true } : {}) };
        // connectKube tunnels via model.first; when another control plane answered, let it be "first".
        kube = await connectKube({ options, reporter, pool, model: { ...model, first: cp } }, adminConf);
        const nodes = await kube.list("v1", "Node");
        status.api.reachable = true;
        for (const n of status.nodes) {
          const live = nodes.find((x) => x.metadata.name === n.name);
          if (!live) continue;
          n.ready = nodeReady(live);
          const v = (live["status"] as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo?.kubeletVersion;
          if (v) n.kubeletVersion = v;
        }
        for (const live of nodes) {
          if (!status.nodes.some((n) => n.name === live.metadata.name)) warnings.push(`node ${live.metadata.name} is in the cluster but not in the inventory`);
        }
        status.releases = await releaseStatus(kube);
      } catch (err) {
        status.api.error = oneLine(err);
      }
    }
  } finally {
    kube?.close();
    await pool.closeAll();
  }
  return status;
}

export function renderStatus(s: ClusterStatus): string {
  const rows = s.nodes.map((n) => [
    n.name,
    n.address,
    n.roles.join(","),
    n.kubeadm,
    n.ready === undefined ? (s.api.reachable ? "not registered" : "-") : n.ready ? "Ready" : "NotReady",
    n.kubeletVersion ?? "-",
  ]);
  let out = `cluster ${s.cluster}, API endpoint ${s.endpoint}: ${s.api.reachable ? "reachable" : `not reachable (${s.api.error ?? "unknown"})`}\n\n`;
  out += table(["NODE", "ADDRESS", "ROLES", "KUBEADM", "STATUS", "KUBELET"], rows);
  for (const n of s.nodes) if (n.error) out += `  ${n.error}\n`;
  for (const v of s.vips) {
    const who = v.holders.length === 0 ? "nobody holds it" : v.holders.length === 1 ? `held by ${v.holders[0]}` : `held by ${v.holders.join(" AND ")} (split brain)`;
    out += `\n${v.name} VIP ${v.vip}: ${who}`;
  }
  if (s.vips.length) out += "\n";
  if (s.api.reachable) {
    if (!s.releases.length) out += "\nno add-on releases\n";
    else {
      const rrows = s.releases.map((r) => [
        r.release,
        String(r.objects),
        r.workloads.map((w) => `${w.kind.toLowerCase()}/${w.name} ${w.ready}/${w.desired}`).join(", ") || "-",
        r.healthy ? "healthy" : "degraded",
      ]);
      out += `\n${table(["RELEASE", "OBJECTS", "WORKLOADS (ready/desired)", "HEALTH"], rrows)}`;
    }
  }
  for (const w of s.warnings) out += `warning: ${w}\n`;
  return out;
}

