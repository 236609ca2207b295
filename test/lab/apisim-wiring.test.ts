// The simulated kubeadm runs the Kubernetes API simulator for real: init starts it on the first control
// plane with kubeadm's CA, nodes register as init/join run, every control plane serves it on its port 6443
// (one store behind every front, etcd membership kept), the real kubectl on a host reaches it, reset removes
// the host's etcd member (the last one stops the store) and `lab down` leaves no process.
// The test talks to the API from the root namespace with @kubernetes/client-node, as kubesmith does.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import { loadLabState } from "../../src/lab/lab.js";
import { isAlive } from "../../src/lab/procs.js";
import type { ProcRef } from "../../src/lab/types.js";
import { calicoNodeDaemonSet, calicoPrerequisites } from "../apisim/calico-fixture.js";
import { labSkip, requireRoot, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

// kubelet 1.33.1 (not the simulator's default 1.33.2) so the Node's kubeletVersion is visibly the installed one
const PREP =
  "echo 'deb [trusted=yes] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q >/dev/null && " +
  "apt-get install -y containerd kubeadm=1.33.1-1.1 kubelet=1.33.1-1.1 >/dev/null && systemctl enable --now containerd kubelet 2>/dev/null && sysctl -qw net.ipv4.ip_forward=1";

const readyOf = (n: V1Node) => n.status?.conditions?.find((c) => c.type === "Ready")?.status;

describe.skipIf(labSkip)("API simulator wired into the simulated kubeadm (2 control planes, 1 worker)", () => {
  let lab: StartedLab;
  let vip = "";
  let adminConf = "";
  let initOut = "";
  const addr = (i: number) => lab.state.hosts[i]!.address;
  const procRefs = (): ProcRef[] =>
    [...lab.state.hosts.map((h) => h.dir), path.join(lab.state.dir, "cluster")].flatMap((d) => {
      const dir = path.join(d, "procs");
      let files: string[] = [];
      try {
        files = readdirSync(dir);
      } catch {
        return [];
      }
      return files.map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as ProcRef);
    });
  const api = (server?: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(adminConf);
    if (server) kc.clusters = kc.clusters.map((c) => ({ ...c, server }));
    return kc.makeApiClient(CoreV1Api);
  };
  /** The join commands init printed (continued lines: backslash, newline, tab), runnable as they are. */
  const joinCommands = () => [...initOut.matchAll(/kubeadm join (?:[^\\\n]|\\\n)*/g)].map((m) => m[0].trim());
  const nodes = async () => (await api().listNode()).items;

  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "apiwire", layout: "2cp,1w" });
    vip = lab.state.vips.controlPlane!;
    const prep = await Promise.all(lab.state.hosts.map((h) => ssh(lab.state, h.name, PREP)));
    for (const r of prep) expect(r.code, r.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    if (lab && loadLabState("apiwire")) await lab.down();
  });

  it("init starts the API with kubeadm's CA; admin.conf reaches it from outside; the node is NotReady", async () => {
    // keepalived's part, by hand: lab-1 holds the control-plane VIP
    expect((await ssh(lab.state, "lab-1", `ip addr add ${vip}/32 dev eth0`)).code).toBe(0);
    const config = [
      "apiVersion: kubeadm.k8s.io/v1beta4",
      "kind: InitConfiguration",
      "nodeRegistration:",
      "  name: lab-1",
      "  taints: []", // a schedulable control plane: no taints at all
      "  kubeletExtraArgs:",
      `  - {name: node-ip, value: "${addr(0)}"}`,
      "localAPIEndpoint:",
      `  advertiseAddress: "${addr(0)}"`,
      "  bindPort: 6443",
      "---",
      "apiVersion: kubeadm.k8s.io/v1beta4",
      "kind: ClusterConfiguration",
      `controlPlaneEndpoint: "${vip}:6443"`,
      "apiServer:",
      `  certSANs: ["${vip}", "${addr(0)}", "${addr(1)}", "lab-1", "lab-2"]`,
      "networking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}",
      "",
    ].join("\n");
    expect((await ssh(lab.state, "lab-1", "umask 077; cat > /root/init.yaml", { input: config })).code).toBe(0);
    const init = await ssh(lab.state, "lab-1", "kubeadm init --config /root/init.yaml --upload-certs");
    expect(init.code, init.stderr).toBe(0);
    initOut = init.stdout;
    expect(initOut).toMatch(/\[control-plane-check\] kube-apiserver is healthy after/);

    // admin.conf: server at the endpoint, CA = the CA kubeadm wrote, client cert signed by it
    adminConf = (await ssh(lab.state, "lab-1", "cat /etc/kubernetes/admin.conf")).stdout;
    const ca = (await ssh(lab.state, "lab-1", "cat /etc/kubernetes/pki/ca.crt")).stdout;
    const kc = new KubeConfig();
    kc.loadFromString(adminConf);
    expect(kc.getCurrentCluster()?.server).toBe(`https://${vip}:6443`);
    expect(Buffer.from(kc.getCurrentCluster()!.caData!, "base64").toString()).toBe(ca);
    const verify = await ssh(
      lab.state,
      "lab-1",
      "grep client-certificate-data /etc/kubernetes/admin.conf | awk '{print $2}' | base64 -d > /tmp/admin.crt && openssl verify -CAfile /etc/kubernetes/pki/ca.crt /tmp/admin.crt && openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -ext subjectAltName",
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain("/tmp/admin.crt: OK");
    for (const san of [vip, addr(0), addr(1), "127.0.0.1"]) expect(verify.stdout).toContain(`IP Address:${san}`);

    const [n1] = await nodes();
    expect(n1?.metadata?.name).toBe("lab-1");
    expect(readyOf(n1!)).toBe("False");
    expect(n1!.metadata?.labels).toMatchObject({ "kubernetes.io/hostname": "lab-1", "node-role.kubernetes.io/control-plane": "" });
    expect(n1!.spec?.taints ?? []).toEqual([]);
    expect(n1!.status?.nodeInfo?.kubeletVersion).toBe("v1.33.1");
    expect(n1!.status?.addresses).toContainEqual({ type: "InternalIP", address: addr(0) });
  });

  it("a control plane and a worker join with the printed commands; all three Nodes are there", async () => {
    const joins = joinCommands();
    const cpJoin = joins.find((j) => j.includes("--control-plane"));
    const workerJoin = joins.find((j) => !j.includes("--control-plane"));
    expect(cpJoin, initOut).toBeDefined();
    expect(workerJoin, initOut).toBeDefined();
    const [cp, w] = await Promise.all([ssh(lab.state, "lab-2", cpJoin!), ssh(lab.state, "lab-3", `${workerJoin!} --node-name lab-3-node`)]);
    expect(cp.code, cp.stderr).toBe(0);
    expect(w.code, w.stderr).toBe(0);

    const all = await nodes();
    expect(all.map((n) => n.metadata?.name).sort()).toEqual(["lab-1", "lab-2", "lab-3-node"]);
    const n2 = all.find((n) => n.metadata?.name === "lab-2")!;
    const n3 = all.find((n) => n.metadata?.name === "lab-3-node")!;
    expect(n2.metadata?.labels?.["node-role.kubernetes.io/control-plane"]).toBe("");
    expect(n2.spec?.taints).toEqual([{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
    expect(Object.keys(n3.metadata?.labels ?? {}).filter((k) => k.startsWith("node-role.kubernetes.io/"))).toEqual([]);
    expect(n3.spec?.taints ?? []).toEqual([]);
    expect(n3.status?.addresses).toContainEqual({ type: "InternalIP", address: addr(2) });
    expect(all.every((n) => readyOf(n) === "False")).toBe(true);
  });

  it("the joined control plane serves the API too: keepalived's health check passes, TLS verifies at its address", async () => {
    const hc = await ssh(lab.state, "lab-2", "curl -sk https://127.0.0.1:6443/healthz");
    expect(hc.code, hc.stderr).toBe(0);
    expect(hc.stdout).toBe("ok");
    // through lab-2's pass-through, with the CA verified against lab-2's address
    const viaLab2 = await api(`https://${addr(1)}:6443`).listNode();
    expect(viaLab2.items).toHaveLength(3);
    // the real kubectl on a control plane, as root with admin.conf
    const kubectl = await ssh(lab.state, "lab-2", "kubectl get nodes -o name");
    expect(kubectl.code, kubectl.stderr).toBe(0);
    expect(kubectl.stdout.trim().split("\n").sort()).toEqual(["node/lab-1", "node/lab-2", "node/lab-3-node"]);
  });

  it("a calico-node DaemonSet makes every node Ready; a worker's reset keeps its Node", async () => {
    const kube = await KubeClient.fromKubeconfig(adminConf);
    try {
      // a minimal install that satisfies the simulator's Calico contract (CRDs, ServiceAccounts, token RBAC)
      for (const o of [...calicoPrerequisites(), calicoNodeDaemonSet()]) await kube.apply(o as KubeObject);
    } finally {
      kube.close();
    }
    const ready = await waitFor(async () => (await nodes()).every((n) => readyOf(n) === "True"), 10_000, 100);
    expect(ready).toBe(true);
    const reset = await ssh(lab.state, "lab-3", "kubeadm reset -f");
    expect(reset.code, reset.stderr).toBe(0);
    expect((await nodes()).map((n) => n.metadata?.name)).toContain("lab-3-node");
  });

  it("reset on the first control plane removes its etcd member, the API stays on the second; the last reset stops it; lab down leaves no process", async () => {
    const server = procRefs().find((r) => r.what.startsWith("apiserver"));
    expect(server && isAlive(server.pid, server.start)).toBe(true);
    const stateFile = path.join(lab.state.dir, "cluster", "apiserver.json");
    expect(readdirSync(path.dirname(stateFile))).toContain("apiserver.json");

    const r = await ssh(lab.state, "lab-1", "kubeadm reset -f");
    expect(r.code, r.stderr).toBe(0);
    // lab-1's kube-apiserver is gone (the VIP, added by hand, stays on lab-1); lab-2's still serves the cluster
    const err = await api()
      .listNode()
      .then(() => undefined, (e: unknown) => e as { code?: string; cause?: { code?: string }; message?: string });
    expect(JSON.stringify(err ?? "the API still answers")).toContain("ECONNREFUSED");
    expect(isAlive(server!.pid, server!.start)).toBe(true);
    expect((await api(`https://${addr(1)}:6443`).listNode()).items.map((n) => n.metadata?.name)).toContain("lab-2");
    const members = await ssh(lab.state, "lab-2", "crictl exec $(crictl ps -q --name etcd) etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key member list");
    expect(members.code, members.stderr).toBe(0);
    expect(members.stdout.trim().split("\n").map((l) => l.split(", ")[2])).toEqual(["lab-2"]);

    const r2 = await ssh(lab.state, "lab-2", "kubeadm reset -f");
    expect(r2.code, r2.stderr).toBe(0);
    expect(isAlive(server!.pid, server!.start)).toBe(false);
    expect(readdirSync(path.dirname(stateFile))).not.toContain("apiserver.json");
    const hc = await ssh(lab.state, "lab-2", "curl -sk https://127.0.0.1:6443/healthz");
    expect(hc.code).not.toBe(0);

    const workerJoin = joinCommands().find((j) => !j.includes("--control-plane"))!;
    const join = await ssh(lab.state, "lab-3", `${workerJoin} --ignore-preflight-errors=all`);
    expect(join.code).toBe(1);
    expect(join.stderr).toContain(`couldn't validate the identity of the API Server: Get "https://${vip}:6443/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${vip}:6443: connect: connection refused`);

    const left = procRefs();
    await lab.down();
    expect(left.filter((p) => isAlive(p.pid, p.start)).map((p) => `${p.what} (${p.pid})`)).toEqual([]);
  });
});
