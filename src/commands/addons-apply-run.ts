// `kubesmith addons diff | apply | remove`, the work: each opens the cluster context like `up` does
// (inventory, SSH, facts, API connection) and runs the add-on engine on the selected bundles.
import type { CliIo } from "../cli/main.js";
import { diffRelease, formatDiff } from "../addons/diff.js";
import { applyHostRelease, removeHostRelease } from "../addons/hostapply.js";
import { loadAddonReleases, type AddonSelection, type RenderedRelease } from "../addons/releases.js";
import { removeRendered } from "../addons/remove.js";
import { ApiError, DifferencesFound, UsageError } from "../errors.js";
import { connectApi } from "../phases/api.js";
import { addonsPhase, API_HOST, hostTargets } from "../phases/addons.js";
import type { ClusterContext, ClusterOptions } from "../phases/context.js";
import { gatherFacts } from "../phases/hosts.js";
import { change, gateOf, type Phase } from "../phases/run.js";
import type { Flags } from "./addons-apply.js";
import { clusterOptions } from "./cluster.js";
import { runCluster } from "./cluster-run.js";

function selection(bundles: string[], f: Flags): AddonSelection {
  return {
    ...(bundles.length ? { only: bundles } : {}),
    ...(f.addonsDir ? { addonsDir: f.addonsDir } : {}),
    ...(f.release ? { release: f.release } : {}),
  };
}

/** A phase that renders the selection and hands the releases to `fn`. */
function releasesPhase(title: string, sel: AddonSelection, fn: (ctx: ClusterContext, releases: RenderedRelease[]) => Promise<void>): Phase<ClusterContext> {
  let releases: RenderedRelease[] = [];
  return {
    title,
    async prepare(ctx) {
      releases = (await loadAddonReleases(ctx, sel)).flat();
      if (sel.only?.length && !releases.length) throw new UsageError(`no enabled release matches ${sel.only.join(", ")} (see 'kubesmith addons list')`);
    },
    shouldRun: () => releases.length > 0 || "no add-on bundle is enabled",
    run: (ctx) => fn(ctx, releases),
  };
}

/** `addons diff`. */
export async function addonsDiff(bundles: string[], f: Flags, io: CliIo): Promise<void> {
  const sel = selection(bundles, f);
  const diff = releasesPhase("add-ons: diff", sel, async (ctx, releases) => {
    for (const r of releases) {
      if (r.target === "cluster") {
        if (!ctx.kube) {
          io.stdout(`${r.rendered.release.name}: the cluster does not exist yet; every object would be created\n`);
          await change(ctx, API_HOST, `${r.rendered.release.name}: create every object (the cluster does not exist yet)`, async () => {});
          continue;
        }
        const d = await diffRelease(ctx.kube, r.rendered);
        io.stdout(formatDiff(d));
        // Each difference is a change this dry run records (so the run's count and the JSON events agree).
        for (const id of d.create) await change(ctx, API_HOST, `${d.release}: create ${id}`, async () => {});
        for (const u of d.update) await change(ctx, API_HOST, `${d.release}: update ${u.id}`, async () => {});
        for (const id of d.prune) await change(ctx, API_HOST, `${d.release}: delete ${id}`, async () => {});
      } else {
        // Host releases: the dry run of apply lists each change per host.
        const before = ctx.changes.length;
        await applyHostRelease(ctx, r.rendered, await hostTargets(ctx, Object.keys(r.rendered.files)));
        const mine = ctx.changes.slice(before);
        io.stdout(mine.length ? `${r.rendered.release.name}:\n${mine.map((c) => `  ~ ${c.host}: ${c.what}\n`).join("")}` : `${r.rendered.release.name}: no changes\n`);
      }
    }
  });
  const ctx = await runCluster("addons diff", [gatherFacts, connectApi, diff], clusterOptions(f, true), io, f.output, undefined, !!f.plain);
  // As kubectl diff: exit 1 when applying would change something.
  if (ctx.changes.length) throw new DifferencesFound(`${ctx.changes.length} difference(s) between the cluster and the render`, { hint: "'kubesmith addons apply' applies them" });
}

/** `addons apply`. */
export async function addonsApply(bundles: string[], f: Flags, opts: ClusterOptions, io: CliIo): Promise<void> {
  const ctx = await runCluster("addons apply", [gatherFacts, connectApi, addonsPhase(selection(bundles, f))], opts, io, f.output, undefined, !!f.plain);
  if (f.output === "plain") {
    io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s)${opts.dryRun ? " planned; nothing was changed" : ""}.\n` : "\nNothing to do: every release matches its render.\n");
  }
}

/** Enabled bundles that depend on one being removed (and are not removed with it): one warning each. */
export async function dependentsWarnings(ctx: Pick<ClusterContext, "model">, removing: string[], addonsDir?: string): Promise<string[]> {
  const { loadCatalog } = await import("../addons/catalog.js");
  const { isEnabled } = await import("../addons/context.js");
  const catalog = await loadCatalog(addonsDir ? { addonsDir } : {});
  const gone = new Set(removing);
  const out: string[] = [];
  for (const b of catalog.values()) {
    const name = b.manifest.name;
    if (gone.has(name) || !isEnabled(b, ctx.model.inventory)) continue;
    for (const d of b.manifest.dependsOn ?? []) {
      if (gone.has(d)) out.push(`${name} depends on ${d}, which this removes: ${name} will not work until ${d} is applied again (or remove ${name} too)`);
    }
  }
  return out;
}

/** `addons remove` (asked for confirmation already). */
export async function addonsRemove(bundles: string[], f: Flags, opts: ClusterOptions, io: CliIo): Promise<void> {
  const remove = releasesPhase("add-ons: remove", { ...selection(bundles, f), includeDisabled: true }, async (ctx, releases) => {
    for (const w of await dependentsWarnings(ctx, releases.map((r) => r.rendered.bundle), f.addonsDir)) ctx.reporter.emit({ kind: "warning", message: w });
    for (const r of releases) {
      if (r.target === "cluster") {
        if (!ctx.kube) {
          // Only a dry run gets here: a real run has connected to the API (or failed) in 'connect to the Kubernetes API'.
          await change(ctx, API_HOST, `${r.rendered.release.name}: remove (the cluster does not exist)`, async () => {
            throw new ApiError(`cannot remove ${r.rendered.release.name}: no connection to the Kubernetes API`);
          });
          continue;
        }
        await removeRendered(ctx.kube, r.rendered, { gate: gateOf(ctx, API_HOST) });
      } else {
        await removeHostRelease(ctx, r.rendered.release.name, await hostTargets(ctx, Object.keys(r.rendered.files)));
      }
    }
  });
  await runCluster("addons remove", [gatherFacts, connectApi, remove], opts, io, f.output, undefined, !!f.plain);
}
