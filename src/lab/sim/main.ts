// The node simulator: one program behind every simulated tool on a lab host's PATH.
// Usage (from the shims in <lab>/simbin): main.js <tool> [args…], with KUBESIM_LAB_DIR set.
// Every command is recorded to <lab>/hosts/<host>/commands.log (read by tests) and to the host's
// own /var/log/kubesim/commands.log; faults from the lab's faults file apply before the tool runs.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { matchFault, readFaultsFile } from "../faults.js";
import type { SimConfig } from "../types.js";
import { kubeadm } from "./kubeadm.js";
import { aptGet, aptMark, dnf, dpkg, dpkgQuery, rpm } from "./packages.js";
import { kubectl, kubelet, modprobe, swapoff, sysctl } from "./system.js";
import { systemctl } from "./systemctl.js";
import { SimExit, labState, readJson, readOs, type Sim } from "./util.js";

type Tool = (sim: Sim, args: string[]) => number | Promise<number>;

const TOOLS: Record<string, Tool> = {
  kubeadm,
  kubelet,
  kubectl,
  "apt-get": aptGet,
  "apt-mark": aptMark,
  dpkg,
  "dpkg-query": dpkgQuery,
  dnf: (sim, a) => dnf(sim, "dnf", a),
  yum: (sim, a) => dnf(sim, "yum", a),
  rpm,
  systemctl,
  modprobe,
  sysctl,
  swapoff,
};

function makeSim(labDir: string): Sim {
  const cfg = readJson<SimConfig | undefined>(path.join(labDir, "sim.json"), undefined);
  if (!cfg) throw new SimExit(1, `kubesim: no lab configuration in ${labDir}\n`);
  let host = "";
  try {
    host = readFileSync("/run/kubesim/host", "utf8").trim();
  } catch {
    throw new SimExit(1, "kubesim: not running on a kubesmith lab host (no /run/kubesim/host)\n");
  }
  let os: ReturnType<typeof readOs> | undefined;
  let address: string | undefined;
  const sim: Sim = {
    host,
    labDir,
    cfg,
    hostDir: path.join(labDir, "hosts", host),
    clusterDir: path.join(labDir, "cluster"),
    isRoot: process.getuid?.() === 0,
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    stdin: () => {
      try {
        return readFileSync(0, "utf8");
      } catch {
        return "";
      }
    },
    address: () => (address ??= labState(sim)?.hosts.find((h) => h.name === host)?.address ?? "127.0.0.1"),
    os: () => (os ??= readOs()),
  };
  return sim;
}

function record(sim: Sim | undefined, argv: string[], exitCode: number | null, t0: number, extra: Record<string, unknown> = {}): void {
  if (!sim) return;
  const line = `${JSON.stringify({ time: new Date(t0).toISOString(), host: sim.host, uid: process.getuid?.(), argv, exitCode, durationMs: Date.now() - t0, ...extra })}\n`;
  try {
    appendFileSync(path.join(sim.hostDir, "commands.log"), line);
  } catch {
    /* the lab is going down */
  }
  if (sim.isRoot) {
    try {
      mkdirSync("/var/log/kubesim", { recursive: true });
      appendFileSync("/var/log/kubesim/commands.log", line);
    } catch {
      /* read-only? */
    }
  }
}

async function main(): Promise<number> {
  const [tool, ...args] = process.argv.slice(2);
  const t0 = Date.now();
  const argv = [tool ?? "", ...args];
  let sim: Sim | undefined;
  try {
    const labDir = process.env.KUBESIM_LAB_DIR;
    if (!labDir) throw new SimExit(1, "kubesim: KUBESIM_LAB_DIR is not set (run through a lab host's shim)\n");
    sim = makeSim(labDir);
    const impl = tool ? TOOLS[tool] : undefined;
    if (!impl) throw new SimExit(127, `kubesim: unknown tool ${tool ?? ""}\n`);
    // faults, reloaded on every command
    let faults: ReturnType<typeof readFaultsFile> = [];
    try {
      faults = readFaultsFile(sim.cfg.faultsFile);
    } catch (e) {
      process.stderr.write(`kubesim: ignoring faults: ${(e as Error).message}\n`);
    }
    const fault = matchFault(faults, sim.host, argv);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.hang) {
      record(sim, argv, null, t0, { fault: "hang" });
      await new Promise(() => setInterval(() => {}, 1 << 30));
    }
    if (fault && (fault.fail !== undefined || fault.exitCode !== undefined)) {
      const code = fault.exitCode ?? 1;
      process.stderr.write(`${fault.fail ?? `${tool}: failed (lab fault)`}\n`);
      record(sim, argv, code, t0, { fault: fault.fail ?? "exit" });
      return code;
    }
    const code = await impl(sim, args);
    record(sim, argv, code, t0);
    return code;
  } catch (e) {
    if (e instanceof SimExit) {
      if (e.stderr) process.stderr.write(e.stderr);
      record(sim, argv, e.code, t0);
      return e.code;
    }
    process.stderr.write(`kubesim: internal error in ${tool}: ${(e as Error).stack ?? String(e)}\n`);
    record(sim, argv, 70, t0, { error: String(e) });
    return 70;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`kubesim: ${String(e)}\n`);
    process.exitCode = 70;
  },
);
