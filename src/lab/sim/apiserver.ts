// The simulated kubeadm's control plane, for real: `kubeadm init` starts the Kubernetes API simulator
// (dist/lab/apisim/main.js, "the store": the cluster's state as the shared etcd holds it) detached, serving
// on a unix socket in the lab's cluster directory, and every control plane (init and each
// `kubeadm join --control-plane`) runs a front on its port 6443 that passes connections to it
// (apiproxy.js): its kube-apiserver. init and join register their Node through the API with the kubelet's
// own credentials (kubelet.conf). A front is recorded in <lab>/hosts/<host>/procs/apiproxy.json (it goes
// with its host); the store in <lab>/cluster/procs/apiserver.json (it outlives any one control plane, as
// etcd does while it keeps quorum, see etcd.ts). `lab down` kills both by PID (also after a crash);
// `kubeadm reset` stops this host's front, removes its etcd member, and stops the store with the last one.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { credentialsFromKubeconfig, registerNode, type NodeSpecInput } from "../apisim/nodes.js";
import { hostCalicoDevicesManaged } from "./networkmanager.js";
import { kubeconfigYaml } from "../apisim/pki.js";
import { isAlive, killAndWait, procRef, refAlive } from "../procs.js";
import type { ProcRef } from "../types.js";
import { hostInterfaces } from "./netinfo.js";
import { installedVersion, upstream } from "./packages.js";
import { k8sVersion } from "./system.js";
import { readJson, writeJson, type Sim } from "./util.js";
import { loadEtcd, memberUp, quorumProblem, saveEtcd } from "./etcd.js";
import { kubeletArgs } from "./static-pods.js";

/** Where the cluster's API server runs (kept in the lab's cluster.json). */
export interface ApiLocation {
  host: string;
  address: string;
  port: number;
  url: string;
}

export type Daemon = "apiserver" | "apiproxy";

/** The proc record, plus what `kubeadm reset` must clean after the process. */
interface DaemonRef extends ProcRef {
  stateFile?: string;
}

const LOG_DIR = "/var/log/kubesim";
const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPTS: Record<Daemon, string> = {
  apiserver: path.join(here, "..", "apisim", "main.js"),
  apiproxy: path.join(here, "apiproxy.js"),
};

const procFile = (sim: Sim, name: Daemon) => path.join(name === "apiserver" ? sim.clusterDir : sim.hostDir, "procs", `${name}.json`);

/** The store's unix socket (a short path: sun_path holds 107 bytes). */
export const storeSocket = (sim: Sim) => path.join(sim.clusterDir, "apiserver.sock");

export function daemonRef(sim: Sim, name: Daemon): DaemonRef | undefined {
  return readJson<DaemonRef | undefined>(procFile(sim, name), undefined);
}

export function daemonRunning(sim: Sim, name: Daemon): boolean {
  const ref = daemonRef(sim, name);
  return ref !== undefined && refAlive(ref);
}

/** Stop this host's recorded process (by PID, start time checked) and forget it; returns its record. */
export async function stopDaemon(sim: Sim, name: Daemon): Promise<DaemonRef | undefined> {
  const ref = daemonRef(sim, name);
  if (ref && refAlive(ref)) await killAndWait([{ pid: ref.pid, start: ref.start }], "SIGTERM", 3000);
  rmSync(procFile(sim, name), { force: true });
  return ref;
}

function readFrom(file: string, offset: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = statSync(file).size;
    if (size <= offset) return "";
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The API simulator's readiness delay (Nodes turn Ready, rollouts become ready that many ms after they
 * could): the lab's KUBESIM_READY_AFTER_MS, else the simulator's default (DEFAULT_READY_AFTER_MS).
 */
function readyAfterArgs(sim: Sim): string[] {
  const v = sim.env["KUBESIM_READY_AFTER_MS"];
  return v !== undefined && /^\d+$/.test(v) ? ["--ready-after-ms", v] : [];
}

/** The lab-level registry mirror declarations (REGISTRY_MIRRORS_FILE in the lab's directory), as apisim flags. */
export const REGISTRY_MIRRORS_FILE = "registry-mirrors.json";
function registryMirrorArgs(sim: Sim): string[] {
  const decl = readJson<Record<string, string[]>>(path.join(sim.labDir, REGISTRY_MIRRORS_FILE), {});
  return Object.entries(decl).flatMap(([prefix, ups]) => ["--registry-mirror", `${prefix}=${ups.join(",")}`]);
}

/**
 * Start a daemon detached (its own session, output to /var/log/kubesim/<name>.log on this host) and wait
 * for its "listening on" line. Throws an Error whose message is the reason (last log line) otherwise.
 */
export async function startDaemon(sim: Sim, name: Daemon, args: string[], extra: Omit<DaemonRef, keyof ProcRef> = {}, timeoutMs = 15_000): Promise<ProcRef> {
  await stopDaemon(sim, name);
  mkdirSync(LOG_DIR, { recursive: true });
  const log = path.join(LOG_DIR, `${name}.log`);
  const fd = openSync(log, "a");
  const offset = statSync(log).size;
  let pid: number | undefined;
  try {
    // a front also plays its host's kubelet for the kube-apiserver and etcd static pods (static-pods.ts)
    const extra = name === "apiserver" ? [...readyAfterArgs(sim), ...registryMirrorArgs(sim)] : kubeletArgs(sim);
    const child = spawn(process.execPath, [SCRIPTS[name], ...args, ...extra], { detached: true, stdio: ["ignore", fd, fd], env: sim.env, cwd: "/" });
    child.on("error", () => {});
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  if (pid === undefined) throw new Error(`cannot start ${process.execPath}`);
  // recorded at once, so `lab down` finds it even if this command dies while waiting
  const ref: DaemonRef = { ...procRef(pid, `${name} ${sim.host}`), ...extra };
  writeJson(procFile(sim, name), ref);
  const t0 = Date.now();
  for (;;) {
    const out = readFrom(log, offset);
    if (/^listening on /m.test(out)) return ref;
    const lastLine = () => out.trim().split("\n").filter(Boolean).pop() ?? "no output";
    if (!refAlive(ref)) {
      rmSync(procFile(sim, name), { force: true });
      throw new Error(`${name} exited: ${lastLine()}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      await stopDaemon(sim, name);
      throw new Error(`${name} did not listen within ${Math.round(timeoutMs / 1000)} s: ${lastLine()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type ProbeResult = "ok" | "refused" | "unreachable" | "timeout";

/** One TCP connection attempt from this host. */
export function probe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    s.once("connect", () => done("ok"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "refused" : "unreachable"));
  });
}

export function splitHostPort(ep: string): { host: string; port: number } {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(ep);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: ep, port: 6443 };
}

function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (m) return m[1]!;
  } catch {
    /* none */
  }
  return "Linux";
}

/** What this host's kubelet would report about itself. */
export function nodeSpec(o: { name: string; address: string; controlPlane: boolean; taints?: NodeSpecInput["taints"]; networkManagerActive?: boolean }): NodeSpecInput {
  const cri = installedVersion("containerd") ?? installedVersion("containerd.io");
  const nm = hostCalicoDevicesManaged(o.networkManagerActive === true);
  return {
    name: o.name,
    address: o.address,
    ...(nm.length ? { networkManagerManages: nm } : {}),
    // the host's interfaces, for the API simulator's view of calico-node's address autodetection
    interfaces: hostInterfaces(),
    controlPlane: o.controlPlane,
    kubeletVersion: k8sVersion("kubelet"),
    ...(o.taints !== undefined ? { taints: o.taints } : {}),
    osImage: osImage(),
    kernelVersion: os.release(),
    ...(cri ? { containerRuntimeVersion: `containerd://${upstream(cri)}` } : {}),
    architecture: process.arch === "x64" ? "amd64" : process.arch,
    cpu: String(os.cpus().length),
    memory: `${Math.floor(os.totalmem() / 1024)}Ki`,
  };
}

/**
 * Register the Node as its kubelet does: with the kubelet's client certificate (kubelet.conf), against
 * `server` (the endpoint this host reached). Throws the API's or the TLS layer's message.
 */
export async function registerWithKubelet(kubeletConf: string, server: string, node: NodeSpecInput): Promise<void> {
  const creds = credentialsFromKubeconfig(kubeletConf);
  // /tmp is private to the host; the file holds a client key: 0600, removed at once
  const tmp = path.join(os.tmpdir(), `kubesim-kubelet-${process.pid}-${randomBytes(4).toString("hex")}.conf`);
  writeFileSync(tmp, kubeconfigYaml({ clusterName: "kubernetes", server, caPem: creds.ca, user: "kubelet", certPem: creds.cert, keyPem: creds.key }), { mode: 0o600 });
  try {
    await registerNode(tmp, node);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * kubeadm reset on this host: stop its kube-apiserver front and remove its etcd member (through the
 * cluster, which needs quorum: without it kubeadm only warns, and the member stays). When no member is
 * left, the store stops and the cluster's state goes with it. Returns warnings to print.
 */
export async function stopHostControlPlane(sim: Sim): Promise<string[]> {
  const warnings: string[] = [];
  const etcd = loadEtcd(sim.clusterDir);
  const mine = etcd?.members.filter((m) => m.host === sim.host) ?? [];
  // reset's remove-etcd-member phase runs while this host's etcd still runs (before cleanup-node)
  const problem = quorumProblem(sim.labDir, sim.clusterDir);
  await stopDaemon(sim, "apiproxy");
  if (etcd && mine.length > 0) {
    if (problem) {
      warnings.push(`[reset] Failed to remove etcd member: etcdserver: request timed out (lab: ${problem}). Please manually remove this etcd member using etcdctl`);
    } else {
      etcd.members = etcd.members.filter((m) => m.host !== sim.host);
      saveEtcd(sim.clusterDir, etcd);
    }
  }
  const left = loadEtcd(sim.clusterDir)?.members.length ?? 0;
  if (left === 0) {
    const ref = await stopDaemon(sim, "apiserver");
    if (ref?.stateFile) {
      rmSync(ref.stateFile, { force: true });
      rmSync(`${ref.stateFile}.journal`, { force: true });
    }
    rmSync(storeSocket(sim), { force: true });
  }
  return warnings;
}

/** A control plane whose front answers (its member up): where a client goes when the endpoint does not. */
export function liveFront(sim: Sim): { address: string; port: number } | undefined {
  const m = loadEtcd(sim.clusterDir)?.members.find((x) => memberUp(sim.labDir, x));
  return m ? { address: new URL(m.peerURL).hostname, port: m.apiPort } : undefined;
}

/**
 * One writer of the lab's shared cluster directory at a time: tests run `kubeadm init` on several hosts
 * of one lab at once, and each init replaces the directory. The lock is a directory holding the owner's
 * PID; a lock whose owner is gone is taken over.
 */
export async function withClusterLock<T>(sim: Sim, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const lock = path.join(sim.labDir, "cluster.lock");
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "owner"), `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = 0;
      try {
        owner = Number(readFileSync(path.join(lock, "owner"), "utf8").trim());
      } catch {
        /* being created or removed */
      }
      const stale = owner > 0 ? !isAlive(owner) : Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 5000;
      if (stale) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() - t0 > timeoutMs) throw new Error(`the lab's cluster directory stays locked by PID ${owner}`);
      else await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
