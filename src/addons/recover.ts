// Generated add-on secrets that a running cluster already uses, when the local state has lost them (a
// `plan` from another machine, a deleted state directory). `up` generates a value for every writeOnly
// value it has no record of; if the cluster already holds one, applying the new value would rotate a
// password under a running cluster without anyone asking for it. Before the add-ons are applied (or
// diffed, in a plan) each value made up in this run is looked up where the bundle puts it:
// - verbatim in a Secret key (grafana's admin password): the live value is taken back and kept;
// - on a line of a host file (keepalived-edge's auth_pass): the live line on one of the release's hosts
//   gives the value back;
// - anywhere else (hashed, as Traefik's htpasswd, or embedded in a larger value) while the object exists:
//   it cannot be recovered, and the run stops before changing anything, saying what to do.
import { StateError } from "../errors.js";
import type { KubeObject } from "../kube/client.js";
import type { ClusterContext } from "../phases/context.js";
import { storeAddonSecret } from "../cluster/secrets.js";
import type { GeneratedSecret, RenderedRelease } from "./releases.js";

export interface Recovered {
  bundle: string;
  path: string;
  /** Where it was found, e.g. Secret/monitoring/grafana-admin (admin-password). */
  from: string;
  value: string;
}

type Found =
  | { how: "secret-key"; obj: KubeObject; key: string }
  | { how: "host-line"; host: string; file: string; line: string }
  | { how: "embedded"; obj: KubeObject };

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");

function ref(o: KubeObject): string {
  const md = o.metadata as { name?: string; namespace?: string } | undefined;
  return `${o.kind}/${md?.namespace ? `${md.namespace}/` : ""}${md?.name ?? "?"}`;
}

/** Where a release puts `value`: the first verbatim place, else the first place it is embedded. */
export function locateValue(release: RenderedRelease, value: string): Found | undefined {
  if (release.target === "hosts") {
    for (const [host, files] of Object.entries(release.rendered.files)) {
      for (const f of files) {
        const line = f.content.split("\n").find((l) => l.includes(value));
        if (line !== undefined) return { how: "host-line", host, file: f.path, line };
      }
    }
    return undefined;
  }
  let embedded: Found | undefined;
  for (const obj of release.rendered.objects) {
    if (obj.kind === "Secret") {
      const data = (obj as { data?: Record<string, string> }).data ?? {};
      const stringData = (obj as { stringData?: Record<string, string> }).stringData ?? {};
      for (const [k, v] of Object.entries(data)) {
        if (v === b64(value)) return { how: "secret-key", obj, key: k };
        if (unb64(v).includes(value)) embedded ??= { how: "embedded", obj };
      }
      for (const [k, v] of Object.entries(stringData)) {
        if (v === value) return { how: "secret-key", obj, key: k };
        if (v.includes(value)) embedded ??= { how: "embedded", obj };
      }
    }
    if (!embedded && JSON.stringify(obj).includes(value)) embedded = { how: "embedded", obj };
  }
  return embedded;
}

/** The first object of `r` that renders differently in `other` (the same release rendered with another value). */
async function dependentObject(r: RenderedRelease & { target: "cluster" }, other: RenderedRelease[]): Promise<Found | undefined> {
  const twin = other.find((o) => o.target === "cluster" && o.rendered.release.name === r.rendered.release.name);
  if (!twin || twin.target !== "cluster") return undefined;
  const key = (o: KubeObject) => ref(o);
  const theirs = new Map(twin.rendered.objects.map((o) => [key(o), JSON.stringify(o)]));
  const obj = r.rendered.objects.find((o) => theirs.get(key(o)) !== JSON.stringify(o));
  return obj ? { how: "embedded", obj } : undefined;
}

/** The value on the live line that matches the rendered `line` with `value` in it (undefined: no such line). */
export function valueFromLine(line: string, value: string, live: string): string | undefined {
  const i = line.indexOf(value);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^${esc(line.slice(0, i))}(\\S+?)${esc(line.slice(i + value.length))}$`, "m");
  return re.exec(live)?.[1];
}

async function liveObject(ctx: ClusterContext, obj: KubeObject): Promise<KubeObject | undefined> {
  const md = obj.metadata as { name: string; namespace?: string };
  return ctx.kube!.get(obj.apiVersion, obj.kind, md.name, md.namespace);
}

/**
 * For each secret this run generated (ctx.generatedSecrets), the value the cluster already uses, if any.
 * Found values are stored in the state (not in a dry run) and returned; the caller renders again.
 * Throws StateError when a value the cluster holds cannot be recovered.
 */
export async function recoverGeneratedSecrets(
  ctx: ClusterContext,
  levels: RenderedRelease[][],
  renderWith?: (g: GeneratedSecret, value: string) => Promise<RenderedRelease[]>,
): Promise<Recovered[]> {
  const fresh = ctx.generatedSecrets ?? [];
  if (!fresh.length || !ctx.kube) return [];
  const releases = levels.flat();
  const out: Recovered[] = [];
  for (const g of fresh) {
    const mine = releases.filter((x) => x.rendered.bundle === g.bundle);
    for (const r of mine) {
      let found = locateValue(r, g.value);
      // Not there as given (hashed, as an htpasswd line): the objects that change with the value hold it.
      if (!found && renderWith && r.target === "cluster") found = await dependentObject(r, await renderWith(g, `${g.value}x`));
      if (!found) continue;
      const live = await liveValue(ctx, found, g);
      if (live === undefined || live.value === g.value) break;
      out.push({ bundle: g.bundle, path: g.path, from: live.from, value: live.value });
      if (!ctx.dryRun) storeAddonSecret(ctx.stateDir, ctx.model.name, g.bundle, g.path, live.value);
      break;
    }
  }
  return out;
}

async function liveValue(ctx: ClusterContext, found: Found, g: GeneratedSecret): Promise<{ value: string; from: string } | undefined> {
  const what = `${g.bundle} value ${g.path}`;
  const lost = `the cluster already uses a ${what} that is not in kubesmith's state (${ctx.stateDir})`;
  if (found.how === "host-line") {
    let text: string | undefined;
    try {
      const r = await (await ctx.runner(found.host)).exec(`cat ${found.file.replace(/[^A-Za-z0-9_./-]/g, "")} 2>/dev/null`, { sudo: true });
      if (r.code === 0) text = r.stdout;
    } catch {
      return undefined;
    }
    if (text === undefined) return undefined;
    const v = valueFromLine(found.line, g.value, text);
    if (v !== undefined) return { value: v, from: `${found.file} on ${found.host}` };
    return undefined;
  }
  const live = await liveObject(ctx, found.obj);
  if (!live) return undefined;
  if (found.how === "secret-key") {
    const d = (live as { data?: Record<string, string> }).data?.[found.key];
    if (d === undefined) return undefined;
    return { value: unb64(d), from: `${ref(found.obj)} (${found.key})` };
  }
  throw new StateError(`${lost}: ${ref(found.obj)} holds it in a form it cannot be read back from`, {
    hint: `give --state-dir (or $KUBESMITH_STATE_DIR) the state of the run that built the cluster, set addons.${g.bundle}.values.${g.path} in the inventory, or delete ${ref(found.obj)} to have a new one made`,
  });
}
