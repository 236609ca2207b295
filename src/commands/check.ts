// `kubesmith check`: connect to every host in parallel, gather facts, run preflight checks, print a table.
// The command's definition; the work is in check-run.ts, loaded when the command runs.
import { outputOption, type OutputFormat } from "../ui/output.js";
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { UsageError } from "../errors.js";
import type { HostKeyPolicy } from "../ssh/types.js";
import { hostCommandOptions } from "./inventory.js";
import { STATE_DIR_HELP } from "../cluster/state.js";
import { LIMIT_HELP } from "../cluster/limit.js";
import { defaultConcurrency } from "../ssh/limits.js";

export interface CheckOptions {
  inventory?: string;
  concurrency?: string;
  hostKeyPolicy?: HostKeyPolicy;
  output: OutputFormat;
  stateDir?: string;
  /** --limit: only these hosts (cluster/limit.ts). */
  limit?: string;
}

/** --concurrency; not given: every host at once, up to what open files and memory allow (ssh/limits.ts). */
export function parseConcurrency(v: string | undefined): number {
  if (v === undefined) return defaultConcurrency().hosts;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new UsageError(`--concurrency must be a whole number from 1 to 1024 (got '${v}')`);
  return n;
}

export function registerCheckCommand(program: Command, io: CliIo): void {
  hostCommandOptions(
    program
      .command("check")
      .description("connect to every host, gather facts (OS, CPU, memory, swap, kernel, kubeadm state) and run preflight checks"),
  )
    .addOption(outputOption())
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--limit <hosts>", LIMIT_HELP.replace("the others are not changed", "the others are not contacted"))
    .action(async (opts: CheckOptions) => {
      const { runCheck } = await import("./check-run.js");
      await runCheck(opts, io.stdout, (s) => io.stderr(`${s}\n`));
    });
}
