// The node simulator: one program behind every simulated tool on a lab host's PATH.
// Usage (from the shims in <lab>/simbin): main.js <tool> [args…], with KUBESIM_LAB_DIR set.
// Every command is recorded to <lab>/hosts/<host>/commands.log (read by tests) and to the host's
// own /var/log/kubesim/commands.log; faults from the lab's faults file apply before the tool runs.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import nodeModule from "node:module";
import path from "node:path";
import type { LabFault, SimConfig } from "../types.js";
import { SimExit, labState, readJson, readOs, type Sim } from "./util.js";

// Every simulated command is a fresh Node process: load only the tool that runs (the YAML parser and
// kubeadm's certificate code cost more than the command itself), and on Node 22+ reuse compiled code.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

type Tool = (sim: Sim, args: string[]) => number | Promise<number>;

const TOOLS: Record<string, () => Promise<Tool>> = {
  kubeadm: async () => (await import("./kubeadm.js")).kubeadm,
  kubelet: async () => (await import("./system.js")).kubelet,
  kubectl: async () => (await import("./system.js")).kubectl,
  "apt-get": async () => (await import("./packages.js")).aptGet,
  "apt-mark": async () => (await import("./packages.js")).aptMark,
  dpkg: async () => (await import("./packages.js")).dpkg,
  "dpkg-query": async () => (await import("./packages.js")).dpkgQuery,
  dnf: async () => {
    const { dnf } = await import("./packages.js");
    return (sim, a) => dnf(sim, "dnf", a);
  },
  yum: async () => {
    const { dnf } = await import("./packages.js");
    return (sim, a) => dnf(sim, "yum", a);
  },
  rpm: async () => (await import("./packages.js")).rpm,
  systemctl: async () => (await import("./systemctl.js")).systemctl,
  modprobe: async () => (await import("./system.js")).modprobe,
  sysctl: async () => (await import("./system.js")).sysctl,
  swapoff: async () => (await import("./system.js")).swapoff,
  curl: async () => (await import("./net.js")).curl,
  gpg: async () => (await import("./net.js")).gpg,
  containerd: async () => (await import("./containerd.js")).containerd,
  "firewall-cmd": async () => (await import("./firewalld.js")).firewallCmd,
  getenforce: async () => (await import("./selinux.js")).getenforce,
  setenforce: async () => (await import("./selinux.js")).setenforce,
  crictl: async () => (await import("./crictl.js")).crictl,
};

/** The lab's faults; the YAML parser is loaded only when the file holds any. */
async function loadFaults(file: string): Promise<{ faults: LabFault[]; match: typeof import("../faults.js").matchFault; key: typeof import("../faults.js").faultKey } | undefined> {
  let text = "";
  try {
    text = readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
  if (text === "" || text === "[]") return undefined;
  const f = await import("../faults.js");
  return { faults: f.parseFaults(text, file), match: f.matchFault, key: f.faultKey };
}

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
    const load = tool ? TOOLS[tool] : undefined;
    if (!load) throw new SimExit(127, `kubesim: unknown tool ${tool ?? ""}\n`);
    // faults, reloaded on every command
    let fault: LabFault | undefined;
    try {
      const f = await loadFaults(sim.cfg.faultsFile);
      if (f) {
        // `times`: how often each fault applied on this host so far (the lab's own file for the host)
        const countsFile = path.join(sim.hostDir, "fault-counts.json");
        const used = readJson<Record<string, number>>(countsFile, {});
        fault = f.match(f.faults, sim.host, argv, used);
        if (fault?.times !== undefined) {
          const k = f.key(fault, f.faults.indexOf(fault));
          used[k] = (used[k] ?? 0) + 1;
          try {
            writeFileSync(countsFile, JSON.stringify(used));
          } catch {
            /* not writable for this user: the fault applies again */
          }
        }
      }
    } catch (e) {
      process.stderr.write(`kubesim: ignoring faults: ${(e as Error).message}\n`);
    }
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.hang) {
      record(sim, argv, null, t0, { fault: "hang" });
      await new Promise(() => setInterval(() => {}, 1 << 30));
    }
    if (fault?.transient) {
      const t = (await import("./transient.js")).transientOutcome(fault.transient, argv);
      process.stdout.write(t.stdout);
      process.stderr.write(t.stderr);
      if (t.proceed) await new Promise((r) => setTimeout(r, 200));
      else {
        record(sim, argv, t.code, t0, { fault: `transient ${fault.transient}` });
        return t.code;
      }
    }
    if (fault && (fault.fail !== undefined || fault.exitCode !== undefined)) {
      const code = fault.exitCode ?? 1;
      process.stderr.write(`${fault.fail ?? `${tool}: failed (lab fault)`}\n`);
      record(sim, argv, code, t0, { fault: fault.fail ?? "exit" });
      return code;
    }
    const impl = await load();
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
