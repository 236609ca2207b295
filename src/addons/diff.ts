// `addons diff`: what applying a render would change, without changing anything. The same planning as
// apply (GET + server-side dry run per object), plus the objects prune would delete.
import type { KubeClient } from "../kube/client.js";
import { applyClass, kindRef, objectId } from "./objects.js";
import { planObjects, settleNamespaces, stampObjects } from "./apply.js";
import { readHistory } from "./history.js";
import { findPrunable } from "./prune.js";
import type { FieldChange } from "./objects.js";
import type { RenderedCluster } from "./types.js";

export interface ReleaseDiff {
  release: string;
  create: string[];
  update: { id: string; fields: string[]; changes?: FieldChange[] }[];
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
    update: plans.filter((p) => p.action === "update").map((p) => ({ id: p.id, fields: p.fields, ...(p.changes ? { changes: p.changes } : {}) })),
    prune: prune.map(objectId),
  };
}

export function diffIsEmpty(d: ReleaseDiff): boolean {
  return d.create.length === 0 && d.update.length === 0 && d.prune.length === 0;
}

/** A value for one line: compact JSON, cut; values of a Secret's data are never shown. */
function shown(v: unknown, secret: boolean): string {
  if (v === undefined) return "(absent)";
  if (secret) return "(hidden)";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

/** The number of objects a diff would create, change or delete. */
export function diffCount(d: ReleaseDiff): number {
  return d.create.length + d.update.length + d.prune.length;
}

/** Human rendering: one line per object, `+` create, `~` update (each field: live → would be), `-` prune. */
export function formatDiff(d: ReleaseDiff): string {
  if (diffIsEmpty(d)) return `${d.release}: no changes\n`;
  const lines = [`${d.release}:`];
  for (const id of d.create) lines.push(`  + ${id}`);
  for (const u of d.update) {
    lines.push(`  ~ ${u.id}`);
    const secret = u.id.startsWith("Secret/");
    if (u.changes) for (const c of u.changes) lines.push(`      ${c.path}: ${shown(c.before, secret && /^(data|stringData)\b/.test(c.path))} → ${shown(c.after, secret && /^(data|stringData)\b/.test(c.path))}`);
    else for (const f of u.fields) lines.push(`      ${f}`);
  }
  for (const id of d.prune) lines.push(`  - ${id}`);
  return `${lines.join("\n")}\n`;
}
