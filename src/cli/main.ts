// argv -> command. The one place that turns a typed error into a line on stderr and an exit code.
import { setMaxListeners } from "node:events";
import { Command, CommanderError, Option } from "commander";
import { ExitCode, KubesmithError, UsageError } from "../errors.js";
import { registerCommands } from "../commands/index.js";
import { packageVersion } from "../util/pkg.js";
import { runSecrets } from "../util/secrets.js";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * stdout or stderr closed by its reader (`kubesmith up -o json | head -1`): from then on what would go
 * there is dropped, quietly, and the command itself goes on to its end (lock released, journal and report
 * written). guardPipes installs the one handler for both streams.
 */
const closed = { stdout: false, stderr: false };
let guarded = false;

export function guardPipes(): void {
  if (guarded) return;
  guarded = true;
  // EPIPE is the expected case; any other error on these streams makes them as unusable.
  process.stdout.on("error", () => {
    closed.stdout = true;
  });
  process.stderr.on("error", () => {
    closed.stderr = true;
  });
}

const defaultIo: CliIo = {
  stdout: (s) => {
    if (!closed.stdout && !process.stdout.destroyed) process.stdout.write(s);
  },
  stderr: (s) => {
    if (!closed.stderr && !process.stderr.destroyed) process.stderr.write(s);
  },
};

/**
 * Runs fn with an AbortSignal that SIGINT or SIGTERM aborts: the first signal asks the run to stop (no new
 * step starts, running commands get a grace period, the lock is released, journal and report are written,
 * exit 130); a second one ends the process at once with 130. Outside fn the signals keep their default.
 */
export async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  // Every host's running commands listen on this one signal: a run over more than ten hosts is not a leak.
  setMaxListeners(0, ac.signal);
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(ExitCode.Aborted);
    ac.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(ac.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

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
    // The last word of the run: redacted from its secrets like every log and event.
    for (const line of runSecrets.redact(err.oneLine()).split("\n")) io.stderr(`kubesmith: ${line}\n`);
    // The cause, when there is more of it than fits the line (a failed command's last stderr lines).
    for (const line of err.details()) io.stderr(`kubesmith:   | ${runSecrets.redact(line)}\n`);
    if (err.seeAlso) for (const line of err.seeAlso.split("\n")) io.stderr(`kubesmith: ${line}\n`);
    if (debug && err.stack) io.stderr(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr(`kubesmith: internal error: ${runSecrets.redact(e.message)}${debug ? "" : " (run with --debug for details and report it)"}\n`);
  if (debug && e.stack) io.stderr(`${e.stack}\n`);
  return ExitCode.Internal;
}

export { UsageError };
