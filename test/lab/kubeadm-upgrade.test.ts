// The simulated `kubeadm upgrade` (src/lab/sim/kubeadm-upgrade.ts) over real SSH, against upstream's rules:
// the version policy's refusals (policy.go), `apply` moving the cluster (manifests, kubeadm-config,
// /version), `upgrade node`, and the kubelet reporting its version at restart and refusing, by the lab's
// skew rule, to run newer than the API server.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labSkip, requireRoot, ssh, startLab, type StartedLab } from "../helpers/lab.js";
import { K8S_MINORS } from "../../src/lab/sim/repos.js";

const repo = (minor: string) =>
  `echo 'deb [trusted=yes] https://pkgs.k8s.io/core:/stable:/v${minor}/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q >/dev/null`;
const PREP = `${repo("1.35")} && apt-get install -y containerd kubeadm kubelet kubectl >/dev/null && systemctl enable --now containerd kubelet 2>/dev/null && sysctl -qw net.ipv4.ip_forward=1`;
const V35 = `v1.35.${K8S_MINORS["1.35"]}`;
const V36 = `v1.36.${K8S_MINORS["1.36"]}`;
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

describe.skipIf(labSkip)("node simulator: kubeadm upgrade", () => {
  let lab: StartedLab;
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "lt-kupg", layout: "1cp,1w" });
    const prep = await Promise.all(lab.state.hosts.map((h) => ssh(lab.state, h.name, PREP)));
    for (const r of prep) expect(r.code, r.stderr).toBe(0);
    const init = await ssh(lab.state, "lab-1", "kubeadm init --pod-network-cidr 10.244.0.0/16");
    expect(init.code, init.stderr).toBe(0);
    const join = (await ssh(lab.state, "lab-1", "kubeadm token create --print-join-command")).stdout.trim();
    const j = await ssh(lab.state, "lab-2", join);
    expect(j.code, j.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await lab?.down();
  });

  const kubeletOf = async (node: string) => (await ssh(lab.state, "lab-1", `${KUBECTL} get node ${node} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`)).stdout.trim();
  const serverVersion = async () => JSON.parse((await ssh(lab.state, "lab-1", `${KUBECTL} get --raw /version`)).stdout) as { gitVersion: string };

  it("apply refuses a skipped minor and a kubeadm older than the target, with policy.go's fatal errors", async () => {
    const r = await ssh(lab.state, "lab-1", "kubeadm upgrade apply -y v1.37.0");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error execution phase preflight: the version argument is invalid due to these fatal errors:");
    expect(r.stderr).toContain('\t- Specified version to upgrade to "v1.37.0" is too high; kubeadm can upgrade only 1 minor version at a time');
    expect(r.stderr).toContain('\t- Specified version to upgrade to "v1.37.0" is at least one minor release higher than the kubeadm minor release (37 > 35). Such an upgrade is not supported');
    expect(r.stderr).toContain("Please fix the misalignments highlighted above and try upgrading again");
    const old = await ssh(lab.state, "lab-1", `kubeadm upgrade apply -y ${V36}`);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain(`Specified version to upgrade to "${V36}" is at least one minor release higher than the kubeadm minor release (36 > 35)`);
    expect((await serverVersion()).gitVersion).toBe(V35);
  });

  it("a kubelet newer than the API server does not start (skew policy); its Node keeps its version", async () => {
    const r = await ssh(lab.state, "lab-2", `${repo("1.36")} && apt-get install -y --allow-change-held-packages kubelet=1.36.* >/dev/null && systemctl restart kubelet`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`kubelet v1.36.${K8S_MINORS["1.36"]} is newer than kube-apiserver ${V35}`);
    expect(r.stderr).toContain("kubelet must not be newer than kube-apiserver");
    expect(await kubeletOf("lab-2")).toBe(V35);
  });

  it("plan names the target; apply with kubeadm 1.36 moves manifests, kubeadm-config and /version", async () => {
    const up = await ssh(lab.state, "lab-1", `${repo("1.36")} && apt-get install -y --allow-change-held-packages kubeadm=1.36.* >/dev/null && kubeadm upgrade plan`);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`[upgrade/versions] Cluster version: ${V35}`);
    expect(up.stdout).toContain(`kubeadm upgrade apply ${V36}`);
    // 200 days on: apply renews the certificates kubeadm manages (kubeadm's automatic renewal on upgrade)
    writeFileSync(join(lab.state.dir, "clock"), "200d\n");
    expect((await ssh(lab.state, "lab-1", "kubeadm certs check-expiration")).stdout).toMatch(/^apiserver +.+ UTC +16\dd +ca/m);
    const a = await ssh(lab.state, "lab-1", `kubeadm upgrade apply -y ${V36}`);
    expect(a.code, a.stderr).toBe(0);
    expect((await ssh(lab.state, "lab-1", "kubeadm certs check-expiration")).stdout).toMatch(/^apiserver +.+ UTC +36\dd +ca/m);
    expect(a.stdout).toContain(`[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "${V36}".`);
    expect((await ssh(lab.state, "lab-1", "grep -h image: /etc/kubernetes/manifests/kube-apiserver.yaml")).stdout).toContain(`kube-apiserver:${V36}`);
    expect((await serverVersion()).gitVersion).toBe(V36);
    const cm = await ssh(lab.state, "lab-1", `${KUBECTL} -n kube-system get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}'`);
    expect(cm.stdout).toContain(`kubernetesVersion: ${V36}`);
    // a downgrade by more than one minor is refused
    const down = await ssh(lab.state, "lab-1", "kubeadm upgrade apply -y v1.34.0");
    expect(down.stderr).toContain('Specified version to downgrade to "v1.34.0" is too low; kubeadm can downgrade only 1 minor version at a time');
  });

  it("after the control plane: upgrade node on the worker, and the restarted kubelet reports its version", async () => {
    const n = await ssh(lab.state, "lab-2", "apt-get install -y --allow-change-held-packages kubeadm=1.36.* >/dev/null && kubeadm upgrade node && systemctl restart kubelet");
    expect(n.code, n.stderr).toBe(0);
    expect(n.stdout).toContain("[upgrade/control-plane] Skipping phase. Not a control plane node.");
    expect(await kubeletOf("lab-2")).toBe(V36);
    const cp = await ssh(lab.state, "lab-1", "apt-get install -y --allow-change-held-packages kubelet=1.36.* >/dev/null && systemctl restart kubelet");
    expect(cp.code, cp.stderr).toBe(0);
    expect(await kubeletOf("lab-1")).toBe(V36);
  });
});
