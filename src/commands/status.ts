// `kubesmith status`: the cluster as it is now, from three sources. The inventory says which hosts and
// roles there should be; SSH says what each host is (facts: kubeadm state, kubelet version) and which
// control plane holds the VIP; the API says which nodes are Ready and how the add-on releases are doing.
// Read-only: nothing is changed and no run directory is written.
// The command's definition; the work is in status-run.ts, loaded when the command runs.
import { formatOutput, outputOption, type OutputFormat } from "../ui/output.js";
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import type { HostKeyPolicy } from "../ssh/types.js";
import { hostCommandOptions } from "./inventory.js";

export type { ClusterStatus, NodeStatus, ReleaseStatus, VipStatus, WorkloadStatus } from "./status-run.js";

export interface StatusOptions {
  inventory?: string;
  concurrency: string;
  hostKeyPolicy?: HostKeyPolicy;
  output: OutputFormat;
  apiTunnel?: boolean;
}

export function registerStatusCommand(program: Command, io: CliIo): void {
  hostCommandOptions(
    program
      .command("status")
      .description("show the cluster now: nodes (kubeadm state, Ready, kubelet version), the VIP holder, add-on releases"),
  )
    .addOption(outputOption())
    .option("--api-tunnel", "reach the Kubernetes API through an SSH tunnel via a control plane")
    .action(async (opts: StatusOptions) => {
      const { gatherStatus, renderStatus } = await import("./status-run.js");
      const s = await gatherStatus(opts);
      io.stdout(await formatOutput(opts.output, s, () => renderStatus(s)));
      // Scripts ask `status` whether there is a working cluster: not when the API does not answer.
      if (!s.api.reachable) {
        const { ApiError } = await import("../errors.js");
        throw new ApiError(`cluster ${s.cluster}: the API at ${s.endpoint} is not reachable: ${s.api.error ?? "unknown"}`, {
          hint: s.nodes.some((n) => n.kubeadm === "control-plane") ? "see the hosts above; 'kubesmith up' repairs what it can" : "the cluster is not built yet: run 'kubesmith up'",
        });
      }
    });
}
