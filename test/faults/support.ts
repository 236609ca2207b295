// The fault suite's shared pieces: running `up` against a lab from a work directory, what "nothing was
// lost" means (the state directory, the journals, the lock), and the results table. test/faults/run.mjs
// (npm run faults) runs the full suite and prints the rows every file appended to $KUBESMITH_FAULTS_RESULTS.
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { parse, stringify } from "yaml";
import { table } from "../../src/ui/table.js";
import { actWhen, jsonEvents, kubesmith as runCli, run, spawnCli, type Interrupted, type JsonEvent, type RunResult } from "../helpers/cli.js";
import { ssh, type StartedLab } from "../helpers/lab.js";

/** KUBESMITH_FAULTS=full runs every scenario (npm run faults); unset, only the short CI subset. */
export const fullSuite = process.env.KUBESMITH_FAULTS === "full";

export interface Row {
  scenario: string;
  exitCode: number | null;
  message: string;
  lostNothing: boolean;
  /** Changes of the `up` after the one that converged again (must be 0). */
  nextUpChanges: number | string;
}

export function recordRows(rows: Row[]): void {
  const out = process.env.KUBESMITH_FAULTS_RESULTS;
  if (out) for (const r of rows) appendFileSync(out, `${JSON.stringify(r)}\n`);
}

export function rowsTable(rows: Row[]): string {
  return table(
    ["SCENARIO", "EXIT", "MESSAGE (first line)", "LOST NOTHING", "NEXT UP CHANGES"],
    rows.map((r) => [r.scenario, String(r.exitCode), !r.message ? "-" : r.message.length > 110 ? `${r.message.slice(0, 109)}…` : r.message, r.lostNothing ? "yes" : "NO", String(r.nextUpChanges)]),
  );
}

export class FaultLab {
  constructor(
    readonly lab: StartedLab,
    readonly work: string,
  ) {}
  get stateDir(): string {
    return join(this.work, "state");
  }
  get name(): string {
    return this.lab.state.name;
  }
  host(i: number): string {
    return this.lab.state.hosts[i]!.name;
  }
  args(inventory = this.lab.inventoryPath): string[] {
    return ["-i", inventory, "--state-dir", this.stateDir, "-o", "json"];
  }
  up(extra: string[] = [], inventory?: string): Promise<RunResult> {
    return runCli(["up", ...this.args(inventory), ...extra], { cwd: this.work, env: { CI: "true" } });
  }
  /** `up` as a child process, for scenarios that signal it or run two at once. */
  spawnUp(extra: string[] = [], inventory?: string) {
    return spawnCli(["up", ...this.args(inventory), ...extra], this.work);
  }
  /** A copy of the lab's inventory with `edit` applied, written into the work directory. */
  inventory(file: string, edit: (inv: Record<string, any>) => void): string {
    const inv = parse(readFileSync(this.lab.inventoryPath, "utf8")) as Record<string, any>;
    edit(inv);
    const path = join(this.work, file);
    writeFileSync(path, stringify(inv), { mode: 0o600 });
    return path;
  }
  /** Is the cluster lock on the first control plane held? */
  async lockHeld(): Promise<boolean> {
    return (await ssh(this.lab.state, this.host(0), "test -e /var/lib/kubesmith/lock")).code === 0;
  }
  /** Take a host off the network (its link down inside its namespace), or put it back. */
  async link(i: number, up: boolean): Promise<void> {
    const h = this.lab.state.hosts[i]!;
    const r = await run("ip", ["-n", h.namespace, "link", "set", "eth0", up ? "up" : "down"]);
    if (r.code !== 0) throw new Error(`ip link set ${up ? "up" : "down"} in ${h.namespace}: ${r.stderr}`);
  }
  /** What must survive any fault: secrets, earlier journals (each ended), the kubeconfig. */
  snapshot(): Snapshot {
    const cluster = this.name;
    const secrets = join(this.stateDir, cluster, "secrets.json");
    const runs = join(this.stateDir, cluster, "runs");
    const kubeconfig = join(this.stateDir, cluster, "kubeconfig");
    const journals = new Map<string, string>();
    if (existsSync(runs)) for (const r of readdirSync(runs)) journals.set(r, hashFile(join(runs, r, "events.jsonl")));
    return { secrets: existsSync(secrets) ? flatten(JSON.parse(readFileSync(secrets, "utf8"))) : new Map(), journals, kubeconfig: hashFile(kubeconfig) };
  }
  /**
   * Nothing outside the failing step was lost: the secrets file and the kubeconfig are as they were (or
   * made by this run when there was none), every earlier journal is untouched, this run's journal ends
   * with run-end and has its report, and the lock is released. Returns the problems (empty: nothing lost).
   */
  async lost(before: Snapshot, r: RunResult): Promise<string[]> {
    const after = this.snapshot();
    const problems: string[] = [];
    // A run may add secrets (an add-on's generated password); none it had may change or vanish.
    for (const [k, v] of before.secrets) if (after.secrets.get(k) !== v) problems.push(`secrets.json: ${k} changed or vanished`);
    if (before.kubeconfig && after.kubeconfig !== before.kubeconfig) problems.push("the kubeconfig changed");
    for (const [run, hash] of before.journals) if (after.journals.get(run) !== hash) problems.push(`journal of ${run} changed or vanished`);
    const events = jsonEvents(r.stdout);
    const runDir = events.find((e) => e.kind === "run-start")?.runDir;
    if (!runDir) problems.push("no run-start event");
    else {
      const abs = isAbsolute(runDir) ? runDir : join(this.work, runDir);
      const journal = existsSync(join(abs, "events.jsonl")) ? jsonEvents(readFileSync(join(abs, "events.jsonl"), "utf8")) : [];
      if (journal.at(-1)?.kind !== "run-end") problems.push("this run's journal does not end with run-end");
      if (!existsSync(join(abs, "report.html"))) problems.push("no report.html");
    }
    if (await this.lockHeld()) problems.push("the cluster lock is still held");
    return problems;
  }
}

export interface Snapshot {
  /** secrets.json as path → value. */
  secrets: Map<string, string>;
  journals: Map<string, string>;
  kubeconfig: string;
}

function flatten(o: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (o !== null && typeof o === "object") for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, String(o));
  return out;
}

function hashFile(p: string): string {
  return existsSync(p) ? createHash("sha256").update(readFileSync(p)).digest("hex") : "";
}

/** The changes a run made, by host. */
export function changeHosts(r: RunResult): Set<string> {
  return new Set(jsonEvents(r.stdout).filter((e) => e.kind === "change").map((e) => e.host!));
}

export function changes(r: RunResult): JsonEvent[] {
  return jsonEvents(r.stdout).filter((e) => e.kind === "change");
}

/** stderr's lines without the `kubesmith: ` prefix. */
export function lines(r: RunResult): string[] {
  return r.stderr.split("\n").filter(Boolean).map((l) => l.replace(/^kubesmith: /, ""));
}

/** For assertion messages: the end of the run's output. */
export function tail(r: RunResult): string {
  return `${r.stderr}\n${r.stdout.slice(-3000)}`;
}

/**
 * Runs `up` and, once `when` holds for the JSON events printed so far, runs `act` after `afterMs` (by
 * default: SIGINT to the run). Resolves when the run has ended.
 */
export function upAndAct(
  f: FaultLab,
  extra: string[],
  when: (events: JsonEvent[]) => boolean,
  opts: { afterMs?: number; act?: (child: ReturnType<FaultLab["spawnUp"]>) => void | Promise<void>; inventory?: string } = {},
): Promise<Interrupted> {
  return actWhen(f.spawnUp(extra, opts.inventory), when, opts);
}

/** The first change event in `phase` (a prefix of its title), optionally on one host. */
export function changeIn(phase: string, host?: string, what?: RegExp): (events: JsonEvent[]) => boolean {
  return (events) => events.some((e) => e.kind === "change" && (e.phase ?? "").startsWith(phase) && (!host || e.host === host) && (!what || what.test(e.what ?? "")));
}
