// `kubesmith etcd backup | restore`: snapshots of the cluster's stacked etcd. `backup` saves a snapshot
// on a healthy control plane, verifies it and downloads it with its checksum into the cluster's state;
// `restore` puts one back on every control plane by etcd's documented procedure. The definitions; the
// work is in etcd-run.ts, loaded when a command runs.
import { Option, type Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { STATE_DIR_HELP } from "../cluster/state.js";
import { plainOption } from "../ui/output.js";
import type { ClusterFlags } from "./cluster.js";
import { hostCommandOptions } from "./inventory.js";

export interface EtcdFlags extends Omit<ClusterFlags, "waitTimeout"> {
  /** backup: where to write the snapshot (default <state>/<cluster>/backups/etcd-<time>.db). */
  out?: string;
}

function common(cmd: Command): Command {
  return hostCommandOptions(cmd)
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--dry-run", "print what would be done and change nothing")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .addOption(plainOption());
}

export function registerEtcdCommands(program: Command, io: CliIo): void {
  const etcd = program.command("etcd").description("the cluster's etcd: snapshot backups and restore");
  common(etcd.command("backup").description("save an etcd snapshot on a healthy control plane, verify it, download it with a sha256 file into the cluster's state"))
    .addOption(new Option("-o, --out <path>", "where to write the snapshot (default <state>/<cluster>/backups/etcd-<time>.db)"))
    .action(async (f: EtcdFlags) => {
      const { clusterOptions } = await import("./cluster.js");
      const { etcdBackup } = await import("./etcd-run.js");
      await etcdBackup(f, clusterOptions({ ...f, output: "plain", waitTimeout: "5m" }, !!f.dryRun), io);
    });
  common(etcd.command("restore").argument("<snapshot>", "a snapshot file written by 'kubesmith etcd backup' (its .sha256 file beside it)"))
    .description("restore every control plane's etcd from a snapshot: stop the API servers and etcd, restore, start them again; every change after the snapshot is lost")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .action(async (snapshot: string, f: EtcdFlags) => {
      const { clusterOptions } = await import("./cluster.js");
      const { etcdRestore } = await import("./etcd-run.js");
      await etcdRestore(snapshot, f, clusterOptions({ ...f, output: "plain", waitTimeout: "5m" }, !!f.dryRun), io);
    });
}
