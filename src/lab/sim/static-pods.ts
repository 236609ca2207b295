// The kubelet's static pods on a lab control plane, as far as the lab plays them: the kube-apiserver and
// etcd containers run while their manifests are in /etc/kubernetes/manifests. The host's kube-apiserver
// front (apiproxy.ts) runs this watch: a manifest moved away stops the container (the front stops
// listening; the host's etcd member counts as down), moved back starts it again. That is how kubeadm's
// docs restart control-plane components ("To restart a static Pod you can temporarily remove its manifest
// file from /etc/kubernetes/manifests/ and wait for 20 seconds (see the fileCheckFrequency value in
// KubeletConfiguration struct)": kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/, "Manual
// certificate renewal"), and how etcd's restore procedure stops the API servers and etcd
// (kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/, "Restoring an etcd cluster").
// The lab looks every 250 ms instead of every 20 s (a lenience: tests would otherwise wait minutes).
//
// When etcd starts again from a data directory `etcdutl snapshot restore` wrote (etcd-snapshot.ts), the
// lab's one store is replaced by the snapshot's content (the store gets SIGUSR2 and reads the request in
// the lab's cluster directory), once per restore: the cluster then serves what the snapshot held, as every
// member restored from one snapshot does (etcd.io/docs/v3.5/op-guide/recovery/).
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { refAlive } from "../procs.js";
import type { ProcRef } from "../types.js";
import { loadEtcd, newMemberId, saveEtcd } from "./etcd.js";
import { readJson, writeJson } from "./util.js";

export const MANIFESTS_DIR = "/etc/kubernetes/manifests";
export const ETCD_DB = "/var/lib/etcd/member/snap/db";
const POLL_MS = 250;

export interface StaticPods {
  apiserver: boolean;
  etcd: boolean;
  /** When each last started (ISO): a container's identity changes with it. */
  apiserverSince: string;
  etcdSince: string;
}

// beside procs/, not in it: procs/ holds only process records (lab.ts simProcs reads every file there)
export const staticPodsFile = (hostDir: string) => path.join(hostDir, "static-pods.json");

/** What the host's kubelet runs now; undefined when the front records nothing (an older front: both run). */
export function readStaticPods(labDir: string, host: string): StaticPods | undefined {
  return readJson<StaticPods | undefined>(staticPodsFile(path.join(labDir, "hosts", host)), undefined);
}

/** The arguments a front needs to play the kubelet's static pods on its host. */
export function kubeletArgs(sim: { hostDir: string; labDir: string }): string[] {
  return ["--host-dir", sim.hostDir, "--lab-dir", sim.labDir];
}

/** A restored data dir's db (etcd-snapshot.ts writes it). */
export interface RestoredDb {
  kubesim: "restored";
  token: string;
  name: string;
  initialCluster: { name: string; peerURL: string }[];
  revision: number;
  objects: Record<string, unknown[]>;
}

export function readRestoredDb(file = ETCD_DB): RestoredDb | undefined {
  try {
    const j = JSON.parse(readFileSync(file, "utf8")) as RestoredDb;
    return j.kubesim === "restored" ? j : undefined;
  } catch {
    return undefined;
  }
}

export const restoreRequestFile = (clusterDir: string) => path.join(clusterDir, "restore-request.json");
export const restoreAppliedFile = (clusterDir: string) => path.join(clusterDir, "restore-applied.json");

/** etcd starts from a restored data dir: the store takes the snapshot's content (once per restore). */
async function applyRestore(labDir: string, db: RestoredDb, log: (s: string) => void): Promise<void> {
  const clusterDir = path.join(labDir, "cluster");
  if (readJson<{ token?: string }>(restoreAppliedFile(clusterDir), {}).token === db.token) return;
  const store = readJson<ProcRef | undefined>(path.join(clusterDir, "procs", "apiserver.json"), undefined);
  if (!store || !refAlive(store)) {
    log("kubelet: etcd restored, but the lab's store does not run");
    return;
  }
  // a restore makes a new cluster: a new cluster ID, new member IDs, the members of --initial-cluster
  const etcd = loadEtcd(clusterDir);
  if (etcd) {
    etcd.clusterId = newMemberId();
    etcd.members = etcd.members.filter((m) => db.initialCluster.some((c) => c.name === m.name)).map((m) => ({ ...m, id: newMemberId() }));
    saveEtcd(clusterDir, etcd);
  }
  writeJson(restoreRequestFile(clusterDir), { token: db.token, revision: db.revision, objects: db.objects }, 0o600);
  process.kill(store.pid, "SIGUSR2");
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) {
    if (readJson<{ token?: string }>(restoreAppliedFile(clusterDir), {}).token === db.token) {
      rmSync(restoreRequestFile(clusterDir), { force: true });
      log(`kubelet: etcd started from a restored data dir; the store now holds the snapshot (revision ${db.revision})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  log("kubelet: the store did not take the restored snapshot within 10 s");
}

/**
 * Watch the manifests; call onApiserver(true|false) when the kube-apiserver pod starts or stops. Writes
 * the state to static-pods.json at once and on every change. Returns a stop function.
 */
export function watchStaticPods(o: { hostDir: string; labDir: string; onApiserver: (running: boolean) => void; log: (s: string) => void }): () => void {
  const file = staticPodsFile(o.hostDir);
  const now = new Date().toISOString();
  const state: StaticPods = {
    apiserver: existsSync(path.join(MANIFESTS_DIR, "kube-apiserver.yaml")),
    etcd: existsSync(path.join(MANIFESTS_DIR, "etcd.yaml")),
    apiserverSince: now,
    etcdSince: now,
  };
  writeJson(file, state);
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const api = existsSync(path.join(MANIFESTS_DIR, "kube-apiserver.yaml"));
      const etcd = existsSync(path.join(MANIFESTS_DIR, "etcd.yaml"));
      if (etcd !== state.etcd) {
        if (etcd) {
          const db = readRestoredDb();
          if (db) await applyRestore(o.labDir, db, o.log);
        }
        state.etcd = etcd;
        state.etcdSince = new Date().toISOString();
        writeJson(file, state);
      }
      if (api !== state.apiserver) {
        state.apiserver = api;
        state.apiserverSince = new Date().toISOString();
        writeJson(file, state);
        o.onApiserver(api);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), POLL_MS);
  return () => clearInterval(timer);
}
