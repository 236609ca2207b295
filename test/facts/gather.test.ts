import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { factsScript, parseFacts } from "../../src/facts/gather.js";
import { labSkip, requireRoot } from "../helpers/lab.js";

describe("facts", () => {
  it("parses the key=value output", () => {
    const f = parseFacts(
      [
        "hostname=cp1",
        "os_id=debian",
        "os_version=12",
        "os_pretty=Debian GNU/Linux 12 (bookworm)",
        "arch=x86_64",
        "kernel=6.1.0-18-amd64",
        "cpus=4",
        "mem_kib=8123456",
        "swap_kib=2097148",
        "swap_active=1",
        "product_uuid=ABCD-1234",
        "macs= 02:00:00:00:00:01 02:00:00:00:00:02",
        "kubeadm_state=worker",
        "kubelet_version=v1.33.2",
        "kubeadm_version=v1.33.2",
        "container_runtime=containerd",
        "package_manager=apt",
        "tool_conntrack=1",
        "tool_socat=0",
        "epoch=1700000000",
        "listening=0016 192B 2A8A 0CEA ",
      ].join("\n"),
    );
    expect(f).toMatchObject({
      hostname: "cp1",
      osId: "debian",
      osVersion: "12",
      cpus: 4,
      memoryMiB: 7933,
      swapMiB: 2047,
      swapActive: 1,
      productUuid: "abcd-1234",
      macs: ["02:00:00:00:00:01", "02:00:00:00:00:02"],
      kubeadmState: "worker",
      kubeletVersion: "v1.33.2",
      containerRuntime: "containerd",
      packageManager: "apt",
      epoch: 1700000000,
      // 0x0016 = 22, 0x192B = 6443, 0x2A8A = 10890, 0x0CEA = 3306: only Kubernetes' own ports are reported
      portsInUse: [6443],
    });
    expect(f.tools.conntrack).toBe(true);
    expect(f.tools.socat).toBe(false);
  });

  it("cgroup version from the type of /sys/fs/cgroup, containerd version without a leading v", () => {
    expect(parseFacts("cgroup_fs=cgroup2fs\ncontainerd_version=2.2.1\n")).toMatchObject({ cgroup: "v2", containerdVersion: "2.2.1" });
    expect(parseFacts("cgroup_fs=tmpfs\ncontainerd_version=v1.7.27\n")).toMatchObject({ cgroup: "v1", containerdVersion: "1.7.27" });
    expect(parseFacts("cgroup_fs=\ncontainerd_version=\n")).toMatchObject({ cgroup: "unknown", containerdVersion: "" });
    expect(factsScript()).toContain("stat -fc %T /sys/fs/cgroup/");
  });

  it("firewalld, SELinux and NetworkManager: from systemctl, getenforce and /etc/NetworkManager", () => {
    expect(parseFacts("firewalld=active\nselinux=Enforcing\nnetwork_manager=1\n")).toMatchObject({ firewalld: "active", selinux: "enforcing", networkManager: true });
    expect(parseFacts("firewalld=inactive\nselinux=Permissive\nnetwork_manager=0\n")).toMatchObject({ firewalld: "inactive", selinux: "permissive", networkManager: false });
    // no firewalld unit, no getenforce: inactive and disabled
    expect(parseFacts("firewalld=\nselinux=\n")).toMatchObject({ firewalld: "inactive", selinux: "disabled", networkManager: false });
    expect(factsScript()).toContain("systemctl is-active firewalld");
    expect(factsScript()).toContain("getenforce");
  });

  it("treats unknown values conservatively", () => {
    const f = parseFacts("kubeadm_state=weird\npackage_manager=pacman\ncpus=x\n");
    expect(f.kubeadmState).toBe("none");
    expect(f.packageManager).toBe("unknown");
    expect(f.cpus).toBe(0);
  });

  // The listening ports are read only where kubeadm has not run (preflight's port check is for those hosts;
  // reading /proc/net/tcp walks the machine's whole TCP hash). /etc gets an overlay with a kubelet.conf in a
  // mount namespace of its own: the machine's /etc is not touched.
  it.skipIf(labSkip)("a host kubeadm has set up: its state, and no scan of the listening ports", async () => {
    requireRoot();
    const server = net.createServer().listen(2380, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const run = (setup: string) =>
      parseFacts(
        execFileSync(
          "unshare",
          ["-m", "--propagation", "private", "/bin/sh", "-c", `set -e; mount -t tmpfs kstest /mnt; mkdir /mnt/u /mnt/w; mount -t overlay kstest -o lowerdir=/etc,upperdir=/mnt/u,workdir=/mnt/w /etc; ${setup}; exec /bin/sh -c "$1"`, "sh", factsScript()],
          { encoding: "utf8" },
        ),
      );
    let worker, none;
    try {
      worker = run("mkdir -p /etc/kubernetes; : > /etc/kubernetes/kubelet.conf");
      none = run("rm -rf /etc/kubernetes");
    } finally {
      server.close();
    }
    expect(worker).toMatchObject({ kubeadmState: "worker", kubeletConf: true, portsInUse: [] });
    expect(none).toMatchObject({ kubeadmState: "none", kubeletConf: false });
    expect(none.portsInUse).toContain(2380);
  });

  it("the script runs under dash and reports this machine's facts", async () => {
    // Something listening on the etcd peer port must show up.
    const server = net.createServer().listen(2380, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    let out: string;
    try {
      out = execFileSync("/bin/sh", ["-c", factsScript()], { encoding: "utf8" });
    } finally {
      server.close();
    }
    const f = parseFacts(out);
    expect(f.portsInUse).toContain(2380);
    const osRelease = execFileSync("/bin/sh", ["-c", ". /etc/os-release; echo $ID"], { encoding: "utf8" }).trim();
    expect(f.osId).toBe(osRelease);
    expect(f.arch).toBe(execFileSync("uname", ["-m"], { encoding: "utf8" }).trim());
    expect(f.kernel).toBe(execFileSync("uname", ["-r"], { encoding: "utf8" }).trim());
    expect(f.hostname).toBe(hostname());
    expect(f.cpus).toBeGreaterThan(0);
    // read with the shell's own `read` (no awk): the same numbers the kernel's files hold
    const memKib = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    expect(f.memoryMiB).toBe(Math.floor(memKib / 1024));
    expect(f.swapActive).toBe(Math.max(0, readFileSync("/proc/swaps", "utf8").trim().split("\n").length - 1));
    expect(Math.abs(f.epoch - Date.now() / 1000)).toBeLessThan(60);
    expect(["apt", "dnf", "yum", "unknown"]).toContain(f.packageManager);
    const fsType = execFileSync("stat", ["-fc", "%T", "/sys/fs/cgroup/"], { encoding: "utf8" }).trim();
    expect(f.cgroup).toBe(fsType === "cgroup2fs" ? "v2" : fsType === "tmpfs" ? "v1" : "unknown");
  });
});
