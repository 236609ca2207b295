import { describe, expect, it } from "vitest";
import type { HostFacts } from "../../src/facts/gather.js";
import { checkAcross, checkHost, runPreflight, type HostUnderCheck } from "../../src/preflight/checks.js";

const base: HostFacts = {
  hostname: "cp1",
  osId: "debian",
  osVersion: "12",
  osPretty: "Debian GNU/Linux 12",
  arch: "x86_64",
  kernel: "6.1.0",
  cpus: 2,
  memoryMiB: 2048,
  swapMiB: 0,
  swapActive: 0,
  productUuid: "u1",
  macs: ["02:00:00:00:00:01"],
  kubeadmState: "none",
  kubeletVersion: "",
  kubeadmVersion: "",
  containerRuntime: "",
  packageManager: "apt",
  tools: {},
  epoch: 1000,
  portsInUse: [],
  cgroup: "v2",
  containerdVersion: "",
  firewalld: "inactive",
  selinux: "disabled",
  networkManager: false,
};
const host = (name: string, over: Partial<HostFacts> = {}, roles: HostUnderCheck["roles"] = ["control-plane"]): HostUnderCheck => ({
  name,
  roles,
  facts: { ...base, hostname: name, ...over },
});

describe("preflight: cgroup v1 and containerd 1.x", () => {
  const k8s = (v: string, over: Partial<HostFacts>) => checkHost({ ...host("cp1", over), kubernetesVersion: v }, 1000);
  it("refuses cgroup v1 for Kubernetes 1.35 and 1.36 (and by default)", () => {
    for (const v of ["1.35", "1.36.2"]) {
      expect(k8s(v, { cgroup: "v1" })).toEqual([
        expect.objectContaining({ host: "cp1", check: "cgroup", severity: "fail", message: expect.stringContaining(`Kubernetes ${v} needs cgroup v2`) }),
      ]);
    }
    expect(checkHost(host("cp1", { cgroup: "v1" }), 1000)[0]?.severity).toBe("fail");
    expect(k8s("1.36", { cgroup: "unknown" })).toEqual([]);
  });
  it("containerd 1.x on a fresh host: a warning, prepare replaces it", () => {
    const f = k8s("1.36", { containerdVersion: "1.6.20" });
    expect(f).toEqual([expect.objectContaining({ check: "containerd", severity: "warn", message: expect.stringContaining("prepare replaces it with containerd.io 2.x") })]);
  });
  it("containerd 1.x on a node kubeadm set up: refused for 1.36, a warning for 1.35; 2.x is fine", () => {
    expect(k8s("1.36", { containerdVersion: "1.7.27", kubeadmState: "worker" })[0]).toMatchObject({ severity: "fail", check: "containerd" });
    expect(k8s("1.36", { containerdVersion: "1.7.27", kubeadmState: "worker" })[0]?.message).toMatch(/containerd 1\.7\.27 runs this node; Kubernetes 1\.36 needs containerd 2\.x/);
    expect(k8s("1.35", { containerdVersion: "1.7.27", kubeadmState: "worker" })[0]).toMatchObject({ severity: "warn", check: "containerd" });
    expect(k8s("1.36", { containerdVersion: "2.2.1", kubeadmState: "worker" })).toEqual([]);
  });
});

describe("preflight", () => {
  it("passes a healthy control plane", () => {
    expect(checkHost(host("cp1"), 1000)).toEqual([]);
  });

  it("fails small control planes but not small workers", () => {
    const small = { cpus: 1, memoryMiB: 1024 };
    const cp = checkHost(host("cp1", small), 1000);
    expect(cp.map((f) => f.check).sort()).toEqual(["cpu", "memory"]);
    expect(cp.every((f) => f.severity === "fail")).toBe(true);
    expect(cp.find((f) => f.check === "memory")?.message).toMatch(/1024 MiB.*at least 1700 MiB/);
    expect(checkHost(host("w1", small, ["worker"]), 1000)).toEqual([]);
  });

  it("refuses unsupported OS and architectures", () => {
    const f = checkHost(host("cp1", { osId: "arch", osVersion: "rolling", osPretty: "Arch Linux", arch: "riscv64" }), 1000);
    expect(f.find((x) => x.check === "os")?.message).toMatch(/unsupported OS Arch Linux.*supported: debian/);
    expect(f.find((x) => x.check === "arch")?.severity).toBe("fail");
    expect(checkHost(host("cp1", { osId: "ubuntu", osVersion: "24.04" }), 1000)).toEqual([]);
    expect(checkHost(host("cp1", { osId: "rocky", osVersion: "9.4" }), 1000)).toEqual([]);
    expect(checkHost(host("cp1", { osId: "ubuntu", osVersion: "18.04" }), 1000)[0]?.check).toBe("os");
  });

  it("fails when Kubernetes ports are taken on a host kubeadm has not set up, not on one it has", () => {
    const f = checkHost(host("cp1", { portsInUse: [6443, 2379] }), 1000);
    expect(f).toEqual([{ host: "cp1", check: "ports", severity: "fail", message: expect.stringMatching(/^port\(s\) 6443, 2379 already in use/) }]);
    expect(checkHost(host("cp1", { portsInUse: [6443], kubeadmState: "control-plane" }), 1000)).toEqual([]);
  });

  it("warns about swap, clock skew and a hostname that differs from the inventory", () => {
    const f = checkHost(host("cp1", { swapActive: 1, swapMiB: 512, epoch: 1100, hostname: "debian" }), 1000);
    expect(f.map((x) => [x.check, x.severity])).toEqual([
      ["swap", "warn"],
      ["clock", "warn"],
      ["hostname", "warn"],
    ]);
  });

  it("finds duplicate hostnames, product_uuids and MACs across hosts", () => {
    const hosts = [host("a"), host("b", { hostname: "a", productUuid: "u1", macs: ["02:00:00:00:00:09", "02:00:00:00:00:01"] })];
    const f = checkAcross(hosts);
    expect(f.map((x) => x.check).sort()).toEqual(["hostname", "mac", "product_uuid"]);
    expect(f.every((x) => x.host === "b" && x.severity === "fail")).toBe(true);
    expect(f.find((x) => x.check === "mac")?.message).toContain("02:00:00:00:00:01 is the same as on a");
    expect(runPreflight([host("a"), host("b", { productUuid: "u2", macs: ["02:00:00:00:00:02"] })], 1000)).toEqual([]);
  });
});

describe("preflight: firewalld, SELinux, NetworkManager", () => {
  const rocky: Partial<HostFacts> = { osId: "rocky", osVersion: "9.5", packageManager: "dnf" };
  const lines = (over: Partial<HostFacts>, extra: Partial<HostUnderCheck> = {}, roles: HostUnderCheck["roles"] = ["worker"]) =>
    checkHost({ ...host("w1", over, roles), ...extra }, 1000).map((f) => `${f.severity} ${f.check}: ${f.message}`);

  it("a fresh Rocky 9 with firewall: manage: SELinux is named (prepare sets it permissive); firewalld and NetworkManager are prepare's job", () => {
    expect(lines({ ...rocky, firewalld: "active", selinux: "enforcing", networkManager: true })).toEqual([
      "warn selinux: SELinux is enforcing; prepare sets it permissive now and in /etc/selinux/config, as kubeadm's install docs say",
    ]);
    // after prepare: nothing
    expect(lines({ ...rocky, firewalld: "active", selinux: "permissive", networkManager: true })).toEqual([]);
  });
  it("firewall: ignore lists what the user must let in, by role; disable says prepare stops it", () => {
    expect(lines({ ...rocky, firewalld: "active" }, { firewall: "ignore", vrrp: true }, ["worker", "frontend"])).toEqual([
      "warn firewall: firewalld is active and the inventory says firewall: ignore; let in yourself: 10250/tcp, 10256/tcp, 179/tcp, protocol 4, 30000-32767/tcp, 80/tcp, 443/tcp, protocol vrrp",
    ]);
    expect(lines({ ...rocky, firewalld: "active" }, { firewall: "ignore" }, ["control-plane"])[0]).toMatch(/6443\/tcp, 2379-2380\/tcp, 10259\/tcp, 10257\/tcp, 10250\/tcp/);
    expect(lines({ ...rocky, firewalld: "active" }, { firewall: "disable" })).toEqual([
      "warn firewall: firewalld is active; prepare stops and disables it (inventory: firewall: disable)",
    ]);
    expect(lines({ ...rocky, firewalld: "inactive" }, { firewall: "ignore" })).toEqual([]);
  });
  it("on Debian/Ubuntu kubesmith changes none of them, and says so", () => {
    const out = lines({ firewalld: "active", selinux: "enforcing", networkManager: true });
    expect(out.map((l) => l.split(":")[0])).toEqual(["warn firewall", "warn selinux", "warn networkmanager"]);
    expect(out[0]).toContain("kubesmith manages it on RHEL-likes only");
  });
});
