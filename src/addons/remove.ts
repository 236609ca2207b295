// `addons remove`: delete every object of a release (found by its labels, never anything else) and its
// history Secret. Each delete is a change through the run's gate (a dry run only records them).
import type { KubeClient } from "../kube/client.js";
import type { Gate } from "../phases/run.js";
import { deleteHistory, readHistory } from "./history.js";
import { deleteOrder, kindRef, objectId, type KindRef } from "./objects.js";
import { deleteThroughGate, listReleaseObjects } from "./prune.js";
import type { Release, RenderedCluster } from "./types.js";

export interface RemoveOptions {
  /** The run's change gate (phases/run.ts gateOf). */
  gate: Gate;
  /** Extra kinds to look at (e.g. those of the current render). */
  kinds?: KindRef[];
}

/** Returns the ids of the objects deleted (or that would be, in a dry run), in the order they are deleted. */
export async function removeRelease(kube: KubeClient, bundle: string, release: Release, opts: RemoveOptions): Promise<string[]> {
  const history = await readHistory(kube, bundle, release);
  const kinds = [...(history?.kinds ?? []), ...(history?.lastGood?.objects.map(kindRef) ?? []), ...(opts.kinds ?? [])];
  // In name order, then as they must go: workloads and the rest first, Namespaces next, CRDs last.
  const live = deleteOrder(await listReleaseObjects(kube, bundle, release, kinds));
  // The history Secret first: when the Namespace goes, the Secret would go with it anyway.
  if (history) {
    await opts.gate.change(`${release.name}: delete the release history Secret/${release.namespace}/kubesmith-release-${release.name}`, async () => {
      await deleteHistory(kube, release);
    });
  }
  await deleteThroughGate(opts.gate, kube, live, (o) => `${release.name}: delete ${objectId(o)}`);
  return live.map(objectId);
}

/** removeRelease for a render at hand (its kinds are looked at too). */
export function removeRendered(kube: KubeClient, rendered: RenderedCluster, opts: RemoveOptions): Promise<string[]> {
  return removeRelease(kube, rendered.bundle, rendered.release, { ...opts, kinds: [...(opts.kinds ?? []), ...rendered.objects.map(kindRef)] });
}
