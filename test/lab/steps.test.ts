// The pure steps (src/scripts) against lab hosts of each OS, over real SSH: every probe that fails is
// applied as root and must pass right after; a second pass finds nothing to do. Then keepalived for
// the control-plane VIP (the real daemon, started through the simulated systemctl), and `down`'s
// reset steps after a simulated kubeadm init with CNI/kube-proxy leftovers planted on the host.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "../../src/lab/lab.js";
import { applyStep } from "../../src/phases/packages.js";
import type { ExecOptions, ExecResult, Runner } from "../../src/ssh/types.js";
import type { LabHost, ProcRef } from "../../src/lab/types.js";
import { APISERVER_CHECK_SCRIPT, keepalivedSteps } from "../../src/scripts/keepalived.js";
import { firewallOpenings } from "../../src/scripts/firewall.js";
import { prepareOsSteps, type PackageManager } from "../../src/scripts/os.js";
import { noProxyList } from "../../src/scripts/proxy.js";
import { resetSteps } from "../../src/scripts/reset.js";
import type { Step } from "../../src/scripts/step.js";
import { quote } from "../../src/ssh/quote.js";
import { labSkip, requireRoot, ssh, startLab, waitFor, type RunResult, type StartedLab } from "../helpers/lab.js";

const OSES = [
  ["debian-12", "apt"],
  ["ubuntu-24.04", "apt"],
  ["rocky-9", "dnf"],
] as const;

interface StepRun {
  id: string;
  applied: boolean;
  ms: number;
}

describe.skipIf(labSkip)("steps on lab hosts (debian-12, ubuntu-24.04, rocky-9)", () => {
  let lab: StartedLab;
  const timings: string[] = [];
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "steps", layout: "3cp", os: OSES.map(([os]) => os) });
  });
  afterAll(async () => {
    if (timings.length) console.log(`step timings (ms, three hosts in parallel):\n${timings.join("\n")}`);
    await lab?.down();
  });

  const hosts = () => lab.state.hosts.map((h, i) => ({ h, pm: OSES[i]![1] as PackageManager, os: OSES[i]![0] }));

  /** Run a script as root in POSIX sh, as the SSH runner does (sudo … sh -c). */
  function run(h: LabHost, script: string, stdin?: string): Promise<RunResult> {
    return ssh(lab.state, h.name, `sh -c ${quote(script)}`, stdin === undefined ? {} : { input: stdin });
  }

  /** The product's step runner over this test's ssh(): for applyStep (package index, retries). */
  const runnerFor = (h: LabHost): Runner => ({
    host: h.name,
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      const t0 = Date.now();
      const r = await run(h, command, typeof opts.stdin === "string" ? opts.stdin : undefined);
      return { stdout: r.stdout, stderr: r.stderr, code: r.code, durationMs: Date.now() - t0 };
    },
    upload: async () => {
      throw new Error("not used");
    },
    download: async () => {
      throw new Error("not used");
    },
    close: async () => undefined,
  });
  /** One run: the package index is refreshed once per host (see src/phases/packages.ts). */
  const thisRun = {};

  /** Probe; when it fails apply (through the product's applyStep), which must succeed, and probe again, which must now pass. */
  async function runSteps(h: LabHost, steps: Step[]): Promise<StepRun[]> {
    const out: StepRun[] = [];
    for (const s of steps) {
      const t0 = Date.now();
      const probe = await run(h, s.probe, s.stdin);
      if (probe.code === 0) {
        out.push({ id: s.id, applied: false, ms: Date.now() - t0 });
        continue;
      }
      const apply = await applyStep(thisRun, h.name, runnerFor(h), s);
      expect(apply.code, `${h.name} ${s.id}: apply failed\n${apply.stdout}\n${apply.stderr}`).toBe(0);
      const again = await run(h, s.probe, s.stdin);
      expect(again.code, `${h.name} ${s.id}: probe still fails after apply\n${again.stderr}`).toBe(0);
      out.push({ id: s.id, applied: true, ms: Date.now() - t0 });
    }
    return out;
  }

  function report(phase: string, os: string, runs: StepRun[]): void {
    const total = runs.reduce((a, r) => a + r.ms, 0);
    timings.push(`${phase} ${os}: ${total} ms total; ${runs.map((r) => `${r.id}${r.applied ? "*" : ""} ${r.ms}`).join(", ")}`);
  }

  const applied = (runs: StepRun[]) => runs.filter((r) => r.applied).map((r) => r.id);

  it("prepare OS: a fresh host refuses kubeadm, then every step applies once and a second pass changes nothing", async () => {
    await Promise.all(
      hosts().map(async ({ h, pm, os }) => {
        // a fresh host: no Kubernetes repository, no containerd; plant a swap entry for swap-off to handle
        const before = await run(h, pm === "apt" ? "apt-get install -y kubeadm" : "dnf install -y kubeadm");
        expect(before.code, `${h.name}: ${before.stderr}`).toBe(pm === "apt" ? 100 : 1);
        expect(before.stderr).toContain(pm === "apt" ? "E: Unable to locate package kubeadm" : "Error: Unable to find a match: kubeadm");
        expect((await run(h, "command -v containerd")).code).not.toBe(0);
        if (pm !== "apt") {
          // RHEL-likes get containerd.io from Docker's repository only
          const cio = await run(h, "dnf install -y containerd.io");
          expect(cio.stderr).toContain("Error: Unable to find a match: containerd.io");
        }
        if (pm === "apt") {
          // the distribution's containerd 1.x, as many hosts have it: prepare must replace it with containerd.io 2.x
          expect((await run(h, "apt-get install -y containerd >/dev/null && containerd --version")).stdout).toMatch(/ 1\.[67]\./);
        }
        expect((await run(h, "echo '/swap.img none swap sw 0 0' >> /etc/fstab")).code).toBe(0);

        // the three are control planes sharing a keepalived VIP: on rocky-9 firewalld must let their ports
        // and VRRP in (without it the next test's VRRP adverts are dropped and two hosts hold the VIP)
        const firewall = { mode: "manage" as const, openings: firewallOpenings({ controlPlane: true, worker: false, frontend: false, vrrp: true }) };
        const steps = prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36", firewall });
        if (pm !== "apt") {
          expect(steps.map((s) => s.id)).toEqual(expect.arrayContaining(["selinux-permissive", "networkmanager-calico", "firewalld-open"]));
        }
        const first = await runSteps(h, steps);
        report("prepare pass 1", os, first);
        // every step had something to do on a fresh host; but without a proxy in the inventory its steps
        // only remove what an earlier run wrote, and there is nothing of that here
        expect(applied(first), h.name).toEqual(steps.map((s) => s.id).filter((id) => !id.endsWith("-proxy")));
        const second = await runSteps(h, steps);
        report("prepare pass 2", os, second);
        expect(applied(second), `${h.name}: not converged`).toEqual([]);

        // what the host now looks like
        const pkg =
          pm === "apt"
            ? await run(h, "for p in kubelet kubeadm kubectl; do dpkg-query -W -f='${Status} ${Version}\\n' $p; done")
            : await run(h, "rpm -q --qf '%{VERSION}\\n' kubelet kubeadm kubectl");
        expect(pkg.stdout.trim().split("\n"), h.name).toEqual(Array(3).fill(pm === "apt" ? "hold ok installed 1.36.3-1.1" : "1.36.3"));
        const facts = await run(
          h,
          [
            "command -v containerd",
            "containerd --version | cut -d' ' -f1-3",
            pm === "apt" ? "dpkg-query -W -f='${Status}\\n' containerd 2>&1 | head -1" : "echo -",
            "grep -c '^[[:space:]]*SystemdCgroup = true' /etc/containerd/config.toml",
            "grep -c '^version = 3$' /etc/containerd/config.toml",
            "grep -c '^  sandbox = \"registry.k8s.io/pause:3.10.1\"$' /etc/containerd/config.toml",
            "systemctl is-active containerd",
            "systemctl is-enabled kubelet",
            "sysctl -n net.ipv4.ip_forward",
            "grep swap /etc/fstab",
            "kubeadm version -o short",
          ].join("; "),
        );
        expect(facts.stdout.trim().split("\n"), `${h.name}: ${facts.stderr}`).toEqual([
          "/usr/local/bin/containerd",
          "containerd containerd.io 2.2.1",
          pm === "apt" ? "dpkg-query: no packages found matching containerd" : "-",
          "1",
          "1",
          "1",
          "active",
          "enabled",
          "1",
          "#/swap.img none swap sw 0 0",
          "v1.36.3",
        ]);
        if (pm !== "apt") {
          // RHEL-like: SELinux permissive now and at boot, Calico's NetworkManager file, firewalld open
          const rhel = await run(
            h,
            "getenforce; grep '^SELINUX=' /etc/selinux/config; grep -c 'interface-name:cali\\*;interface-name:tunl\\*' /etc/NetworkManager/conf.d/calico.conf; firewall-cmd --permanent --list-ports; firewall-cmd --list-protocols",
          );
          expect(rhel.stdout.trim().split("\n"), `${h.name}: ${rhel.stderr}`).toEqual([
            "Permissive",
            "SELINUX=permissive",
            "1",
            "6443/tcp 2379-2380/tcp 10259/tcp 10257/tcp 10250/tcp 10256/tcp 179/tcp",
            "4 vrrp",
          ]);
        }
        // Docker's packaged config.toml (CRI plugin off) was replaced and kept as a backup
        const bak = await run(h, "cat /etc/containerd/config.toml.kubesmith.bak");
        expect(bak.stdout, h.name).toContain('disabled_plugins = ["cri"]');
      }),
    );
  });

  it("proxy (with credentials): apt/dnf, containerd and kubelet get it, converge, and lose it again when it is removed", async () => {
    const PASSWORD = "Pr0xy-Pa55word";
    const proxy = { http: `http://alice:${PASSWORD}@198.18.0.1:3128`, noProxy: noProxyList({ hosts: lab.state.hosts, podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12", vips: [] }) };
    await Promise.all(
      hosts().map(async ({ h, pm, os }) => {
        const ids = ["apt-proxy", "dnf-proxy", "containerd-proxy", "kubelet-proxy"];
        const pick = (p?: typeof proxy) => prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36", proxy: p }).filter((s) => ids.includes(s.id));
        const first = await runSteps(h, pick(proxy));
        report("proxy on", os, first);
        expect(applied(first), h.name).toEqual([pm === "apt" ? "apt-proxy" : "dnf-proxy", "containerd-proxy", "kubelet-proxy"]);
        expect(applied(await runSteps(h, pick(proxy))), `${h.name}: not converged`).toEqual([]);
        const conf = pm === "apt" ? "/etc/apt/apt.conf.d/90kubesmith-proxy" : "/etc/dnf/dnf.conf";
        const files = await run(h, `stat -c %a ${conf} /etc/systemd/system/containerd.service.d/kubesmith-proxy.conf /etc/systemd/system/kubelet.service.d/kubesmith-proxy.conf; grep -c 'alice:${PASSWORD}@' ${conf}; systemctl is-active containerd`);
        expect(files.stdout.trim().split("\n"), `${h.name}: ${files.stderr}`).toEqual(["600", "600", "600", pm === "apt" ? "2" : "1", "active"]); // apt: the http and https lines
        const off = await runSteps(h, pick(undefined));
        report("proxy off", os, off);
        expect(applied(off), h.name).toEqual([pm === "apt" ? "apt-proxy" : "dnf-proxy", "containerd-proxy", "kubelet-proxy"]);
        const gone = await run(h, `ls /etc/apt/apt.conf.d/90kubesmith-proxy /etc/systemd/system/*.service.d/kubesmith-proxy.conf 2>/dev/null; grep -c kubesmith ${pm === "apt" ? "/dev/null" : "/etc/dnf/dnf.conf"}; systemctl is-active containerd`);
        expect(gone.stdout.trim().split("\n"), `${h.name}: ${gone.stderr}`).toEqual(["0", "active"]);
      }),
    );
  });

  it("keepalived: installed, configured (secret on stdin) and running for real; converged; the VIP goes to the highest priority", async () => {
    const vip = lab.state.vips.controlPlane!;
    const all = hosts();
    await Promise.all(
      all.map(async ({ h, pm, os }, i) => {
        const steps = keepalivedSteps({
          packageManager: pm,
          vip,
          interface: "eth0",
          routerId: 51,
          priority: 150 - i * 10,
          peers: all.filter((o) => o.h !== h).map((o) => o.h.address),
          self: h.address,
          // VRRPv2 with PASS auth: the one configuration that carries a secret (v3, the default, has none)
          vrrpVersion: 2,
          advertInt: 1,
          authPass: "k8sVIP42",
          healthCheck: APISERVER_CHECK_SCRIPT,
        });
        const first = await runSteps(h, steps);
        report("keepalived pass 1", os, first);
        expect(applied(first), h.name).toEqual(steps.map((s) => s.id));
        const second = await runSteps(h, steps);
        report("keepalived pass 2", os, second);
        expect(applied(second), `${h.name}: not converged`).toEqual([]);
        // the config is valid for the real keepalived, secret and root-only
        const check = await run(h, "keepalived -t -f /etc/keepalived/keepalived.conf && stat -c %a /etc/keepalived/keepalived.conf && grep -c k8sVIP42 /etc/keepalived/keepalived.conf");
        expect(check.stdout.trim().split("\n"), `${h.name}: ${check.stderr}`).toEqual(["600", "1"]);
        const ref = JSON.parse(readFileSync(path.join(h.dir, "procs", "keepalived.json"), "utf8")) as ProcRef;
        expect(isAlive(ref.pid, ref.start), h.name).toBe(true);
        expect(execFileSync("ip", ["netns", "identify", String(ref.pid)], { encoding: "utf8" }).trim()).toBe(h.namespace);
      }),
    );
    const holders = () =>
      all.filter(({ h }) => execFileSync("ip", ["-n", h.namespace, "-4", "-o", "addr", "show", "dev", "eth0"], { encoding: "utf8" }).includes(` ${vip}/32`)).map(({ h }) => h.name);
    // every health check fails (no API server): the weights cancel out and priority 150 wins
    expect(await waitFor(() => holders().join(",") === "lab-1", 15_000, 200)).toBe(true);
  });

  it("reset after kubeadm init: every leftover is removed, other rules survive, keepalived stops; a second pass changes nothing", async () => {
    const plant = [
      "kubeadm init --ignore-preflight-errors=all >/dev/null",
      "mkdir -p /root/.kube && cp /etc/kubernetes/admin.conf /root/.kube/config",
      "mkdir -p /etc/cni/net.d /var/lib/cni/networks /var/lib/calico && echo '{}' > /etc/cni/net.d/10-calico.conflist",
      // a veth pair stands in for Calico's interfaces (no dummy/vxlan modules here)
      "ip link add cali0a1b2c3d4e type veth peer name vxlan.calico",
      "iptables -N KUBE-SERVICES && iptables -A INPUT -j KUBE-SERVICES && iptables -N cali-INPUT && iptables -A cali-INPUT -j RETURN",
      "iptables -A FORWARD -m comment --comment 'cali:abc123' -j ACCEPT",
      "iptables -A INPUT -p tcp --dport 2222 -j ACCEPT",
      "nft add table ip kube-proxy",
    ].join(" && ");
    await Promise.all(
      hosts().map(async ({ h, os }) => {
        const p = await run(h, plant);
        expect(p.code, `${h.name}: ${p.stderr}`).toBe(0);
        const ref = JSON.parse(readFileSync(path.join(h.dir, "procs", "keepalived.json"), "utf8")) as ProcRef;

        const steps = resetSteps({ keepalived: true });
        const first = await runSteps(h, steps);
        report("reset pass 1", os, first);
        // no IPVS here (no ip_vs module): that probe passes from the start; everything else had work
        expect(applied(first), h.name).toEqual(steps.map((s) => s.id).filter((id) => id !== "ipvs-rules"));
        const second = await runSteps(h, steps);
        report("reset pass 2", os, second);
        expect(applied(second), `${h.name}: not converged`).toEqual([]);

        expect(isAlive(ref.pid, ref.start), `${h.name}: keepalived still runs`).toBe(false);
        const after = await run(
          h,
          [
            "find /etc/kubernetes/manifests /etc/kubernetes/pki /var/lib/etcd -mindepth 1 2>/dev/null | wc -l",
            "ls /etc/kubernetes/*.conf 2>/dev/null | wc -l",
            "iptables-save | grep -Ec 'KUBE-|cali' || true",
            "iptables-save | grep -c -- '--dport 2222'",
            "ip -o link show | grep -Ec 'cali|vxlan' || true",
            "systemctl is-active kubelet || true",
            "systemctl is-enabled keepalived || true",
            "test -e /root/.kube/config && echo kubeconfig || echo none",
          ].join("; "),
        );
        expect(after.stdout.trim().split("\n"), `${h.name}: ${after.stderr}`).toEqual(["0", "0", "0", "1", "0", "inactive", "disabled", "none"]);
        // the files are gone from the host's own overlay, and the machine never had them
        expect(existsSync(path.join(h.dir, "upper", "etc", "kubernetes", "admin.conf"))).toBe(false);
        expect(existsSync("/etc/kubernetes/admin.conf")).toBe(false);
      }),
    );
  });

  it("removing the containerd package takes its command and unit with it", async () => {
    await Promise.all(
      hosts().map(async ({ h, pm }) => {
        const r = await run(
          h,
          `${pm === "apt" ? "apt-get purge -y containerd.io" : "dnf remove -y containerd.io"} >/dev/null; command -v containerd || echo gone; systemctl is-enabled containerd; systemctl start containerd; echo rc=$?`,
        );
        expect(r.stdout.trim().split("\n"), h.name).toEqual(["gone", "not-found", "rc=5"]);
        expect(r.stderr).toContain("Unit containerd.service not found.");
      }),
    );
  });
});
