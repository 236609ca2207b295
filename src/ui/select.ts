// Which reporter shows a run's progress: listr2 on a terminal, plain lines off one (or in CI, or with
// --plain), one JSON object per line with --output json. NO_COLOR is honoured, and colour codes never
// appear off a terminal.
import type { Reporter } from "./events.js";
import { JsonReporter, PlainReporter } from "./reporters.js";
import { TtyReporter } from "./tty.js";

export type ReporterKind = "tty" | "plain" | "json";

export interface ReporterChoice {
  /** --output: "json" wins over everything. */
  output?: string;
  /** --plain */
  plain?: boolean;
  /** Whether the progress stream is a terminal. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

const set = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

/** The pure decision. */
export function reporterKind(c: ReporterChoice): ReporterKind {
  if (c.output === "json") return "json";
  if (c.plain || !c.isTTY || set(c.env.CI) || c.env.TERM === "dumb") return "plain";
  return "tty";
}

/** Colour only on a terminal, and never with NO_COLOR set (any value, per no-color.org). */
export function useColor(c: ReporterChoice): boolean {
  const noColor = c.env.NO_COLOR !== undefined && c.env.NO_COLOR !== "";
  return c.isTTY && !noColor && reporterKind(c) === "tty";
}

export interface ChosenReporter {
  kind: ReporterKind;
  reporter: Reporter;
}

/**
 * The reporter for a run. `write` is the plain/json sink (the CLI's stdout); `stream` is the terminal the
 * tty renderer draws on (default process.stdout).
 */
export function chooseReporter(
  c: ReporterChoice & { write: (s: string) => void; stream?: NodeJS.WriteStream },
): ChosenReporter {
  const kind = reporterKind(c);
  if (kind === "json") return { kind, reporter: new JsonReporter(c.write) };
  if (kind === "plain") return { kind, reporter: new PlainReporter(c.write) };
  return { kind, reporter: new TtyReporter({ stream: c.stream ?? process.stdout, color: useColor(c) }) };
}
