// `addons diff`: what applying a render would change, without changing anything. The same planning as
// apply (GET + server-side dry run per object), plus the objects prune would delete.
import type { KubeClient } from "../kube/client.js";
import { applyClass, kindRef, objectId } from "./objects.js";
import { planObjects, settleNamespaces, stampObjects } from "./apply.js";
import { readHistory } from "./history.js";
import { findPrunable } from "./prune.js";
import type { RenderedCluster } from "./types.js";

export interface ReleaseDiff {
  release: string;
  create: string[];
  update: { id: string; fields: string[] }[];
  prune: string[];
}

export async function diffRelease(kube: KubeClient, rendered: RenderedCluster): Promise<ReleaseDiff> {
  const objs = stampObjects(rendered);
  await settleNamespaces(kube, objs, rendered.release);
  const plans = await planObjects(kube, [...objs].sort((a, b) => applyClass(a) - applyClass(b)));
  const history = await readHistory(kube, rendered.bundle, rendered.release);
  const kinds = [...(history?.kinds ?? []), ...objs.map(kindRef)];
  const prune = await findPrunable(kube, rendered.bundle, rendered.release, objs, kinds);
  return {
    release: rendered.release.name,
    create: plans.filter((p) => p.action === "create").map((p) => p.id),
    update: plans.filter((p) => p.action === "update").map((p) => ({ id: p.id, fields: p.fields })),
    prune: prune.map(objectId),
  };
}

export function diffIsEmpty(d: ReleaseDiff): boolean {
  return d.create.length === 0 && d.update.length === 0 && d.prune.length === 0;
}

/** Human rendering: one line per object, `+` create, `~` update (with its fields), `-` prune. */
export function formatDiff(d: ReleaseDiff): string {
  if (diffIsEmpty(d)) return `${d.release}: no changes\n`;
  const lines = [`${d.release}:`];
  for (const id of d.create) lines.push(`  + ${id}`);
  for (const u of d.update) {
    lines.push(`  ~ ${u.id}`);
    for (const f of u.fields) lines.push(`      ${f}`);
  }
  for (const id of d.prune) lines.push(`  - ${id}`);
  return `${lines.join("\n")}\n`;
}
