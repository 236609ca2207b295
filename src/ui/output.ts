// One -o vocabulary for every command that reads and prints (status, check, logs, secrets, addons list,
// lab status, version): `table` (the default, for people), `json` and `yaml` (for scripts; the same data).
import { Option } from "commander";

export type OutputFormat = "table" | "json" | "yaml";

export function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table");
}

/**
 * --plain, the same on every command that can draw a live view or colour (up, plan, down, rebuild, addons
 * diff|apply|remove, init): plain lines instead (ui/select.ts decides; also off a terminal, under CI, with
 * TERM=dumb, and no colour with NO_COLOR).
 */
export const PLAIN_HELP = "plain line output: no spinners or colour (also when not a terminal or CI is set)";

export function plainOption(): Option {
  return new Option("--plain", PLAIN_HELP);
}

/** The data as JSON or YAML, or `table()` for people. yaml is loaded only when asked for. */
export async function formatOutput(format: OutputFormat, data: unknown, table: () => string): Promise<string> {
  if (format === "json") return `${JSON.stringify(data, null, 2)}\n`;
  if (format === "yaml") {
    const { stringify } = await import("yaml");
    return stringify(data);
  }
  return table();
}
