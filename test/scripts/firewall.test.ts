// What each role must let in through the host firewall (kubeadm "Ports and Protocols", Calico's network
// requirements, VRRP for keepalived, Traefik's host ports), and the firewalld step run against a fake
// firewall-cmd that keeps runtime and permanent state the way firewalld does.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { checkOpening, firewallOpenings } from "../../src/scripts/firewall.js";
import { prepareOsSteps } from "../../src/scripts/os.js";
import { runSh } from "./fixtures.js";

const values = (r: Parameters<typeof firewallOpenings>[0]) => firewallOpenings(r).map((o) => o.value);

describe("firewallOpenings", () => {
  it("control plane: API server, etcd, scheduler, controller-manager, kubelet, kube-proxy, Calico BGP and IP-in-IP", () => {
    expect(values({ controlPlane: true, worker: false, frontend: false, vrrp: false })).toEqual([
      "6443/tcp",
      "2379-2380/tcp",
      "10259/tcp",
      "10257/tcp",
      "10250/tcp",
      "10256/tcp",
      "179/tcp",
      "4",
    ]);
  });
  it("worker: kubelet, kube-proxy, Calico, NodePorts; no control-plane ports", () => {
    const w = values({ controlPlane: false, worker: true, frontend: false, vrrp: false });
    expect(w).toEqual(["10250/tcp", "10256/tcp", "179/tcp", "4", "30000-32767/tcp"]);
  });
  it("frontend with the edge VIP: NodePorts, Traefik's 80/443 and VRRP", () => {
    const fe = firewallOpenings({ controlPlane: false, worker: true, frontend: true, vrrp: true });
    expect(fe.map((o) => o.value)).toEqual(["10250/tcp", "10256/tcp", "179/tcp", "4", "30000-32767/tcp", "80/tcp", "443/tcp", "vrrp"]);
    expect(fe.find((o) => o.value === "vrrp")?.kind).toBe("protocol");
    expect(fe.find((o) => o.value === "4")?.kind).toBe("protocol");
  });
  it("VXLAN instead of IP-in-IP when Calico uses it", () => {
    const v = values({ controlPlane: false, worker: true, frontend: false, vrrp: false, encapsulation: "vxlan" });
    expect(v).toContain("4789/udp");
    expect(v).not.toContain("4");
  });
  it("refuses what firewall-cmd would refuse", () => {
    for (const bad of ["6443", "0/tcp", "70000/tcp", "20-10/tcp", "1/icmp", "1;rm -rf /"]) {
      expect(() => checkOpening({ kind: "port", value: bad, why: "" }), bad).toThrow(UsageError);
    }
    for (const bad of ["256", "vrrp;true", ""]) expect(() => checkOpening({ kind: "protocol", value: bad, why: "" }), bad).toThrow(UsageError);
  });
});

describe("prepareOsSteps on a RHEL-like", () => {
  const openings = firewallOpenings({ controlPlane: true, worker: false, frontend: false, vrrp: true });
  const ids = (mode: "manage" | "disable" | "ignore") =>
    prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", firewall: { mode, openings } })
      .map((s) => s.id)
      .filter((id) => id !== "dnf-proxy"); // the package manager's proxy (scripts/proxy.ts) sits between them
  it("SELinux and NetworkManager always, then the firewall as the inventory says, before any repository or package", () => {
    expect(ids("manage").slice(3, 7)).toEqual(["selinux-permissive", "networkmanager-calico", "firewalld-open", "containerd-repo"]);
    expect(ids("disable").slice(3, 7)).toEqual(["selinux-permissive", "networkmanager-calico", "firewalld-disable", "containerd-repo"]);
    expect(ids("ignore").slice(3, 6)).toEqual(["selinux-permissive", "networkmanager-calico", "containerd-repo"]);
  });
  it("Debian/Ubuntu get none of them", () => {
    const apt = prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36", firewall: { mode: "manage", openings } }).map((s) => s.id);
    expect(apt.filter((id) => /selinux|networkmanager|firewalld/.test(id))).toEqual([]);
  });
});

describe("the firewalld step against a fake firewall-cmd (runtime and permanent lists)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "kubesmith-fw-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A small firewall-cmd: --state, --list-ports/--list-protocols and --add-port/--add-protocol, with
  // --permanent kept apart from the runtime, as firewalld keeps them.
  const fake = `#!/bin/sh
d=${dir}
[ -e "$d/running" ] || { echo "not running" >&2; exit 252; }
f=runtime
for a in "$@"; do [ "$a" = --permanent ] && f=permanent; done
touch "$d/$f.ports" "$d/$f.protos"
for a in "$@"; do
  case "$a" in
    --state) echo running ;;
    --list-ports) echo $(cat "$d/$f.ports") ;;
    --list-protocols) echo $(cat "$d/$f.protos") ;;
    --add-port=*) grep -qx "\${a#*=}" "$d/$f.ports" || echo "\${a#*=}" >> "$d/$f.ports" ;;
    --add-protocol=*) grep -qx "\${a#*=}" "$d/$f.protos" || echo "\${a#*=}" >> "$d/$f.protos" ;;
  esac
done
`;
  writeFileSync(path.join(dir, "firewall-cmd"), fake);
  chmodSync(path.join(dir, "firewall-cmd"), 0o755);
  const env = { PATH: `${dir}:${process.env.PATH ?? ""}` };
  const step = prepareOsSteps({
    packageManager: "dnf",
    kubernetesVersion: "1.36",
    firewall: { mode: "manage", openings: firewallOpenings({ controlPlane: true, worker: false, frontend: false, vrrp: false }) },
  }).find((s) => s.id === "firewalld-open")!;

  it("passes while firewalld is not running (nothing to open)", () => {
    expect(runSh(step.probe, { env }).code).toBe(0);
  });
  it("fails on a running firewalld without the ports; apply opens them at runtime and permanently; the probe then passes", () => {
    writeFileSync(path.join(dir, "running"), "");
    expect(runSh(step.probe, { env }).code).toBe(1);
    const a = runSh(step.apply, { env });
    expect(a.code, a.stderr).toBe(0);
    expect(runSh(step.probe, { env }).code).toBe(0);
    expect(runSh("firewall-cmd --permanent --list-ports; firewall-cmd --list-protocols", { env }).stdout.trim().split("\n")).toEqual([
      "6443/tcp 2379-2380/tcp 10259/tcp 10257/tcp 10250/tcp 10256/tcp 179/tcp",
      "4",
    ]);
  });
  it("a port only open at runtime (lost on reload) is not enough", () => {
    writeFileSync(path.join(dir, "permanent.ports"), "6443/tcp\n");
    expect(runSh(step.probe, { env }).code).toBe(1);
  });
});
