// The stacked etcd's member list, read and changed through a healthy control plane: etcdctl runs inside
// that host's etcd container (`crictl exec`; the registry.k8s.io/etcd image ships etcdctl and kubeadm
// mounts /etc/kubernetes/pki/etcd into the pod at the same path), with the health-check client
// certificate kubeadm makes (pki/etcd/healthcheck-client.*; kubeadm's etcd has no RBAC, any client
// certificate of its CA may change membership). Used when a control plane that kubeadm no longer set
// up (rebuilt, wiped) must join again: its old member is still listed, and kubeadm would then skip the
// add and start an etcd with an empty data dir as that member, which fails (kubeadm
// cmd/kubeadm/app/util/etcd/etcd.go addMember; etcd raft "tocommit … is out of range").
import { quote } from "../ssh/quote.js";

const ETCDCTL = [
  "etcdctl",
  "--endpoints", "https://127.0.0.1:2379",
  "--cacert", "/etc/kubernetes/pki/etcd/ca.crt",
  "--cert", "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
  "--key", "/etc/kubernetes/pki/etcd/healthcheck-client.key",
].join(" ");

/** A shell command running `etcdctl <args>` in this host's running etcd container; exit 3 when none runs. */
export function etcdctlCommand(args: string[]): string {
  return `id=$(crictl ps -q --name '^etcd$' --state running | head -n 1); ` +
    `if [ -z "$id" ]; then echo 'no running etcd container on this host' >&2; exit 3; fi; ` +
    `crictl exec "$id" ${ETCDCTL} ${args.map(quote).join(" ")}`;
}

/**
 * A shell command running `etcdutl <args>` in this host's running etcd container (the etcd image ships
 * etcdutl beside etcdctl since 3.5; it works on files, so paths are those the pod mounts: kubeadm mounts
 * the data dir /var/lib/etcd at the same path). Exit 3 when no etcd runs.
 */
export function etcdutlCommand(args: string[]): string {
  return `id=$(crictl ps -q --name '^etcd$' --state running | head -n 1); ` +
    `if [ -z "$id" ]; then echo 'no running etcd container on this host' >&2; exit 3; fi; ` +
    `crictl exec "$id" etcdutl ${args.map(quote).join(" ")}`;
}

export interface EtcdMemberInfo {
  /** Hex, as etcdctl prints it. */
  id: string;
  name: string;
  peerURLs: string[];
}

/** `etcdctl member list` in its default (simple) format: "ID, status, name, peer URLs, client URLs, is learner". */
export function parseMemberList(stdout: string): EtcdMemberInfo[] {
  const out: EtcdMemberInfo[] = [];
  for (const line of stdout.split("\n")) {
    const f = line.split(", ").map((s) => s.trim());
    if (f.length < 5 || !/^[0-9a-f]{1,16}$/i.test(f[0]!)) continue;
    out.push({ id: f[0]!, name: f[2]!, peerURLs: f[3]!.split(",").filter(Boolean) });
  }
  return out;
}

/** The member a host had: by its node name, or by its peer URL (https://<advertise address>:2380). */
export function memberOf(members: EtcdMemberInfo[], host: { name: string; nodeIP: string }): EtcdMemberInfo | undefined {
  const peer = `https://${host.nodeIP.includes(":") ? `[${host.nodeIP}]` : host.nodeIP}:2380`;
  return members.find((m) => m.name === host.name || m.peerURLs.includes(peer));
}
