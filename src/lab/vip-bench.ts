// `npm run bench -- --vip` (root): VIP failover, measured on a lab of 3 hosts ("vipbench").
//
// Each host runs the real keepalived, started directly in its network namespace (`ip netns exec`, in the
// foreground, own pid files under a temporary directory) with the configuration kubesmith renders for a
// control plane (controlPlaneKeepalivedConfig, whose vrrp_instance block the keepalived-edge bundle shares),
// health check /bin/true so priorities stay put; and the edge VIP's keepalived.conf as `up` renders the
// keepalived-edge bundle (its Liquid template and defaults; its check pointed at the host's sshd). Per
// configuration and round:
//   graceful:   SIGTERM to the master's keepalived (it announces priority 0, a backup takes over at once);
//   host death: `ip link set eth0 down` inside the master's namespace (silence: the backups wait
//               master_down_interval = 3 adverts + skew).
// The time is from just before the fault until `ip -o monitor address` in another host's namespace reports
// the VIP added there (an event, not a poll). Then the master is restored and takes the VIP back.
// Prints a table; asserts nothing. Env: BENCH_VIP_ROUNDS (default 5).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controlPlaneKeepalivedConfig, type KeepalivedOptions } from "../scripts/keepalived.js";
import { labDown, labUp, loadLabState, type LabState } from "./lab.js";

export const VIP_BENCH_LAB = "vipbench";

/** One change of an address, from a line of `ip -o monitor address` (or `ip -o addr`). */
export interface AddressEvent {
  deleted: boolean;
  dev: string;
  address: string;
  prefix: number;
}

/**
 * Parses one line of `ip -o monitor address`, e.g.
 *   `3: eth0    inet 198.18.7.2/32 scope global eth0\       valid_lft forever preferred_lft forever`
 *   `Deleted 3: eth0    inet 198.18.7.2/32 scope global eth0\ …`
 * (also with a `[ADDR]` tag as `ip monitor all` prints it). undefined for anything else.
 */
export function parseMonitorLine(line: string): AddressEvent | undefined {
  const m = /^(Deleted\s+)?(?:\[[A-Z]+\]\s*)?\d+:\s+(\S+?)(?:@\S+)?\s+inet6?\s+([0-9A-Fa-f.:]+)\/(\d{1,3})\b/.exec(line.trim());
  if (!m) return undefined;
  return { deleted: Boolean(m[1]), dev: m[2]!, address: m[3]!, prefix: Number(m[4]) };
}

/** Does `ip -br addr` output show `vip` on some interface (any prefix)? */
export function holdsVip(ipBrAddr: string, vip: string): boolean {
  for (const line of ipBrAddr.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // name state addr/prefix addr/prefix …
    if (fields.slice(2).some((a) => a.split("/")[0] === vip)) return true;
  }
  return false;
}

export interface Stats {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** min / median / max of the samples (the median of an even count: the mean of the two middle ones). */
export function stats(samples: number[]): Stats | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, min: s[0]!, median, max: s[s.length - 1]! };
}

/** Seconds, three decimals. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** A plain text table, columns padded to the widest cell, a dashed line under the header. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
}

/** What one bench configuration passes to the renderer. */
export interface VipConfig {
  label: string;
  opts: Pick<KeepalivedOptions, "vrrpVersion" | "advertInt" | "unicast" | "authPass">;
  /** Render the edge VIP's keepalived.conf through the keepalived-edge bundle (its Liquid template), not the control plane's. */
  edge?: boolean;
}

export const VIP_CONFIGS: VipConfig[] = [
  { label: "VRRPv3, advert_int 0.1, unicast (default)", opts: {} },
  { label: "VRRPv3, advert_int 0.1, multicast", opts: { unicast: false } },
  { label: "VRRPv2, advert_int 1, PASS auth (before)", opts: { vrrpVersion: 2, advertInt: 1, authPass: "vipbench" } },
  { label: "edge VIP, keepalived-edge bundle's render (defaults)", opts: {}, edge: true },
];

/**
 * Each host's keepalived.conf for the edge VIP, as `up` renders the keepalived-edge bundle (its template,
 * values schema and filters) for a cluster whose frontends are these hosts. The track check asks the
 * host's own sshd (tcp 22) instead of Traefik, which the bench does not run, so priorities stay put.
 */
async function edgeConfigs(nodes: Node[], vip: string): Promise<Map<string, string>> {
  const { loadCatalog } = await import("../addons/catalog.js");
  const { renderContextFor, defaultRelease } = await import("../addons/context.js");
  const { resolveValues } = await import("../addons/values.js");
  const { renderHosts } = await import("../addons/render.js");
  const { InventorySchema } = await import("../inventory/schema.js");
  const { KUBERNETES } = await import("../versions.js");
  const bundle = (await loadCatalog()).get("keepalived-edge")!;
  const inv = InventorySchema.parse({
    cluster: { name: VIP_BENCH_LAB, kubernetesVersion: KUBERNETES.default, edgeVIP: { vip, interface: "eth0", prefix: 24 } },
    hosts: nodes.map((n) => ({ name: n.name, address: n.address, roles: ["worker", "frontend"] })),
  });
  const values = resolveValues(bundle, { authPass: "vipbench", track: { type: "tcp", port: 22 } }, "vip bench");
  const r = renderHosts(bundle, renderContextFor(inv, bundle, values, defaultRelease(bundle)));
  return new Map(nodes.map((n) => [n.name, r.files[n.name]![0]!.content]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const inNs = (ns: string, ...args: string[]) => run("ip", ["netns", "exec", ns, ...args]);

interface Watch {
  child: ChildProcess;
  /** Resolves with the time the VIP was added in this namespace (performance.now()). */
  added: Promise<number>;
}

/** Watches one namespace for the VIP being added (ip -o monitor address). */
function watchVip(ns: string, vip: string): Watch {
  const child = spawn("ip", ["netns", "exec", ns, "ip", "-o", "monitor", "address"], { stdio: ["ignore", "pipe", "ignore"] });
  const added = new Promise<number>((resolve) => {
    let buf = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      const now = performance.now();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const ev = parseMonitorLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (ev && !ev.deleted && ev.address === vip) resolve(now);
      }
    });
  });
  return { child, added };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Node {
  name: string;
  ns: string;
  address: string;
  conf: string;
  dir: string;
  proc?: ChildProcess;
}

function startKeepalived(n: Node): void {
  const log = openSync(join(n.dir, "keepalived.log"), "a");
  n.proc = spawn(
    "ip",
    ["netns", "exec", n.ns, "keepalived", "-n", "-l", "-D", "-f", n.conf, "-p", join(n.dir, "k.pid"), "-r", join(n.dir, "vrrp.pid"), "-c", join(n.dir, "checkers.pid")],
    { stdio: ["ignore", log, log] },
  );
}

async function stopKeepalived(n: Node): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}

const holder = (nodes: Node[], vip: string) => nodes.filter((n) => holdsVip(inNs(n.ns, "ip", "-br", "addr"), vip));

/** One fault on the current master; the ms until another host holds the VIP. */
async function measure(nodes: Node[], vip: string, master: Node, fault: "graceful" | "host death"): Promise<number> {
  const watches = nodes.filter((n) => n !== master).map((n) => watchVip(n.ns, vip));
  try {
    await sleep(200); // the monitors are listening
    const t0 = performance.now();
    if (fault === "graceful") master.proc!.kill("SIGTERM");
    else inNs(master.ns, "ip", "link", "set", "eth0", "down");
    const t1 = await Promise.race([Promise.race(watches.map((w) => w.added)), sleep(15_000).then(() => Number.NaN)]);
    if (Number.isNaN(t1)) throw new Error(`${fault}: no other host took the VIP within 15 s`);
    return t1 - t0;
  } finally {
    for (const w of watches) w.child.kill("SIGTERM");
  }
}

/** Brings the master back (link up, keepalived running) and waits until it holds the VIP alone again. */
async function restore(nodes: Node[], vip: string, master: Node): Promise<void> {
  inNs(master.ns, "ip", "link", "set", "eth0", "up");
  // After the graceful fault keepalived is still stopping (it announces priority 0, then exits about a
  // second later): wait for the exit before starting it again.
  if (!master.proc || master.proc.killed || master.proc.exitCode !== null || master.proc.signalCode !== null) {
    await stopKeepalived(master);
    startKeepalived(master);
  }
  await waitFor(() => {
    const h = holder(nodes, vip);
    return h.length === 1 && h[0] === master;
  }, 20_000, `${master.name} to hold ${vip} alone again`);
  await sleep(1000);
}

export async function vipBench(log: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const rounds = Number(process.env.BENCH_VIP_ROUNDS ?? 5);
  if (process.getuid?.() !== 0) {
    log("vip bench: needs root (network namespaces, keepalived)\n");
    return 1;
  }
  if (loadLabState(VIP_BENCH_LAB)) await labDown(VIP_BENCH_LAB);
  const work = mkdtempSync(join(tmpdir(), "kubesmith-vipbench-"));
  const nodes: Node[] = [];
  const rows: string[][] = [];
  try {
    const state: LabState = await labUp({
      name: VIP_BENCH_LAB,
      hosts: 3,
      roles: [["control-plane"], ["control-plane"], ["control-plane"]],
      inventoryOut: join(work, "inventory.yaml"),
    });
    const vip = state.vips.controlPlane ?? `198.18.${state.subnet}.2`;
    for (const h of state.hosts) {
      const dir = join(work, h.name);
      run("mkdir", ["-p", dir]);
      nodes.push({ name: h.name, ns: h.namespace, address: h.address, conf: join(dir, "keepalived.conf"), dir });
    }
    for (const cfg of VIP_CONFIGS) {
      const edge = cfg.edge ? await edgeConfigs(nodes, vip) : undefined;
      nodes.forEach((n, i) => {
        if (edge) {
          writeFileSync(n.conf, edge.get(n.name)!, { mode: 0o600 });
          startKeepalived(n);
          return;
        }
        const o: KeepalivedOptions = {
          vip,
          interface: "eth0",
          routerId: 77,
          priority: 150 - i * 2,
          peers: nodes.filter((x) => x !== n).map((x) => x.address),
          self: n.address,
          healthCheck: "/bin/true",
          ...cfg.opts,
        };
        writeFileSync(n.conf, controlPlaneKeepalivedConfig(o), { mode: 0o600 });
        startKeepalived(n);
      });
      const master = nodes[0]!;
      await waitFor(() => {
        const h = holder(nodes, vip);
        return h.length === 1 && h[0] === master;
      }, 20_000, `${master.name} to hold ${vip}`);
      await sleep(1000);
      for (const fault of ["graceful", "host death"] as const) {
        const samples: number[] = [];
        for (let r = 0; r < rounds; r++) {
          samples.push(await measure(nodes, vip, master, fault));
          await restore(nodes, vip, master);
        }
        const s = stats(samples)!;
        rows.push([cfg.label, fault, String(s.n), seconds(s.min), seconds(s.median), seconds(s.max)]);
        log(`  ${cfg.label}, ${fault}: ${samples.map((x) => seconds(x)).join(", ")}\n`);
      }
      for (const n of nodes) await stopKeepalived(n);
    }
    log("\n" + formatTable(["configuration", "fault", "runs", "min", "median", "max"], rows));
    return 0;
  } catch (err) {
    log(`vip bench failed: ${(err as Error).message} (keepalived logs under ${work})\n`);
    if (rows.length) log("\n" + formatTable(["configuration", "fault", "runs", "min", "median", "max"], rows));
    return 1;
  } finally {
    for (const n of nodes) await stopKeepalived(n);
    await labDown(VIP_BENCH_LAB).catch(() => {});
    if (rows.length === VIP_CONFIGS.length * 2) rmSync(work, { recursive: true, force: true });
  }
}
