// `kubesmith addons list|render`, the work: flags -> inventory + catalog -> values -> render -> print.
import { formatOutput } from "../ui/output.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { generatedValues, getPath, setPath } from "../addons/generated.js";
import { readClusterSecrets } from "../cluster/secrets.js";
import { stateDirFor } from "../cluster/state.js";
import { packageRoot } from "../util/pkg.js";
import type { CliIo } from "../cli/main.js";
import { readCatalog } from "../addons/catalog.js";
import { checkAddonNames, defaultRelease, isEnabled, renderContextFor } from "../addons/context.js";
import { objectsToYaml, renderCluster, renderHosts } from "../addons/render.js";
import type { Bundle, Release } from "../addons/types.js";
import { deepMerge, parseSetArgs, resolveValues } from "../addons/values.js";
import { UsageError } from "../errors.js";
import { type LoadedInventory, loadInventory } from "../inventory/load.js";
import { table } from "../ui/table.js";
import type { AddonsCommonOptions, RenderCommandOptions } from "./addons.js";
import { DEFAULT_INVENTORY, resolveInventoryPath } from "./inventory.js";

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

/** What `addons render NAME` prints. Values are checked before anything is rendered. */
export function renderBundleText(bundle: Bundle, loaded: LoadedInventory, opts: RenderCommandOptions, where: string): string {
  const name = bundle.manifest.name;
  const fromInventory = loaded.inventory.addons?.[name]?.values ?? {};
  const sets = parseSetArgs(opts.set);
  const given = deepMerge(fromInventory, sets) as Record<string, unknown>;
  // Values `up` generates (passwords): the stored ones with --show-secrets, else placeholders of the right length.
  const notes: string[] = [];
  const stored = opts.showSecrets ? readClusterSecrets(stateDirFor(undefined, loaded.file), loaded.inventory.cluster.name)?.addons?.[name] : undefined;
  for (const g of generatedValues(bundle)) {
    if (getPath(given, g.path) !== undefined || getPath(bundle.defaults, g.path) !== undefined) continue;
    const keep = stored?.[g.path];
    setPath(given, g.path, keep ?? placeholder(g.length));
    notes.push(`# ${g.path}: ${keep ? "the value kept in the cluster's state" : "a placeholder ('kubesmith up' generates it)"}`);
  }
  const values = resolveValues(bundle, given, opts.set.length ? `${where} (with --set)` : where);
  const head = notes.length ? `${notes.join("\n")}\n` : "";
  return head + renderBody(bundle, loaded, opts, values);
}

/** A stand-in for a generated value: letters only (every pattern our bundles allow), at most `length`. */
export function placeholder(length: number): string {
  return "GENERATED".repeat(Math.ceil(length / 9)).slice(0, Math.min(length, 16));
}

function renderBody(bundle: Bundle, loaded: LoadedInventory, opts: RenderCommandOptions, values: Record<string, unknown>): string {
  const name = bundle.manifest.name;
  const over: Partial<Release> = {};
  if (opts.release !== undefined) over.name = opts.release;
  if (opts.namespace !== undefined) over.namespace = opts.namespace;
  const ctx = renderContextFor(loaded.inventory, bundle, values, defaultRelease(bundle, over));
  if (bundle.manifest.target === "cluster") {
    const r = renderCluster(bundle, ctx);
    return objectsToYaml(r.objects);
  }
  const r = renderHosts(bundle, ctx);
  const hosts = Object.keys(r.files);
  if (!hosts.length) return `# add-on ${name}: no host has the role ${bundle.manifest.hosts?.role ?? "(any)"}\n`;
  const parts: string[] = [];
  for (const host of hosts) {
    for (const f of r.files[host] ?? []) {
      const head = `# host ${host}: ${f.path} (mode ${octal(f.mode)}${f.secret ? ", secret" : ""})`;
      const body = f.secret && !opts.showSecrets ? `# (${Buffer.byteLength(f.content)} bytes, not shown; --show-secrets to print)\n` : f.content.endsWith("\n") ? f.content : `${f.content}\n`;
      parts.push(`${head}\n${body}`);
    }
  }
  const extras: string[] = [];
  if (r.packages.apt.length || r.packages.dnf.length) extras.push(`# packages: apt ${r.packages.apt.join(" ") || "-"}; dnf ${r.packages.dnf.join(" ") || "-"}`);
  if (r.services.length) extras.push(`# services: ${r.services.join(" ")}`);
  return parts.join("---\n") + (extras.length ? `---\n${extras.join("\n")}\n` : "");
}

/** The inventory for `list`: the one asked for, else ./inventory.yaml when it exists, else none. */
async function optionalInventory(opt: string | undefined): Promise<{ loaded: LoadedInventory; file: string } | undefined> {
  const file = resolveInventoryPath(opt);
  if (!opt && !process.env.KUBESMITH_INVENTORY && !existsSync(DEFAULT_INVENTORY)) return undefined;
  return { loaded: await loadInventory(file), file };
}

/** `addons list`: every bundle, and whether the inventory (when there is one) enables it. */
export async function listAddons(opts: AddonsCommonOptions, io: CliIo): Promise<void> {
  const cat = await readCatalog(opts.addonsDir !== undefined ? { addonsDir: opts.addonsDir } : {});
  for (const w of cat.warnings) io.stderr(`warning: ${w}\n`);
  const inv = await optionalInventory(opts.inventory);
  if (inv) checkAddonNames(cat.bundles, inv.loaded.inventory, inv.file);
  const rows = [...cat.bundles.values()].map((b) => [
    b.manifest.name,
    b.manifest.version,
    b.manifest.target,
    inv ? (isEnabled(b, inv.loaded.inventory) ? "yes" : "no") : b.manifest.enabledByDefault ? "yes (default)" : "no (default)",
    cat.user.has(b.manifest.name) ? "yours" : "built-in",
    b.manifest.description,
  ]);
  const data = [...cat.bundles.values()].map((b) => ({
    name: b.manifest.name,
    version: b.manifest.version,
    target: b.manifest.target,
    enabled: inv ? isEnabled(b, inv.loaded.inventory) : b.manifest.enabledByDefault === true,
    ...(inv ? {} : { enabledIsDefault: true }),
    source: cat.user.has(b.manifest.name) ? "yours" : "built-in",
    dependsOn: b.manifest.dependsOn ?? [],
    description: b.manifest.description,
  }));
  io.stdout(
    await formatOutput(opts.output ?? "table", data, () =>
      table(["NAME", "VERSION", "TARGET", "ENABLED", "SOURCE", "DESCRIPTION"], rows) + (inv ? "" : `(no inventory: ENABLED shows each bundle's default; pass -i FILE)\n`),
    ),
  );
}

/** `addons render NAME`. */
export async function renderAddon(name: string, opts: RenderCommandOptions, io: CliIo): Promise<void> {
  const cat = await readCatalog(opts.addonsDir !== undefined ? { addonsDir: opts.addonsDir } : {});
  for (const w of cat.warnings) io.stderr(`warning: ${w}\n`);
  const bundle = cat.bundles.get(name);
  if (!bundle) throw new UsageError(`no add-on bundle named ${name}`, { hint: `known: ${[...cat.bundles.keys()].join(", ") || "none"}` });
  // No inventory given or found: render against the example inventory that ships with kubesmith.
  const mine = await optionalInventory(opts.inventory);
  const file = mine?.file ?? join(packageRoot(), "inventories", "example.yaml");
  const loaded = mine?.loaded ?? (await loadInventory(file));
  if (!mine) io.stdout(`# rendered against ${file} (no -i given and no ./${DEFAULT_INVENTORY})\n`);
  io.stdout(renderBundleText(bundle, loaded, opts, file));
}
