// The lab: N simulated hosts on this machine. Each host is a network namespace on a bridge, with its
// own hostname, a private /run and /tmp, copy-on-write overlays of /etc, /var/lib, /var/log, /root,
// /home and /usr/local/bin, and a real OpenSSH sshd. A node simulator on each host's PATH plays
// kubeadm, kubelet, apt/dnf, systemctl … (src/lab/sim/). Everything is recorded in a state file
// before it is created, so labDown can clean up after a crash.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import pLimit from "p-limit";
import { stringify } from "yaml";
import { LabError } from "../errors.js";
import { KUBERNETES } from "../versions.js";
import { InventorySchema, API_VERSION } from "../inventory/schema.js";
import { parseFaults } from "./faults.js";
import { describeMissing, missingPrograms, packagesFor } from "./requirements.js";
import { layoutRoles, layoutTotal, type Roles } from "./layout.js";
import { OS_RELEASE, osFamily, rhelHostFiles } from "./os.js";
import { firewalldRuleset, initialFirewalldState } from "./sim/firewalld.js";
import { BASH_CLIENT_DIR, simShim } from "./sim/shim.js";
import { buildSimClient, placeSimClient } from "./sim-client.js";
import { OVERLAID, hiddenInHost, labDir, labRoot, packageRoot, simMainPath } from "./paths.js";
import { isAlive, killAndWait, netnsInode, pidsInNetns, procRef, refAlive } from "./procs.js";
import {
  LAB_NETWORKS,
  LAB_OSES,
  VAGRANT_NAT,
  type LabFault,
  type LabNetwork,
  type LabHost,
  type LabOs,
  type LabState,
  type LabStatus,
  type ProcRef,
  type SimConfig,
} from "./types.js";

export type { LabState, LabStatus, LabOs, LabFault, LabHost, LabNetwork } from "./types.js";
export { LAB_OSES, LAB_NETWORKS, VAGRANT_NAT } from "./types.js";

export interface LabUpOptions {
  /** Lab name (default "kubesmith"); a DNS label of at most 20 characters. */
  name?: string;
  /** Number of hosts; may be left out when `layout` is given. */
  hosts?: number;
  /** One OS for every host, or one per host. Default debian-12. */
  os?: LabOs | LabOs[];
  /** Third octet N of 198.18.N.0/24; default derived from the name (and the next free one). */
  subnet?: number;
  /** Where to write the inventory (default inventories/lab.yaml in the current directory). */
  inventoryOut?: string;
  /** A faults file (YAML/JSON) the simulator reads on every command. */
  faultsFile?: string;
  /** Role counts like "3cp,3w,2fe". */
  layout?: string;
  /** Explicit roles per host (overrides layout). */
  roles?: Roles[];
  /** Host networking: "bridge" (default, eth0 on the lab bridge) or "vagrant" (eth0 NAT, eth1 private). */
  network?: LabNetwork;
  /** Progress lines. */
  log?: (line: string) => void;
}

export const DEFAULT_LAB = "kubesmith";
const USER = { name: "kube", uid: 1001 };
const MAX_HOSTS = 244; // .11 … .254
const SSHD = "/usr/sbin/sshd";

// ---------------------------------------------------------------------------------------------
// small helpers

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on("error", () => {}); // the tool may exit before reading
      child.stdin.end(input);
    }
  });
}

async function runOk(cmd: string, args: string[], what: string, input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) {
    const last = r.stderr.trim().split("\n").pop() ?? "";
    throw new LabError(`${what} failed (${cmd} exited ${r.code})${last ? `: ${last}` : ""}`);
  }
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function writeAtomic(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** mkdir with the mode and owner of `like` (an overlay's upper dir shows through as the merged dir). */
function mkdirLike(dir: string, like: string, fallbackMode = 0o755): void {
  mkdirSync(dir, { recursive: true });
  try {
    const st = statSync(like);
    chmodSync(dir, st.mode & 0o7777);
    chownSync(dir, st.uid, st.gid);
  } catch {
    chmodSync(dir, fallbackMode);
  }
}

/** Copy a file keeping mode and owner, with extra text appended. */
function copyWithAppend(from: string, to: string, append: string): void {
  const st = statSync(from);
  let text = readFileSync(from, "utf8");
  if (text && !text.endsWith("\n")) text += "\n";
  writeFileSync(to, text + append);
  chmodSync(to, st.mode & 0o7777);
  chownSync(to, st.uid, st.gid);
}

function stateFile(name: string): string {
  return path.join(labDir(name), "state.json");
}

export function saveState(state: LabState): void {
  writeAtomic(path.join(state.dir, "state.json"), `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

function subnetLockDir(): string {
  return path.join(labRoot(), ".subnets");
}

/** A stable default subnet for a name (FNV-1a), 0-255. */
export function subnetFor(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name)) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 256;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name) || name.length > 20) {
    throw new LabError(`lab name '${name}' is not valid`, {
      hint: "use at most 20 lower-case letters, digits and '-', starting and ending with a letter or digit",
    });
  }
}

/** Root, Linux, and the tools the lab runs. */
export function checkLabPrerequisites(): void {
  if (process.platform !== "linux") {
    throw new LabError("the lab needs root and Linux network namespaces: run it on Linux with sudo");
  }
  if (process.getuid?.() !== 0) {
    throw new LabError("the lab needs root and Linux network namespaces: run with sudo");
  }
  const missing = missingPrograms(["lab"]);
  if (missing.length) {
    throw new LabError(`the lab needs ${describeMissing(missing)}, which ${missing.length > 1 ? "are" : "is"} not installed`, {
      hint: `install with: sudo npx kubesmith lab setup (apt-get install -y ${packagesFor(missing).join(" ")})`,
    });
  }
  if (!existsSync(simMainPath())) {
    throw new LabError(`the node simulator is not built (${simMainPath()} is missing)`, { hint: "run npm run build" });
  }
}

// ---------------------------------------------------------------------------------------------
// state

export function loadLabState(name: string = DEFAULT_LAB): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(name), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as LabState;
  } catch {
    throw new LabError(`lab state ${stateFile(name)} is not valid JSON`, {
      hint: "remove the lab's namespaces by hand (ip netns list) and delete the directory",
    });
  }
}

/** Processes that simulated commands started (keepalived), recorded by the simulator per host. */
export function simProcs(state: LabState): ProcRef[] {
  const out: ProcRef[] = [];
  // each host's, and the cluster's (the API store, which outlives any one host: sim/apiserver.ts)
  for (const dir of [...state.hosts.map((h) => path.join(h.dir, "procs")), path.join(state.dir, "cluster", "procs")]) {
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        out.push(JSON.parse(readFileSync(path.join(dir, f), "utf8")) as ProcRef);
      } catch {
        /* half-written: the netns scan still finds the process */
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// up

/** Create a lab. Tears down what it built when it fails midway. */
export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const name = opts.name ?? DEFAULT_LAB;
  const log = opts.log ?? (() => {});
  checkName(name);
  const count = opts.hosts ?? (opts.roles ? opts.roles.length : opts.layout ? layoutTotal(opts.layout) : undefined);
  if (count === undefined || !Number.isInteger(count) || count < 1 || count > MAX_HOSTS) {
    throw new LabError(`a lab needs between 1 and ${MAX_HOSTS} hosts (got ${count ?? "none"})`, { hint: "pass --hosts N" });
  }
  const roles = opts.roles ?? layoutRoles(count, opts.layout);
  if (roles.length !== count) throw new LabError(`lab roles list has ${roles.length} entries for ${count} hosts`);
  const oses: LabOs[] = Array.isArray(opts.os)
    ? opts.os
    : Array.from({ length: count }, () => (opts.os as LabOs | undefined) ?? "debian-12");
  if (oses.length !== count) throw new LabError(`lab --os lists ${oses.length} systems for ${count} hosts`);
  for (const o of oses) {
    if (!LAB_OSES.includes(o)) throw new LabError(`lab OS '${o}' is not one of ${LAB_OSES.join(", ")}`);
  }
  const network = opts.network ?? "bridge";
  if (!LAB_NETWORKS.includes(network)) throw new LabError(`lab network '${network}' is not one of ${LAB_NETWORKS.join(", ")}`);
  if (opts.subnet !== undefined && (!Number.isInteger(opts.subnet) || opts.subnet < 0 || opts.subnet > 255)) {
    throw new LabError(`lab subnet ${opts.subnet} must be 0-255 (the N of 198.18.N.0/24)`);
  }
  let userFaults: string | undefined;
  if (opts.faultsFile) {
    userFaults = path.resolve(opts.faultsFile);
    try {
      parseFaults(readFileSync(userFaults, "utf8"), userFaults);
    } catch (e) {
      throw new LabError(`lab faults file: ${(e as Error).message}`);
    }
  }
  checkLabPrerequisites();

  const t0 = Date.now();
  const dir = labDir(name);
  mkdirSync(labRoot(), { recursive: true, mode: 0o755 });
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new LabError(`lab '${name}' is already up (state in ${dir})`, { hint: `run kubesmith lab down --name ${name} first` });
    }
    throw e;
  }
  chmodSync(dir, 0o755);

  const state: LabState = {
    version: 1,
    name,
    dir,
    subnet: -1,
    gateway: "",
    phase: "building",
    createdAt: new Date().toISOString(),
    keyFile: path.join(dir, "id_ed25519"),
    knownHostsFile: path.join(dir, "known_hosts"),
    passwordFile: path.join(dir, "kube.password"),
    user: USER,
    faultsFile: userFaults ?? path.join(dir, "faults.yaml"),
    ...(network === "vagrant" ? { network } : {}),
    hosts: [],
    namespaces: [],
    veths: [],
    procs: [],
    vips: {},
  };
  saveState(state);

  try {
    await build(state, { count, roles, oses, subnet: opts.subnet, inventoryOut: opts.inventoryOut, log });
    log(`lab ${name}: ${count} host(s) up on 198.18.${state.subnet}.0/24 in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    return state;
  } catch (e) {
    log(`lab ${name}: failed, tearing down what was built`);
    await teardown(state).catch(() => {});
    throw e;
  }
}

interface BuildPlan {
  count: number;
  roles: Roles[];
  oses: LabOs[];
  subnet?: number;
  inventoryOut?: string;
  log: (line: string) => void;
}

function reserveSubnet(state: LabState, wanted?: number): number {
  const locks = subnetLockDir();
  mkdirSync(locks, { recursive: true });
  const start = wanted ?? subnetFor(state.name);
  for (let k = 0; k < 256; k++) {
    const n = (start + k) % 256;
    const lock = path.join(locks, String(n));
    try {
      writeFileSync(lock, state.name, { flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = "";
      try {
        owner = readFileSync(lock, "utf8").trim();
      } catch {
        /* raced */
      }
      if (owner && !existsSync(path.join(labRoot(), owner, "state.json"))) {
        // stale: its lab is gone
        rmSync(lock, { force: true });
        k--;
        continue;
      }
      if (wanted !== undefined) {
        throw new LabError(`subnet 198.18.${n}.0/24 is used by lab '${owner}'`, { hint: "choose another --subnet or leave it out" });
      }
      continue;
    }
    if (existsSync(`/sys/class/net/${bridgeName(n)}`)) {
      // not ours and not a lab we know of: leave it alone
      rmSync(lock, { force: true });
      if (wanted !== undefined) throw new LabError(`bridge ${bridgeName(n)} already exists`, { hint: "choose another --subnet" });
      continue;
    }
    return n;
  }
  throw new LabError("no free lab subnet in 198.18.0.0/16", { hint: "take some labs down with kubesmith lab down" });
}

const bridgeName = (n: number) => `ks${n}br`; // ≤ 7 chars
const vethName = (n: number, i: number) => `ks${n}h${i}`; // ≤ 9 chars (IFNAMSIZ 15)
const natVethName = (n: number, i: number) => `ks${n}n${i}`; // ≤ 9 chars

async function build(state: LabState, plan: BuildPlan): Promise<void> {
  const { count, log } = plan;
  const dir = state.dir;
  const n = reserveSubnet(state, plan.subnet);
  state.subnet = n;
  state.gateway = `198.18.${n}.1`;
  const cps = plan.roles.filter((r) => r.includes("control-plane")).length;
  if (cps > 1) state.vips.controlPlane = `198.18.${n}.2`;
  if (plan.roles.some((r) => r.includes("frontend"))) state.vips.edge = `198.18.${n}.3`;
  state.hosts = Array.from({ length: count }, (_, k): LabHost => {
    const i = k + 1;
    const name = `lab-${i}`;
    return {
      name,
      index: i,
      address: `198.18.${n}.${10 + i}`,
      namespace: `ks-${state.name}-${i}`,
      veth: vethName(n, i),
      ...(state.network === "vagrant" ? { nic: "eth1", natVeth: natVethName(n, i) } : {}),
      os: plan.oses[k]!,
      roles: plan.roles[k]!,
      dir: path.join(dir, "hosts", name),
    };
  });
  saveState(state);

  // --- secrets: client key, kube's password
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kubesmith-lab-${state.name}`, "-f", state.keyFile], "ssh-keygen (lab key)");
  const password = randomBytes(12).toString("base64url");
  writeFileSync(state.passwordFile, `${password}\n`, { mode: 0o600 });
  const hash = (await runOk("openssl", ["passwd", "-6", "-stdin"], "openssl passwd", `${password}\n`)).trim();
  writeFileSync(path.join(dir, "authorized_keys"), readFileSync(`${state.keyFile}.pub`));
  chmodSync(path.join(dir, "authorized_keys"), 0o644);

  // --- shared pieces: skeletons, simulator shims, cluster dir, faults, sim config
  const skelRoot = path.join(dir, "skel", "root");
  const skelHome = path.join(dir, "skel", "home");
  mkdirSync(skelRoot, { recursive: true, mode: 0o700 });
  mkdirSync(skelHome, { recursive: true, mode: 0o755 });
  for (const f of [".bashrc", ".profile"]) {
    if (existsSync(`/etc/skel/${f}`)) copyFileSync(`/etc/skel/${f}`, path.join(skelRoot, f));
  }
  const mnt = prepareSimPaths(state);
  const resident = residentSimulator();
  writeShims(state, mnt, resident);
  mkdirSync(path.join(dir, "cluster"), { recursive: true, mode: 0o755 });
  if (!existsSync(state.faultsFile)) writeFileSync(state.faultsFile, "[]\n");
  const sim: SimConfig = { lab: state.name, labDir: dir, faultsFile: state.faultsFile, subnet: n, ...(resident ? { resident } : {}) };
  writeAtomic(path.join(dir, "sim.json"), `${JSON.stringify(sim, null, 2)}\n`);

  // --- per-host files (upper dirs) and host keys
  // Vagrant writes only the VM's own name (on a loopback address) into /etc/hosts, never the other VMs:
  // so on the vagrant network the kubelet's lookup of its node name finds no usable address (see sim/netinfo.ts)
  const hostsFile = state.network === "vagrant" ? "" : state.hosts.map((h) => `${h.address}\t${h.name}`).join("\n");
  const limit = pLimit(8);
  await Promise.all(state.hosts.map((h) => limit(() => prepareHost(state, h, hash, hostsFile))));
  log(`lab ${state.name}: prepared ${count} host(s)`);

  // --- network: record, then create in one ip -batch
  state.bridge = bridgeName(n);
  state.namespaces = state.hosts.map((h) => h.namespace);
  state.veths = state.hosts.flatMap((h) => [h.veth, ...(h.natVeth ? [h.natVeth] : [])]);
  saveState(state);
  const lines = [
    // nf_call_*: keep the machine's bridge firewall out of lab traffic; no snooping so VRRP multicast flows
    `link add ${state.bridge} type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 mcast_snooping 0`,
    `addr add ${state.gateway}/24 dev ${state.bridge}`,
    `link set ${state.bridge} up`,
  ];
  for (const h of state.hosts) {
    lines.push(`netns add ${h.namespace}`);
    // vagrant: the NAT link first, so it is eth0 with the lower ifindex, as on a VirtualBox VM (interface
    // order decides Calico's first-found). Its root end joins nothing and has no address: each host's NAT
    // is private to it and carries no traffic.
    if (h.natVeth) lines.push(`link add ${h.natVeth} type veth peer name eth0 netns ${h.namespace}`, `link set ${h.natVeth} up`);
    lines.push(`link add ${h.veth} type veth peer name ${h.nic ?? "eth0"} netns ${h.namespace}`);
    lines.push(`link set ${h.veth} master ${state.bridge} up`);
  }
  const batch = path.join(dir, "net.batch");
  writeFileSync(batch, `${lines.join("\n")}\n`);
  await runOk("ip", ["-batch", batch], "creating the lab network");

  // --- start every host: namespaces, mounts, sshd
  for (const h of state.hosts) {
    const ref = startHost(state, h, mnt);
    h.sshd = ref;
  }
  saveState(state);
  await Promise.all(state.hosts.map((h) => waitForSshd(h)));

  // --- known_hosts and the inventory
  const known = state.hosts.map((h) => {
    const pub = readFileSync(path.join(h.dir, "upper", "etc", "ssh", "ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/);
    return `${h.address} ${pub[0]} ${pub[1]}`;
  });
  writeFileSync(state.knownHostsFile, `${known.join("\n")}\n`, { mode: 0o644 });
  const inv = renderInventory(state);
  const invCopy = path.join(dir, "inventory.yaml");
  writeFileSync(invCopy, inv);
  const out = path.resolve(plan.inventoryOut ?? path.join("inventories", "lab.yaml"));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, inv);
  state.inventoryPath = out;
  state.phase = "up";
  saveState(state);
}

interface SimMounts {
  /** Bind mounts done inside each host before the overlays: [source, target]. */
  binds: [string, string][];
  node: string;
  main: string;
}

/** The package and node may sit under a directory the hosts overlay (/root, /home, /tmp …): bind them. */
export function prepareSimPaths(state: LabState): SimMounts {
  const binds: [string, string][] = [];
  const root = packageRoot();
  let main = simMainPath(root);
  if (hiddenInHost(root)) {
    const target = path.join(state.dir, "mnt", "pkg");
    mkdirSync(target, { recursive: true });
    binds.push([root, target]);
    main = simMainPath(target);
  }
  let node = process.execPath;
  if (hiddenInHost(node)) {
    const nodeDir = path.dirname(path.dirname(node)); // <prefix>/bin/node -> <prefix>
    const target = path.join(state.dir, "mnt", "node");
    mkdirSync(target, { recursive: true });
    binds.push([nodeDir, target]);
    node = path.join(target, path.relative(nodeDir, node));
  }
  return { binds, node, main };
}

/** Tools the simulator plays; each is a shim in <lab>/simbin, layered on top of /usr/local/bin. */
export const SIM_TOOLS = [
  "kubeadm",
  "kubelet",
  "kubectl",
  "apt-get",
  "apt-mark",
  "dpkg",
  "dpkg-query",
  "dnf",
  "yum",
  "rpm",
  "systemctl",
  "modprobe",
  "sysctl",
  "swapoff",
  "curl",
  "gpg",
  "firewall-cmd",
  "getenforce",
  "setenforce",
  "crictl",
] as const;

/**
 * `stat` on a lab host: the one question the product asks about the cgroup hierarchy
 * (`stat -fc %T /sys/fs/cgroup/`, src/facts/gather.ts) is answered from the host's simulated hardware
 * (/var/lib/kubesim/hardware.json, "cgroup": "v1" → tmpfs, else cgroup2fs), since lab hosts share this
 * machine's /sys; so the product's facts and the simulated kubeadm/kubelet agree. Every other stat is the
 * real one. Plain sh, no Node start: probes call stat often.
 */
export const STAT_SHIM = `#!/bin/sh
case "$*" in
  "-fc %T /sys/fs/cgroup/"|"-fc %T /sys/fs/cgroup"|"-f -c %T /sys/fs/cgroup/"|"-f -c %T /sys/fs/cgroup")
    if grep -Eq '"cgroup"[[:space:]]*:[[:space:]]*"v1"' /var/lib/kubesim/hardware.json 2>/dev/null; then echo tmpfs; else echo cgroup2fs; fi
    exit 0 ;;
esac
exec /usr/bin/stat "$@"
`;

/**
 * Simulated commands go to a resident simulator per host (sim/resident.ts) unless KUBESIM_RESIDENT=0 is
 * set when the lab is made: then every command is a Node start, as before.
 */
function residentSimulator(): boolean {
  return process.env.KUBESIM_RESIDENT !== "0";
}

function writeShims(state: LabState, mnt: SimMounts, resident: boolean): void {
  const bin = path.join(state.dir, "simbin");
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  // the compiled client when this machine builds it (sim-client.ts): every tool is a link to it, and the
  // bash client moves beside it for the cases it hands on
  const client = resident ? buildSimClient(path.join(labRoot(), ".client")) : undefined;
  const bashDir = path.join(bin, BASH_CLIENT_DIR);
  if (client) mkdirSync(bashDir, { recursive: true, mode: 0o755 });
  for (const tool of SIM_TOOLS) {
    const shim = simShim({ labDir: state.dir, tool, node: mnt.node, main: mnt.main, resident });
    if (client) {
      writeFileSync(path.join(bashDir, tool), shim, { mode: 0o755 });
      placeSimClient(client, path.join(bin, tool));
    } else {
      writeFileSync(path.join(bin, tool), shim, { mode: 0o755 });
    }
  }
  // the compiled client answers as STAT_SHIM does, without a shell and grep (client.c stat_tool)
  if (client) placeSimClient(client, path.join(bin, "stat"));
  else writeFileSync(path.join(bin, "stat"), STAT_SHIM, { mode: 0o755 });
}

/** The overlay mounts of a host: mount point, its lower dirs (top first) and the upper dir key. */
function overlays(state: LabState): { target: string; lower: string[]; key: string }[] {
  return OVERLAID.map((target) => {
    const key = target.slice(1).replace(/\//g, "-");
    const lower =
      target === "/root"
        ? [path.join(state.dir, "skel", "root")]
        : target === "/home"
          ? [path.join(state.dir, "skel", "home")]
          : target === "/usr/local/bin"
            ? [path.join(state.dir, "simbin"), target]
            : [target];
    return { target, lower, key };
  });
}

export async function prepareHost(state: LabState, h: LabHost, hash: string, hostsFile: string): Promise<void> {
  const upper = path.join(h.dir, "upper");
  const work = path.join(h.dir, "work");
  mkdirSync(h.dir, { recursive: true, mode: 0o755 });
  for (const o of overlays(state)) {
    mkdirLike(path.join(upper, o.key), o.target);
    mkdirSync(path.join(work, o.key), { recursive: true, mode: 0o700 });
  }
  const etc = path.join(upper, "etc");
  writeFileSync(path.join(etc, "hostname"), `${h.name}\n`);
  writeFileSync(path.join(etc, "os-release"), OS_RELEASE[h.os]);
  if (osFamily(h.os) === "rhel") {
    // A RHEL-like bites as a real one does: SELinux enforcing, NetworkManager, firewalld running with its
    // public zone, whose rules setupScript loads into the host's namespace before sshd starts (see os.ts).
    for (const [rel, content] of Object.entries(rhelHostFiles())) {
      const file = path.join(upper, rel);
      mkdirSync(rel.endsWith("/") ? file : path.dirname(file), { recursive: true });
      if (!rel.endsWith("/")) writeFileSync(file, content);
    }
    const fw = initialFirewalldState();
    writeFileSync(path.join(upper, "var-lib", "kubesim", "firewalld.json"), `${JSON.stringify(fw, null, 2)}\n`);
    writeFileSync(path.join(h.dir, "firewalld.nft"), firewalldRuleset(fw.runtime!));
  }
  writeFileSync(path.join(etc, "machine-id"), `${randomBytes(16).toString("hex")}\n`);
  let hosts = "";
  try {
    hosts = readFileSync("/etc/hosts", "utf8");
  } catch {
    hosts = "127.0.0.1\tlocalhost\n";
  }
  writeFileSync(path.join(etc, "hosts"), `${hosts.trimEnd()}\n127.0.1.1\t${h.name}\n# kubesmith lab ${state.name}\n${hostsFile}\n`);

  // the non-root user, in this host's own account files
  const { name: u, uid } = state.user;
  const has = (file: string) => readFileSync(file, "utf8").split("\n").some((l) => l.startsWith(`${u}:`));
  if (!has("/etc/passwd")) copyWithAppend("/etc/passwd", path.join(etc, "passwd"), `${u}:x:${uid}:${uid}:${u}:/home/${u}:/bin/bash\n`);
  if (!has("/etc/shadow")) copyWithAppend("/etc/shadow", path.join(etc, "shadow"), `${u}:${hash}:20000:0:99999:7:::\n`);
  if (existsSync("/etc/gshadow") && !has("/etc/gshadow")) copyWithAppend("/etc/gshadow", path.join(etc, "gshadow"), `${u}:!::\n`);
  {
    const st = statSync("/etc/group");
    const lines = readFileSync("/etc/group", "utf8").trimEnd().split("\n");
    const out = lines.map((l) => {
      const f = l.split(":");
      if (f[0] !== "sudo" || f.length < 4) return l;
      const members = (f[3] ?? "").split(",").filter(Boolean);
      if (!members.includes(u)) members.push(u);
      f[3] = members.join(",");
      return f.join(":");
    });
    if (!lines.some((l) => l.startsWith(`${u}:`))) out.push(`${u}:x:${uid}:`);
    const file = path.join(etc, "group");
    writeFileSync(file, `${out.join("\n")}\n`);
    chmodSync(file, st.mode & 0o7777);
    chownSync(file, st.uid, st.gid);
  }
  const home = path.join(upper, "home", u);
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o750);
  chownSync(home, uid, uid);

  // this host's own ssh host key
  const sshDir = path.join(etc, "ssh");
  mkdirLike(sshDir, "/etc/ssh");
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${h.name}`, "-f", path.join(sshDir, "ssh_host_ed25519_key")], `ssh-keygen (${h.name})`);

  writeFileSync(
    path.join(h.dir, "sshd_config"),
    [
      `# kubesmith lab ${state.name}, host ${h.name}`,
      `ListenAddress ${h.address}:22`,
      "HostKey /etc/ssh/ssh_host_ed25519_key",
      "PidFile /run/sshd.pid",
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      `AuthorizedKeysFile ${path.join(state.dir, "authorized_keys")}`,
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
      "MaxStartups 1000",
      "MaxSessions 200",
      "ClientAliveInterval 0",
      "LogLevel ERROR",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  // the simulator's command log: 0600, owned by the lab's user `kube` (it runs tools unprivileged before
  // sudo); root writes it anyway, nobody else reads what was run
  const cmdLog = path.join(h.dir, "commands.log");
  closeSync(openSync(cmdLog, "a"));
  chownSync(cmdLog, state.user.uid, state.user.uid);
  chmodSync(cmdLog, 0o600);
  mkdirSync(path.join(h.dir, "procs"), { recursive: true, mode: 0o755 });
}

function setupScript(state: LabState, h: LabHost, mnt: SimMounts): string {
  const upper = path.join(h.dir, "upper");
  const work = path.join(h.dir, "work");
  const lines = [
    "set -e",
    `echo ${shq(h.name)} > /proc/sys/kernel/hostname`,
    "mount --make-rprivate /",
    // drop this mount namespace's copies of every lab's netns files (they would pin those namespaces)
    "umount -l /run/netns 2>/dev/null || true",
    "ip link set lo up",
    `ip addr add ${h.address}/24 dev ${h.nic ?? "eth0"}`,
    `ip link set ${h.nic ?? "eth0"} up`,
    // no default route: a lab host reaches the bridge and the other hosts, nothing else. On the vagrant
    // network the default route goes through the NAT link (as VirtualBox's DHCP sets it), which leads nowhere.
    ...(h.natVeth
      ? [`ip addr add ${VAGRANT_NAT.address}/${VAGRANT_NAT.prefix} dev eth0`, "ip link set eth0 up", `ip route add default via ${VAGRANT_NAT.gateway} dev eth0`]
      : []),
    // Every lab host shares the machine's CPUs, so a neighbour loaded by the others can answer ARP late; the
    // kernel gives up after mcast_solicit probes a second apart (3: connect then fails EHOSTUNREACH). A lab host
    // asks 10 times: a real host's neighbour, with a CPU of its own, answers within milliseconds (issue 12:
    // with 195 joins at once, one join's request to the VIP failed so).
    "for d in /proc/sys/net/ipv4/neigh/eth*; do echo 10 > \"$d/mcast_solicit\"; done",
    // RHEL-likes: firewalld's rules, as the running daemon loads them at boot (one nft call)
    ...(osFamily(h.os) === "rhel" ? [`nft -f ${shq(path.join(h.dir, "firewalld.nft"))}`] : []),
  ];
  for (const [src, dst] of mnt.binds) lines.push(`mount --bind ${shq(src)} ${shq(dst)}`);
  // hide the machine's other host keys behind whiteouts
  for (const k of ["rsa", "ecdsa", "dsa"]) {
    for (const suffix of ["", ".pub"]) {
      const f = `/etc/ssh/ssh_host_${k}_key${suffix}`;
      if (existsSync(f)) lines.push(`mknod ${shq(path.join(upper, f))} c 0 0`);
    }
  }
  lines.push(
    "mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m tmpfs /run",
    "mkdir -p /run/sshd /run/lock /run/kubesim",
    `echo ${shq(h.name)} > /run/kubesim/host`,
    "mount -t tmpfs -o mode=1777,nosuid,nodev,size=512m tmpfs /tmp",
  );
  for (const o of overlays(state)) {
    const opts = `lowerdir=${o.lower.join(":")},upperdir=${path.join(upper, o.key)},workdir=${path.join(work, o.key)}`;
    lines.push(`mount -t overlay overlay -o ${shq(opts)} ${shq(o.target)}`);
  }
  lines.push(`exec ${[SSHD, "-D", "-e", ...sshdFlags(), "-f", shq(path.join(h.dir, "sshd_config"))].join(" ")}`);
  return lines.join("\n");
}

/**
 * `-r` (no re-execution of sshd for each connection) where this machine's OpenSSH still has it: ≈ 3.5 ms of
 * CPU less per connection on the lab machines, 200 hosts' connections at once on 2 cores (issue 12). OpenSSH
 * 9.8 removed the option ("disabling re-execution of sshd(8) has been removed", its release notes), so newer
 * ones run as they are. Re-execution re-randomizes each connection's memory layout; nothing a lab test sees.
 */
export function sshdNoReexec(sshdVersion: string): string[] {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(sshdVersion);
  return m && (Number(m[1]) < 9 || (Number(m[1]) === 9 && Number(m[2]) < 8)) ? ["-r"] : [];
}

/** This machine's sshd's flags for the lab (sshdNoReexec of its `sshd -V`), asked once per process. */
let labSshdFlags: string[] | undefined;
function sshdFlags(): string[] {
  if (labSshdFlags === undefined) {
    const r = spawnSync(SSHD, ["-V"], { encoding: "utf8" });
    labSshdFlags = sshdNoReexec(`${r.stderr ?? ""}${r.stdout ?? ""}`);
  }
  return labSshdFlags;
}

export function startHost(state: LabState, h: LabHost, mnt: SimMounts): ProcRef {
  const logFd = openSync(path.join(h.dir, "sshd.log"), "a");
  try {
    // ip netns exec gives a private mount namespace; unshare --uts a private hostname. Both exec,
    // so the PID we get is sshd's.
    const child = spawn("ip", ["netns", "exec", h.namespace, "unshare", "--uts", "/bin/sh", "-c", setupScript(state, h, mnt)], {
      detached: true,
      stdio: ["ignore", logFd, logFd],
    });
    child.unref();
    if (child.pid === undefined) throw new LabError(`${h.name}: could not start its setup process`);
    return procRef(child.pid, `sshd ${h.name}`);
  } finally {
    closeSync(logFd);
  }
}

/** True when the process's network namespace has a TCP socket listening on addr:22 (no traffic needed). */
function listening(pid: number, address: string): boolean {
  const hex = address.split(".").map((o) => Number(o).toString(16).padStart(2, "0").toUpperCase()).reverse().join("");
  try {
    return readFileSync(`/proc/${pid}/net/tcp`, "utf8").includes(`${hex}:0016 00000000:0000 0A`);
  } catch {
    return false;
  }
}

function tcpConnect(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect({ host: address, port: 22 });
    s.setTimeout(timeoutMs);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(false));
  });
}

export async function waitForSshd(h: LabHost, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  const died = () => {
    let tail = "";
    try {
      tail = readFileSync(path.join(h.dir, "sshd.log"), "utf8").trim().split("\n").pop() ?? "";
    } catch {
      /* none */
    }
    return new LabError(`${h.name}: sshd exited during lab setup${tail ? `: ${tail}` : ""}`, {
      hint: `see ${path.join(h.dir, "sshd.log")}`,
    });
  };
  // 1. until sshd listens (read from its namespace's /proc/PID/net/tcp: no packets, no ARP timeouts)
  while (!(h.sshd && listening(h.sshd.pid, h.address))) {
    if (h.sshd && !refAlive(h.sshd)) throw died();
    if (Date.now() - t0 > timeoutMs) throw new LabError(`${h.name}: sshd did not listen on ${h.address}:22 within ${timeoutMs / 1000} s`);
    await sleep(10);
  }
  // 2. and accepts a TCP connection from the root namespace through the bridge
  while (!(await tcpConnect(h.address, 1000))) {
    if (h.sshd && !refAlive(h.sshd)) throw died();
    if (Date.now() - t0 > timeoutMs) throw new LabError(`${h.name}: sshd did not accept connections on ${h.address}:22 within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

/** The inventory for a lab, validated against the schema. */
export function renderInventory(state: LabState): string {
  const cluster: Record<string, unknown> = {
    name: state.name,
    kubernetesVersion: KUBERNETES.default,
    podCIDR: "10.244.0.0/16",
    serviceCIDR: "10.96.0.0/12",
  };
  const nic = state.network === "vagrant" ? "eth1" : "eth0";
  if (state.vips.controlPlane) cluster.controlPlaneEndpoint = { vip: state.vips.controlPlane, interface: nic };
  if (state.vips.edge) cluster.edgeVIP = { vip: state.vips.edge, interface: nic };
  const doc = {
    apiVersion: API_VERSION,
    kind: "Cluster",
    cluster,
    ssh: { user: "root", identityFile: state.keyFile, knownHostsFile: state.knownHostsFile, hostKeyPolicy: "strict" },
    hosts: state.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles })),
    addons: {
      // The lab has no internet: Calico's compact manifest instead of the official one (fetched online).
      calico: { values: { manifest: "compact" } },
      // The edge VIP is there to be held by keepalived on the frontend hosts.
      // Frontend hosts get the edge add-ons: Traefik, and keepalived holding the edge VIP.
      ...(state.vips.edge ? { traefik: { enabled: true }, "keepalived-edge": { enabled: true } } : {}),
    },
  };
  const parsed = InventorySchema.safeParse(doc);
  if (!parsed.success) throw new Error(`lab inventory does not match the schema: ${parsed.error.message}`);
  return `# Written by kubesmith lab up for lab '${state.name}' (198.18.${state.subnet}.0/24). ` +
    `Hosts also accept user ${state.user.name} (sudo password in ${state.passwordFile}).\n${stringify(doc)}`;
}

// ---------------------------------------------------------------------------------------------
// down

/** Remove a lab: processes (by PID), namespaces, veths, bridge, mounts, state. No-op when it does not exist. */
export async function labDown(name: string = DEFAULT_LAB, log: (line: string) => void = () => {}): Promise<void> {
  checkName(name);
  if (process.getuid?.() !== 0) throw new LabError("the lab needs root and Linux network namespaces: run with sudo");
  const state = loadLabState(name);
  if (!state) {
    if (existsSync(labDir(name))) {
      // created but the first state write never happened: nothing else can exist
      rmSync(labDir(name), { recursive: true, force: true });
    }
    log(`lab ${name} is not up: nothing to do`);
    return;
  }
  const t0 = Date.now();
  await teardown(state);
  log(`lab ${name}: down in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
}

async function teardown(state: LabState): Promise<void> {
  const inodes = new Set<number>();
  for (const ns of state.namespaces) {
    const ino = netnsInode(ns);
    if (ino !== undefined) inodes.add(ino);
  }
  // 1. processes: recorded ones (if still the same process) and everything in our namespaces
  for (let round = 0; round < 5; round++) {
    const refs = [...state.hosts.flatMap((h) => (h.sshd ? [h.sshd] : [])), ...state.procs, ...simProcs(state)];
    const targets = new Map<number, number | undefined>();
    for (const r of refs) if (refAlive(r)) targets.set(r.pid, r.start || undefined);
    for (const pid of pidsInNetns(inodes)) if (!targets.has(pid)) targets.set(pid, undefined);
    targets.delete(process.pid);
    if (targets.size === 0) break;
    await killAndWait([...targets].map(([pid, start]) => ({ pid, start })), "SIGKILL", 1000);
  }
  // 2. links and namespaces (-force: keep going past ones that were never created)
  const lines = [
    ...state.veths.filter((v) => existsSync(`/sys/class/net/${v}`)).map((v) => `link del ${v}`),
    ...(state.bridge && existsSync(`/sys/class/net/${state.bridge}`) ? [`link del ${state.bridge}`] : []),
    ...state.namespaces.filter((ns) => existsSync(`/run/netns/${ns}`)).map((ns) => `netns del ${ns}`),
  ];
  if (lines.length) {
    const batch = path.join(state.dir, "down.batch");
    try {
      writeFileSync(batch, `${lines.join("\n")}\n`);
      await run("ip", ["-force", "-batch", batch]);
    } catch {
      await run("ip", ["-force", "-batch", "-"], `${lines.join("\n")}\n`);
    }
  }
  // 3. mounts in the root namespace under the lab dir (normally none)
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === state.dir || m.startsWith(`${state.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run("umount", ["-l", m]);
  // 4. wait for the kernel to drop the links (netns del is asynchronous)
  const t0 = Date.now();
  while (
    Date.now() - t0 < 10_000 &&
    [...state.veths, ...(state.bridge ? [state.bridge] : [])].some((l) => existsSync(`/sys/class/net/${l}`))
  ) {
    await sleep(25);
  }
  // 5. state
  const lock = path.join(subnetLockDir(), String(state.subnet));
  try {
    if (state.subnet >= 0 && readFileSync(lock, "utf8").trim() === state.name) unlinkSync(lock);
  } catch {
    /* no lock */
  }
  rmSync(state.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// status and faults

export async function labStatus(name: string = DEFAULT_LAB): Promise<LabStatus> {
  checkName(name);
  const state = loadLabState(name);
  if (!state) return { name, exists: false, hosts: [] };
  return {
    name,
    exists: true,
    phase: state.phase,
    subnet: state.subnet >= 0 ? `198.18.${state.subnet}.0/24` : undefined,
    hosts: state.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      os: h.os,
      roles: h.roles,
      namespace: h.namespace,
      namespaceAlive: netnsInode(h.namespace) !== undefined,
      ...(h.sshd ? { sshdPid: h.sshd.pid } : {}),
      sshdAlive: h.sshd ? refAlive(h.sshd) : false,
    })),
  };
}

/** Replace the lab's faults; the simulator reads them on its next command. */
export function setLabFaults(name: string, faults: LabFault[]): void {
  const state = loadLabState(name);
  if (!state) throw new LabError(`lab '${name}' is not up`, { hint: "run kubesmith lab up first" });
  parseFaults(JSON.stringify(faults), "faults"); // validate
  const file = path.join(state.dir, "faults.yaml");
  writeAtomic(file, `${JSON.stringify(faults, null, 2)}\n`);
  if (state.faultsFile !== file) {
    state.faultsFile = file;
    saveState(state);
    const simFile = path.join(state.dir, "sim.json");
    const sim = JSON.parse(readFileSync(simFile, "utf8")) as SimConfig;
    sim.faultsFile = file;
    writeAtomic(simFile, `${JSON.stringify(sim, null, 2)}\n`);
  }
}

/** Read one line of the lab's secret: the `kube` user's sudo password. */
export function labPassword(state: LabState): string {
  return readFileSync(state.passwordFile, "utf8").trim();
}

/** Whether a PID is a live process (exported for tests). */
export { isAlive };
