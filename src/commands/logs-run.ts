// `kubesmith logs` at run time (logs.ts defines the command): the runs recorded for a cluster, and a run's per-host command logs.
// Runs live in <state>/<cluster>/runs/<stamp>-<command>/ with events.jsonl and hosts/<host>.log.
import { formatOutput, type OutputFormat } from "../ui/output.js";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { UsageError } from "../errors.js";
import { table } from "../ui/table.js";
import { resolveInventoryPath } from "./inventory.js";
import { stateDirFor } from "../cluster/state.js";
import { fmtMs } from "../report/html.js";
import { parseEvents } from "../report/timeline.js";

export interface RunInfo {
  id: string;
  dir: string;
  command: string;
  startedAt: string;
  /** ok / failed / interrupted / unfinished (no run-end), or "-" for runs without a journal (check). */
  result: string;
  durationMs?: number;
  hosts: string[];
  report?: string;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)-(.+)$/;

export function runsDir(stateDir: string, cluster: string): string {
  return join(stateDir, cluster, "runs");
}

/** Every run of a cluster, oldest first. */
export function listRuns(stateDir: string, cluster: string): RunInfo[] {
  const dir = runsDir(stateDir, cluster);
  if (!existsSync(dir)) return [];
  const out: RunInfo[] = [];
  for (const id of readdirSync(dir).sort()) {
    const m = STAMP.exec(id);
    const runDir = join(dir, id);
    if (!m || !statSync(runDir).isDirectory()) continue;
    const [, stamp, command] = m as unknown as [string, string, string];
    const startedAt = stamp.replace(/T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z/, "T$1:$2:$3.$4Z");
    const hostsDir = join(runDir, "hosts");
    const hosts = existsSync(hostsDir) ? readdirSync(hostsDir).filter((f) => f.endsWith(".log")).map((f) => f.slice(0, -4)).sort() : [];
    const info: RunInfo = { id, dir: runDir, command, startedAt, result: "-", hosts };
    const journal = join(runDir, "events.jsonl");
    if (existsSync(journal)) {
      const ends = parseEvents(readFileSync(journal, "utf8")).filter((e) => e.kind === "run-end");
      if (!ends.length) info.result = "unfinished";
      else {
        info.result = ends.some((e) => e.kind === "run-end" && e.result === "interrupted")
          ? "interrupted"
          : ends.every((e) => e.kind === "run-end" && e.ok)
            ? "ok"
            : "failed";
        info.durationMs = ends.reduce((a, e) => a + (e.kind === "run-end" ? e.durationMs : 0), 0);
      }
    }
    if (existsSync(join(runDir, "report.html"))) info.report = join(runDir, "report.html");
    out.push(info);
  }
  return out;
}

/** A run by id, unique prefix, or "latest". */
export function findRun(runs: RunInfo[], want: string, cluster: string): RunInfo {
  if (!runs.length) throw new UsageError(`no runs recorded for cluster ${cluster}`, { hint: "runs are recorded by up, down, rebuild, remove-node, plan and check" });
  if (want === "latest") return runs.at(-1)!;
  const exact = runs.find((r) => r.id === want);
  if (exact) return exact;
  const matches = runs.filter((r) => r.id.startsWith(want));
  if (matches.length === 1) return matches[0]!;
  const recent = runs.slice(-5).map((r) => r.id).join(", ");
  if (matches.length > 1) throw new UsageError(`run '${want}' matches ${matches.length} runs of cluster ${cluster}`, { hint: `give more of the id; the latest are ${recent}` });
  throw new UsageError(`no run '${want}' for cluster ${cluster}`, { hint: `the latest are ${recent} (or use --run latest; 'kubesmith logs' lists them all)` });
}

export interface LogsOptions {
  inventory?: string;
  host?: string;
  run?: string;
  stateDir?: string;
  output?: OutputFormat;
}

export async function runLogs(opts: LogsOptions, io: CliIo): Promise<void> {
  // Loaded here, not at the top: the inventory loader (zod, yaml) is not needed to define the command.
  const { loadInventory } = await import("../inventory/load.js");
  const loaded = await loadInventory(resolveInventoryPath(opts.inventory));
  const cluster = loaded.inventory.cluster.name;
  const stateDir = stateDirFor(opts.stateDir, loaded.file);
  const runs = listRuns(stateDir, cluster);
  if (opts.run === undefined && opts.host === undefined) {
    if (!runs.length) throw new UsageError(`no runs recorded for cluster ${cluster} in ${runsDir(stateDir, cluster)}`, { hint: "runs are recorded by up, down, rebuild, remove-node, plan and check" });
    const rows = runs.map((r) => [r.id, r.command, r.result, r.durationMs !== undefined ? fmtMs(r.durationMs) : "-", String(r.hosts.length)]);
    const data = runs.map((r) => ({ id: r.id, command: r.command, result: r.result, ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}), hosts: r.hosts, dir: r.dir }));
    io.stdout(await formatOutput(opts.output ?? "table", data, () => `${table(["RUN", "COMMAND", "RESULT", "TOOK", "HOSTS"], rows)}\nshow one: kubesmith logs --run <RUN|latest> [--host <HOST>]\n`));
    return;
  }
  const run = findRun(runs, opts.run ?? "latest", cluster);
  const hostsDir = join(run.dir, "hosts");
  if (opts.host !== undefined) {
    if (!run.hosts.includes(opts.host)) {
      throw new UsageError(`no log for host '${opts.host}' in run ${run.id}`, {
        hint: run.hosts.length ? `hosts with logs: ${run.hosts.join(", ")}` : "this run has no host logs",
      });
    }
    io.stdout(readFileSync(join(hostsDir, `${opts.host}.log`), "utf8"));
    return;
  }
  if (!run.hosts.length) {
    io.stdout(`run ${run.id} has no host logs\n`);
    return;
  }
  for (const h of run.hosts) {
    io.stdout(`==> ${h} (${join(hostsDir, `${h}.log`)}) <==\n`);
    const text = readFileSync(join(hostsDir, `${h}.log`), "utf8");
    io.stdout(text.endsWith("\n") || !text ? text : `${text}\n`);
  }
  if (run.report) io.stdout(`report: ${run.report}\n`);
}

