// One simulated command: the tool named by argv[0] run against this host, with faults applied first and the
// command recorded to <lab>/hosts/<host>/commands.log (read by tests) and to the host's own
// /var/log/kubesim/commands.log. Everything a command owns comes in a CommandIo, so one process can run
// several commands at once: main.ts runs one per Node start, resident.ts many in a resident process.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { LabFault, SimConfig } from "../types.js";
import { SimExit, labState, readJson, readOs, type Sim } from "./util.js";

type Tool = (sim: Sim, args: string[]) => number | Promise<number>;

const TOOLS: Record<string, () => Promise<Tool>> = {
  kubeadm: async () => {
    const light = await import("./kubeadm-version.js");
    return async (sim, argv) => {
      const [cmd, ...rest] = light.withoutVerbosity(argv);
      if (cmd === "version") return light.kubeadmVersion(sim, rest);
      return (await import("./kubeadm.js")).kubeadm(sim, argv);
    };
  },
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
  crictl: async () => (await import("./crictl.js")).crictl,
  getenforce: async () => (await import("./selinux.js")).getenforce,
  setenforce: async () => (await import("./selinux.js")).setenforce,
};

/** What one command owns: its argv (tool first), environment, uid and stdio file descriptors. */
export interface CommandIo {
  argv: string[];
  env: Record<string, string | undefined>;
  uid: number;
  /** [stdin, stdout, stderr] */
  stdio: [number, number, number];
  /** Aborted when the caller went away (the resident client was killed): a fault delay or hang ends. */
  signal?: AbortSignal;
}

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

/** Write all of `data` to `fd`; a reader that went away (EPIPE) or a closed fd drops the output. */
export function writeAll(fd: number, data: string | Uint8Array): void {
  let buf = typeof data === "string" ? Buffer.from(data) : data;
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      // a non-blocking pipe that is full: wait for the reader
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") Atomics.wait(PAUSE, 0, 0, 2);
      else {
        writeErrorHook?.(fd, (e as Error).message);
        return;
      } // EPIPE, EBADF: as a real tool killed by SIGPIPE, nothing more is written
    }
  }
}
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
let writeErrorHook: ((fd: number, message: string) => void) | undefined;
/** The resident simulator logs output that could not be written (a debugging aid). */
export function onWriteError(hook: (fd: number, message: string) => void): void {
  writeErrorHook = hook;
}

function readAll(fd: number): Buffer {
  try {
    return readFileSync(fd);
  } catch {
    return Buffer.alloc(0);
  }
}

function makeSim(labDir: string, io: CommandIo): Sim {
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
  const [fdIn, fdOut, fdErr] = io.stdio;
  const sim: Sim = {
    host,
    labDir,
    cfg,
    hostDir: path.join(labDir, "hosts", host),
    clusterDir: path.join(labDir, "cluster"),
    isRoot: io.uid === 0,
    out: (s) => writeAll(fdOut, s),
    err: (s) => writeAll(fdErr, s),
    stdin: () => readAll(fdIn).toString("utf8"),
    stdinBytes: () => readAll(fdIn),
    env: io.env,
    stdio: io.stdio,
    address: () => (address ??= labState(sim)?.hosts.find((h) => h.name === host)?.address ?? "127.0.0.1"),
    os: () => (os ??= readOs()),
  };
  return sim;
}

function record(sim: Sim | undefined, io: CommandIo, exitCode: number | null, t0: number, extra: Record<string, unknown> = {}): void {
  if (!sim) return;
  const line = `${JSON.stringify({ time: new Date(t0).toISOString(), host: sim.host, uid: io.uid, argv: io.argv, exitCode, durationMs: Date.now() - t0, ...extra })}\n`;
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

/** The caller went away during a fault's delay or hang: the command ends there, unrecorded, as a killed process would. */
export class Aborted extends Error {}

/** Wait `ms` (forever when undefined) unless `signal` aborts first. */
function wait(ms: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Aborted());
    const timer = ms === undefined ? setInterval(() => {}, 1 << 30) : setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        clearInterval(timer);
        reject(new Aborted());
      },
      { once: true },
    );
  });
}

/** Run one simulated command; resolves to its exit code (rejects with Aborted only when io.signal fired). */
export async function runCommand(io: CommandIo): Promise<number> {
  const [tool, ...args] = io.argv;
  const t0 = Date.now();
  const err = (s: string) => writeAll(io.stdio[2], s);
  let sim: Sim | undefined;
  try {
    const labDir = io.env.KUBESIM_LAB_DIR;
    if (!labDir) throw new SimExit(1, "kubesim: KUBESIM_LAB_DIR is not set (run through a lab host's shim)\n");
    sim = makeSim(labDir, io);
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
        fault = f.match(f.faults, sim.host, io.argv, used);
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
      err(`kubesim: ignoring faults: ${(e as Error).message}\n`);
    }
    if (fault?.delayMs) await wait(fault.delayMs, io.signal);
    if (fault?.hang) {
      record(sim, io, null, t0, { fault: "hang" });
      await wait(undefined, io.signal);
    }
    if (fault?.transient) {
      const t = (await import("./transient.js")).transientOutcome(fault.transient, io.argv);
      writeAll(io.stdio[1], t.stdout);
      err(t.stderr);
      if (t.proceed) await wait(200, io.signal);
      else {
        record(sim, io, t.code, t0, { fault: `transient ${fault.transient}` });
        return t.code;
      }
    }
    if (fault && (fault.fail !== undefined || fault.exitCode !== undefined)) {
      const code = fault.exitCode ?? 1;
      err(`${fault.fail ?? `${tool}: failed (lab fault)`}\n`);
      record(sim, io, code, t0, { fault: fault.fail ?? "exit" });
      return code;
    }
    const impl = await load();
    const code = await impl(sim, args);
    record(sim, io, code, t0);
    return code;
  } catch (e) {
    if (e instanceof Aborted) throw e;
    if (e instanceof SimExit) {
      if (e.stderr) err(e.stderr);
      record(sim, io, e.code, t0);
      return e.code;
    }
    err(`kubesim: internal error in ${tool}: ${(e as Error).stack ?? String(e)}\n`);
    record(sim, io, 70, t0, { error: String(e) });
    return 70;
  }
}
