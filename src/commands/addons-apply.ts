// `kubesmith addons diff | apply | remove`: the apply half of the add-on commands, added to the `addons`
// group (src/commands/addons.ts). Each opens the cluster context like `up` does (inventory, SSH, facts,
// API connection) and runs the add-on engine on the selected bundles.
import { Option, type Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { diffRelease, formatDiff } from "../addons/diff.js";
import { applyHostRelease, removeHostRelease } from "../addons/hostapply.js";
import { loadAddonReleases, type AddonSelection, type RenderedRelease } from "../addons/releases.js";
import { removeRendered } from "../addons/remove.js";
import { UsageError } from "../errors.js";
import { connectApi } from "../phases/api.js";
import { addonsPhase, API_HOST, hostTargets } from "../phases/addons.js";
import type { ClusterContext } from "../phases/context.js";
import { gatherFacts } from "../phases/hosts.js";
import { change, type Phase } from "../phases/run.js";
import { confirm } from "../ui/confirm.js";
import { clusterOptions, runCluster, type ClusterFlags } from "./cluster.js";
import { hostCommandOptions } from "./inventory.js";

interface Flags extends ClusterFlags {
  addonsDir?: string;
  release?: string;
}

function selection(bundles: string[], f: Flags): AddonSelection {
  return {
    ...(bundles.length ? { only: bundles } : {}),
    ...(f.addonsDir ? { addonsDir: f.addonsDir } : {}),
    ...(f.release ? { release: f.release } : {}),
  };
}

function common(cmd: Command): Command {
  return hostCommandOptions(cmd)
    .option("--addons-dir <dir>", "a directory of your own bundles, used like the built-in ones")
    .option("--state-dir <dir>", "run journals, logs and cluster secrets", ".kubesmith")
    .addOption(new Option("-o, --output <format>", "progress output").choices(["plain", "json"]).default("plain"))
    .option("--wait-timeout <duration>", "how long to wait for a release to roll out", "5m")
    .option("--api-tunnel", "reach the Kubernetes API through an SSH tunnel via the first control plane");
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

export function registerAddonsApplyCommands(addonsGroup: Command, io: CliIo): void {
  common(addonsGroup.command("diff").argument("[bundles...]", "bundles to compare (default: every enabled one)"))
    .description("show what 'addons apply' would change: + create, ~ update (with the fields), - prune; changes nothing")
    .option("--release <name>", "only this release")
    .action(async (bundles: string[], f: Flags) => {
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
    });

  common(addonsGroup.command("apply").argument("[bundles...]", "bundles to apply (default: every enabled one)"))
    .description("apply the enabled bundles (or the ones named): server-side apply, wait, prune; roll back a failed rollout")
    .option("--release <name>", "only this release")
    .option("--dry-run", "print what would change and change nothing")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .action(async (bundles: string[], f: Flags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      const ctx = await runCluster("addons apply", [gatherFacts, connectApi, addonsPhase(selection(bundles, f))], opts, io, f.output);
      if (f.output === "plain") {
        io.stdout(ctx.changes.length ? `\n${ctx.changes.length} change(s)${opts.dryRun ? " planned; nothing was changed" : ""}.\n` : "\nNothing to do: every release matches its render.\n");
      }
    });

  common(addonsGroup.command("remove").argument("<bundles...>", "bundles whose releases to remove"))
    .description("delete every object of the bundles' releases (found by their labels) and their history; host bundles: their files")
    .option("--release <name>", "only this release")
    .option("--dry-run", "print what would be deleted and delete nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .action(async (bundles: string[], f: Flags) => {
      const opts = clusterOptions(f, !!f.dryRun);
      if (!opts.dryRun) await confirm(`Remove ${bundles.join(", ")}${f.release ? ` (release ${f.release})` : ""} and everything it created?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      const remove = releasesPhase("add-ons: remove", { ...selection(bundles, f), includeDisabled: true }, async (ctx, releases) => {
        for (const r of releases) {
          if (r.target === "cluster") {
            if (!ctx.kube) {
              await change(ctx, API_HOST, `${r.rendered.release.name}: remove (the cluster does not exist)`, async () => {});
              continue;
            }
            await removeRendered(ctx.kube, r.rendered, { dryRun: ctx.dryRun, onChange: (w) => change(ctx, API_HOST, w, async () => {}) });
          } else {
            await removeHostRelease(ctx, r.rendered.release.name, await hostTargets(ctx, Object.keys(r.rendered.files)));
          }
        }
      });
      await runCluster("addons remove", [gatherFacts, connectApi, remove], opts, io, f.output);
    });
}
