// etcd snapshots of the lab's store: `etcdctl snapshot save`, `etcdutl snapshot status` and `etcdutl
// snapshot restore`, run inside a control plane's etcd container (crictl.ts). The lab's "etcd database" is
// the API simulator's state (<lab>/cluster/apiserver.json and its journal, see apisim/store.ts): a snapshot
// holds every object and the revision (the store's resourceVersion), as JSON, followed by the SHA-256 of
// those bytes, as etcd appends one to the database it streams.
//
// Sources:
// - save: "Snapshot saved at FILE" (etcdctl/ctlv3/command/snapshot_command.go); the snapshot is streamed
//   by the one member asked (maintenance Snapshot RPC), which appends a sha256 of the db
//   (server/etcdserver/api/v3rpc/maintenance.go); the file is written to FILE.part first and renamed.
// - status: hash (a CRC-32C over the db's keys and values, printed in hex in the table), revision, total
//   keys, total size (humanize.Bytes, SI), version; -w table|json|simple
//   (etcdutl/etcdutl/snapshot_command.go, printer.go DBStatus; etcd.io/docs/v3.6/tutorials/how-to-save-database).
// - restore: "creates an etcd data directory for an etcd cluster member from a backend database snapshot
//   and a new cluster configuration" with --data-dir, --name, --initial-cluster, --initial-cluster-token,
//   --initial-advertise-peer-urls (etcdutl README, "SNAPSHOT RESTORE"); refuses a data dir that is not
//   empty ("data-dir %q not empty or could not be read"), a snapshot whose appended sha256 does not match
//   ("expected sha256 …, got …", unless --skip-hash-check), a --name missing from --initial-cluster
//   ("couldn't find local name %q in the initial cluster configuration") and peer URLs that disagree with
//   it (etcdutl/snapshot/v3_snapshot.go; server/config ServerConfig.VerifyBootstrap).
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import type { RestoredDb } from "./static-pods.js";
import { cobraFlags, fail, writeFile, type Sim } from "./util.js";

/** The etcd storage version the lab's kubeadm etcd image (3.5.x) reports. */
const STORAGE_VERSION = "3.5.0";

interface SnapshotBody {
  kubesim: "etcd-snapshot";
  revision: number;
  clusterId?: string;
  objects: Record<string, unknown[]>;
}

/** The store's state now: the snapshot file folded with its journal (as Store.load reads them). */
export function storeState(clusterDir: string): { revision: number; objects: Record<string, unknown[]> } {
  const file = path.join(clusterDir, "apiserver.json");
  type Obj = { metadata: { namespace?: string; name?: string } };
  let state: { resourceVersion: number; objects: Record<string, Obj[]> } = { resourceVersion: 0, objects: {} };
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as typeof state;
  } catch {
    /* no state yet */
  }
  const buckets = new Map<string, Map<string, Obj>>();
  for (const [k, objs] of Object.entries(state.objects)) buckets.set(k, new Map(objs.map((o) => [`${o.metadata.namespace ?? ""}/${o.metadata.name}`, o])));
  let rv = state.resourceVersion;
  let journal = "";
  try {
    journal = readFileSync(`${file}.journal`, "utf8");
  } catch {
    /* none */
  }
  for (const text of journal.split("\n")) {
    let line: { rv: number; bucket: string; put?: Obj; del?: string };
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      continue;
    }
    if (line.rv <= state.resourceVersion) continue;
    let b = buckets.get(line.bucket);
    if (!b) buckets.set(line.bucket, (b = new Map()));
    if (line.put) b.set(`${line.put.metadata.namespace ?? ""}/${line.put.metadata.name}`, line.put);
    else if (line.del !== undefined) b.delete(line.del);
    rv = Math.max(rv, line.rv);
  }
  const objects: Record<string, unknown[]> = {};
  for (const [k, b] of buckets) if (b.size) objects[k] = [...b.values()];
  return { revision: rv, objects };
}

/** CRC-32C (Castagnoli), the hash etcdutl's status prints. */
const CRC32C = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32c(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** go-humanize Bytes (SI): "25 kB", "2.1 MB". */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB"];
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
  const v = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[e]}`;
}

/** `etcdctl snapshot save FILE` (after etcdctl's global flags were read by crictl.ts). */
export function etcdctlSnapshot(sim: Sim, args: string[]): number {
  const [sub, file] = args;
  if (sub !== "save") fail(1, `Error: etcdctl snapshot ${sub ?? ""}: not simulated (save; status and restore are etcdutl's)`);
  if (!file) fail(1, "Error: snapshot save expects one argument");
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir)) fail(1, `Error: could not open ${file}.part (open ${file}.part: no such file or directory)`);
  const s = storeState(sim.clusterDir);
  const body: SnapshotBody = { kubesim: "etcd-snapshot", revision: s.revision, objects: s.objects };
  const bytes = Buffer.from(JSON.stringify(body));
  const sha = createHash("sha256").update(bytes).digest();
  writeFile(`${file}.part`, Buffer.concat([bytes, sha]), 0o600);
  renameSync(`${file}.part`, file);
  sim.err(`{"level":"info","msg":"created temporary db file","path":"${file}.part"}\n{"level":"info","msg":"fetched snapshot","endpoint":"https://127.0.0.1:2379","size":"${humanBytes(bytes.length + 32)}"}\n{"level":"info","msg":"saved","path":"${file}"}\n`);
  sim.out(`Snapshot saved at ${file}\n`);
  return 0;
}

interface Parsed {
  body: SnapshotBody;
  bytes: Buffer;
  hashOk: boolean;
}

function readSnapshot(file: string): Parsed {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    fail(1, `Error: stat ${file}: no such file or directory`);
  }
  const bytes = raw.subarray(0, Math.max(0, raw.length - 32));
  const sha = raw.subarray(Math.max(0, raw.length - 32));
  let body: SnapshotBody | undefined;
  try {
    body = JSON.parse(bytes.toString("utf8")) as SnapshotBody;
  } catch {
    body = undefined;
  }
  if (!body || body.kubesim !== "etcd-snapshot") fail(1, "Error: invalid database");
  return { body, bytes, hashOk: createHash("sha256").update(bytes).digest().equals(sha) };
}

/** `etcdutl snapshot status|restore …`. */
export function etcdutl(sim: Sim, args: string[]): number {
  const { flags, pos } = cobraFlags(args, ["skip-hash-check", "mark-compacted"]);
  const [group, sub, file] = pos;
  if (group !== "snapshot" || (sub !== "status" && sub !== "restore")) fail(1, `Error: etcdutl ${pos.join(" ")}: not simulated (snapshot status, snapshot restore)`);
  if (!file) fail(1, `Error: snapshot ${sub} requires exactly one argument`);
  const snap = readSnapshot(file);
  if (sub === "status") {
    const w = flags.get("write-out") ?? flags.get("w") ?? "simple";
    const keys = Object.values(snap.body.objects).reduce((n, l) => n + l.length, 0);
    const size = statSync(file).size;
    const hash = crc32c(snap.bytes);
    if (w === "json") sim.out(`${JSON.stringify({ hash, revision: snap.body.revision, totalKey: keys, totalSize: size, version: STORAGE_VERSION })}\n`);
    else if (w === "table") {
      const cells = [hash.toString(16), String(snap.body.revision), String(keys), humanBytes(size), STORAGE_VERSION];
      const heads = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "VERSION"];
      const wd = heads.map((h, i) => Math.max(h.length, cells[i]!.length));
      const line = `+${wd.map((n) => "-".repeat(n + 2)).join("+")}+\n`;
      const center = (s: string, n: number) => s.padStart(Math.floor((n + s.length) / 2)).padEnd(n);
      sim.out(`${line}|${heads.map((h, i) => ` ${center(h, wd[i]!)} `).join("|")}|\n${line}|${cells.map((c, i) => ` ${i === 0 || i === 3 || i === 4 ? c.padEnd(wd[i]!) : c.padStart(wd[i]!)} `).join("|")}|\n${line}`);
    } else if (w === "simple") sim.out(`${hash.toString(16)}, ${snap.body.revision}, ${keys}, ${humanBytes(size)}, ${STORAGE_VERSION}\n`);
    else fail(1, `Error: unknown output format ${JSON.stringify(w)}`);
    return 0;
  }
  // restore
  const dataDir = flags.get("data-dir") ?? `${flags.get("name") ?? "default"}.etcd`;
  const name = flags.get("name") ?? "default";
  const initial = (flags.get("initial-cluster") ?? `${name}=http://localhost:2380`).split(",").filter(Boolean).map((e) => {
    const i = e.indexOf("=");
    return { name: e.slice(0, i), peerURL: e.slice(i + 1) };
  });
  const peers = (flags.get("initial-advertise-peer-urls") ?? "http://localhost:2380").split(",").filter(Boolean);
  const token = flags.get("initial-cluster-token") ?? "etcd-cluster";
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) fail(1, `Error: data-dir ${JSON.stringify(dataDir)} not empty or could not be read`);
  const mine = initial.filter((m) => m.name === name);
  if (!mine.length) fail(1, `Error: couldn't find local name ${JSON.stringify(name)} in the initial cluster configuration`);
  const missing = mine.find((m) => !peers.includes(m.peerURL));
  if (missing) fail(1, `Error: --initial-cluster has ${name}=${missing.peerURL} but missing from --initial-advertise-peer-urls=${peers.join(",")}`);
  if (!snap.hashOk && flags.get("skip-hash-check") !== "true") {
    const want = createHash("sha256").update(snap.bytes).digest();
    fail(1, `Error: expected sha256 [${[...readFileSync(file).subarray(-32)].join(" ")}], got [${[...want].join(" ")}]`);
  }
  sim.err(`{"level":"info","msg":"restoring snapshot","path":"${file}","wal-dir":"${dataDir}/member/wal","data-dir":"${dataDir}","snap-dir":"${dataDir}/member/snap"}\n`);
  // one restore of one snapshot into one cluster configuration: every member restored alike shares the token
  const restoreToken = createHash("sha256").update(snap.bytes).update(token).update(JSON.stringify(initial)).digest("hex").slice(0, 16);
  const db: RestoredDb = { kubesim: "restored", token: restoreToken, name, initialCluster: initial, revision: snap.body.revision, objects: snap.body.objects };
  writeFile(path.join(dataDir, "member", "snap", "db"), JSON.stringify(db), 0o600);
  writeFile(path.join(dataDir, "member", "wal", "0000000000000000-0000000000000000.wal"), randomBytes(64), 0o600);
  sim.err(`{"level":"info","msg":"restored snapshot","path":"${file}","wal-dir":"${dataDir}/member/wal","data-dir":"${dataDir}","snap-dir":"${dataDir}/member/snap"}\n`);
  return 0;
}
