// One -o vocabulary for every command that reads and prints (status, check, logs, secrets, addons list,
// lab status, version): `table` (the default, for people), `json` and `yaml` (for scripts; the same data).
import { Option } from "commander";

export type OutputFormat = "table" | "json" | "yaml";

export function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table");
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
