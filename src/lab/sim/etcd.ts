// The lab's stacked etcd, modelled: one store process per lab (the API simulator behind every control
// plane's kube-apiserver front), a member list in the lab's cluster directory, and etcd's quorum rule.
// A member counts as up while its host's kube-apiserver front (the `apiproxy` daemon of that host, which
// lives and dies with the host and with `kubeadm reset`) runs: a stopped or wiped host takes its member
// down with it, as a powered-off control plane takes its etcd.
//
// Sources:
// - quorum: "An etcd cluster needs a majority of nodes, a quorum, to agree on updates to the cluster
//   state. For a cluster with n members, quorum is (n/2)+1." (etcd.io/docs/v3.5/faq, "What is failure
//   tolerance?"). Without quorum etcd serves no linearizable request; kube-apiserver's requests end in
//   `etcdserver: request timed out` (etcd api/v3rpc/rpctypes/error.go ErrGRPCTimeout).
// - kubeadm join --control-plane adds a member (cmd/kubeadm/app/util/etcd/etcd.go addMember); when a member
//   with the joining host's peer URL is still listed, kubeadm skips the add ("The peer URL … for the added
//   etcd member already exists. Skipping etcd member addition") and starts etcd as that member. Its data
//   directory is empty while the cluster's log for that member is not, so etcd panics in raft
//   (raft/log.go commitTo: "tocommit(N) is out of range [lastIndex(0)]. Was the raft log corrupted,
//   truncated, or lost?") and kubeadm times out waiting for the cluster (etcd.go WaitForClusterAvailable:
//   "timeout waiting for etcd cluster to be available").
// - kubeadm reset removes the host's own member through the cluster (cmd/kubeadm/app/cmd/phases/reset
//   removeetcdmember.go, etcd.RemoveStackedEtcdMemberFromCluster); without quorum it only warns.
// - etcdctl member list (simple format: "ID, status, name, peer URLs, client URLs, is learner") and member
//   remove ("Member ID removed from cluster CID"; unknown ID: "etcdserver: member not found"):
//   etcdctl/ctlv3/command/member_command.go, printer_simple.go; rpctypes ErrGRPCMemberNotFound.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { refAlive } from "../procs.js";
import type { ProcRef } from "../types.js";
import { readJson, writeJson } from "./util.js";

export interface EtcdMember {
  /** 16 hex digits, as etcdctl prints member IDs. */
  id: string;
  name: string;
  /** The lab host whose etcd this is. */
  host: string;
  peerURL: string;
  clientURL: string;
  /** The port its kube-apiserver front listens on. */
  apiPort: number;
}

export interface EtcdCluster {
  clusterId: string;
  members: EtcdMember[];
}

export const membersFile = (clusterDir: string) => path.join(clusterDir, "etcd.json");

export function loadEtcd(clusterDir: string): EtcdCluster | undefined {
  return readJson<EtcdCluster | undefined>(membersFile(clusterDir), undefined);
}

export function saveEtcd(clusterDir: string, c: EtcdCluster): void {
  writeJson(membersFile(clusterDir), c);
}

export function newMemberId(): string {
  return randomBytes(8).toString("hex");
}

export function newEtcdCluster(clusterDir: string, first: Omit<EtcdMember, "id">): EtcdCluster {
  const c: EtcdCluster = { clusterId: newMemberId(), members: [{ id: newMemberId(), ...first }] };
  saveEtcd(clusterDir, c);
  return c;
}

/** The record of a host's kube-apiserver front (written by apiserver.ts startDaemon). */
export function frontFile(labDir: string, host: string): string {
  return path.join(labDir, "hosts", host, "procs", "apiproxy.json");
}

/**
 * A member is up while its host's kube-apiserver front runs and the host's kubelet runs its etcd static
 * pod (static-pods.ts: not while etcd.yaml is moved out of the manifests directory).
 */
export function memberUp(labDir: string, m: EtcdMember): boolean {
  const ref = readJson<ProcRef | undefined>(frontFile(labDir, m.host), undefined);
  if (ref === undefined || !refAlive(ref)) return false;
  return readJson<{ etcd?: boolean }>(path.join(labDir, "hosts", m.host, "static-pods.json"), {}).etcd !== false;
}

/** (n/2)+1 members of n (integer division), etcd's quorum. */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Why the cluster cannot serve (no quorum), or undefined when a majority of the members is up. */
export function quorumProblem(labDir: string, clusterDir: string): string | undefined {
  const c = loadEtcd(clusterDir);
  if (!c || c.members.length === 0) return undefined; // no membership recorded: a cluster of one, the store itself
  const up = c.members.filter((m) => memberUp(labDir, m));
  const need = quorumOf(c.members.length);
  if (up.length >= need) return undefined;
  const down = c.members.filter((m) => !up.includes(m)).map((m) => m.name);
  return `etcd has no quorum: ${up.length} of ${c.members.length} members up, ${need} needed (down: ${down.join(", ")})`;
}

/** quorumProblem, evaluated at most every `ms` (the store asks on every request). */
export function cachedQuorum(labDir: string, clusterDir: string, ms = 200): () => string | undefined {
  let at = 0;
  let last: string | undefined;
  return () => {
    const now = Date.now();
    if (now - at > ms) {
      last = quorumProblem(labDir, clusterDir);
      at = now;
    }
    return last;
  };
}
