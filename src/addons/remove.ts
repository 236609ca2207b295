// `addons remove`: delete every object of a release (found by its labels, never anything else) and its
// history Secret.
import type { KubeClient } from "../kube/client.js";
import { deleteHistory, readHistory } from "./history.js";
import { kindRef, objectId, type KindRef } from "./objects.js";
import { deleteObjects, listReleaseObjects } from "./prune.js";
import type { Release, RenderedCluster } from "./types.js";

export interface RemoveOptions {
  dryRun?: boolean;
  onChange?(what: string): void | Promise<void>;
  /** Extra kinds to look at (e.g. those of the current render). */
  kinds?: KindRef[];
}

/** Returns the ids of the objects deleted (or that would be, in a dry run). */
export async function removeRelease(kube: KubeClient, bundle: string, release: Release, opts: RemoveOptions = {}): Promise<string[]> {
  const history = await readHistory(kube, bundle, release);
  const kinds = [...(history?.kinds ?? []), ...(history?.lastGood?.objects.map(kindRef) ?? []), ...(opts.kinds ?? [])];
  const live = await listReleaseObjects(kube, bundle, release, kinds);
  // The history Secret first: when the Namespace goes, the Secret would go with it anyway.
  if (history) {
    await opts.onChange?.(`${release.name}: delete the release history Secret/${release.namespace}/kubesmith-release-${release.name}`);
    if (!opts.dryRun) await deleteHistory(kube, release);
  }
  for (const o of live) await opts.onChange?.(`${release.name}: delete ${objectId(o)}`);
  if (!opts.dryRun) await deleteObjects(kube, live);
  return live.map(objectId);
}

/** removeRelease for a render at hand (its kinds are looked at too). */
export function removeRendered(kube: KubeClient, rendered: RenderedCluster, opts: RemoveOptions = {}): Promise<string[]> {
  return removeRelease(kube, rendered.bundle, rendered.release, { ...opts, kinds: [...(opts.kinds ?? []), ...rendered.objects.map(kindRef)] });
}
