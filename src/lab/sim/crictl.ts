// crictl, played for the two containers the lab's control planes run: `crictl ps` lists etcd and
// kube-apiserver (running while this host's etcd member is listed and its front runs, see etcd.ts), and
// `crictl exec ID etcdctl …` runs etcdctl inside the etcd container, as on a kubeadm control plane (the
// registry.k8s.io/etcd image ships etcdctl; kubeadm mounts /etc/kubernetes/pki/etcd into the pod at the
// same path). Sources: kubernetes-sigs/cri-tools docs/crictl.md (ps -q, --name regex, --state, exec);
// etcdctl's member list/remove output: etcd etcdctl/ctlv3/command/member_command.go, printer_simple.go;
// errors: api/v3rpc/rpctypes/error.go (ErrGRPCMemberNotFound "etcdserver: member not found").
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { refAlive } from "../procs.js";
import type { ProcRef } from "../types.js";
import { frontFile, loadEtcd, memberUp, quorumProblem, saveEtcd, type EtcdCluster } from "./etcd.js";
import { etcdctlSnapshot, etcdutl } from "./etcd-snapshot.js";
import { readStaticPods } from "./static-pods.js";
import { cobraFlags, fail, readJson, type Sim } from "./util.js";

interface Container {
  id: string;
  name: string;
}

function containers(sim: Sim): Container[] {
  const etcd = loadEtcd(sim.clusterDir);
  const me = etcd?.members.find((m) => m.host === sim.host);
  const front = readJson<ProcRef | undefined>(frontFile(sim.labDir, sim.host), undefined);
  if (!me || !front || !refAlive(front)) return [];
  // the kubelet's static pods (static-pods.ts): a container is new each time its pod starts
  const pods = readStaticPods(sim.labDir, sim.host);
  const id = (name: string, since = "") => createHash("sha256").update(`${sim.labDir}/${sim.host}/${name}/${me.id}/${since}`).digest("hex");
  const out: Container[] = [];
  if (memberUp(sim.labDir, me) && existsSync("/etc/kubernetes/manifests/etcd.yaml")) out.push({ id: id("etcd", pods?.etcdSince), name: "etcd" });
  if (pods?.apiserver !== false) out.push({ id: id("kube-apiserver", pods?.apiserverSince), name: "kube-apiserver" });
  return out;
}

export function crictl(sim: Sim, args: string[]): number {
  const [cmd, ...rest] = args;
  if (!sim.isRoot) fail(1, 'time="now" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: permission denied\\""');
  if (cmd === "ps") {
    let name: RegExp | undefined;
    let quiet = false;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === "-q" || a === "--quiet") quiet = true;
      else if (a === "--name") name = new RegExp(rest[++i] ?? "");
      else if (a.startsWith("--name=")) name = new RegExp(a.slice(7));
      else if (a === "--state" || a === "-s") i++;
      else if (a === "-a" || a === "--all" || a.startsWith("--state=")) continue;
      else fail(1, `time="now" level=fatal msg="flag provided but not defined: ${a}"`);
    }
    const list = containers(sim).filter((c) => !name || name.test(c.name));
    if (!quiet) sim.out("CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID              POD\n");
    for (const c of list) sim.out(quiet ? `${c.id}\n` : `${c.id.slice(0, 13)}       sha256:…            1 minute ago        Running             ${c.name.padEnd(20)}0                   ${c.id.slice(13, 26)}       ${c.name}-${sim.host}\n`);
    return 0;
  }
  if (cmd === "exec") {
    const pos = rest.filter((a, i) => !(i === 0 && /^-(i|t|it|ti)$/.test(a)) && !/^--(interactive|tty)$/.test(a));
    const [id, prog, ...progArgs] = pos;
    const c = containers(sim).find((x) => id && x.id.startsWith(id));
    if (!c) fail(1, `time="now" level=fatal msg="execing command in container: rpc error: code = NotFound desc = an error occurred when try to find container \\"${id ?? ""}\\": not found"`);
    // the registry.k8s.io/etcd image ships etcdutl beside etcdctl (etcd 3.5+)
    if (c.name === "etcd" && prog === "etcdutl") return etcdutl(sim, progArgs);
    if (c.name !== "etcd" || prog !== "etcdctl") {
      fail(126, `OCI runtime exec failed: exec failed: unable to start container process: exec: "${prog ?? ""}": executable file not found in $PATH: unknown`);
    }
    return etcdctl(sim, progArgs);
  }
  fail(1, `time="now" level=fatal msg="crictl ${cmd ?? ""}: not simulated (ps, exec)"`);
}

/** etcdctl (API v3) inside this host's etcd container: member list (simple, table) and member remove. */
function etcdctl(sim: Sim, args: string[]): number {
  const { flags, pos } = cobraFlags(args, ["hex", "insecure-skip-tls-verify"]);
  // the client's TLS files are read first (etcdctl's transport config)
  for (const f of ["cacert", "cert", "key"]) {
    const file = flags.get(f);
    if (file !== undefined && !existsSync(file)) fail(1, `Error: open ${file}: no such file or directory`);
  }
  if (!flags.get("cert")) {
    // etcd of kubeadm requires client certificates (--client-cert-auth=true)
    fail(1, '{"level":"warn","msg":"retrying of unary invoker failed","error":"rpc error: code = DeadlineExceeded desc = latest balancer error: last connection error: connection error: desc = \\"error reading server preface: remote error: tls: certificate required\\""}\nError: context deadline exceeded');
  }
  const etcd = loadEtcd(sim.clusterDir);
  if (!etcd) fail(1, "Error: context deadline exceeded");
  const problem = quorumProblem(sim.labDir, sim.clusterDir);
  const [group, sub, arg] = pos;
  // a snapshot is streamed by the one member asked (the maintenance API): no quorum needed
  if (group === "snapshot") return etcdctlSnapshot(sim, pos.slice(1));
  if (group === "endpoint" && sub === "health") return endpointHealth(sim, etcd, problem, flags.has("cluster"));
  if (group !== "member" || (sub !== "list" && sub !== "remove")) fail(1, `Error: etcdctl ${pos.join(" ")}: not simulated (member list, member remove, endpoint health, snapshot save)`);
  // both are linearizable: without quorum the request times out
  if (problem) fail(1, `{"level":"warn","msg":"retrying of unary invoker failed","error":"rpc error: code = DeadlineExceeded desc = context deadline exceeded"}\nError: context deadline exceeded\n(lab: ${problem})`);
  if (sub === "list") {
    const w = flags.get("write-out") ?? flags.get("w") ?? "simple";
    if (w === "simple") for (const m of etcd.members) sim.out(`${m.id}, started, ${m.name}, ${m.peerURL}, ${m.clientURL}, false\n`);
    else if (w === "json" && flags.get("hex") === "true") {
      sim.out(`${JSON.stringify({ header: { cluster_id: etcd.clusterId }, members: etcd.members.map((m) => ({ ID: m.id, name: m.name, peerURLs: [m.peerURL], clientURLs: [m.clientURL] })) })}\n`);
    } else fail(1, `Error: etcdctl -w ${w}: not simulated (simple; json with --hex)`);
    return 0;
  }
  if (!arg || !/^[0-9a-f]{1,16}$/i.test(arg)) fail(1, `Error: bad member ID arg (strconv.ParseUint: parsing ${JSON.stringify(arg ?? "")}: invalid syntax), expecting ID in Hex`);
  const id = arg.toLowerCase().padStart(16, "0");
  const victim = etcd.members.find((m) => m.id.padStart(16, "0") === id);
  if (!victim) fail(1, "Error: etcdserver: member not found");
  const left = etcd.members.filter((m) => m !== victim);
  // etcd's strict reconfiguration check: the members left must still have a quorum of started ones
  // (server/etcdserver/server.go mayRemoveMember, ErrNotEnoughStartedMembers)
  const upLeft = left.filter((m) => memberUp(sim.labDir, m)).length;
  if (left.length > 0 && upLeft < Math.floor(left.length / 2) + 1) fail(1, "Error: etcdserver: re-configuration failed due to not enough started members");
  etcd.members = left;
  saveEtcd(sim.clusterDir, etcd);
  sim.out(`Member ${victim.id} removed from cluster ${etcd.clusterId}\n`);
  return 0;
}

/**
 * `etcdctl endpoint health [--cluster]`: each endpoint (with --cluster every member's client URL, from the
 * member list; without it this host's own member) commits a proposal or fails. The simple printer writes
 * every line to stderr ("<ep> is healthy: successfully committed proposal: took = <d>", "<ep> is
 * unhealthy: failed to commit proposal: <err>"), and any unhealthy endpoint ends the command with
 * "Error: unhealthy cluster", exit 1 (etcd v3.5 etcdctl/ctlv3/command/ep_command.go epHealthCommandFunc,
 * printer_simple.go EndpointHealth). A member whose host's front is down does not answer ("context
 * deadline exceeded"); without quorum no member can commit.
 */
function endpointHealth(sim: Sim, etcd: EtcdCluster, problem: string | undefined, cluster: boolean): number {
  const members = cluster ? etcd.members : etcd.members.filter((m) => m.host === sim.host);
  let bad = 0;
  for (const m of members) {
    if (!problem && memberUp(sim.labDir, m)) sim.err(`${m.clientURL} is healthy: successfully committed proposal: took = 2.1ms\n`);
    else {
      bad++;
      sim.err(`${m.clientURL} is unhealthy: failed to commit proposal: context deadline exceeded\n`);
    }
  }
  if (bad || !members.length) fail(1, "Error: unhealthy cluster");
  return 0;
}
