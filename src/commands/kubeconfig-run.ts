// `kubesmith kubeconfig`, the work (see kubeconfig.ts).
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { kubeconfigFile, oldKubeconfigNote, stateDirFor } from "../cluster/state.js";
import type { CliIo } from "../cli/main.js";
import { buildModel } from "../cluster/model.js";
import { loadInventory } from "../inventory/load.js";
import { kubeconfigTarget, mergeKubeconfig, namedKubeconfig } from "../phases/api.js";
import { SshPool } from "../ssh/pool.js";
import { targetsFromInventory } from "../ssh/targets.js";
import type { HostKeyPolicy } from "../ssh/types.js";
import { resolveInventoryPath } from "./inventory.js";
import type { KubeconfigOptions } from "./kubeconfig.js";

/** /etc/kubernetes/admin.conf from the inventory's first control plane, over SSH. */
export async function fetchAdminConf(inventoryPath: string, hostKeyPolicy?: HostKeyPolicy): Promise<{ cluster: string; text: string; host: string }> {
  const loaded = await loadInventory(inventoryPath);
  const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file), inventoryFile: loaded.file, ...(hostKeyPolicy ? { hostKeyPolicy } : {}) });
  const model = buildModel(loaded, targets);
  const pool = new SshPool({ concurrency: 1 });
  try {
    const runner = await pool.connect(model.first.target);
    const text = (await runner.download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
    return { cluster: model.name, text, host: model.first.name };
  } finally {
    await pool.closeAll();
  }
}

export async function runKubeconfig(opts: KubeconfigOptions, io: CliIo): Promise<void> {
  const inv = resolveInventoryPath(opts.inventory);
  const loaded = await loadInventory(inv);
  const cluster = loaded.inventory.cluster.name;
  const local = kubeconfigFile(stateDirFor(opts.stateDir, loaded.file), cluster);
  const old = oldKubeconfigNote(cluster, local);
  if (old) io.stderr(`kubesmith: ${old}\n`);
  const text = !opts.fetch && existsSync(local) ? readFileSync(local, "utf8") : namedKubeconfig((await fetchAdminConf(inv, opts.hostKeyPolicy)).text, cluster);
  if (!opts.merge) {
    io.stdout(text.endsWith("\n") ? text : `${text}\n`);
    return;
  }
  const target = kubeconfigTarget(opts.kubeconfig ?? opts.into);
  mergeKubeconfig(text, cluster, target);
  io.stdout(`merged context ${cluster} into ${target} (kubectl --context ${cluster} get nodes)\n`);
}

