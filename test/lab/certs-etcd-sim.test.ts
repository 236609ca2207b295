// The lab's kubeadm certificates and etcd snapshots on one simulated control plane, as a person at its
// shell sees them: check-expiration's table, the lab clock, an expired serving certificate refusing TLS,
// renew's note, a renewed certificate used only after the kube-apiserver's manifest is moved out and back,
// and etcdctl snapshot save / etcdutl snapshot status / restore with upstream's refusals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { labSkip, requireRoot, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const PREP =
  "echo 'deb [trusted=yes] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /' > /etc/apt/sources.list.d/kubernetes.list && apt-get update -q >/dev/null && " +
  "apt-get install -y containerd kubeadm kubelet kubectl >/dev/null && systemctl enable --now containerd kubelet 2>/dev/null && sysctl -qw net.ipv4.ip_forward=1";
const IN_ETCD = (prog: string) =>
  `crictl exec $(crictl ps -q --name '^etcd$') ${prog}${prog === "etcdctl" ? " --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key" : ""}`;
const READYZ = "curl -sk --max-time 3 https://127.0.0.1:6443/readyz";

describe.skipIf(labSkip)("lab: kubeadm certs and etcd snapshots on one control plane", () => {
  let lab: StartedLab;
  const sh = (cmd: string) => ssh(lab.state, "lab-1", cmd);
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "certsim", layout: "1cp" });
    const prep = await sh(PREP);
    expect(prep.code, prep.stderr).toBe(0);
    const init = await sh("kubeadm init --pod-network-cidr 10.244.0.0/16");
    expect(init.code, init.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("check-expiration, an expired serving certificate, renew, and a restart that picks it up", async () => {
    const check = await sh("kubeadm certs check-expiration");
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^CERTIFICATE +EXPIRES +RESIDUAL TIME +CERTIFICATE AUTHORITY +EXTERNALLY MANAGED/m);
    expect(check.stdout).toMatch(/^super-admin\.conf +\w{3} \d\d, \d{4} \d\d:\d\d UTC +364d +ca +no/m);
    expect(check.stdout).toMatch(/^etcd-ca +\w{3} \d\d, \d{4} \d\d:\d\d UTC +9y +no/m);
    expect((await sh(READYZ)).stdout).toBe("ok");

    writeFileSync(join(lab.state.dir, "clock"), "370d\n");
    expect((await sh("kubeadm certs check-expiration")).stdout).toMatch(/^apiserver +.+ UTC +<invalid> +ca/m);
    expect((await sh(READYZ)).code).not.toBe(0);
    const renew = await sh("kubeadm certs renew all");
    expect(renew.code, renew.stderr).toBe(0);
    expect(renew.stdout).toContain("certificate for serving the Kubernetes API renewed\n");
    expect(renew.stdout).toContain("Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates.");
    expect((await sh("kubeadm certs check-expiration")).stdout).toMatch(/^apiserver +.+ UTC +364d +ca/m);
    // the running kube-apiserver still serves the certificate it started with
    expect((await sh(READYZ)).code).not.toBe(0);
    const id0 = (await sh("crictl ps -q --name '^kube-apiserver$'")).stdout.trim();
    expect(id0).not.toBe("");
    expect((await sh("mv /etc/kubernetes/manifests/kube-apiserver.yaml /root/")).code).toBe(0);
    expect(await waitFor(async () => (await sh("crictl ps -q --name '^kube-apiserver$'")).stdout.trim() === "", 10_000, 200)).toBe(true);
    expect((await sh(READYZ)).code).toBe(7); // connection refused: nothing listens
    expect((await sh("mv /root/kube-apiserver.yaml /etc/kubernetes/manifests/")).code).toBe(0);
    expect(await waitFor(async () => (await sh(READYZ)).stdout === "ok", 10_000, 200)).toBe(true);
    expect((await sh("crictl ps -q --name '^kube-apiserver$'")).stdout.trim()).not.toBe(id0);
    writeFileSync(join(lab.state.dir, "clock"), "0\n");
  }, 120_000);

  it("etcdctl snapshot save, etcdutl snapshot status, and restore's refusals", async () => {
    const save = await sh(`${IN_ETCD("etcdctl")} snapshot save /var/lib/etcd/s.db`);
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toBe("Snapshot saved at /var/lib/etcd/s.db\n");
    const table = await sh(`${IN_ETCD("etcdutl")} snapshot status /var/lib/etcd/s.db -w table`);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^\|\s+HASH\s+\|\s+REVISION\s+\|\s+TOTAL KEYS\s+\|\s+TOTAL SIZE\s+\|\s+VERSION\s+\|$/m);
    const json = JSON.parse((await sh(`${IN_ETCD("etcdutl")} snapshot status /var/lib/etcd/s.db -w json`)).stdout) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(["hash", "revision", "totalKey", "totalSize", "version"]);
    expect(json["totalKey"]).toBeGreaterThan(10);

    const restore = (file: string, extra = "") =>
      sh(`${IN_ETCD("etcdutl")} snapshot restore ${file} --name lab-1 --initial-cluster lab-1=https://${lab.state.hosts[0]!.address}:2380 --initial-advertise-peer-urls https://${lab.state.hosts[0]!.address}:2380 ${extra}`);
    expect((await restore("/var/lib/etcd/s.db", "--data-dir /var/lib/etcd")).stderr).toMatch(/Error: data-dir "\/var\/lib\/etcd" not empty or could not be read/);
    expect((await sh("cp /var/lib/etcd/s.db /var/lib/etcd/t.db && printf 'X' | dd of=/var/lib/etcd/t.db bs=1 seek=$(($(stat -c %s /var/lib/etcd/t.db) - 1)) conv=notrunc 2>/dev/null")).code).toBe(0);
    expect((await restore("/var/lib/etcd/t.db", "--data-dir /var/lib/etcd/r1")).stderr).toMatch(/^Error: expected sha256 \[[\d ]+\], got \[[\d ]+\]$/m);
    const wrongName = await sh(`${IN_ETCD("etcdutl")} snapshot restore /var/lib/etcd/s.db --data-dir /var/lib/etcd/r2 --name lab-9 --initial-cluster lab-1=https://10.0.0.1:2380 --initial-advertise-peer-urls https://10.0.0.1:2380`);
    expect(wrongName.stderr).toMatch(/couldn't find local name "lab-9" in the initial cluster configuration/);
    const ok = await restore("/var/lib/etcd/s.db", "--data-dir /var/lib/etcd/r3");
    expect(ok.code, ok.stderr).toBe(0);
    expect((await sh("ls /var/lib/etcd/r3/member")).stdout.split("\n").filter(Boolean)).toEqual(["snap", "wal"]);
    expect((await sh(`${IN_ETCD("etcdutl")} snapshot status /var/lib/etcd/missing.db`)).stderr).toMatch(/no such file or directory/);
  }, 120_000);
});
