// `kubesmith check`, the work: connect to every host in parallel, gather facts, run preflight checks, print
// a table. Loaded by the command's action (check.ts), so the SSH libraries load only when a check runs.
import { formatOutput } from "../ui/output.js";
import { stateDirFor } from "../cluster/state.js";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { AuthError, CommandError, HostKeyChangedError, HostKeyError, IdentityFileError, KubesmithError, MultiHostError, PreflightError, TimeoutError, UnreachableError } from "../errors.js";
import { factsScript, parseFacts, type HostFacts } from "../facts/gather.js";
import { loadInventory } from "../inventory/load.js";
import type { RoleName } from "../inventory/schema.js";
import { runPreflight, type Finding } from "../preflight/checks.js";
import { SshPool } from "../ssh/pool.js";
import { targetsFromInventory } from "../ssh/targets.js";
import { mib, table } from "../ui/table.js";
import { type CheckOptions, parseConcurrency } from "./check.js";
import { resolveInventoryPath } from "./inventory.js";
import { resolveLimit } from "../cluster/limit.js";

export interface HostReport {
  name: string;
  address: string;
  roles: RoleName[];
  facts?: HostFacts;
  error?: string;
  /** Why it could not be checked: UNREACHABLE, AUTH FAILED, KEY FILE, HOST KEY UNKNOWN, HOST KEY CHANGED, TIMEOUT … */
  problem?: string;
  findings: Finding[];
}

/** A run directory: .kubesmith/<cluster>/runs/<timestamp>-<command>/ */
export function runDir(stateDir: string, cluster: string, command: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = resolve(stateDir, cluster, "runs", `${stamp}-${command}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export async function runCheck(opts: CheckOptions, out: (s: string) => void, warn: (s: string) => void): Promise<HostReport[]> {
  const concurrency = parseConcurrency(opts.concurrency);
  const loaded = await loadInventory(resolveInventoryPath(opts.inventory));
  for (const w of loaded.warnings) warn(`warning: ${w.file}${w.line ? `:${w.line}:${w.column ?? 1}` : ""}: ${w.path ? `${w.path}: ` : ""}${w.message}`);
  const inv = loaded.inventory;
  // --limit: only those hosts are contacted and reported (and checked across each other).
  const limited = opts.limit !== undefined ? new Set(resolveLimit(opts.limit, inv.hosts, loaded.file)) : undefined;
  const hosts = limited ? inv.hosts.filter((h) => limited.has(h.name)) : inv.hosts;
  const targets = targetsFromInventory(inv, {
    baseDir: dirname(loaded.file),
    inventoryFile: opts.inventory,
    ...(opts.hostKeyPolicy ? { hostKeyPolicy: opts.hostKeyPolicy } : {}),
  });
  const logDir = join(runDir(stateDirFor(opts.stateDir, loaded.file), inv.cluster.name, "check"), "hosts");
  const pool = new SshPool({ concurrency, logDir, onWarning: (host, msg) => warn(`warning: ${host}: ${msg}`) });
  let results;
  try {
    results = await pool.forEachHost(limited ? targets.filter((t) => limited.has(t.name)) : targets, async (runner) => {
      const r = await runner.exec(factsScript(), { sudo: true, label: "gather facts" });
      return parseFacts(r.stdout);
    });
  } finally {
    await pool.closeAll();
  }

  const reports: HostReport[] = hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles, findings: [] }));
  const failures: KubesmithError[] = [];
  for (const rep of reports) {
    const r = results.get(rep.name);
    if (!r) continue;
    if (r.status === "fulfilled") rep.facts = r.value;
    else {
      const e = r.reason;
      rep.error = e instanceof KubesmithError ? e.oneLine() : String(e instanceof Error ? e.message : e);
      rep.problem = problemLabel(e);
      failures.push(e instanceof KubesmithError ? e : new PreflightError(`${rep.name}: ${rep.error}`));
    }
  }
  const reachable = reports.filter((r) => r.facts);
  const findings = runPreflight(reachable.map((r) => ({ name: r.name, roles: r.roles, facts: r.facts!, kubernetesVersion: inv.cluster.kubernetesVersion })));
  for (const f of findings) reports.find((r) => r.name === f.host)?.findings.push(f);

  out(await formatOutput(opts.output, { cluster: inv.cluster.name, hosts: reports }, () => renderReport(reports)));

  if (failures.length) {
    // MultiHostError orders them by exit priority (errors.ts EXIT_PRIORITY).
    throw failures.length === 1 ? failures[0]! : new MultiHostError(failures);
  }
  const failed = findings.filter((f) => f.severity === "fail");
  if (failed.length) {
    throw new PreflightError(failed.map((f) => `${f.host}: ${f.check}: ${f.message}`).join("\n"));
  }
  return reports;
}

/** The STATUS of a host check could not reach or use, by cause (each has its own exit code too). */
export function problemLabel(e: unknown): string {
  if (e instanceof HostKeyChangedError) return "HOST KEY CHANGED";
  if (e instanceof HostKeyError) return "HOST KEY UNKNOWN";
  if (e instanceof IdentityFileError) return "KEY FILE";
  if (e instanceof AuthError) return "AUTH FAILED";
  if (e instanceof TimeoutError) return "TIMEOUT";
  if (e instanceof UnreachableError) return "UNREACHABLE";
  if (e instanceof CommandError) return "FACTS FAILED";
  return "ERROR";
}

export function renderReport(reports: HostReport[]): string {
  const rows = reports.map((r) => {
    const f = r.facts;
    const fails = r.findings.filter((x) => x.severity === "fail").length;
    const warns = r.findings.filter((x) => x.severity === "warn").length;
    const status = r.error ? (r.problem ?? "ERROR") : fails ? `FAIL(${fails})` : warns ? `ok, ${warns} warning(s)` : "ok";
    return [
      r.name,
      r.address,
      r.roles.join(","),
      f ? `${f.osId} ${f.osVersion}` : "-",
      f?.arch ?? "-",
      f ? String(f.cpus) : "-",
      f ? mib(f.memoryMiB) : "-",
      f ? (f.swapActive ? mib(f.swapMiB) : "off") : "-",
      f?.kernel ?? "-",
      f ? f.kubeadmState : "-",
      status,
    ];
  });
  let s = table(["HOST", "ADDRESS", "ROLES", "OS", "ARCH", "CPU", "MEMORY", "SWAP", "KERNEL", "KUBEADM", "STATUS"], rows);
  const notes = reports.flatMap((r) => r.findings.map((f) => `  ${f.severity === "fail" ? "FAIL" : "warn"}  ${r.name}: ${f.check}: ${f.message}`));
  if (notes.length) s += "\n" + notes.join("\n") + "\n";
  return s;
}

