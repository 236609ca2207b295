// `kubesmith etcd backup | restore`, the work (see etcd.ts).
//
// etcdctl and etcdutl run inside a control plane's etcd container (`crictl exec`, cluster/etcd.ts): the
// registry.k8s.io/etcd image ships both, so no host needs an etcd binary. Files they read or write live in
// /var/lib/etcd, the data dir kubeadm mounts into the pod at the same path.
//
// Restore follows kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/ ("Restoring an etcd
// cluster": stop every API server, restore every etcd member, start them again) and etcd's
// disaster-recovery guide (etcd.io/docs/v3.5/op-guide/recovery/: each member restored from the same
// snapshot with `--name`, the same `--initial-cluster` and `--initial-cluster-token`, and its own
// `--initial-advertise-peer-urls`, into a new data dir). Each member's new data dir is made by etcdutl in
// its still-running etcd container (beside the live one, /var/lib/etcd/kubesmith-restore); then every
// control plane's static pods are stopped (manifests moved out), the data dirs swapped (the old one kept in
// /var/lib/etcd-before-restore-<time>), and the pods started again.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { kubeconfigFile } from "../cluster/state.js";
import type { CliIo } from "../cli/main.js";
import { etcdctlCommand, etcdutlCommand } from "../cluster/etcd.js";
import type { ClusterHost } from "../cluster/model.js";
import { ApiError, KubesmithError, StateError, UsageError } from "../errors.js";
import { loadInventory } from "../inventory/load.js";
import { KubeClient } from "../kube/client.js";
import { ensureKube, waitNodesReady } from "../phases/api.js";
import type { ClusterContext, ClusterOptions } from "../phases/context.js";
import { gatherFacts } from "../phases/hosts.js";
import { change, followUp, forHosts, type Phase } from "../phases/run.js";
import { startStaticPodsScript, stopStaticPodsScript, waitLocalApiScript } from "../scripts/static-pods.js";
import { quote } from "../ssh/quote.js";
import { confirm } from "../ui/confirm.js";
import { runCluster } from "./cluster-run.js";
import type { EtcdFlags } from "./etcd.js";

/** `etcdutl snapshot status -w json`. */
export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  version?: string;
}

/** What `etcd backup` writes beside the snapshot (<file>.json). */
export interface BackupMeta extends SnapshotStatus {
  cluster: string;
  host: string;
  /** When `etcdctl snapshot save` started (absent in backups made before this field). */
  takenAt?: string;
  savedAt: string;
  sha256: string;
}

/**
 * The namespaces a restore of this snapshot takes away: those created after it. A namespace's
 * creationTimestamp has whole seconds only, so one created in the second the snapshot was taken is told
 * apart by its revision (a namespace changed since the snapshot has a later one). Comparing with the time
 * the backup was saved, as before, missed a namespace made within that second (a flaky e2e showed it).
 */
export function namespacesCreatedAfter(
  items: readonly { metadata: { name: string; creationTimestamp?: string; resourceVersion?: string } }[],
  meta: Pick<BackupMeta, "takenAt" | "savedAt" | "revision">,
): string[] {
  const taken = Date.parse(meta.takenAt ?? meta.savedAt);
  const second = Math.floor(taken / 1000) * 1000;
  return items
    .filter(({ metadata: m }) => {
      const created = m.creationTimestamp ? Date.parse(m.creationTimestamp) : NaN;
      if (!Number.isFinite(created) || !Number.isFinite(taken)) return false;
      if (created >= second + 1000) return true;
      return created >= second && Number(m.resourceVersion) > meta.revision;
    })
    .map((n) => n.metadata.name);
}

export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  const line = stdout.split("\n").map((l) => l.trim()).find((l) => l.startsWith("{") && l.includes('"revision"'));
  let j: Partial<SnapshotStatus> | undefined;
  try {
    j = line ? (JSON.parse(line) as Partial<SnapshotStatus>) : undefined;
  } catch {
    j = undefined;
  }
  if (!j || typeof j.revision !== "number" || typeof j.totalKey !== "number" || typeof j.hash !== "number" || typeof j.totalSize !== "number") {
    throw new Error(`unexpected 'etcdutl snapshot status -w json' output: ${stdout.trim().slice(0, 200)}`);
  }
  return { hash: j.hash, revision: j.revision, totalKey: j.totalKey, totalSize: j.totalSize, ...(j.version ? { version: j.version } : {}) };
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The control planes kubeadm set up, in inventory order. */
function setUpControlPlanes(ctx: ClusterContext): ClusterHost[] {
  const cps = ctx.model.controlPlanes.filter((h) => ctx.facts.get(h.name)?.kubeadmState === "control-plane");
  if (!cps.length) throw new ApiError("no control plane is set up by kubeadm: there is no etcd", { hint: "run 'kubesmith up' first" });
  return cps;
}

const stampNow = () => new Date().toISOString().replace(/[:.]/g, "-");

function backupPhase(f: EtcdFlags, done: (file: string, meta: BackupMeta) => void): Phase<ClusterContext> {
  return {
    title: "etcd snapshot",
    async run(ctx) {
      const stamp = stampNow();
      const takenAt = new Date().toISOString();
      const remote = `/var/lib/etcd/kubesmith-backup-${stamp}.db`;
      const file = f.out ? resolve(f.out) : join(ctx.stateDir, ctx.model.name, "backups", `etcd-${stamp}.db`);
      if (existsSync(file)) throw new UsageError(`${file} already exists; give another -o path or move it away`);
      // the first control plane whose etcd answers takes the snapshot
      let host: ClusterHost | undefined;
      const tried: string[] = [];
      for (const h of setUpControlPlanes(ctx)) {
        const runner = await ctx.runner(h.name);
        try {
          await change(ctx, h.name, `etcdctl snapshot save ${remote}`, async () => {
            await runner.exec(etcdctlCommand(["snapshot", "save", remote]), { sudo: true, label: "etcdctl snapshot save", timeoutMs: 300_000 });
          });
          host = h;
          break;
        } catch (err) {
          if (!(err instanceof KubesmithError)) throw err;
          tried.push(`${h.name}: ${err.oneLine()}`);
          ctx.reporter.emit({ kind: "warning", host: h.name, message: `no snapshot from this control plane (${err.oneLine()}); trying the next` });
        }
      }
      if (!host) throw new ApiError(`no control plane could take an etcd snapshot: ${tried.join("; ")}`);
      const runner = await ctx.runner(host.name);
      let status: SnapshotStatus | undefined;
      await followUp(ctx, async () => {
        status = parseSnapshotStatus((await runner.exec(etcdutlCommand(["snapshot", "status", remote, "-w", "json"]), { sudo: true, label: "etcdutl snapshot status" })).stdout);
      });
      await change(ctx, "local", `download the snapshot to ${file} (with ${basename(file)}.sha256)`, async () => {
        const data = await runner.download(remote, { sudo: true });
        const remoteSum = (await runner.exec(`sha256sum ${quote(remote)}`, { sudo: true, label: "sha256 of the snapshot" })).stdout.trim().split(/\s+/)[0];
        const sum = sha256(data);
        if (remoteSum !== sum) throw new StateError(`the downloaded snapshot's sha256 ${sum} differs from ${host!.name}'s ${remoteSum ?? "(none)"}; run the backup again`);
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, data, { mode: 0o600 });
        writeFileSync(`${file}.sha256`, `${sum}  ${basename(file)}\n`, { mode: 0o600 });
        const meta: BackupMeta = { cluster: ctx.model.name, host: host!.name, takenAt, savedAt: new Date().toISOString(), sha256: sum, ...status! };
        writeFileSync(`${file}.json`, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
        done(file, meta);
      });
      await change(ctx, host.name, `remove ${remote}`, async () => {
        await runner.exec(`rm -f ${quote(remote)}`, { sudo: true, label: "remove the remote snapshot" });
      });
    },
  };
}

export async function etcdBackup(f: EtcdFlags, opts: ClusterOptions, io: CliIo): Promise<void> {
  let result: { file: string; meta: BackupMeta } | undefined;
  await runCluster("etcd backup", [gatherFacts, backupPhase(f, (file, meta) => (result = { file, meta }))], opts, io, "plain", undefined, !!f.plain);
  if (result) {
    const m = result.meta;
    io.stdout(`\netcd snapshot of cluster ${m.cluster} from ${m.host}: revision ${m.revision}, ${m.totalKey} keys, ${m.totalSize} bytes\n  ${result.file}\n  ${result.file}.sha256 (sha256 ${m.sha256})\nrestore it with: kubesmith etcd restore -i ${opts.inventory} ${result.file}\n`);
  }
}

/**
 * The snapshot file and its checksum, checked before anything else: the file must exist, and so must
 * <file>.sha256 (sha256sum's format), and they must agree.
 */
export function verifySnapshot(file: string): { data: Buffer; sha256: string; meta?: BackupMeta } {
  if (!existsSync(file)) throw new UsageError(`snapshot ${file} does not exist`, { hint: "give a file written by 'kubesmith etcd backup' (in <state>/<cluster>/backups/)" });
  const sumFile = `${file}.sha256`;
  if (!existsSync(sumFile)) throw new UsageError(`${sumFile} is missing: the snapshot cannot be checked`, { hint: "'kubesmith etcd backup' writes it beside the snapshot; with another snapshot, write one with: sha256sum FILE > FILE.sha256" });
  const want = readFileSync(sumFile, "utf8").trim().split(/\s+/)[0] ?? "";
  if (!/^[0-9a-f]{64}$/i.test(want)) throw new UsageError(`${sumFile} holds no sha256 (expected 64 hex digits first, as sha256sum writes)`);
  const data = readFileSync(file);
  const got = sha256(data);
  if (got !== want.toLowerCase()) throw new StateError(`${file} does not match its checksum: sha256 is ${got}, ${basename(sumFile)} says ${want}`, { hint: "the file is damaged or was changed: use another backup" });
  let meta: BackupMeta | undefined;
  try {
    meta = JSON.parse(readFileSync(`${file}.json`, "utf8")) as BackupMeta;
  } catch {
    meta = undefined;
  }
  return { data, sha256: got, ...(meta ? { meta } : {}) };
}

/** What a restore throws away, said before anything is done. */
export async function restorePlan(file: string, meta: BackupMeta | undefined, cps: string[], kubeconfig: string | undefined): Promise<string> {
  const when = meta ? `taken ${meta.savedAt} on ${meta.host}, revision ${meta.revision}, ${meta.totalKey} keys` : "no backup metadata beside it: its time and revision are unknown";
  const lines = [
    `Restore ${file} (${when}) on ${cps.join(", ")}:`,
    `  - every API server and etcd member is stopped; the cluster's API is down until they start again`,
    `  - every change made after the snapshot is lost: objects created since are gone, objects deleted since come back, updates since are undone`,
  ];
  if (kubeconfig && meta) {
    let kube: KubeClient | undefined;
    try {
      kube = await KubeClient.fromKubeconfig(kubeconfig, { timeoutMs: 5000 });
      const ns = await kube.request<{ metadata?: { resourceVersion?: string }; items?: { metadata: { name: string; creationTimestamp?: string; resourceVersion?: string } }[] }>("GET", "/api/v1/namespaces");
      const now = Number(ns?.metadata?.resourceVersion ?? NaN);
      if (Number.isFinite(now)) lines.push(`  - the cluster is at revision ${now} now: ${Math.max(0, now - meta.revision)} revision(s) of changes after the snapshot's ${meta.revision} are lost`);
      const since = namespacesCreatedAfter(ns?.items ?? [], meta);
      if (since.length) lines.push(`  - namespaces created after the snapshot, and everything in them, are lost: ${since.join(", ")}`);
    } catch (err) {
      lines.push(`  - (the cluster's current revision could not be read: ${(err as Error).message})`);
    } finally {
      kube?.close();
    }
  }
  lines.push(`  - each member's data dir before the restore is kept in /var/lib/etcd-before-restore-<time> on its host`);
  return `${lines.join("\n")}\n`;
}

const RESTORE_DIR = "/var/lib/etcd/kubesmith-restore";
const RESTORE_DB = "/var/lib/etcd/kubesmith-restore.db";

function restorePhase(snap: { data: Buffer; sha256: string }): Phase<ClusterContext> {
  return {
    title: "etcd restore on every control plane",
    async run(ctx) {
      const cps = setUpControlPlanes(ctx);
      const stamp = stampNow();
      // etcdutl runs in each member's etcd container: all of them must run before anything is stopped
      await forHosts(ctx, cps, async (h) => {
        const r = await (await ctx.runner(h.name)).exec("crictl ps -q --name '^etcd$' --state running", { sudo: true, allowFailure: true, label: "etcd container" });
        if (r.code !== 0 || !r.stdout.trim()) throw new ApiError(`${h.name}: etcd does not run here; this restore runs etcdutl inside each member's etcd container, and nothing was changed`, { hint: "start etcd on every control plane ('kubesmith up'), then restore" });
        return "etcd runs";
      });
      const initialCluster = cps.map((h) => `${h.name}=https://${peerHost(h.nodeIP)}:2380`).join(",");
      const token = `kubesmith-restore-${stamp}`;
      await forHosts(ctx, cps, async (h) => {
        const runner = await ctx.runner(h.name);
        await change(ctx, h.name, `upload the snapshot to ${RESTORE_DB}`, async () => {
          await runner.upload(RESTORE_DB, snap.data, { sudo: true, mode: 0o600 });
          const sum = (await runner.exec(`sha256sum ${RESTORE_DB}`, { sudo: true, label: "sha256 of the uploaded snapshot" })).stdout.trim().split(/\s+/)[0];
          if (sum !== snap.sha256) throw new StateError(`${h.name}: the uploaded snapshot's sha256 ${sum ?? "(none)"} is not ${snap.sha256}; run the restore again`);
        });
        await change(ctx, h.name, `etcdutl snapshot restore into ${RESTORE_DIR} (member ${h.name})`, async () => {
          await runner.exec(`rm -rf ${RESTORE_DIR}`, { sudo: true, label: "clear the restore dir" });
          const args = ["snapshot", "restore", RESTORE_DB, "--data-dir", RESTORE_DIR, "--name", h.name, "--initial-cluster", initialCluster, "--initial-cluster-token", token, "--initial-advertise-peer-urls", `https://${peerHost(h.nodeIP)}:2380`];
          await runner.exec(etcdutlCommand(args), { sudo: true, label: "etcdutl snapshot restore", timeoutMs: 300_000 });
        });
        return "restored data dir ready";
      });
      await forHosts(ctx, cps, async (h) => {
        await change(ctx, h.name, "stop etcd and the control-plane pods (manifests moved out)", async () => {
          await (await ctx.runner(h.name)).exec(stopStaticPodsScript(), { sudo: true, label: "stop control-plane static pods", timeoutMs: 150_000 });
        });
        return "stopped";
      });
      await forHosts(ctx, cps, async (h) => {
        const old = `/var/lib/etcd-before-restore-${stamp}`;
        await change(ctx, h.name, `swap etcd's data dir for the restored one (the old one kept in ${old})`, async () => {
          await (await ctx.runner(h.name)).exec(
            ["set -e", `mkdir -p ${old}`, `if [ -d /var/lib/etcd/member ]; then mv /var/lib/etcd/member ${old}/; fi`, `mv ${RESTORE_DIR}/member /var/lib/etcd/member`, `rmdir ${RESTORE_DIR}`, `rm -f ${RESTORE_DB}`].join("\n"),
            { sudo: true, label: "swap etcd data dir" },
          );
        });
        return "swapped";
      });
      await forHosts(ctx, cps, async (h) => {
        await change(ctx, h.name, "start etcd and the control-plane pods (manifests moved back)", async () => {
          await (await ctx.runner(h.name)).exec(startStaticPodsScript(), { sudo: true, label: "start control-plane static pods", timeoutMs: 200_000 });
        });
        return "started";
      });
      await followUp(ctx, async () => {
        await forHosts(ctx, cps, async (h) => {
          await (await ctx.runner(h.name)).exec(waitLocalApiScript(), { sudo: true, label: "wait for this host's kube-apiserver", timeoutMs: 150_000 });
          return "API answers";
        });
        await ensureKube(ctx);
        await waitNodesReady(ctx, ctx.model.hosts.map((h) => h.name), ctx.options.waitTimeoutMs ?? 300_000);
      });
    },
  };
}

const peerHost = (ip: string) => (ip.includes(":") ? `[${ip}]` : ip);

export async function etcdRestore(snapshot: string, f: EtcdFlags, opts: ClusterOptions, io: CliIo): Promise<void> {
  const file = resolve(snapshot);
  const snap = verifySnapshot(file);
  const { inventory } = await loadInventory(opts.inventory);
  const kept = kubeconfigFile(opts.stateDir, inventory.cluster.name);
  const cps = inventory.hosts.filter((h) => h.roles.includes("control-plane")).map((h) => h.name);
  io.stdout(await restorePlan(file, snap.meta, cps, existsSync(kept) ? readFileSync(kept, "utf8") : undefined));
  if (!opts.dryRun) await confirm(`Restore etcd of cluster '${inventory.cluster.name}' from ${basename(file)}, losing every change made after it?`, { ...(f.yes ? { yes: true } : {}), flag: "--yes" });
  await runCluster("etcd restore", [gatherFacts, restorePhase(snap)], opts, io, "plain", undefined, !!f.plain);
  if (!opts.dryRun) io.stdout(`\netcd restored from ${file} on ${cps.join(", ")}; every node is Ready.\n`);
}
