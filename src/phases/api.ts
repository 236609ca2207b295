// Cluster phases of `up` that go through the Kubernetes API: connect with the admin kubeconfig, the CNI
// (Calico), node labels and taints, and writing the kubeconfig for the user.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { kubeconfigFile } from "../cluster/state.js";
import { parse, stringify } from "yaml";
import { loadCalicoManifest, renderCalico } from "../addons/calico.js";
import { ApiError } from "../errors.js";
import { KubeClient, nodeReady, type KubeObject } from "../kube/client.js";
import type { ClusterHost } from "../cluster/model.js";
import type { ClusterContext } from "./context.js";
import { prefetchedAdminConf } from "./hosts.js";
import { remaining } from "./partial.js";
import { clusterWideSkipped } from "../cluster/limit.js";
import { change, followUp, type Phase } from "./run.js";

/** Label keys kubesmith sets from the inventory; recorded on the node so removed ones are taken off later. */
export const MANAGED_LABELS_ANNOTATION = "kubesmith.io/managed-labels";
export const MANAGED_TAINTS_ANNOTATION = "kubesmith.io/managed-taints";

/** Without an API connection only a dry run goes on (to list what it would do); a real run cannot. */
function needsApi(ctx: ClusterContext): string | true {
  return ctx.kube || ctx.dryRun ? true : "no API connection";
}

export const connectApi: Phase<ClusterContext> = {
  title: "connect to the Kubernetes API",
  shouldRun(ctx) {
    return ctx.joined.has(ctx.model.first.name) || (ctx.dryRun ? "the cluster does not exist yet (dry run)" : true);
  },
  async run(ctx) {
    await ensureKube(ctx);
  },
};

/** The API connection of this run, made once (admin.conf fetched from the first control plane). */
export async function ensureKube(ctx: ClusterContext): Promise<KubeClient> {
  if (ctx.kube) return ctx.kube;
  ctx.adminConf = prefetchedAdminConf(ctx) ?? (await (await ctx.runner(ctx.model.first.name)).download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
  ctx.kube = await connectKube(ctx, ctx.adminConf);
  return ctx.kube;
}

/**
 * The API directly when it is routable from here, else through an SSH tunnel via the first control plane
 * (bastion networks). --api-tunnel forces the tunnel.
 */
export async function connectKube(
  ctx: Pick<ClusterContext, "options" | "reporter" | "pool" | "model">,
  adminConf: string,
  readyTimeoutMs = 60_000,
): Promise<KubeClient> {
  if (!ctx.options.apiTunnel) {
    const direct = await KubeClient.fromKubeconfig(adminConf, { timeoutMs: 5_000 });
    try {
      // A refused or reset connection right after kubeadm init is the endpoint still coming up (the VIP
      // moves, the API server starts): retried for a few seconds before concluding it is not routable.
      await waitApiReady(direct, Math.min(readyTimeoutMs, 10_000));
      direct.close();
      return await KubeClient.fromKubeconfig(adminConf);
    } catch (err) {
      direct.close();
      ctx.reporter.emit({ kind: "warning", message: `the API is not reachable directly (${(err as Error).message}); going through an SSH tunnel via ${ctx.model.first.name}` });
    }
  }
  const runner = await ctx.pool.connect(ctx.model.first.target);
  const kube = await KubeClient.fromKubeconfig(adminConf, { tunnel: (host, port) => runner.forward(host, port) });
  await waitApiReady(kube, readyTimeoutMs);
  return kube;
}

/** Errors of an endpoint that is still starting (or whose VIP is moving): worth another try. */
const STARTING = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|socket hang up|no answer within/;

/**
 * Poll /readyz until the API server answers it; connections refused or reset while the control plane
 * starts are retried within the bound. Any other error, or the bound, ends it.
 */
export async function waitApiReady(kube: KubeClient, timeoutMs: number, stepMs = 200): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      await kube.request("GET", "/readyz", undefined, { text: true });
      return;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      const status = (err as { status?: number }).status ?? 0;
      if (!(STARTING.test(msg) || status >= 500) || Date.now() - t0 >= timeoutMs) {
        throw err instanceof ApiError ? err : new ApiError(`the Kubernetes API did not become ready within ${Math.round(timeoutMs / 1000)} s: ${msg}`);
      }
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

export const cni: Phase<ClusterContext> = {
  title: "Calico CNI, then wait for every node to be Ready",
  shouldRun: needsApi,
  async run(ctx) {
    const kube = ctx.kube;
    if (!ctx.calico) {
      const manifest = await loadCalicoManifest(ctx.model.inventory.addons?.["calico"]?.values);
      ctx.calico = { source: manifest.source, objects: renderCalico({ podCIDR: ctx.model.inventory.cluster.podCIDR, manifest, imageRepository: ctx.model.inventory.offline?.imageRepository }) };
    }
    const { objects, source } = ctx.calico;
    // Apply only what differs (server-side dry run would be the general answer; the bundle layer brings it).
    if (!kube) {
      // Only a dry run gets here (needsApi): the cluster does not exist yet.
      await change(ctx, ctx.model.first.name, `apply Calico (${objects.length} object(s) from ${source}, pod CIDR ${ctx.model.inventory.cluster.podCIDR})`, async () => {
        throw new ApiError("cannot apply Calico: no connection to the Kubernetes API");
      });
      return;
    }
    const missing: KubeObject[] = [];
    for (const o of objects) {
      const live = await kube.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      if (!live || live.metadata.labels?.["kubesmith.io/revision"] !== o.metadata.labels?.["kubesmith.io/revision"]) missing.push(o);
    }
    const limited = clusterWideSkipped(ctx);
    if (missing.length && limited) {
      // --limit without the leader: the limited nodes still wait for Ready (calico-node is a DaemonSet).
      ctx.reporter.emit({ kind: "warning", message: `Calico: ${missing.length} object(s) differ from ${source}, not applied: ${limited}` });
    } else if (missing.length) {
      await change(ctx, ctx.model.first.name, `apply Calico (${missing.length} object(s) from ${source}, pod CIDR ${ctx.model.inventory.cluster.podCIDR})`, async () => {
        for (const o of missing) await kube.apply(o);
      });
    }
    await followUp(ctx, () => waitNodesReady(ctx, remaining(ctx, ctx.model.hosts).map((h) => h.name), ctx.options.waitTimeoutMs ?? 300_000));
  },
};

export async function waitNodesReady(ctx: ClusterContext, names: string[], timeoutMs: number): Promise<void> {
  const kube = ctx.kube!;
  const t0 = Date.now();
  for (;;) {
    const nodes = await kube.list("v1", "Node");
    const notReady = names.filter((n) => {
      const node = nodes.find((x) => x.metadata.name === n);
      return !node || !nodeReady(node);
    });
    if (notReady.length === 0) return;
    if (Date.now() - t0 > timeoutMs) {
      throw new ApiError(`nodes not Ready after ${Math.round(timeoutMs / 1000)} s: ${notReady.join(", ")}`, {
        hint: "check the kubelet and the CNI pods on those hosts (kubesmith logs --host NAME)",
      });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/** Labels and taints kubesmith wants on a node, from its roles and the inventory. */
export function desiredLabels(h: ClusterHost): Record<string, string> {
  const l: Record<string, string> = { ...(h.spec.labels ?? {}) };
  if (h.isControlPlane) l["node-role.kubernetes.io/control-plane"] = "";
  if (h.isWorker) l["node-role.kubernetes.io/worker"] = "";
  if (h.isFrontend) {
    l["node-role.kubernetes.io/frontend"] = "";
    l.role = "frontend";
  }
  return l;
}

/**
 * The merge patch that brings a node's labels and taints to what the inventory says, touching only the
 * keys kubesmith manages (recorded in annotations); undefined when nothing differs.
 */
export function nodePatch(node: KubeObject, h: ClusterHost): Record<string, unknown> | undefined {
  const want = desiredLabels(h);
  const ann = node.metadata.annotations ?? {};
  const prevKeys = (ann[MANAGED_LABELS_ANNOTATION] ?? "").split(",").filter(Boolean);
  const have = node.metadata.labels ?? {};
  const labels: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) labels[k] = v;
  for (const k of prevKeys) if (!(k in want) && k in have) labels[k] = null;
  const keys = Object.keys(want).sort().join(",");

  const wantTaints: Taint[] = (h.spec.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) }));
  const prevTaints = (ann[MANAGED_TAINTS_ANNOTATION] ?? "").split(",").filter(Boolean);
  const liveTaints = ((node.spec as { taints?: Taint[] } | undefined)?.taints ?? []);
  const id = (t: Taint) => `${t.key}:${t.effect}`;
  const kept = liveTaints.filter((t) => !prevTaints.includes(id(t)) && !wantTaints.some((w) => id(w) === id(t)));
  const nextTaints = [...kept, ...wantTaints];
  const taintKeys = wantTaints.map(id).sort().join(",");
  const norm = (ts: Taint[]) => JSON.stringify(ts.map((t) => [t.key, t.value ?? "", t.effect]).sort());
  const taintsDiffer = norm(nextTaints) !== norm(liveTaints);

  const annDiffer = (ann[MANAGED_LABELS_ANNOTATION] ?? "") !== keys || (ann[MANAGED_TAINTS_ANNOTATION] ?? "") !== taintKeys;
  if (!Object.keys(labels).length && !taintsDiffer && !annDiffer) return undefined;
  return {
    metadata: {
      ...(Object.keys(labels).length ? { labels } : {}),
      annotations: { [MANAGED_LABELS_ANNOTATION]: keys, [MANAGED_TAINTS_ANNOTATION]: taintKeys },
    },
    ...(taintsDiffer ? { spec: { taints: nextTaints } } : {}),
  };
}

export const labelsAndTaints: Phase<ClusterContext> = {
  title: "node labels and taints",
  shouldRun: needsApi,
  async run(ctx) {
    const kube = ctx.kube;
    for (const h of remaining(ctx, ctx.model.hosts)) {
      if (!kube) {
        const labels = Object.entries(desiredLabels(h)).map(([k, v]) => (v ? `${k}=${v}` : k));
        await change(ctx, h.name, `set node labels ${labels.join(" ")}`, async () => {});
        continue;
      }
      const node = await kube.get("v1", "Node", h.name);
      if (!node) {
        if (ctx.dryRun) continue;
        throw new ApiError(`${h.name}: no Node object in the cluster`, { hint: "its kubelet has not registered; check the host" });
      }
      const patch = nodePatch(node, h);
      if (!patch) continue;
      const labels = Object.entries((patch.metadata as { labels?: Record<string, string | null> }).labels ?? {})
        .map(([k, v]) => (v === null ? `-${k}` : v ? `${k}=${v}` : k))
        .join(" ");
      const what = labels ? `set node labels ${labels}` : patch.spec ? "set node taints" : "record which labels and taints kubesmith manages";
      await change(ctx, h.name, what, async () => {
        await kube.mergePatch("v1", "Node", h.name, patch);
      });
    }
  },
};

/**
 * <state>/<cluster>/kubeconfig (0600, cluster/state.ts kubeconfigFile); optionally merged into ~/.kube/config
 * (or --kubeconfig, or $KUBECONFIG's first file) as a context.
 */
export const writeKubeconfig: Phase<ClusterContext> = {
  title: "kubeconfig",
  shouldRun: (ctx) => clusterWideSkipped(ctx) ?? (ctx.adminConf !== undefined || ctx.dryRun ? true : "no admin kubeconfig"),
  async run(ctx) {
    const file = kubeconfigFile(ctx.stateDir, ctx.model.name);
    const dir = dirname(file);
    const current = existsSync(file) ? readFileSync(file, "utf8") : "";
    if (ctx.adminConf === undefined || !sameCluster(current, ctx.adminConf)) {
      await change(ctx, "local", `write ${file}`, async () => {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(file, namedKubeconfig(ctx.adminConf!, ctx.model.name), { mode: 0o600 });
        chmodSync(file, 0o600);
      });
    }
    if (ctx.options.mergeKubeconfig && ctx.adminConf !== undefined) {
      const target = kubeconfigTarget(ctx.options.kubeconfig);
      await change(ctx, "local", `merge context ${ctx.model.name} into ${target}`, async () => mergeKubeconfig(ctx.adminConf!, ctx.model.name, target));
    }
  },
};

/**
 * The kubeconfig already written reaches the same cluster as admin.conf: same server and CA. Its client
 * certificate may differ: every control plane's admin.conf has its own, and the leader may change.
 */
function sameCluster(current: string, adminConf: string): boolean {
  if (current === adminConf) return true;
  try {
    const a = (parse(current) as Kubeconfig | null)?.clusters?.[0]?.cluster;
    const b = (parse(adminConf) as Kubeconfig | null)?.clusters?.[0]?.cluster;
    return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: { name: string; cluster: unknown }[];
  users?: { name: string; user: unknown }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  "current-context"?: string;
}

/**
 * admin.conf with its cluster, user and context named after the cluster (kubeadm names them kubernetes,
 * kubernetes-admin and kubernetes-admin@kubernetes in every cluster, so two clusters' files collide).
 */
export function namedKubeconfig(adminConf: string, name: string): string {
  const src = parse(adminConf) as Kubeconfig;
  const user = `${name}-admin`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: src.clusters?.[0]?.cluster }],
    users: [{ name: user, user: src.users?.[0]?.user }],
    contexts: [{ name, context: { cluster: name, user } }],
    "current-context": name,
  });
}

/** Where a merge writes, as kubectl decides: --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigTarget(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  const first = (env.KUBECONFIG ?? "").split(":").find((p) => p.trim() !== "");
  return first ? resolve(first) : join(homedir(), ".kube", "config");
}

/** Adds (or replaces) cluster, user and context named after the cluster; keeps everything else. */
export function mergeKubeconfig(adminConf: string, name: string, target: string): void {
  const src = parse(adminConf) as Kubeconfig;
  const dst: Kubeconfig = existsSync(target) ? ((parse(readFileSync(target, "utf8")) as Kubeconfig) ?? {}) : {};
  const user = `${name}-admin`;
  const put = <T extends { name: string }>(list: T[] | undefined, item: T) => [...(list ?? []).filter((x) => x.name !== item.name), item];
  dst.apiVersion = "v1";
  dst.kind = "Config";
  dst.clusters = put(dst.clusters, { name, cluster: src.clusters?.[0]?.cluster });
  dst.users = put(dst.users, { name: user, user: src.users?.[0]?.user });
  dst.contexts = put(dst.contexts, { name, context: { cluster: name, user } });
  dst["current-context"] ??= name;
  mkdirSync(join(target, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(target, stringify(dst), { mode: 0o600 });
}
