// Plain text tables for terminal and log output. No colour codes: callers decide on styling.

/**
 * Columns padded to their widest cell, two blanks apart. With `maxWidth` (a terminal's columns) the widest
 * columns are narrowed, their cells cut with "…", until every line fits (no column below 8 characters).
 */
export function table(headers: string[], rows: string[][], maxWidth?: number): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  if (maxWidth !== undefined && maxWidth > 0) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    for (;;) {
      if (total() <= maxWidth) break;
      const widest = widths.indexOf(Math.max(...widths));
      if (widths[widest]! <= 8) break;
      widths[widest] = Math.max(8, widths[widest]! - (total() - maxWidth));
    }
  }
  const cut = (c: string, i: number) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? cut(c, i) : cut(c, i).padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

export function mib(n: number): string {
  return n >= 1024 ? `${(n / 1024).toFixed(1)}Gi` : `${n}Mi`;
}
