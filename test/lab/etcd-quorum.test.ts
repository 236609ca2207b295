// The lab's control planes share one cluster the way stacked etcd does (src/lab/sim/etcd.ts): the API
// survives any one control plane of three going down, a wiped control plane cannot join again while its
// old etcd member is listed (kubeadm skips the add, etcd panics on the empty data dir), etcdctl in a
// healthy control plane's etcd container removes that member, `etcdctl endpoint health --cluster` names
// the member that does not answer, and two of three down lose quorum.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostDown, hostWipe } from "../../src/lab/hostops.js";
import { labSkip, requireRoot, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const PREP =
  "echo 'deb [trusted=yes] https://pkgs.k8s.io/core:/stable:/v1.36/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q >/dev/null && apt-get install -y containerd kubeadm kubelet >/dev/null && systemctl enable --now containerd kubelet 2>/dev/null && sysctl -qw net.ipv4.ip_forward=1";
const ETCDCTL =
  "crictl exec $(crictl ps -q --name etcd) etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key";

describe.skipIf(labSkip)("stacked etcd in the lab: quorum, a wiped control plane, member remove (3 control planes)", () => {
  let lab: StartedLab;
  let adminConf = "";
  let cpJoin = "";
  const addr = (i: number) => lab.state.hosts[i]!.address;
  const api = (i: number) => {
    const kc = new KubeConfig();
    kc.loadFromString(adminConf);
    kc.clusters = kc.clusters.map((c) => ({ ...c, server: `https://${addr(i)}:6443` }));
    return kc.makeApiClient(CoreV1Api);
  };
  const nodeNames = async (i: number) => (await api(i).listNode()).items.map((n) => n.metadata?.name).sort();
  const members = async (host: string) => {
    const r = await ssh(lab.state, host, `${ETCDCTL} member list`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split("\n").map((l) => l.split(", "));
  };

  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "etcdq", layout: "3cp" });
    const vip = lab.state.vips.controlPlane!;
    for (const r of await Promise.all(lab.state.hosts.map((h) => ssh(lab.state, h.name, PREP)))) expect(r.code, r.stderr).toBe(0);
    expect((await ssh(lab.state, "lab-1", `ip addr add ${vip}/32 dev eth0`)).code).toBe(0);
    const init = await ssh(lab.state, "lab-1", `kubeadm init --control-plane-endpoint ${vip}:6443 --apiserver-advertise-address ${addr(0)} --apiserver-cert-extra-sans ${addr(1)},${addr(2)} --upload-certs`);
    expect(init.code, init.stderr).toBe(0);
    cpJoin = [...init.stdout.matchAll(/kubeadm join (?:[^\\\n]|\\\n)*/g)].map((m) => m[0].trim()).find((j) => j.includes("--control-plane"))!;
    for (const h of ["lab-2", "lab-3"]) {
      const j = await ssh(lab.state, h, cpJoin);
      expect(j.code, j.stderr).toBe(0);
    }
    adminConf = (await ssh(lab.state, "lab-1", "cat /etc/kubernetes/admin.conf")).stdout;
  }, 180_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("every control plane answers for the same cluster; etcd lists three members", async () => {
    for (const i of [0, 1, 2]) expect(await nodeNames(i)).toEqual(["lab-1", "lab-2", "lab-3"]);
    expect((await members("lab-3")).map((m) => m[2])).toEqual(["lab-1", "lab-2", "lab-3"]);
    // etcdctl endpoint health --cluster: one line per member's client URL, on stderr (printer_simple.go)
    const health = await ssh(lab.state, "lab-2", `${ETCDCTL} endpoint health --cluster`);
    expect(health.code, health.stderr).toBe(0);
    for (const i of [0, 1, 2]) expect(health.stderr).toMatch(new RegExp(`^https://${addr(i).replace(/\./g, "\\.")}:2379 is healthy: successfully committed proposal: took = `, "m"));
  });

  it("lab-1 wiped: the others keep serving; its join fails on the stale member until etcdctl removes it", async () => {
    await hostWipe(lab.state.name, "lab-1");
    expect((await ssh(lab.state, "lab-1", "test -e /etc/kubernetes/admin.conf || echo fresh")).stdout.trim()).toBe("fresh");
    expect(await nodeNames(1)).toEqual(["lab-1", "lab-2", "lab-3"]);
    expect((await ssh(lab.state, "lab-1", PREP)).code).toBe(0);
    // the VIP went with lab-1's processes but stays configured in its namespace: join through lab-2 instead
    const viaLab2 = cpJoin.replace(/kubeadm join \S+/, `kubeadm join ${addr(1)}:6443`);
    const failed = await ssh(lab.state, "lab-1", viaLab2);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: timeout waiting for etcd cluster to be available");
    const stale = (await members("lab-2")).find((m) => m[2] === "lab-1")!;
    const removed = await ssh(lab.state, "lab-2", `${ETCDCTL} member remove ${stale[0]}`);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^Member ${stale[0]} removed from cluster [0-9a-f]{16}`));
    const again = await ssh(lab.state, "lab-2", `${ETCDCTL} member remove ${stale[0]}`);
    expect(again.stderr).toContain("Error: etcdserver: member not found");
    expect((await ssh(lab.state, "lab-1", "kubeadm reset -f")).code).toBe(0);
    const joined = await ssh(lab.state, "lab-1", viaLab2);
    expect(joined.code, joined.stderr).toBe(0);
    const now = await members("lab-1");
    expect(now.map((m) => m[2]).sort()).toEqual(["lab-1", "lab-2", "lab-3"]);
    expect(now.find((m) => m[2] === "lab-1")![0]).not.toBe(stale[0]);
    expect(await nodeNames(0)).toEqual(["lab-1", "lab-2", "lab-3"]);
  });

  it("one of three down: quorum holds; two of three down: the last one answers 500 etcdserver: request timed out", async () => {
    await hostDown(lab.state.name, "lab-3");
    expect(await nodeNames(1)).toEqual(["lab-1", "lab-2", "lab-3"]);
    // the member of the host that is down does not answer: etcdctl says so and exits 1
    const health = await waitFor(async () => {
      const r = await ssh(lab.state, "lab-2", `${ETCDCTL} endpoint health --cluster`);
      return r.code === 1 ? r : undefined;
    }, 15_000, 200);
    expect(health?.stderr).toContain(`https://${addr(2)}:2379 is unhealthy: failed to commit proposal: context deadline exceeded`);
    expect(health?.stderr).toContain(`https://${addr(1)}:2379 is healthy`);
    expect(health?.stderr.trim().split("\n").at(-1)).toBe("Error: unhealthy cluster");
    await hostDown(lab.state.name, "lab-1");
    // The store sees a member go when its host's front is gone (checked at most every so often, and the
    // kill takes its time on a loaded machine): wait, within a bound, for the first refusal.
    const err = await waitFor(
      () =>
        api(1)
          .listNode()
          .then(() => undefined, (e: unknown) => e as { code?: number; body?: string }),
      15_000,
      200,
    );
    expect(err?.code).toBe(500);
    expect(String(err?.body)).toContain("etcdserver: request timed out");
    const readyz = await ssh(lab.state, "lab-2", "curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:6443/readyz");
    expect(readyz.stdout).toBe("500");
    const list = await ssh(lab.state, "lab-2", `${ETCDCTL} member list`);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain("Error: context deadline exceeded");
  });
});
