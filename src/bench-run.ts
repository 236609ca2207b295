// `npm run bench`'s profiles (root: they build labs). Each figure next to its floor:
//   zero-cost profile: a fresh `kubesmith up` on BENCH_SIZES hosts (default 8,50,200) of a lab whose
//   simulated commands cost almost nothing (resident simulator, no fault delays), against the ssh2 floor for
//   the same round trips: raw ssh2, connect to every host at once and run, on each, as many `true` execs one
//   after another as the run's critical path had round trips (measured right after, on the same hosts);
//   then a second, converged `up`; peak RSS of `up` (/usr/bin/time %M, the CLI started by its #! line);
//   lab up and lab down of each size.
//   realistic profile: a fresh `up` on BENCH_REALISTIC_HOSTS hosts (default 8) with the simulated durations
//   of src/lab/profiles/realistic.json, against the critical path computed from the run's own events.
// Nothing asserts on time; the pure computations are in bench-profile.ts (unit-tested).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { availableParallelism as nproc, tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ssh2";
import { type BenchRow, criticalPath, type DurationProfile, parseEvents, profileFaults, secs } from "./bench-profile.js";
import { labDown, labUp, loadLabState } from "./lab/lab.js";
import type { LabState } from "./lab/types.js";
import { packageRoot } from "./util/pkg.js";

const root = packageRoot();
const cliJs = join(root, "dist", "cli.js");
const LAYOUTS: Record<number, string> = { 8: "1cp,6w,1fe", 50: "3cp,45w,2fe", 200: "3cp,195w,2fe" };
const FLOOR_GOAL: Record<number, string> = { 50: "≤ 1.5× floor", 200: "≤ 2× floor" };
const RSS_GOAL: Record<number, string> = { 8: "≤ 100 MiB", 200: "≤ 150 MiB" };

interface UpResult {
  code: number | null;
  wallMs: number;
  rssMiB: number;
  /** kubesmith's own CPU (user + system) in ms, from /usr/bin/time; 0 when unknown */
  cpuMs: number;
  /** CPU the whole machine spent during the run (every process: kubesmith, sshd, the simulators), from /proc/stat */
  machineCpuMs: number;
  stdout: string;
  stderr: string;
}

/** `kubesmith up -o json` as a user runs it (the #! line), under /usr/bin/time for the peak RSS. */
function runUp(inv: string, stateDir: string): Promise<UpResult> {
  const argv = [cliJs, "up", "-i", inv, "--state-dir", stateDir, "-o", "json"];
  const timed = existsSync("/usr/bin/time");
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const busy0 = machineBusyMs();
    const child = spawn(timed ? "/usr/bin/time" : argv[0]!, timed ? ["-f", "%e %M %U %S", ...argv] : argv.slice(1), {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/m.exec(stderr.trim().split("\n").pop() ?? "");
      resolve({
        code,
        wallMs: performance.now() - t0,
        rssMiB: m ? Number(m[2]) / 1024 : 0,
        cpuMs: m ? (Number(m[3]) + Number(m[4])) * 1000 : 0,
        machineCpuMs: machineBusyMs() - busy0,
        stdout,
        stderr,
      });
    });
  });
}

/** CPU time every CPU of the machine has spent busy since boot (ms): /proc/stat's first line less idle and iowait. */
function machineBusyMs(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** One exec on an open ssh2 connection, waited for to its close. */
function execTrue(c: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    c.exec("true", (err, stream) => {
      if (err) return reject(err);
      stream.on("close", () => resolve());
      stream.resume();
      stream.stderr.resume();
    });
  });
}

/**
 * The ssh2 floor: connect to every lab host at once (TCP_NODELAY, as the product does) and run `n` execs one
 * after another on each; the wall time of the whole.
 */
export async function ssh2Floor(state: LabState, n: number): Promise<number> {
  const key = readFileSync(state.keyFile);
  const t0 = performance.now();
  const clients: Client[] = [];
  try {
    await Promise.all(
      state.hosts.map(async (h) => {
        const c = new Client();
        clients.push(c);
        await new Promise<void>((resolve, reject) => {
          c.once("ready", () => resolve());
          c.once("error", reject);
          c.connect({ sock: net.connect({ host: h.address, port: 22, noDelay: true }), username: "root", privateKey: key, hostVerifier: () => true, readyTimeout: 60_000 });
        });
        for (let i = 0; i < n; i++) await execTrue(c);
      }),
    );
    return performance.now() - t0;
  } finally {
    for (const c of clients) c.end();
  }
}

async function fresh(name: string, opts: Parameters<typeof labUp>[0]): Promise<{ state: LabState; ms: number }> {
  if (loadLabState(name)) await labDown(name);
  const t0 = performance.now();
  const state = await labUp(opts);
  return { state, ms: performance.now() - t0 };
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** What a failed run said: its error lines (not the pointer to its logs), at most 300 characters. */
export function failureLines(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("kubesmith:") && !l.includes("the whole output"));
  return (lines.length ? lines : stderr.trim().split("\n").slice(-3)).join(" / ").slice(0, 300);
}

/**
 * Whose CPU the run was: kubesmith's own against the whole machine's. In the lab every host's sshd, shells
 * and simulator share the machine's cores with kubesmith; on real hosts each has its own.
 */
function cpuRows(up: UpResult, hosts: number): BenchRow[] {
  return [
    {
      what: `  CPU: kubesmith's own / the whole machine's, ${hosts} hosts`,
      figure: `${secs(up.cpuMs)} / ${secs(up.machineCpuMs)}`,
      floor: `${nproc()} CPUs × wall = ${secs(nproc() * up.wallMs)}`,
    },
    ...labBoundRow(up, hosts, nproc()),
  ];
}

/**
 * The shortest wall time the lab's own work allows on this machine: the CPU every process but kubesmith
 * spent (the hosts' sshd, shells and programs, the simulators), spread over every CPU. The ssh2 floor runs
 * `true` on the hosts and costs them nothing; this bound counts what the hosts did for the run. Its ratio
 * says how far the run's wall time is from what the machine allowed, kubesmith's part of it included.
 */
export function labBoundRow(up: Pick<UpResult, "cpuMs" | "machineCpuMs" | "wallMs">, hosts: number, cpus: number): BenchRow[] {
  if (!(up.cpuMs > 0) || !(up.machineCpuMs > up.cpuMs) || !(cpus > 0)) return [];
  const bound = (up.machineCpuMs - up.cpuMs) / cpus;
  return [{ what: `  the lab's own CPU ÷ ${cpus} CPUs, ${hosts} hosts`, figure: secs(bound), floor: `wall ${secs(up.wallMs)}`, ratio: up.wallMs / bound }];
}

/** The zero-cost rows for one lab size. */
export async function zeroCost(prefix: string, hosts: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const name = `${prefix}-z${hosts}`;
  const inv = join(tmpdir(), `kubesmith-bench-${name}.yaml`);
  const layout = LAYOUTS[hosts];
  log(`lab ${name}: ${hosts} hosts${layout ? ` (${layout})` : ""}`);
  const { state, ms: upMs } = await fresh(name, { name, hosts, ...(layout ? { layout } : {}), inventoryOut: inv });
  const stateDir = mkdtempSync(join(tmpdir(), "kubesmith-bench-state-"));
  let downMs = 0;
  /** A run failed: its state directory (run journal, events, report) is kept for `kubesmith logs`. */
  let keep = false;
  try {
    log(`up on ${hosts} hosts (zero-cost)`);
    const up = await runUp(inv, stateDir);
    const cp = criticalPath(parseEvents(up.stdout));
    const label = `zero-cost up, ${hosts} hosts${layout ? ` (${layout})` : ""}`;
    if (up.code !== 0) {
      keep = true;
      rows.push({ what: `${label}: EXIT CODE ${up.code}`, figure: failureLines(up.stderr) });
    }
    log(`ssh2 floor: connect + ${cp.roundTrips} execs on each of ${hosts} hosts`);
    const floor = await ssh2Floor(state, cp.roundTrips);
    rows.push({ what: label, figure: secs(up.wallMs), floor: `ssh2: connect + ${cp.roundTrips} execs per host, ${secs(floor)}`, ratio: up.wallMs / floor, goal: FLOOR_GOAL[hosts] ?? "" });
    rows.push({
      what: `  its critical path (events) / remote commands`,
      figure: secs(cp.criticalMs),
      floor: `${cp.roundTrips} round trips on it; ≤ ${cp.maxCommandsPerHost} commands per host`,
      ratio: up.wallMs / cp.criticalMs,
    });
    rows.push({ what: `  peak RSS of up, ${hosts} hosts`, figure: `${up.rssMiB.toFixed(0)} MiB`, goal: RSS_GOAL[hosts] ?? "" });
    rows.push(...cpuRows(up, hosts));
    log(`converged up on ${hosts} hosts`);
    const again = await runUp(inv, stateDir);
    const cp2 = criticalPath(parseEvents(again.stdout));
    rows.push({
      what: `converged up (second, no change), ${hosts} hosts${again.code !== 0 ? ` EXIT CODE ${again.code}` : ""}`,
      figure: secs(again.wallMs),
      floor: `critical path ${secs(cp2.criticalMs)}, ${cp2.roundTrips} round trips`,
      ratio: again.wallMs / cp2.criticalMs,
      goal: hosts >= 200 ? "≤ 10 s" : "",
    });
    rows.push(...cpuRows(again, hosts));
  } finally {
    if (keep) log(`a run failed; its state is kept: kubesmith logs -i ${inv} --state-dir ${stateDir} (the lab is removed)`);
    else rmSync(stateDir, { recursive: true, force: true });
    const t0 = performance.now();
    await labDown(name);
    downMs = performance.now() - t0;
    if (!keep) rmSync(inv, { force: true });
  }
  rows.push({ what: `lab up / lab down, ${hosts} hosts`, figure: `${secs(upMs)} / ${secs(downMs)}`, goal: hosts >= 200 ? "lab up ≤ 10 s" : "" });
  return rows;
}

/** The realistic profile's rows: wall against the critical path from the run's own events. */
export async function realistic(prefix: string, hosts: number): Promise<BenchRow[]> {
  const name = `${prefix}-real`;
  const profileFile = join(root, "src", "lab", "profiles", "realistic.json");
  const faults = profileFaults(JSON.parse(readFileSync(profileFile, "utf8")) as DurationProfile, profileFile);
  const inv = join(tmpdir(), `kubesmith-bench-${name}.yaml`);
  const layout = LAYOUTS[hosts];
  log(`lab ${name}: ${hosts} hosts, realistic profile`);
  const { state } = await fresh(name, { name, hosts, ...(layout ? { layout } : {}), inventoryOut: inv });
  // The lab's own faults file (in its directory, which the hosts see; a file in /tmp they would not):
  // the simulator re-reads it on every command.
  writeFileSync(state.faultsFile, JSON.stringify(faults));
  const stateDir = mkdtempSync(join(tmpdir(), "kubesmith-bench-state-"));
  try {
    const up = await runUp(inv, stateDir);
    const cp = criticalPath(parseEvents(up.stdout));
    const slow = [...cp.phases].sort((a, b) => b.criticalMs - a.criticalMs).slice(0, 3);
    return [
      {
        what: `realistic up, ${hosts} hosts${layout ? ` (${layout})` : ""}${up.code !== 0 ? ` EXIT CODE ${up.code}` : ""}`,
        figure: secs(up.wallMs),
        floor: `critical path ${secs(cp.criticalMs)}`,
        ratio: up.wallMs / cp.criticalMs,
        goal: "≤ 1.05×",
      },
      { what: "  its longest phases (critical / wall)", figure: slow.map((p) => `${p.phase.split(" (")[0]}: ${secs(p.criticalMs)} / ${secs(p.wallMs)}`).join("; ") },
    ];
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    await labDown(name);
    rmSync(inv, { force: true });
  }
}
