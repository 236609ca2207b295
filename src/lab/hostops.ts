// One lab host's life events, for tests of what a cluster does when a machine goes away:
// - hostDown: the machine stops (power off, or cut off the network): every process in its namespace is
//   killed (sshd, keepalived, its kube-apiserver front, so its etcd member counts as down) and its link
//   goes down, so connections to it time out as to a dead machine. The lab's API store is not the
//   host's and keeps running (sim/etcd.ts decides whether it still has quorum).
// - hostWipe: the machine is reinstalled from scratch (a fresh OS, nothing kubeadm did) and boots: new
//   upper dirs, the same address and, as a rebuild that restores /etc/ssh would, the same SSH host key.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { LabError } from "../errors.js";
import { loadLabState, prepareHost, prepareSimPaths, saveState, simProcs, startHost, waitForSshd } from "./lab.js";
import { osFamily } from "./os.js";
import { killAndWait, netnsInode, pidsInNetns, refAlive } from "./procs.js";
import type { LabHost, LabState } from "./types.js";

function find(name: string, host: string): { state: LabState; h: LabHost } {
  const state = loadLabState(name);
  if (!state) throw new LabError(`lab ${name} is not up`);
  const h = state.hosts.find((x) => x.name === host);
  if (!h) throw new LabError(`lab ${name} has no host ${host}`, { hint: `hosts: ${state.hosts.map((x) => x.name).join(", ")}` });
  return { state, h };
}

/** Kill every process in the host's network namespace except the cluster's own (the API store). */
async function killHost(state: LabState, h: LabHost): Promise<void> {
  const clusterProcs = new Set(simProcs(state).filter((r) => r.what.startsWith("apiserver ") && refAlive(r)).map((r) => r.pid));
  const ino = netnsInode(h.namespace);
  for (let round = 0; round < 5; round++) {
    const pids = ino === undefined ? [] : pidsInNetns(new Set([ino])).filter((p) => !clusterProcs.has(p) && p !== process.pid);
    if (pids.length === 0) break;
    await killAndWait(pids.map((pid) => ({ pid })), "SIGKILL", 1000);
  }
  rmSync(path.join(h.dir, "procs"), { recursive: true, force: true });
  execFileSync("mkdir", ["-p", path.join(h.dir, "procs")]);
  delete h.sshd;
  saveState(state);
}

/** The host stops: its processes are killed and its link goes down (connections to it time out). */
export async function hostDown(name: string, host: string): Promise<void> {
  const { state, h } = find(name, host);
  await killHost(state, h);
  execFileSync("ip", ["link", "set", h.veth, "down"]);
}

/** The host is reinstalled and boots: fresh upper dirs, same address and SSH host key, sshd running. */
export async function hostWipe(name: string, host: string): Promise<void> {
  const { state, h } = find(name, host);
  await killHost(state, h);
  const stamp = Date.now();
  const upper = path.join(h.dir, "upper");
  const keyDir = path.join(upper, "etc", "ssh");
  const old = `${upper}.wiped-${stamp}`;
  // renamed, not removed: a process of the old host (the API store) may still hold the old mounts
  renameSync(upper, old);
  renameSync(path.join(h.dir, "work"), path.join(h.dir, `work.wiped-${stamp}`));
  const password = readFileSync(state.passwordFile, "utf8").trim();
  const hash = execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: `${password}\n`, encoding: "utf8" }).trim();
  const hostsFile = state.hosts.map((x) => `${x.address}\t${x.name}`).join("\n");
  await prepareHost(state, h, hash, hostsFile);
  for (const f of ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]) {
    const from = path.join(old, "etc", "ssh", f);
    if (existsSync(from)) copyFileSync(from, path.join(keyDir, f));
  }
  // the namespace keeps its address and (RHEL-likes) its nftables rules: the boot script sets both again
  execFileSync("ip", ["netns", "exec", h.namespace, "ip", "addr", "flush", "dev", "eth0"]);
  if (osFamily(h.os) === "rhel") execFileSync("ip", ["netns", "exec", h.namespace, "nft", "flush", "ruleset"]);
  execFileSync("ip", ["link", "set", h.veth, "up"]);
  h.sshd = startHost(state, h, prepareSimPaths(state));
  saveState(state);
  await waitForSshd(h);
}
