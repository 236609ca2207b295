// `kubesmith logs`: the runs recorded for a cluster, and a run's per-host command logs.
// Runs live in <state>/<cluster>/runs/<stamp>-<command>/ with events.jsonl and hosts/<host>.log.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { outputOption } from "../ui/output.js";
import { STATE_DIR_HELP } from "../cluster/state.js";
import type { LogsOptions } from "./logs-run.js";

export function registerLogsCommand(program: Command, io: CliIo): void {
  program
    .command("logs")
    .description("list the recorded runs of the cluster, or show one run's per-host command logs")
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .option("--host <host>", "only this host's log")
    .option("--run <id>", "a run id (or a unique prefix of one), or 'latest'; default: latest when --host is given")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .addOption(outputOption())
    .action(async (opts: LogsOptions) => {
      // the run report's modules load only for this command (issue 12: startup of the others)
      const { runLogs } = await import("./logs-run.js");
      await runLogs(opts, io);
    });
}
