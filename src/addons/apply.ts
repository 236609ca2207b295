// Applying one rendered cluster release: CRDs first (then wait until Established), Namespaces next,
// then everything else, each by server-side apply (field manager kubesmith, force). An object counts as
// a change only when applying it would change the live object: a server-side dry run (dryRun=All) is
// compared with the live object, so re-applying the same render changes nothing and reports nothing.
// Then: wait for the workloads to roll out, prune what the render dropped, and record the render as
// the release's last-good revision. When a rollout fails, the last-good revision is applied again.
// Every create, update and delete goes through the run's change gate (opts.gate), one call per object
// with the call that makes it; the waits and the release history are the gate's follow-ups. So a dry
// run is decided there and nowhere here: planning (GET, server-side dry run, list) is read-only anyway.
import pLimit from "p-limit";
import type { KubeClient, KubeObject } from "../kube/client.js";
import { AddonError } from "./errors.js";
import { readHistory, recordKinds, saveRevision, type ReleaseHistory } from "./history.js";
import {
  applyClass,
  canonicalJson,
  changedValues,
  type FieldChange,
  comparable,
  kindRef,
  objectId,
  releaseLabels,
  type KindRef,
} from "./objects.js";
import type { Gate } from "../phases/run.js";
import { deleteThroughGate, findPrunable, notServed } from "./prune.js";
import type { Release, RenderedCluster } from "./types.js";
import { waitCrdsEstablished, waitForWorkloads } from "./wait.js";

export interface ApplyReleaseOptions {
  /**
   * The run's change gate (phases/run.ts gateOf): each change is handed to it with the function that
   * makes it; in a dry run it records the change and does not call the function.
   */
  gate: Gate;
  /** For each of: CRDs Established, workloads rolled out, the rollback rolled out. */
  timeoutMs: number;
  /** Progress lines worth showing (rollback). */
  log?(line: string): void;
  /**
   * Namespaces created by releases applied earlier in the same run (shared between releases): a dry run
   * of a later release does not report creating them again.
   */
  namespaces?: Set<string>;
  /** API requests in flight at once while planning and applying. Default 8. */
  concurrency?: number;
  /** Hosts a must-run-on DaemonSet need not run on (workers a partial `up` left out). */
  excused?: ReadonlySet<string>;
}

export interface ApplyResult {
  release: string;
  created: string[];
  updated: string[];
  pruned: string[];
  unchanged: number;
  /** The last-good revision after this apply (undefined in a dry run of a new release). */
  revision?: number;
}

export type Action = "create" | "update" | "none";

export interface PlannedObject {
  obj: KubeObject;
  id: string;
  action: Action;
  /** Changed field paths (updates). */
  fields: string[];
  /** The same, with the live and the would-be values (updates). */
  changes?: FieldChange[];
}

/**
 * The objects as they will be applied: our release labels stamped on (renderers set them too; apply
 * makes sure), deep copies so the caller's render is never modified.
 */
export function stampObjects(rendered: RenderedCluster): KubeObject[] {
  return rendered.objects.map((o) => {
    const c = structuredClone(o);
    c.metadata.labels = { ...(c.metadata.labels ?? {}), ...releaseLabels(rendered.bundle, rendered.release) };
    return c;
  });
}

/** Namespaced or not: from a CRD in the same render, else from discovery; undefined when unknown yet. */
async function isNamespaced(kube: KubeClient, o: KubeObject, crds: KubeObject[]): Promise<boolean | undefined> {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  for (const c of crds) {
    const spec = (c["spec"] ?? {}) as { group?: string; scope?: string; names?: { kind?: string } };
    if (spec.group === group && spec.names?.kind === o.kind) return spec.scope === "Namespaced";
  }
  try {
    return (await kube.resource(o.apiVersion, o.kind)).namespaced;
  } catch (err) {
    if (notServed(err)) return undefined;
    throw err;
  }
}

/** Namespaced objects without a namespace go to the release namespace; cluster-scoped ones lose a stray one. */
export async function settleNamespaces(kube: KubeClient, objs: KubeObject[], release: Release, crds: KubeObject[] = objs.filter((o) => applyClass(o) === 0)): Promise<void> {
  for (const o of objs) {
    const ns = await isNamespaced(kube, o, crds);
    if (ns === true && !o.metadata.namespace) o.metadata.namespace = release.namespace;
    if (ns === false && o.metadata.namespace !== undefined) delete o.metadata.namespace;
  }
}

/** Would applying `o` create it, change it, or leave it as it is? Read-only (GET + server-side dry run). */
export async function planObject(kube: KubeClient, o: KubeObject): Promise<PlannedObject> {
  const id = objectId(o);
  let live: KubeObject | undefined;
  try {
    live = await kube.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
  } catch (err) {
    // The kind's CRD or the namespace is not there yet (a dry run of a new release): it will be created.
    if (notServed(err)) return { obj: o, id, action: "create", fields: [] };
    throw err;
  }
  if (!live) return { obj: o, id, action: "create", fields: [] };
  const would = await kube.apply(o, { dryRun: true });
  const changes = changedValues(comparable(live), comparable(would));
  const fields = changes.map((c) => c.path);
  return { obj: o, id, action: fields.length ? "update" : "none", fields, changes };
}

export async function planObjects(kube: KubeClient, objs: KubeObject[], concurrency = 8): Promise<PlannedObject[]> {
  const limit = pLimit(concurrency);
  return Promise.all(objs.map((o) => limit(() => planObject(kube, o))));
}

export function describeChange(release: string, p: PlannedObject): string {
  if (p.action === "create") return `${release}: create ${p.id}`;
  const more = p.fields.length > 3 ? ` (+${p.fields.length - 3} more)` : "";
  return `${release}: update ${p.id} (${p.fields.slice(0, 3).join(", ")}${more})`;
}

interface ConvergeResult {
  planned: PlannedObject[];
}

/**
 * Apply `objs` class by class (CRDs → wait Established → Namespaces → the rest), each class planned
 * right before it is applied so the dry runs of later classes see the CRDs and Namespaces they need.
 */
async function converge(
  kube: KubeClient,
  release: Release,
  objs: KubeObject[],
  opts: ApplyReleaseOptions,
  between?: (cls: 0 | 1 | 2) => Promise<void>,
): Promise<ConvergeResult> {
  const limit = pLimit(opts.concurrency ?? 8);
  const planned: PlannedObject[] = [];
  for (const cls of [0, 1, 2] as const) {
    const group = objs.filter((o) => applyClass(o) === cls);
    if (cls === 2) await settleNamespaces(kube, group, release, objs.filter((o) => applyClass(o) === 0));
    const plans = await planObjects(kube, group, opts.concurrency ?? 8);
    planned.push(...plans);
    const todo = plans.filter((p) => p.action !== "none");
    for (const p of plans) if (cls === 1) opts.namespaces?.add(p.obj.metadata.name);
    // The gate records each change as its call starts (p-limit starts them in order), so the changes are
    // listed in plan order; the applies themselves run up to `concurrency` at once.
    await Promise.all(
      todo.map((p) =>
        limit(() =>
          opts.gate.change(describeChange(release.name, p), async () => {
            await kube.apply(p.obj, { force: true });
          }),
        ),
      ),
    );
    if (cls === 0 && group.length) {
      const stuck = await opts.gate.followUp(() => waitCrdsEstablished(kube, group, opts.timeoutMs));
      if (stuck?.length) {
        throw new AddonError(release.name, `CustomResourceDefinition ${stuck.join(", ")} not Established within ${Math.round(opts.timeoutMs / 1000)} s`, {
          hint: "check the CRD's names and versions (kubectl describe crd)",
        });
      }
    }
    await between?.(cls);
  }
  return { planned };
}

/** Create the release namespace when neither the render nor the cluster has it (the history Secret lives there). */
async function ensureNamespace(kube: KubeClient, release: Release, objs: KubeObject[], opts: ApplyReleaseOptions): Promise<boolean> {
  if (objs.some((o) => applyClass(o) === 1 && o.metadata.name === release.namespace)) return false;
  if (opts.namespaces?.has(release.namespace)) return false;
  if (await kube.get("v1", "Namespace", release.namespace)) return false;
  opts.namespaces?.add(release.namespace);
  await opts.gate.change(`${release.name}: create Namespace/${release.namespace}`, async () => {
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: release.namespace, labels: { "app.kubernetes.io/managed-by": "kubesmith" } } });
  });
  return true;
}

function kindsOf(objs: KubeObject[]): KindRef[] {
  return [...new Set(objs.map(kindRef))];
}

/** Apply one release: see the file header. Throws AddonError when a workload does not roll out. */
export async function applyRelease(kube: KubeClient, rendered: RenderedCluster, opts: ApplyReleaseOptions): Promise<ApplyResult> {
  const { bundle, release } = rendered;
  const objs = stampObjects(rendered);
  const history = await readHistory(kube, bundle, release);
  let kinds: KindRef[] = [...new Set([...(history?.kinds ?? []), ...kindsOf(objs)])];
  let createdNamespace = false;

  const { planned } = await converge(kube, release, objs, opts, async (cls) => {
    if (cls !== 1) return;
    createdNamespace = await ensureNamespace(kube, release, objs, opts);
    // Before anything else is created: the history lists every kind this render uses.
    kinds = (await opts.gate.followUp(() => recordKinds(kube, bundle, release, kindsOf(objs), history))) ?? kinds;
  });
  const created = planned.filter((p) => p.action === "create").map((p) => p.id);
  const updated = planned.filter((p) => p.action === "update").map((p) => p.id);
  if (createdNamespace) created.unshift(`Namespace/${release.namespace}`);

  await opts.gate.followUp(async () => {
    const failure = await waitForWorkloads(kube, objs, { timeoutMs: opts.timeoutMs, ...(opts.excused ? { excused: opts.excused } : {}) });
    if (failure) {
      await rollBack(kube, rendered, history, kinds, created.length + updated.length > 0, failure, opts);
    }
  });

  // Prune. In a dry run of a brand-new release there is nothing to list yet: kinds the cluster does not
  // serve (404) are skipped by listReleaseObjects.
  const prunable = await findPrunable(kube, bundle, release, objs, kinds);
  await deleteThroughGate(opts.gate, kube, prunable, (o) => `${release.name}: delete ${objectId(o)} (no longer rendered)`);

  let revision = history?.lastGood?.revision;
  if (!history?.lastGood || canonicalJson(history.lastGood.objects) !== canonicalJson(objs)) {
    const next = (revision ?? 0) + 1;
    revision = (await opts.gate.followUp(async () => (await saveRevision(kube, bundle, release, objs, next), next))) ?? revision;
  }
  return {
    release: release.name,
    created,
    updated,
    pruned: prunable.map(objectId),
    unchanged: planned.filter((p) => p.action === "none").length,
    ...(revision !== undefined ? { revision } : {}),
  };
}

/** A rollout failed: apply the last-good revision again, wait for it, prune what it does not have, and throw. */
async function rollBack(
  kube: KubeClient,
  rendered: RenderedCluster,
  history: ReleaseHistory | undefined,
  kinds: KindRef[],
  changed: boolean,
  failure: { workload: string; reason: string },
  opts: ApplyReleaseOptions,
): Promise<never> {
  const { bundle, release } = rendered;
  const what = `${failure.workload} did not roll out: ${failure.reason}`;
  const good = history?.lastGood;
  if (!good || !changed) {
    throw new AddonError(release.name, `${what}; ${good ? "nothing was changed, so there is nothing to roll back" : "no earlier revision to roll back to"}`, {
      workload: failure.workload,
      hint: `kubectl -n ${release.namespace} describe ${failure.workload.split("/")[0]?.toLowerCase()} shows why`,
    });
  }
  opts.log?.(`${release.name}: ${what}; rolling back to revision ${good.revision}`);
  const quiet: ApplyReleaseOptions = { ...opts, gate: { ...opts.gate, change: (w, fn) => opts.gate.change(`rollback ${w}`, fn) } };
  try {
    await converge(kube, release, good.objects, quiet);
    const again = await waitForWorkloads(kube, good.objects, { timeoutMs: opts.timeoutMs, ...(opts.excused ? { excused: opts.excused } : {}) });
    if (again) {
      throw new AddonError(release.name, `${what}; the rollback to revision ${good.revision} did not roll out either (${again.workload}: ${again.reason})`, {
        workload: failure.workload,
        hint: "the cluster may be short of resources or unable to pull images: kubectl get events",
      });
    }
    const extra = await findPrunable(kube, bundle, release, good.objects, kinds);
    await deleteThroughGate(quiet.gate, kube, extra, (o) => `${release.name}: delete ${objectId(o)} (not in revision ${good.revision})`);
  } catch (err) {
    if (err instanceof AddonError) throw err;
    throw new AddonError(release.name, `${what}; rolling back to revision ${good.revision} failed: ${err instanceof Error ? err.message : String(err)}`, {
      workload: failure.workload,
      cause: err,
    });
  }
  opts.log?.(`rolled back ${release.name} to revision ${good.revision}`);
  throw new AddonError(release.name, `${what}; rolled back ${release.name} to revision ${good.revision}`, {
    workload: failure.workload,
    rolledBackTo: good.revision,
    hint: "fix the values or the bundle and apply again",
  });
}
