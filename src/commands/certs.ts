// `kubesmith certs check | renew`: the control planes' kubeadm certificates. `check` reads every control
// plane's `kubeadm certs check-expiration` (read-only); `renew` runs `kubeadm certs renew all` on one
// control plane at a time, restarts its static pods, waits for its API server, and refreshes the kept
// admin kubeconfig. The definitions; the work is in certs-run.ts, loaded when a command runs.
import { Option, type Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { STATE_DIR_HELP } from "../cluster/state.js";
import { outputOption, plainOption, type OutputFormat } from "../ui/output.js";
import type { ClusterFlags } from "./cluster.js";
import { hostCommandOptions } from "./inventory.js";

export interface CertsCheckOptions {
  inventory?: string;
  concurrency: string;
  hostKeyPolicy?: "strict" | "accept-new" | "off";
  output: OutputFormat;
}

export type CertsRenewFlags = Omit<ClusterFlags, "waitTimeout">;

export function registerCertsCommands(program: Command, io: CliIo): void {
  const certs = program.command("certs").description("the control planes' kubeadm certificates: check expiry, renew");
  hostCommandOptions(certs.command("check").description("every control plane's certificate expiry (kubeadm certs check-expiration), soonest first; warns under 30 days, exits 17 when one has expired"))
    .addOption(outputOption())
    .action(async (opts: CertsCheckOptions) => {
      const { certsCheck } = await import("./certs-run.js");
      await certsCheck(opts, io);
    });
  hostCommandOptions(certs.command("renew").description("kubeadm certs renew all on each control plane in turn, restart its static pods, wait for its API server, refresh the kept kubeconfig"))
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--dry-run", "print what would be done and change nothing")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--force-unlock", "take over a cluster lock held by another run (only when that run is dead)")
    .addOption(new Option("-o, --output <format>", "progress output").choices(["plain", "json"]).default("plain"))
    .addOption(plainOption())
    .action(async (f: CertsRenewFlags) => {
      const { clusterOptions, whichCluster } = await import("./cluster.js");
      const opts = clusterOptions({ ...f, waitTimeout: "5m" }, !!f.dryRun);
      if (!opts.dryRun) {
        const { confirm } = await import("../ui/confirm.js");
        await confirm(`Renew the certificates of ${await whichCluster(opts.inventory)}, restarting each control plane's kube-apiserver, controller-manager, scheduler and etcd in turn?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
      }
      const { certsRenew } = await import("./certs-run.js");
      await certsRenew(f, opts, io);
    });
}
