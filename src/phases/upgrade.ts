// `kubesmith upgrade`: kubeadm's upgrade procedure, one minor at a time (kubernetes.io/docs/tasks/
// administer-cluster/kubeadm/kubeadm-upgrade/): the package repository switched to the new minor; on the
// first control plane kubeadm, `kubeadm upgrade plan` and `apply`; on the other control planes one at a time
// kubeadm and `kubeadm upgrade node`; each control plane then drained, kubelet and kubectl upgraded, the
// kubelet restarted, Ready, uncordoned; then the workers in bounded batches: kubeadm, `kubeadm upgrade
// node`, cordon and drain (src/kube/drain.ts: Eviction API, budgets honoured), kubelet and kubectl, restart,
// Ready, uncordon. Before anything: the version path (no skipped minor, no downgrade, a supported minor)
// and the Kubernetes ranges Calico and every enabled add-on declare.
//
// Resumable: every step decides from live probes (the repository file, installed package versions, each
// control plane's kube-apiserver manifest, the cluster's kubeadm-config, each Node's kubeletVersion and
// cordon), never from a journal, so a run after an interruption continues where the last one stopped. A
// node cordoned by the upgrade carries UPGRADE_CORDON_ANNOTATION until it is uncordoned; a node the user
// cordoned is left cordoned.
//
// Also here: `up`'s refusal to change the minor of a built cluster (refuseVersionChange).
import { loadCatalog } from "../addons/catalog.js";
import { isEnabled, NON_CATALOG_ADDONS } from "../addons/context.js";
import type { ClusterHost } from "../cluster/model.js";
import { ApiError, UsageError, VersionChangeError } from "../errors.js";
import { nodeReady, type KubeClient, type KubeObject } from "../kube/client.js";
import { drainWithRunOptions } from "./down.js";
import { distroFor, parseKubernetesVersion, type KubernetesVersion } from "../scripts/distro/index.js";
import { containerdConfigStep } from "../scripts/containerd.js";
import { APPLY_HEADER, script, type Step } from "../scripts/step.js";
import { sh } from "../ssh/quote.js";
import { parseKubeRange } from "../util/kube-range.js";
import { CALICO, KUBERNETES, isSupportedKubernetes, kubernetesMinor } from "../versions.js";
import { ensureKube } from "./api.js";
import type { ClusterContext } from "./context.js";
import { change, followUp, forHosts, throwIfInterrupted, type Phase } from "./run.js";
import { runSteps, stepNeeded } from "./steps.js";
import { parse as parseYaml } from "yaml";

/** Set on a Node the upgrade cordoned; the upgrade uncordons only nodes that carry it. */
export const UPGRADE_CORDON_ANNOTATION = "kubesmith.io/upgrade-cordoned";
const MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml";

// ------------------------------------------------------------------------------------------ pure rules

const minorNumber = (minor: string): number => Number(minor.split(".")[1]);

/**
 * The one-minor-at-a-time rule (kubeadm docs: "Skipping MINOR versions when upgrading is unsupported";
 * cmd/kubeadm/app/phases/upgrade/policy.go) and the supported minors (src/versions.ts), as one line each.
 * `current` is the lowest minor a control plane runs. Returns undefined when the path is allowed.
 */
export function upgradePathProblem(current: string, target: string, what = "the target"): string | undefined {
  const c = minorNumber(current);
  const t = minorNumber(kubernetesMinor(target) ?? "0.0");
  if (t < c) return `${what} Kubernetes ${target} is older than the cluster's ${current}: kubesmith does not downgrade (kubeadm does not either); restore from a backup or rebuild`;
  if (t > c + 1) {
    return `${what} Kubernetes ${target} skips a minor: the cluster runs ${current}, and kubeadm upgrades one minor at a time; run 'kubesmith upgrade --to 1.${c + 1}' first`;
  }
  if (!isSupportedKubernetes(target)) {
    return `${what} Kubernetes ${target} is not one kubesmith installs (supported: ${KUBERNETES.supported.join(", ")})`;
  }
  return undefined;
}

export interface DeclaredRange {
  /** "calico" or the add-on's name. */
  name: string;
  range: string;
}

/** The add-ons (and Calico) whose declared Kubernetes range leaves out the target minor. */
export function rangeProblems(ranges: readonly DeclaredRange[], targetMinor: string): string[] {
  return ranges.filter((r) => !parseKubeRange(r.range).test(targetMinor)).map((r) => `${r.name} (declares kubernetes "${r.range}")`);
}

/** The cluster's running minor from what a host reports ("v1.35.8" → "1.35"), lowest first. */
export function lowestMinor(versions: readonly string[]): string | undefined {
  const minors = versions.map((v) => kubernetesMinor(v)).filter((m): m is string => !!m);
  return minors.sort((a, b) => minorNumber(a) - minorNumber(b))[0];
}

// ------------------------------------------------------------------------------------------ up's refusal

/**
 * `up` (and `plan`) on a built cluster whose kubelets run another minor than the inventory's
 * kubernetesVersion: installing the new packages over it would break the skew order (a kubelet newer
 * than its API server), so `up` stops with one line pointing to `kubesmith upgrade`.
 */
export const refuseVersionChange: Phase<ClusterContext> = {
  title: "check the cluster's Kubernetes version",
  shouldRun(ctx) {
    return ctx.joined.size > 0 || "no host is set up yet";
  },
  async run(ctx) {
    const wanted = kubernetesMinor(ctx.model.inventory.cluster.kubernetesVersion)!;
    const running = ctx.model.hosts
      .filter((h) => ctx.joined.has(h.name))
      .map((h) => ({ host: h.name, version: ctx.facts.get(h.name)?.kubeletVersion ?? "" }))
      .filter((x) => kubernetesMinor(x.version) !== undefined && kubernetesMinor(x.version) !== wanted);
    const first = running[0];
    if (!first) return;
    const others = running.length > 1 ? ` and ${running.length - 1} more` : "";
    throw new VersionChangeError(
      `the cluster runs Kubernetes ${kubernetesMinor(first.version)} (kubelet ${first.version} on ${first.host}${others}) but ${ctx.model.loaded.file} asks for ${ctx.model.inventory.cluster.kubernetesVersion}: 'up' does not change the version of a built cluster; run 'kubesmith upgrade -i ${ctx.options.inventory}'`,
    );
  },
};

// ------------------------------------------------------------------------------------------ upgrade state

export interface UpgradeOptions {
  /** --to: the target (a minor or a patch); default the inventory's kubernetesVersion. */
  to?: string;
  /** Workers upgraded at once (each batch drained, upgraded, Ready and uncordoned before the next). */
  batch: number;
  /** --addons-dir: the user's bundles, whose declared ranges are checked like the built-in ones. */
  addonsDir?: string;
}

interface UpgradeState {
  target: KubernetesVersion;
  /** The minor the control planes ran when the run started (lowest). */
  from: string;
  /** Each host's kubelet (Node kubeletVersion) when the run started. */
  before: Map<string, string>;
}

const states = new WeakMap<ClusterContext, UpgradeState>();
const optionsOf = new WeakMap<ClusterContext, UpgradeOptions>();

export function setUpgradeOptions(ctx: ClusterContext, o: UpgradeOptions): void {
  optionsOf.set(ctx, o);
}

function state(ctx: ClusterContext): UpgradeState {
  const s = states.get(ctx);
  if (!s) throw new Error("upgrade state missing: the check phase did not run");
  return s;
}

/** The upgrade's target as the user gave it, checked. */
export function upgradeTarget(ctx: ClusterContext): KubernetesVersion {
  const to = optionsOf.get(ctx)?.to ?? ctx.model.inventory.cluster.kubernetesVersion;
  try {
    return parseKubernetesVersion(to);
  } catch {
    throw new UsageError(`--to ${JSON.stringify(to)} is not a Kubernetes version like 1.36 or 1.36.2`);
  }
}

const versionText = (v: KubernetesVersion) => v.patch ?? v.minor;
const atTarget = (version: string | undefined, t: KubernetesVersion) =>
  !!version && (t.patch ? version.replace(/^v/, "") === t.patch : kubernetesMinor(version) === t.minor);

/** This control plane's kube-apiserver version (its static Pod manifest's image tag), or "". */
async function apiServerVersion(ctx: ClusterContext, host: string): Promise<string> {
  const r = await (await ctx.runner(host)).exec(sh`grep -o ${"/kube-apiserver:v[0-9][^\" ]*"} ${MANIFEST} | head -n 1 | cut -d: -f2`, {
    sudo: true,
    allowFailure: true,
    label: "probe kube-apiserver version",
  });
  return r.code === 0 ? r.stdout.trim() : "";
}

/** kube-system/kubeadm-config's ClusterConfiguration.kubernetesVersion: the cluster's version as kubeadm knows it. */
async function clusterVersion(kube: KubeClient): Promise<string | undefined> {
  const cm = await kube.get("v1", "ConfigMap", "kubeadm-config", "kube-system");
  const text = (cm?.["data"] as Record<string, string> | undefined)?.["ClusterConfiguration"];
  if (!text) return undefined;
  const v = (parseYaml(text) as { kubernetesVersion?: unknown } | null)?.kubernetesVersion;
  return typeof v === "string" ? v : undefined;
}

const kubeletOf = (node: KubeObject | undefined): string | undefined => (node?.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo?.kubeletVersion;

// ------------------------------------------------------------------------------------------ phases

export const upgradeCheck: Phase<ClusterContext> = {
  title: "check the upgrade: versions, one minor at a time, Calico's and the add-ons' Kubernetes ranges",
  async run(ctx) {
    const leader = ctx.model.first;
    if (!ctx.joined.has(leader.name)) {
      throw new UsageError(`${leader.name} is not set up by kubeadm: there is no cluster to upgrade; build it with 'kubesmith up -i ${ctx.options.inventory}'`);
    }
    const notBuilt = ctx.model.hosts.filter((h) => !ctx.joined.has(h.name)).map((h) => h.name);
    if (notBuilt.length) {
      throw new UsageError(`${notBuilt.join(", ")} ${notBuilt.length > 1 ? "are" : "is"} in the inventory but not in the cluster: run 'kubesmith up' to add ${notBuilt.length > 1 ? "them" : "it"} (at the cluster's version) before upgrading`);
    }
    const kube = await ensureKube(ctx);
    const target = upgradeTarget(ctx);
    const cpVersions = await Promise.all(ctx.model.controlPlanes.map((h) => apiServerVersion(ctx, h.name)));
    const from = lowestMinor(cpVersions.filter(Boolean));
    if (!from) throw new ApiError(`cannot tell the control planes' Kubernetes version (no kube-apiserver manifest on ${ctx.model.controlPlanes.map((h) => h.name).join(", ")})`);
    const problem = upgradePathProblem(from, versionText(target), optionsOf.get(ctx)?.to !== undefined ? "--to" : `${ctx.model.loaded.file}: kubernetesVersion`);
    if (problem) throw new VersionChangeError(problem);
    const ranges: DeclaredRange[] = [{ name: `calico ${CALICO.version}`, range: CALICO.kubernetes }];
    const addonsDir = optionsOf.get(ctx)?.addonsDir;
    const catalog = await loadCatalog({ ...(addonsDir ? { addonsDir } : {}), onWarning: (message) => ctx.reporter.emit({ kind: "warning", message }) });
    for (const b of catalog.values()) {
      if (!NON_CATALOG_ADDONS.has(b.manifest.name) && isEnabled(b, ctx.model.inventory) && b.manifest.kubernetes) ranges.push({ name: b.manifest.name, range: b.manifest.kubernetes });
    }
    const outside = rangeProblems(ranges, target.minor);
    if (outside.length) {
      throw new VersionChangeError(`Kubernetes ${target.minor} is outside the range of ${outside.join(", ")}: upgrade or disable ${outside.length > 1 ? "them" : "it"} first, or choose another --to`);
    }
    const nodes = await kube.list("v1", "Node");
    const before = new Map<string, string>();
    for (const n of nodes) before.set(n.metadata.name, kubeletOf(n) ?? "?");
    states.set(ctx, { target, from, before });
    const behind = ctx.model.hosts.filter((h) => !atTarget(before.get(h.name), target)).length;
    ctx.reporter.emit({
      kind: "host-step",
      phase: ctx.phase,
      host: "cluster",
      status: "done",
      detail: `control planes at ${cpVersions.map((v, i) => `${ctx.model.controlPlanes[i]!.name} ${v || "?"}`).join(", ")}; target ${versionText(target)}; ${behind} of ${ctx.model.hosts.length} node(s) to upgrade`,
    });
  },
};

/** The steps that bring kubeadm of the target minor onto a host: the repository, then kubeadm alone. */
function kubeadmSteps(ctx: ClusterContext, host: string, t: KubernetesVersion): Step[] {
  const pm = ctx.facts.get(host)!.packageManager;
  if (pm === "unknown") throw new UsageError(`${host}: no supported package manager`);
  const d = distroFor(pm);
  return [d.kubernetesRepoStep(t.minor, ctx.model.inventory.offline), d.kubePackagesStep(t, ["kubeadm"])];
}

function kubeletStep(ctx: ClusterContext, host: string, t: KubernetesVersion): Step {
  const d = distroFor(ctx.facts.get(host)!.packageManager as "apt" | "dnf" | "yum");
  return d.kubePackagesStep(t, ["kubelet", "kubectl"]);
}

/** `kubeadm upgrade apply` (first control plane) or `kubeadm upgrade node`, decided by the caller from live state. */
function kubeadmUpgradeStep(t: KubernetesVersion, how: "apply" | "node"): Step {
  const version = t.patch ? `v${t.patch}` : undefined;
  return {
    id: `kubeadm-upgrade-${how}`,
    what: how === "apply" ? `kubeadm upgrade plan, then kubeadm upgrade apply ${version ?? `v${t.minor} (kubeadm's own patch)`}` : "kubeadm upgrade node",
    // a control plane is upgraded when its kube-apiserver manifest runs the target
    probe: sh`grep -q ${`/kube-apiserver:${version ?? `v${t.minor}.`}`} ${MANIFEST}`,
    apply:
      how === "apply"
        ? script(APPLY_HEADER, version ? `v=${version}` : 'v="$(kubeadm version -o short)"', "kubeadm upgrade plan", 'kubeadm upgrade apply -y "$v"')
        : script(APPLY_HEADER, "kubeadm upgrade node"),
  };
}

async function waitNodeAt(ctx: ClusterContext, name: string, t: KubernetesVersion): Promise<KubeObject> {
  const kube = ctx.kube!;
  const timeoutMs = ctx.options.waitTimeoutMs ?? 300_000;
  const t0 = Date.now();
  for (;;) {
    throwIfInterrupted(ctx);
    const node = await kube.get("v1", "Node", name);
    if (node && nodeReady(node) && atTarget(kubeletOf(node), t)) return node;
    if (Date.now() - t0 > timeoutMs) {
      throw new ApiError(`${name}: not Ready with kubelet ${versionText(t)} after ${Math.round(timeoutMs / 1000)} s (Node reports ${kubeletOf(node) ?? "nothing"}, ${node && nodeReady(node) ? "Ready" : "NotReady"})`, {
        hint: `check the kubelet on ${name} (kubesmith logs --host ${name})`,
      });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * One node: kubeadm (repository and package), kubeadm upgrade apply/node, then when its kubelet is not at
 * the target (or the upgrade left it cordoned): cordon and drain, kubelet and kubectl, restart, Ready,
 * uncordon. Returns the host-step detail with the node's version before and after.
 */
async function upgradeNode(ctx: ClusterContext, h: ClusterHost, how: () => Promise<"apply" | "node">): Promise<string> {
  const { target: t, before } = state(ctx);
  const kube = ctx.kube!;
  const runner = await ctx.runner(h.name);
  let changed = await runSteps(ctx, h.name, runner, kubeadmSteps(ctx, h.name, t));
  if (h.isControlPlane) {
    changed += await runSteps(ctx, h.name, runner, [kubeadmUpgradeStep(t, await how())]);
  } else if (await stepNeeded(runner, kubeletStep(ctx, h.name, t))) {
    // a worker's `upgrade node` leaves no version behind to probe (it writes the kubelet's configuration):
    // it runs while the kubelet is not yet at the target, and running it again is harmless
    const s = kubeadmUpgradeStep(t, "node");
    await change(ctx, h.name, s.what, async () => {
      await runner.exec(s.apply, { sudo: true, label: s.id });
    });
    changed++;
  }
  const node = await kube.get("v1", "Node", h.name);
  if (!node) throw new ApiError(`${h.name}: no Node object in the cluster; run 'kubesmith up' to repair it before upgrading`);
  const cordonedByUs = node.metadata.annotations?.[UPGRADE_CORDON_ANNOTATION] === "true";
  // a node someone else cordoned is drained like any other, and left cordoned
  const userCordoned = (node.spec as { unschedulable?: boolean } | undefined)?.unschedulable === true && !cordonedByUs;
  const kubeletStale = !atTarget(kubeletOf(node), t);
  if (kubeletStale) {
    await change(ctx, h.name, `cordon and drain node ${h.name} (Eviction API, disruption budgets honoured)`, async () => {
      if (!userCordoned) await kube.mergePatch("v1", "Node", h.name, { metadata: { annotations: { [UPGRADE_CORDON_ANNOTATION]: "true" } } });
      await drainWithRunOptions(ctx, kube, h.name, "run 'kubesmith upgrade' again");
    });
    changed++;
    // while drained: containerd's configuration for the new minor (its sandbox image), as `up` writes it, then kubelet and kubectl
    const offline = ctx.model.inventory.offline;
    const containerd = containerdConfigStep({
      kubernetesVersion: versionText(t),
      ...(offline?.imageRepository ? { imageRepository: offline.imageRepository } : {}),
      ...(offline?.registryMirrors ? { registryMirrors: offline.registryMirrors } : {}),
    });
    changed += await runSteps(ctx, h.name, runner, [containerd, kubeletStep(ctx, h.name, t)]);
    // the kubelet reports its version when it starts: restarted whether its package changed now or in an interrupted run
    await change(ctx, h.name, `restart the kubelet (${versionText(t)})`, async () => {
      await runner.exec(script("systemctl daemon-reload", "systemctl restart kubelet"), { sudo: true, label: "restart kubelet" });
    });
    await followUp(ctx, () => waitNodeAt(ctx, h.name, t));
  }
  if ((kubeletStale && !userCordoned) || cordonedByUs) {
    if (!kubeletStale) await followUp(ctx, () => waitNodeAt(ctx, h.name, t));
    await change(ctx, h.name, `uncordon node ${h.name}`, async () => {
      await kube.mergePatch("v1", "Node", h.name, { metadata: { annotations: { [UPGRADE_CORDON_ANNOTATION]: null } }, spec: { unschedulable: null } });
    });
    changed++;
  }
  const was = before.get(h.name) ?? kubeletOf(node) ?? "?";
  const now = ctx.dryRun ? (kubeletStale ? `v${versionText(t)}` : (kubeletOf(node) ?? "?")) : (kubeletOf(await kube.get("v1", "Node", h.name)) ?? "?");
  // the journal's record of the node's version before and after (docs/events.md)
  ctx.reporter.emit({ kind: "node-version", phase: ctx.phase, host: h.name, before: was, after: now, dryRun: ctx.dryRun });
  if (!changed) return `already at ${now}`;
  return `${was} → ${now}${ctx.dryRun ? " (planned)" : ""}`;
}

/** Upgrade one host as a per-host step whose event carries its before and after version. */
async function upgradeOne(ctx: ClusterContext, h: ClusterHost, how: () => Promise<"apply" | "node">): Promise<void> {
  await forHosts(ctx, [h], (x) => upgradeNode(ctx, x, how));
}

export const upgradeControlPlanes: Phase<ClusterContext> = {
  title: "upgrade the control planes one at a time (kubeadm upgrade apply on the first, upgrade node on the others)",
  async run(ctx) {
    const kube = await ensureKube(ctx);
    const { target: t } = state(ctx);
    // the first control plane that answers first (the leader), then the rest in inventory order
    const order = [ctx.model.first, ...ctx.model.controlPlanes.filter((h) => h !== ctx.model.first)];
    // `apply` once per cluster: while kubeadm-config still names an older minor (a live probe), else `node`
    let planned = false;
    for (const h of order) {
      throwIfInterrupted(ctx);
      await upgradeOne(ctx, h, async () => {
        const cv = await clusterVersion(kube);
        const done = !!cv && minorNumber(kubernetesMinor(cv) ?? "0.0") >= minorNumber(t.minor) && (!t.patch || atTarget(cv, t));
        const how = done || planned ? "node" : "apply";
        if (how === "apply") planned = true;
        return how;
      });
    }
  },
};

export const upgradeWorkers: Phase<ClusterContext> = {
  title: "upgrade the workers in batches (cordon, drain, kubeadm upgrade node, kubelet, Ready, uncordon)",
  async run(ctx) {
    await ensureKube(ctx);
    const batch = Math.max(1, optionsOf.get(ctx)?.batch ?? 1);
    const workers = ctx.model.workers;
    for (let i = 0; i < workers.length; i += batch) {
      throwIfInterrupted(ctx);
      await forHosts(ctx, workers.slice(i, i + batch), (h) => upgradeNode(ctx, h, async () => "node"));
    }
  },
};

/** After a real upgrade whose target differs from the inventory's kubernetesVersion: what to change there. */
export function inventoryReminder(ctx: ClusterContext): string | undefined {
  const s = states.get(ctx);
  if (!s || ctx.dryRun) return undefined;
  const inv = ctx.model.inventory.cluster.kubernetesVersion;
  const t = versionText(s.target);
  if (inv === t || (kubernetesMinor(inv) === s.target.minor && !s.target.patch)) return undefined;
  return `the cluster now runs Kubernetes ${t}: set cluster.kubernetesVersion to "${t}" in ${ctx.model.loaded.file}, or 'kubesmith up' refuses to run against it`;
}
