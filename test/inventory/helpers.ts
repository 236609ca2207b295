import { expect } from "vitest";
import { InventoryError, type InventoryIssue } from "../../src/errors.js";
import { type LoadedInventory, parseInventory } from "../../src/inventory/index.js";

export const FILE = "inv.yaml";

/** Strips the common indentation of a template literal, so YAML can be written indented in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ""), "");
  const lines = raw.replace(/^\n/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

/** 1-based line and column of the n-th (0-based) occurrence of `needle` in `text`. */
export function at(text: string, needle: string, nth = 0): { line: number; column: number } {
  let idx = -1;
  for (let i = 0; i <= nth; i++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`'${needle}' (#${nth}) not in test text`);
  }
  const before = text.slice(0, idx).split("\n");
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

export function load(text: string, env: NodeJS.ProcessEnv = {}): LoadedInventory {
  return parseInventory(text, FILE, env);
}

export function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): InventoryIssue[] {
  try {
    parseInventory(text, FILE, env);
  } catch (err) {
    if (err instanceof InventoryError) return err.issues;
    throw err;
  }
  throw new Error("expected an InventoryError, but the inventory was accepted");
}

/** Asserts exactly one issue with this path and returns it. */
export function onlyIssue(issues: InventoryIssue[], path: string): InventoryIssue {
  const found = issues.filter((i) => i.path === path);
  expect(found, `issues: ${JSON.stringify(issues, null, 1)}`).toHaveLength(1);
  return found[0]!;
}

/** A valid single-control-plane cluster; `extra` lines are appended under cluster:, hosts are given. */
export function inventory(opts: { cluster?: string; hosts?: string; top?: string } = {}): string {
  const cluster = opts.cluster ?? "";
  const hosts =
    opts.hosts ??
    [
      "  - { name: cp1, address: 192.168.1.10, roles: [control-plane] }",
      "  - { name: w1, address: 192.168.1.20, roles: [worker] }",
    ].join("\n");
  return [
    "cluster:",
    "  name: test",
    '  kubernetesVersion: "1.36"',
    ...(cluster ? [cluster] : []),
    "hosts:",
    hosts,
    ...(opts.top ? [opts.top] : []),
    "",
  ].join("\n");
}
