// `npm run bench`: prints the figures we steer by (issue 12), each next to its floor, as one Markdown table
// (docs/performance.md keeps the last one):
//   startup: whole-process wall time and peak RSS of --version, --help, completion bash and inventory
//   validate, the CLI started by its #! line, median of BENCH_STARTUP_RUNS (15), next to `node -e 0`
//   (bench-startup.ts; no root needed; `npm run bench -- --startup` stops after them);
//   the zero-cost and realistic profiles (bench-run.ts, root: they build labs): a fresh and a converged
//   `up` on BENCH_SIZES hosts (default 8,50,200) against the ssh2 floor for the same round trips, up's peak
//   RSS, lab up/down of each size; a fresh `up` on BENCH_REALISTIC_HOSTS (8) hosts with the simulated
//   durations of src/lab/profiles/realistic.json against its critical path. Lab names start with BENCH_LAB
//   (default "bench"). `--no-realistic` leaves the realistic profile out, `--only-realistic` runs only it.
// Other parts, on their own:
//   `npm run bench -- --lab` (root): the earlier lab figures: lab up / down of BENCH_HOSTS (50) hosts;
//   kubesmith check across them (connect + facts + preflight); 10 commands on each host over one ssh2
//   connection per host; one simulated kubeadm command (strict config decoding); CPU per simulated command,
//   the resident simulator against a Node start per command (KUBESIM_RESIDENT=0), and the resident
//   simulators' memory after `check`; with `--up` also `kubesmith up` on that lab.
//   `npm run bench -- --apisim`: only the API simulator taking N nodes to Ready under Calico's contract.
//   `npm run bench -- --vip`: only VIP failover (graceful / host death) per keepalived setting (src/lab/vip-bench.ts).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism as nproc, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { loadCalicoManifest, renderCalico } from "./addons/calico.js";
import { KubeClient, nodeReady } from "./kube/client.js";
import { createCa, registerNode, startApiServer, writeAdminKubeconfig } from "./lab/apisim/index.js";
import { kubeadmInitConfig } from "./scripts/kubeadm.js";
import { main } from "./cli/main.js";
import { type BenchRow, benchTable } from "./bench-profile.js";
import { measureStartup, startupBenchRows, startupRows } from "./bench-startup.js";
import { loadInventory } from "./inventory/load.js";
import { labDown, labUp } from "./lab/lab.js";
import { SshPool } from "./ssh/pool.js";
import { targetsFromInventory } from "./ssh/targets.js";

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const NAME = process.env.BENCH_LAB ?? "bench";
const inv = "/tmp/kubesmith-bench-lab.yaml";
const rows: [string, string][] = [];
const time = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  rows.push([label, `${((performance.now() - t0) / 1000).toFixed(2)} s`]);
  return r;
};
const silent = { stdout: () => {}, stderr: (s: string) => process.stderr.write(s) };
const printRows = (rs: [string, string][]) => {
  const w = Math.max(...rs.map((r) => r[0].length));
  for (const [k, v] of rs) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
};

// `npm run bench -- --help`: the options (before anything runs: without it, an unknown option ran the whole bench).
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(
    [
      "Usage: npm run bench -- [--startup | --no-realistic | --only-realistic | --lab [--up] | --apisim | --vip]",
      "  (none)            the table we steer by: startup, then (root) zero-cost up on BENCH_SIZES hosts against the",
      "                    ssh2 floor, converged up, peak RSS, lab up/down, and the realistic profile against its critical path",
      "  --startup         only the CLI startup rows (no root)",
      "  --no-realistic    leave the realistic profile out; --only-realistic: only it",
      "  --lab             the earlier lab figures on BENCH_HOSTS hosts (lab up/down, check, ssh commands, simulated",
      "                    command cost and CPU); with --up also `kubesmith up` on that lab",
      "  --apisim          only the API simulator taking BENCH_HOSTS nodes to Ready (no root, no lab)",
      "  --vip             only VIP failover, graceful / host death, per keepalived setting",
      "Environment: BENCH_SIZES (8,50,200), BENCH_REALISTIC_HOSTS (8), BENCH_HOSTS (50), BENCH_LAB (lab name prefix,",
      "  default bench), BENCH_STARTUP_RUNS (15), KUBESIM_RESIDENT=0",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

// `npm run bench -- --vip`: only the VIP failover figures (lab "vipbench", 3 hosts, real keepalived).
if (process.argv.includes("--vip")) {
  const { vipBench } = await import("./lab/vip-bench.js");
  process.exit(await vipBench());
}

// `npm run bench -- --apisim`: only the API simulator figure (no root, no lab).
if (process.argv.includes("--apisim")) {
  await apiSimBench(HOSTS);
  printRows(rows);
  process.exit(0);
}

const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15);
if (!process.argv.includes("--lab")) {
  // The startup figures first, printed at once: they need no root, and the lab part may fail without it.
  const table: BenchRow[] = process.argv.includes("--only-realistic") ? [] : startupBenchRows(await measureStartup(STARTUP_RUNS), STARTUP_RUNS);
  if (table.length) process.stdout.write(benchTable(table));
  if (process.argv.includes("--startup")) process.exit(0);
  const { realistic, zeroCost } = await import("./bench-run.js");
  const sizes = (process.env.BENCH_SIZES ?? "8,50,200").split(",").map(Number).filter((n) => n > 0);
  try {
    if (!process.argv.includes("--only-realistic")) for (const n of sizes) table.push(...(await zeroCost(NAME, n)));
    if (!process.argv.includes("--no-realistic")) table.push(...(await realistic(NAME, Number(process.env.BENCH_REALISTIC_HOSTS ?? 8))));
  } finally {
    process.stdout.write(`\n${benchTable(table)}`);
    process.stdout.write(`machine: ${nproc()} CPU(s), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}, ${new Date().toISOString()}\n`);
  }
  process.exit(0);
}

// `--lab`: the earlier lab figures.
printRows(startupRows(await measureStartup(STARTUP_RUNS), STARTUP_RUNS));
process.stdout.write("\n");

try {
  const state = await time(`lab up, ${HOSTS} hosts`, () => labUp({ name: NAME, hosts: HOSTS, inventoryOut: inv }));
  const stateDir = mkdtempSync(join(tmpdir(), "kubesmith-bench-state-"));
  const code = await time(`kubesmith check, ${HOSTS} hosts`, () => main(["check", "-i", inv, "--state-dir", stateDir], silent));
  if (code !== 0) rows.push(["check exit code", String(code)]);
  residentMemory(state, "after check");
  const loaded = await loadInventory(inv);
  const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file) });
  const pool = new SshPool({ concurrency: 64 });
  await time(`connect to ${HOSTS} hosts (ssh2, parallel)`, () => pool.forEachHost(targets, async () => undefined));
  await time(`10 commands on each of ${HOSTS} hosts (connections open)`, () =>
    pool.forEachHost(targets, async (r) => {
      for (let i = 0; i < 10; i++) await r.exec("true");
    }),
  );
  // One simulated command that decodes a kubeadm config strictly (kubeadm config validate), 20 times in a row.
  const cfg = kubeadmInitConfig({
    nodeName: "lab-1",
    nodeIP: "198.18.0.10",
    kubernetesVersion: "1.36.3",
    advertiseAddress: "198.18.0.10",
    controlPlaneEndpoint: "198.18.0.10:6443",
    podSubnet: "10.244.0.0/16",
    serviceSubnet: "10.96.0.0/12",
    certSANs: [],
    clusterName: "bench",
    bootstrapToken: "abcdef.0123456789abcdef",
    certificateKey: "0".repeat(64),
  });
  const [first] = targets;
  await pool.forEachHost([first!], async (r) => {
    await r.upload("/root/bench-kubeadm.yaml", cfg, { mode: 0o600 });
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await r.exec("kubeadm config validate --config /root/bench-kubeadm.yaml", { allowFailure: true });
    rows.push(["one simulated command (kubeadm config validate, strict), mean of 20", `${((performance.now() - t0) / 20).toFixed(0)} ms`]);
  });
  await pool.forEachHost([first!], async (r) => {
    const hostDir = state.hosts.find((h) => h.name === first!.name)!.dir;
    const resident = (JSON.parse(readFileSync(join(state.dir, "sim.json"), "utf8")) as { resident?: boolean }).resident === true;
    const modes = resident ? [true, false] : [false];
    for (const resident of modes) {
      const ms = await simCommandCpu(r, hostDir, resident);
      rows.push([`simulated command: CPU ms per command, ${resident ? "resident simulator" : "a Node start each (KUBESIM_RESIDENT=0)"}`, ms]);
    }
  });
  await pool.closeAll();
  if (process.argv.includes("--up")) {
    const up = await time(`kubesmith up, ${HOSTS} hosts`, () => main(["up", "-i", inv, "--state-dir", stateDir], silent));
    if (up !== 0) rows.push(["up exit code", String(up)]);
    const commands = state.hosts.reduce((n, h) => n + readFileSync(join(h.dir, "commands.log"), "utf8").split("\n").filter(Boolean).length, 0);
    rows.push([`simulated commands during the run (all hosts)`, String(commands)]);
    residentMemory(state, "after up");
  }
  rmSync(stateDir, { recursive: true, force: true });
  await apiSimBench(HOSTS);
  const rss = process.memoryUsage().rss;
  rows.push(["kubesmith process RSS after the run", `${(rss / 1024 / 1024).toFixed(0)} MiB`]);
} finally {
  await time(`lab down, ${HOSTS} hosts`, () => labDown(NAME));
}
/** CPU of one process and its waited-for children, from /proc/PID/stat (clock ticks, 100 per second here). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14-17 (utime, stime, cutime, cstime) are f[11]..f[14]
    return [11, 12, 13, 14].reduce((s, i) => s + Number(f[i] ?? 0), 0) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU per simulated command on one host: 4 kinds of command × 25 in a loop on the host. The shell's `times`
 * gives its children's CPU (the shims: bash clients, or the Node starts); the resident simulator's own CPU
 * is the change in its /proc/PID/stat. A first command before the loop starts the simulator if needed.
 */
async function simCommandCpu(r: import("./ssh/types.js").Runner, hostDir: string, resident: boolean): Promise<string> {
  const n = 25;
  const cmds = ["kubeadm version -o short", "systemctl is-active kubelet", "dpkg-query -W kubeadm", "modprobe br_netfilter"];
  const env = resident ? "" : "KUBESIM_RESIDENT=0; export KUBESIM_RESIDENT; ";
  await r.exec(`${env}kubeadm version >/dev/null 2>&1; true`, { allowFailure: true });
  const pidOf = () => {
    try {
      return (JSON.parse(readFileSync(join(hostDir, "procs", "resident.json"), "utf8")) as { pid: number }).pid;
    } catch {
      return 0;
    }
  };
  const pid = resident ? pidOf() : 0;
  const d0 = pid ? procCpuMs(pid) : 0;
  const out = await r.exec(`${env}i=0; while [ $i -lt ${n} ]; do ${cmds.map((c) => `${c} >/dev/null 2>&1`).join("; ")}; i=$((i+1)); done; times`, { allowFailure: true });
  const daemon = pid ? procCpuMs(pid) - d0 : 0;
  const children = (out.stdout.trim().split("\n")[1] ?? "").match(/(\d+)m([\d.]+)s/g) ?? [];
  const clients = children.reduce((s, t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)!;
    return s + (Number(m[1]) * 60 + Number(m[2])) * 1000;
  }, 0);
  const total = n * cmds.length;
  return `${((clients + daemon) / total).toFixed(1)} ms (clients ${(clients / total).toFixed(1)}${pid ? `, simulator ${(daemon / total).toFixed(1)}` : ""}; ${total} commands)`;
}

/** RSS and PSS of every host's resident simulator (smaps_rollup). */
function residentMemory(state: import("./lab/types.js").LabState, when: string): void {
  const rss: number[] = [];
  let pss = 0;
  for (const h of state.hosts) {
    try {
      const { pid } = JSON.parse(readFileSync(join(h.dir, "procs", "resident.json"), "utf8")) as { pid: number };
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      rss.push(Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0) / 1024);
      pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0) / 1024;
    } catch {
      /* none on this host */
    }
  }
  if (rss.length === 0) return;
  rss.sort((a, b) => a - b);
  rows.push([`resident simulators ${when}: processes, RSS median each, PSS all`, `${rss.length}, ${rss[rss.length >> 1]!.toFixed(0)} MiB, ${pss.toFixed(0)} MiB`]);
}

/** The API simulator in this process: N nodes, Calico's compact manifest, time until every node is Ready. */
async function apiSimBench(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kubesmith-bench-api-"));
  try {
    await createCa(join(dir, "pki"));
    const server = await startApiServer({ host: "127.0.0.1", port: 0, pkiDir: join(dir, "pki"), stateFile: join(dir, "state.json") });
    const kubeconfig = join(dir, "admin.conf");
    await writeAdminKubeconfig(join(dir, "pki"), server.url, kubeconfig, "bench");
    const kube = await KubeClient.fromKubeconfig(readFileSync(kubeconfig, "utf8"));
    try {
      for (let i = 0; i < n; i++) await registerNode(kubeconfig, { name: `n${i}`, address: `198.18.0.${10 + (i % 200)}` });
      const objects = renderCalico({ podCIDR: "10.244.0.0/16", manifest: await loadCalicoManifest({ manifest: "compact" }) });
      const t0 = performance.now();
      for (const o of objects) await kube.apply(o);
      for (;;) {
        const nodes = await kube.list("v1", "Node");
        if (nodes.length === n && nodes.every(nodeReady)) break;
        if (performance.now() - t0 > 60_000) throw new Error("nodes not Ready after 60 s");
        await new Promise((r) => setTimeout(r, 20));
      }
      rows.push([`API simulator: Calico applied, ${n} nodes Ready under the CNI contract`, `${((performance.now() - t0) / 1000).toFixed(2)} s`]);
    } finally {
      kube.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
printRows(rows);
