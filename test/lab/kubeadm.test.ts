// The node simulator over real SSH: kubeadm init / join with real tokens and CA hashes, faults.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLabFaults } from "../../src/lab/lab.js";
import { labSkip, requireRoot, ssh, startLab, type StartedLab } from "../helpers/lab.js";
import { K8S_MINORS } from "../../src/lab/sim/repos.js";

const PREP =
  "echo 'deb [trusted=yes] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q >/dev/null && " +
  "apt-get install -y containerd kubeadm kubelet kubectl >/dev/null && systemctl enable --now containerd kubelet 2>/dev/null && sysctl -qw net.ipv4.ip_forward=1";

describe.skipIf(labSkip)("node simulator: kubeadm", () => {
  let lab: StartedLab;
  let joinCmd = "";
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "lt-kadm", layout: "2cp,2w" });
    const prep = await Promise.all(lab.state.hosts.map((h) => ssh(lab.state, h.name, PREP)));
    for (const r of prep) expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab?.down();
  });

  it("refuses init before the host is prepared, with kubeadm's preflight errors", async () => {
    // lab-4 is untouched after a reset of its simulated state
    const r = await ssh(lab.state, "lab-4", "systemctl stop containerd && kubeadm init");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[ERROR CRI]: container runtime is not running");
    await ssh(lab.state, "lab-4", "systemctl start containerd");
  });

  it("init writes a real CA and prints a join command whose hash is the CA's SPKI sha256", async () => {
    const vip = lab.state.vips.controlPlane!;
    const r = await ssh(lab.state, "lab-1", `kubeadm init --control-plane-endpoint ${vip}:6443 --upload-certs --pod-network-cidr 10.244.0.0/16`);
    expect(r.code, r.stderr).toBe(0);
    const print = await ssh(lab.state, "lab-1", "kubeadm token create --print-join-command");
    joinCmd = print.stdout.trim();
    expect(joinCmd).toMatch(new RegExp(`^kubeadm join ${vip.replace(/\./g, "\\.")}:6443 --token [a-z0-9]{6}\\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$`));
    // compute the hash ourselves from the CA file with openssl
    const ca = await ssh(lab.state, "lab-1", "openssl x509 -in /etc/kubernetes/pki/ca.crt -noout -pubkey | openssl pkey -pubin -outform der | sha256sum");
    expect(joinCmd).toContain(`sha256:${ca.stdout.split(" ")[0]}`);
    const subj = await ssh(lab.state, "lab-1", "openssl x509 -in /etc/kubernetes/pki/ca.crt -noout -subject; ls /etc/kubernetes/manifests");
    expect(subj.stdout).toContain("CN = kubernetes");
    expect(subj.stdout).toContain("kube-apiserver.yaml");
  });

  it("a second init is refused with kubeadm's preflight text", async () => {
    const r = await ssh(lab.state, "lab-1", "kubeadm init");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[ERROR Port-6443]: Port 6443 is in use");
    expect(r.stderr).toContain("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists");
  });

  it("a worker joins with the printed command; a wrong token or CA hash fails like kubeadm", async () => {
    const badToken = joinCmd.replace(/--token \S+/, "--token abcdef.0123456789abcdef");
    const r1 = await ssh(lab.state, "lab-3", badToken);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"');
    const badHash = joinCmd.replace(/sha256:\S+/, `sha256:${"0".repeat(64)}`);
    const r2 = await ssh(lab.state, "lab-3", badHash);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
    const ok = await ssh(lab.state, "lab-3", `${joinCmd} && test -f /etc/kubernetes/kubelet.conf && ! test -e /etc/kubernetes/pki/ca.key`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("This node has joined the cluster");
    // the kubelet's client certificate: X.509 v3 signed by the cluster CA, for client auth only, as kubeadm's
    const cert = new X509Certificate(
      Buffer.from(/client-certificate-data: (\S+)/.exec((await ssh(lab.state, "lab-3", "cat /etc/kubernetes/kubelet.conf")).stdout)![1]!, "base64"),
    );
    expect(cert.subject).toBe("CN=system:node:lab-3\nO=system:nodes");
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]); // extended key usage: client auth
    const ca = new X509Certificate((await ssh(lab.state, "lab-1", "cat /etc/kubernetes/pki/ca.crt")).stdout);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    const again = await ssh(lab.state, "lab-3", joinCmd);
    expect(again.stderr).toContain("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]");
  });

  it("a control plane joins with a certificate key from upload-certs, not with a wrong one", async () => {
    const up = await ssh(lab.state, "lab-1", "kubeadm init phase upload-certs --upload-certs");
    const key = up.stdout.trim().split("\n").pop()!;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const wrong = await ssh(lab.state, "lab-2", `${joinCmd} --control-plane --certificate-key ${"1".repeat(64)}`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("message authentication failed");
    const ok = await ssh(lab.state, "lab-2", `${joinCmd} --control-plane --certificate-key ${key} && ls /etc/kubernetes/manifests | wc -l`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split("\n").pop()).toBe("4");
    const caOn1 = await ssh(lab.state, "lab-1", "cat /etc/kubernetes/pki/ca.crt");
    const caOn2 = await ssh(lab.state, "lab-2", "cat /etc/kubernetes/pki/ca.crt");
    expect(caOn2.stdout).toBe(caOn1.stdout);
  });

  it("a fault makes kubeadm join exit with the configured code, and every command is logged", async () => {
    setLabFaults(lab.state.name, [{ host: "lab-4", command: "kubeadm join", fail: "simulated join failure", exitCode: 42 }]);
    const r = await ssh(lab.state, "lab-4", joinCmd);
    expect(r.code).toBe(42);
    expect(r.stderr).toContain("simulated join failure");
    setLabFaults(lab.state.name, []);
    const ok = await ssh(lab.state, "lab-4", joinCmd);
    expect(ok.code, ok.stderr).toBe(0);
    const log = readFileSync(path.join(lab.state.hosts[3]!.dir, "commands.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { host: string; argv: string[]; exitCode: number });
    const joins = log.filter((e) => e.argv[0] === "kubeadm" && e.argv[1] === "join");
    expect(joins.map((e) => e.exitCode)).toEqual([42, 0]);
    expect(joins.every((e) => e.host === "lab-4")).toBe(true);
  });

  it("reset removes the node's kubeadm state; without -f and no answer it refuses", async () => {
    const no = await ssh(lab.state, "lab-4", "kubeadm reset");
    expect(no.code).toBe(1);
    expect(no.stderr).toContain("won't proceed");
    const yes = await ssh(lab.state, "lab-4", "kubeadm reset -f && ls /etc/kubernetes/kubelet.conf");
    expect(yes.code).not.toBe(0);
    expect(yes.stderr).toContain("No such file");
  });

  it("join reads the cluster's settings from kube-system/kubeadm-config and kubelet-config, as the bootstrap token's user", async () => {
    // lab-4 was reset above. kubeadm-config gone: the join stops in preflight, as upstream's FetchInitConfigurationFromCluster
    // admin.conf names the VIP, which nothing holds in this lab: the local API server instead
    const KC = "kubectl --kubeconfig /etc/kubernetes/admin.conf --server https://127.0.0.1:6443 -n kube-system";
    const save = await ssh(lab.state, "lab-1", `${KC} get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' > /root/cc.yaml && ${KC} delete cm kubeadm-config`);
    expect(save.code, save.stderr).toBe(0);
    const missing = await ssh(lab.state, "lab-4", joinCmd);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...');
    expect(missing.stderr).toContain('error execution phase preflight: unable to fetch the kubeadm-config ConfigMap: failed to get config map: configmaps "kubeadm-config" not found');
    const back = await ssh(lab.state, "lab-1", `${KC} create cm kubeadm-config --from-file=ClusterConfiguration=/root/cc.yaml --dry-run=client -o yaml > /root/cm.yaml && ${KC} apply -f /root/cm.yaml`);
    expect(back.code, back.stderr).toBe(0);
    // the Role binding that lets bootstrap tokens read it gone: RBAC refuses the token's user
    const unbind = await ssh(lab.state, "lab-1", `${KC} get rolebinding kubeadm:nodes-kubeadm-config -o yaml > /root/rb.yaml && ${KC} delete rolebinding kubeadm:nodes-kubeadm-config`);
    expect(unbind.code, unbind.stderr).toBe(0);
    const forbidden = await ssh(lab.state, "lab-4", joinCmd);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/unable to fetch the kubeadm-config ConfigMap: failed to get config map: configmaps "kubeadm-config" is forbidden: User "system:bootstrap:[a-z0-9]{6}" cannot get resource "configmaps" in API group "" in the namespace "kube-system"/);
    const rebind = await ssh(lab.state, "lab-1", `grep -v -e resourceVersion -e uid: -e creationTimestamp /root/rb.yaml > /root/rb2.yaml && ${KC} apply -f /root/rb2.yaml`);
    expect(rebind.code, rebind.stderr).toBe(0);
    // then it joins, and the kubelet gets the cluster's KubeletConfiguration
    const ok = await ssh(lab.state, "lab-4", `${joinCmd} && cat /var/lib/kubelet/config.yaml`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("This node has joined the cluster");
    expect(ok.stdout).toMatch(/kind: KubeletConfiguration\ncgroupDriver: systemd/);
  }, 60_000);

  it("discovery asks again, as kubeadm does, while the API server's connections time out; gives up after timeouts.discovery", async () => {
    // lab-4 joined above. Its SYNs to any :6443 dropped for 7 s: kubeadm's getClusterInfo retries every 5 s
    const reset = await ssh(lab.state, "lab-4", "kubeadm reset -f >/dev/null");
    expect(reset.code, reset.stderr).toBe(0);
    const drop = "iptables -I OUTPUT -p tcp --dport 6443 --tcp-flags SYN,ACK SYN -j DROP";
    const t0 = Date.now();
    const slow = await ssh(lab.state, "lab-4", `${drop} && { (sleep 7; ${drop.replace("-I", "-D")}) >/dev/null 2>&1 & } && ${joinCmd}`);
    expect(slow.code, slow.stderr).toBe(0);
    expect(slow.stdout).toContain("This node has joined the cluster");
    expect(Date.now() - t0).toBeGreaterThan(5000);
    // with timeouts.discovery shorter than the outage: kubeadm's dial error once it has passed
    await ssh(lab.state, "lab-4", "kubeadm reset -f >/dev/null");
    const [, endpoint, token, hash] = /^kubeadm join (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)/.exec(joinCmd)!;
    const cfg = `apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: ${endpoint}\n    token: ${token}\n    caCertHashes: [${hash}]\ntimeouts:\n  discovery: 2s\n`;
    const t1 = Date.now();
    const gaveUp = await ssh(lab.state, "lab-4", `printf '%s' '${cfg}' > /root/join.yaml && ${drop} && { (sleep 15; ${drop.replace("-I", "-D")}) >/dev/null 2>&1 & } && kubeadm join --config /root/join.yaml`);
    expect(gaveUp.code).toBe(1);
    expect(gaveUp.stderr).toContain(`couldn't validate the identity of the API Server: Get "https://${endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${endpoint}: connect: i/o timeout`);
    expect(Date.now() - t1).toBeLessThan(14_000);
    await new Promise((r) => setTimeout(r, 15_000 - (Date.now() - t1)));
    const back = await ssh(lab.state, "lab-4", joinCmd);
    expect(back.code, back.stderr).toBe(0);
  }, 90_000);

  it("packages: held versions are kept by apt-get, dpkg-query reports them", async () => {
    const r = await ssh(lab.state, "lab-3", "apt-mark hold kubeadm && apt-get install -y kubeadm=1.33.1-1.1; echo rc=$?; dpkg-query -W -f='${Version}' kubeadm");
    expect(r.stderr).toContain("Held packages were changed");
    expect(r.stdout).toContain("rc=100");
    expect(r.stdout.trim().split("\n").pop()).toBe(`1.33.${K8S_MINORS["1.33"]}-1.1`);
  });
});
