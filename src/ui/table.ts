// Plain text tables for terminal and log output. No colour codes: callers decide on styling.

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

export function mib(n: number): string {
  return n >= 1024 ? `${(n / 1024).toFixed(1)}Gi` : `${n}Mi`;
}
