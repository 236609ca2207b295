// Connection settings given on the command line (--connect-timeout, --retry-budget), set by
// hostCommandOptions() before a host command runs and applied by targetsFromInventory() over the
// inventory's values. A module of its own without imports: every command's definition loads it.

export interface ConnectOverrides {
  connectTimeoutMs?: number;
  retryBudgetMs?: number;
}

let current: ConnectOverrides = {};

export function setConnectOverrides(o: ConnectOverrides): void {
  current = { ...o };
}

export function connectOverrides(): ConnectOverrides {
  return current;
}

/** A number of seconds ("10", "2.5") or a duration ("10s", "500ms", "1m") as milliseconds; undefined if neither. */
export function parseSeconds(s: string): number | undefined {
  const text = s.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (unit[m[2] as string] as number);
  return Math.round(total);
}
