// argv -> command. The one place that turns a typed error into a line on stderr and an exit code.
import { Command, CommanderError, Option } from "commander";
import { ExitCode, KubesmithError, UsageError } from "../errors.js";
import { registerCommands } from "../commands/index.js";
import { packageVersion } from "../util/pkg.js";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command("kubesmith");
  program
    .description("Turn a handful of Linux machines into a working Kubernetes cluster, over SSH, from one inventory file.")
    .version(packageVersion(), "-V, --version", "print the kubesmith version")
    .addOption(new Option("--debug", "show stack traces and debug detail for errors").default(false))
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .exitOverride();
  registerCommands(program, io);
  // Subcommands inherit the output/exit handling so every parse error comes back to us.
  const propagate = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} }).exitOverride();
      sub.showSuggestionAfterError(true);
      propagate(sub);
    }
  };
  propagate(program);
  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.Ok;
  } catch (err) {
    return report(err, io, debug);
  }
}

export function report(err: unknown, io: CliIo, debug: boolean): number {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0.
    if (err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version") {
      return ExitCode.Ok;
    }
    const msg = err.message.replace(/^error:\s*/i, "").replace(/\s*\n\s*/g, " ").trim();
    io.stderr(`kubesmith: ${msg} (see 'kubesmith --help')\n`);
    return ExitCode.Usage;
  }
  if (err instanceof KubesmithError) {
    for (const line of err.oneLine().split("\n")) io.stderr(`kubesmith: ${line}\n`);
    if (debug && err.stack) io.stderr(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr(`kubesmith: internal error: ${e.message}${debug ? "" : " (run with --debug for details and report it)"}\n`);
  if (debug && e.stack) io.stderr(`${e.stack}\n`);
  return ExitCode.Internal;
}

export { UsageError };
