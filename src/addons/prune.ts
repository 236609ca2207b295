// Prune and remove: find a release's live objects by its labels across the kinds it ever used, and
// delete the ones the render no longer has. An object is deleted only when it carries BOTH release
// labels (checked again on the listed object, not only trusted to the selector), is not owned by
// another object, and is not the release's history Secret. Each delete is a change through the run's gate.
import { ApiError } from "../errors.js";
import type { KubeClient, KubeObject } from "../kube/client.js";
import type { Gate } from "../phases/run.js";
import { historySecretName } from "./history.js";
import { COMMON_KINDS, deleteOrder, isOurs, objectId, objectKey, prunableKind, releaseSelector, splitKindRef, type KindRef } from "./objects.js";
import type { Release } from "./types.js";

/** The cluster does not serve the kind (its CRD is gone or never was). */
export function notServed(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || (err.status === undefined && /does not serve/.test(err.message)));
}

/** Live objects of a release (every kind in `kinds` plus the common ones). Kinds the cluster does not serve are skipped. */
export async function listReleaseObjects(kube: KubeClient, bundle: string, release: Release, kinds: Iterable<KindRef>): Promise<KubeObject[]> {
  const all = [...new Set([...COMMON_KINDS, ...kinds])].filter(prunableKind).sort();
  const selector = releaseSelector(bundle, release);
  const out: KubeObject[] = [];
  const seen = new Set<string>();
  for (const k of all) {
    const { apiVersion, kind } = splitKindRef(k);
    let items: KubeObject[];
    try {
      items = await kube.list(apiVersion, kind, { labelSelector: selector });
    } catch (err) {
      // A CRD that is gone takes its objects with it: nothing of that kind is left to prune.
      if (notServed(err)) continue;
      throw err;
    }
    for (const o of items) {
      if (!isOurs(o, bundle, release)) continue;
      if (Array.isArray(o.metadata["ownerReferences"]) && (o.metadata["ownerReferences"] as unknown[]).length > 0) continue;
      if (o.kind === "Secret" && o.metadata.name === historySecretName(release) && o.metadata.namespace === release.namespace) continue;
      // The same object may be served under two versions of its group: keep one.
      const key = objectKey(o);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(o);
    }
  }
  return out.sort((a, b) => objectId(a).localeCompare(objectId(b)));
}

/** The live objects of the release that `objects` (the new render) does not contain. */
export async function findPrunable(kube: KubeClient, bundle: string, release: Release, objects: KubeObject[], kinds: Iterable<KindRef>): Promise<KubeObject[]> {
  const keep = new Set(objects.map(objectKey));
  const live = await listReleaseObjects(kube, bundle, release, kinds);
  return deleteOrder(live.filter((o) => !keep.has(objectKey(o))));
}

/** Deletes the given live objects in delete order, each one a change through the gate, described by `what`. */
export async function deleteThroughGate(gate: Gate, kube: KubeClient, objects: KubeObject[], what: (o: KubeObject) => string): Promise<void> {
  for (const o of deleteOrder(objects)) {
    await gate.change(what(o), async () => {
      await kube.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
    });
  }
}
