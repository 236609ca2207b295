// `kubesmith addons diff | apply | remove`, the work: each opens the cluster context like `up` does
// (inventory, SSH, facts, API connection) and runs the add-on engine on the selected bundles.
import type { CliIo } from "../cli/main.js";
import { diffRelease, formatDiff } from "../addons/diff.js";
import { applyHostRelease, removeHostRelease } from "../addons/hostapply.js";
import { loadAddonReleases, type AddonSelection, type RenderedRelease } from "../addons/releases.js";
import { removeRendered } from "../addons/remove.js";
import { ApiError, UsageError } from "../errors.js";
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
          continue;
        }
        io.stdout(formatDiff(await diffRelease(ctx.kube, r.rendered)));
      } else {
        // Host releases: the dry run of apply lists each change per host.
        const before = ctx.changes.length;
        await applyHostRelease(ctx, r.rendered, await hostTargets(ctx, Object.keys(r.rendered.files)));
        const mine = ctx.changes.slice(before);
        io.stdout(mine.length ? `${r.rendered.release.name}:\n${mine.map((c) => `  ~ ${c.host}: ${c.what}\n`).join("")}` : `${r.rendered.release.name}: no changes\n`);
      }
    }
  });
  await runCluster("addons diff", [gatherFacts, connectApi, diff], clusterOptions(f, true), io, f.output);
}

/** `addons apply`. */
export async function addonsApply(bundles: string[], f: Flags, opts: ClusterOptions, io: CliIo): Promise<void> {
  const ctx = await runCluster("addons apply", [gatherFacts, connectApi, addonsPhase(selection(bundles, f))], opts, io, f.output);
  if (f.output === "plain") {
    io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s)${opts.dryRun ? " planned; nothing was changed" : ""}.\n` : "\nNothing to do: every release matches its render.\n");
  }
}

/** `addons remove` (asked for confirmation already). */
export async function addonsRemove(bundles: string[], f: Flags, opts: ClusterOptions, io: CliIo): Promise<void> {
  const remove = releasesPhase("add-ons: remove", { ...selection(bundles, f), includeDisabled: true }, async (ctx, releases) => {
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
  await runCluster("addons remove", [gatherFacts, connectApi, remove], opts, io, f.output);
}
