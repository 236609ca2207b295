// Release history: one Secret `kubesmith-release-<release>` in the release namespace (a Secret because
// renders can hold credentials). It records
//   kinds            every kind the release ever applied (prune lists these), updated BEFORE an apply
//   revision         number of the last good revision
//   objects.json.gz  the objects of that revision, as rendered (gzip: dashboards make renders big)
// It carries managed-by=kubesmith and kubesmith.io/history-of=<release>, but not the release selector
// labels, so prune never sees it; remove deletes it explicitly.
import { gunzipSync, gzipSync } from "node:zlib";
import { ApiError } from "../errors.js";
import type { KubeClient, KubeObject } from "../kube/client.js";
import { RELEASE_LABELS, type Release } from "./types.js";
import type { KindRef } from "./objects.js";

export const HISTORY_LABEL = "kubesmith.io/history-of";

export interface ReleaseHistory {
  bundle: string;
  release: Release;
  kinds: KindRef[];
  /** The last good revision, once one rolled out. */
  lastGood?: { revision: number; objects: KubeObject[]; appliedAt: string };
}

export function historySecretName(release: Release): string {
  return `kubesmith-release-${release.name}`;
}

export async function readHistory(kube: KubeClient, bundle: string, release: Release): Promise<ReleaseHistory | undefined> {
  const s = await kube.get("v1", "Secret", historySecretName(release), release.namespace).catch((err: unknown) => {
    // The namespace may not exist yet; a missing kind cannot happen for v1 Secret.
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  });
  if (!s) return undefined;
  const data = (s["data"] ?? {}) as Record<string, string>;
  const dec = (k: string): Buffer | undefined => (data[k] ? Buffer.from(data[k], "base64") : undefined);
  try {
    const kinds = JSON.parse(dec("kinds")?.toString("utf8") ?? "[]") as KindRef[];
    const h: ReleaseHistory = { bundle, release, kinds };
    const rev = dec("revision");
    const objs = dec("objects.json.gz");
    if (rev && objs) {
      h.lastGood = {
        revision: Number(rev.toString("utf8")),
        objects: JSON.parse(gunzipSync(objs).toString("utf8")) as KubeObject[],
        appliedAt: dec("appliedAt")?.toString("utf8") ?? "",
      };
    }
    return h;
  } catch (err) {
    throw new ApiError(`the release history Secret ${release.namespace}/${historySecretName(release)} is unreadable: ${(err as Error).message}`, {
      hint: "delete it to start the release history afresh (prune then only sees the kinds of the current render)",
    });
  }
}

function secretFor(bundle: string, release: Release, data: Record<string, Buffer | string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: historySecretName(release),
      namespace: release.namespace,
      labels: { [RELEASE_LABELS.managedBy]: "kubesmith", [HISTORY_LABEL]: release.name },
      annotations: { "kubesmith.io/addon": bundle },
    },
    type: "kubesmith.io/release",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
  };
}

/**
 * Make sure the history lists these kinds (before they are applied, so an apply that dies half way
 * still leaves prune able to find what it created). Writes only when something is new.
 */
export async function recordKinds(kube: KubeClient, bundle: string, release: Release, kinds: KindRef[], history: ReleaseHistory | undefined): Promise<KindRef[]> {
  const known = new Set(history?.kinds ?? []);
  const all = [...new Set([...known, ...kinds])].sort();
  if (all.length === known.size) return all;
  // Server-side apply of the `kinds` key only: the revision keys are left as they are.
  await kube.apply(secretFor(bundle, release, { kinds: JSON.stringify(all) }), { fieldManager: "kubesmith-history-kinds" });
  return all;
}

/** Store the objects as the new last-good revision; returns its number. */
export async function saveRevision(
  kube: KubeClient,
  bundle: string,
  release: Release,
  objects: KubeObject[],
  revision: number,
): Promise<void> {
  await kube.apply(
    secretFor(bundle, release, {
      revision: String(revision),
      appliedAt: new Date().toISOString(),
      "objects.json.gz": gzipSync(JSON.stringify(objects)),
    }),
    { fieldManager: "kubesmith-history-revision" },
  );
}

export async function deleteHistory(kube: KubeClient, release: Release): Promise<boolean> {
  return kube.delete("v1", "Secret", historySecretName(release), release.namespace).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  });
}
