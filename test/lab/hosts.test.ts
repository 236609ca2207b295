// A 3-host lab: real sshd per host, private hostname and os-release, copy-on-write /etc, sudo for kube.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabError } from "../../src/errors.js";
import { loadInventory } from "../../src/inventory/index.js";
import { labPassword, labStatus, labUp, sshdNoReexec } from "../../src/lab/lab.js";
import { labSkip, requireRoot, ssh, startLab, type StartedLab } from "../helpers/lab.js";
import { K8S_DEFAULT_VERSION } from "../../src/lab/sim/util.js";

describe("lab sshd", () => {
  it("is started with -r (no re-execution per connection) only where OpenSSH still has the option (before 9.8)", () => {
    expect(sshdNoReexec("OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.19 27 Jan 2026")).toEqual(["-r"]);
    expect(sshdNoReexec("OpenSSH_8.7p1, OpenSSL 3.0.7")).toEqual(["-r"]);
    expect(sshdNoReexec("OpenSSH_9.7p1")).toEqual(["-r"]);
    expect(sshdNoReexec("OpenSSH_9.8p1, OpenSSL 3.3.1")).toEqual([]);
    expect(sshdNoReexec("OpenSSH_10.0p2")).toEqual([]);
    expect(sshdNoReexec("sshd: unknown option -- V")).toEqual([]);
  });
});

describe.skipIf(labSkip)("lab hosts", () => {
  let lab: StartedLab;
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "lt-hosts", hosts: 3, os: ["debian-12", "ubuntu-24.04", "rocky-9"] });
  });
  afterAll(async () => {
    await lab?.down();
  });

  it("each host has its own hostname, address and os-release, over strict host-key checking", async () => {
    const expected = [
      ["lab-1", "debian"],
      ["lab-2", "ubuntu"],
      ["lab-3", "rocky"],
    ];
    for (const [i, h] of lab.state.hosts.entries()) {
      const r = await ssh(lab.state, h.name, ". /etc/os-release; echo $(hostname) $ID; cat /etc/hostname; ip -4 -o addr show eth0");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const [first, second, third] = r.stdout.split("\n");
      expect(first).toBe(`${expected[i]![0]} ${expected[i]![1]}`);
      expect(second).toBe(h.name);
      expect(third).toContain(`${h.address}/24`);
    }
  });

  it("a host asks 10 times for a neighbour's ARP reply (the machine's CPUs are shared; the kernel's default is 3)", async () => {
    const r = await ssh(lab.state, "lab-1", "cat /proc/sys/net/ipv4/neigh/eth0/mcast_solicit; cat /proc/sys/net/ipv4/neigh/lo/mcast_solicit");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["10", "3"]);
  });

  it("writes on one host stay in its upper dir: not on the machine, not on the other hosts", async () => {
    const marker = `hello-${process.pid}`;
    const w = await ssh(lab.state, "lab-1", `echo ${marker} > /etc/kubesmith-foo && cat /etc/kubesmith-foo`);
    expect(w.stdout.trim()).toBe(marker);
    expect(existsSync("/etc/kubesmith-foo")).toBe(false);
    const other = await ssh(lab.state, "lab-2", "cat /etc/kubesmith-foo");
    expect(other.code).not.toBe(0);
    const upper = path.join(lab.state.hosts[0]!.dir, "upper", "etc", "kubesmith-foo");
    expect(readFileSync(upper, "utf8").trim()).toBe(marker);
    // /root is a clean skeleton, not the machine's
    const root = await ssh(lab.state, "lab-1", "ls -A /root");
    expect(root.stdout.split("\n").filter(Boolean).sort()).toEqual([".bashrc", ".profile"].filter((f) => existsSync(`/etc/skel/${f}`)));
  });

  it("the simulator wins on PATH, also under sudo and login shells", async () => {
    const r = await ssh(lab.state, "lab-1", "command -v kubeadm; bash -lc 'command -v systemctl'; kubeadm version -o short");
    expect(r.stdout.split("\n").slice(0, 3)).toEqual(["/usr/local/bin/kubeadm", "/usr/local/bin/systemctl", `v${K8S_DEFAULT_VERSION}`]);
  });

  it("kube needs its password for sudo: with it on stdin it works, without it fails", async () => {
    const pw = labPassword(lab.state);
    const ok = await ssh(lab.state, "lab-2", "sudo -S -p '' id -u && command -v kubeadm", { user: "kube", input: `${pw}\n` });
    expect(ok.stdout.split("\n").slice(0, 2)).toEqual(["0", "/usr/local/bin/kubeadm"]);
    const noPw = await ssh(lab.state, "lab-2", "sudo -n id -u", { user: "kube" });
    expect(noPw.code).not.toBe(0);
    expect(noPw.stderr).toMatch(/password is required/);
    const badPw = await ssh(lab.state, "lab-2", "sudo -S -p '' id -u", { user: "kube", input: "wrong\n" });
    expect(badPw.code).not.toBe(0);
    const who = await ssh(lab.state, "lab-2", "id -un; echo $HOME", { user: "kube" });
    expect(who.stdout).toBe("kube\n/home/kube\n");
  });

  it("the simulator's command log records kube's and root's commands, and only its owner can read it (0600)", async () => {
    const pw = labPassword(lab.state);
    const asKube = await ssh(lab.state, "lab-2", "kubeadm version -o short", { user: "kube" });
    expect(asKube.code, asKube.stderr).toBe(0);
    const asRoot = await ssh(lab.state, "lab-2", "sudo -S -p '' kubeadm version -o short", { user: "kube", input: `${pw}\n` });
    expect(asRoot.code, asRoot.stderr).toBe(0);
    const log = path.join(lab.state.hosts[1]!.dir, "commands.log");
    expect(statSync(log).mode & 0o777).toBe(0o600);
    const uids = readFileSync(log, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { uid: number; argv: string[] }))
      .filter((e) => e.argv.join(" ") === "kubeadm version -o short").map((e) => e.uid);
    expect(uids).toContain(0);
    expect(uids).toContain(lab.state.user.uid);
  });

  it("writes an inventory that the inventory loader accepts, and a status that shows the hosts alive", async () => {
    const inv = await loadInventory(lab.inventoryPath);
    expect(inv.inventory.cluster.name).toBe("lt-hosts");
    expect(inv.inventory.hosts.map((h) => [h.name, h.address, h.roles])).toEqual(
      lab.state.hosts.map((h) => [h.name, h.address, h.roles]),
    );
    expect(inv.inventory.hosts[2]!.roles).toEqual(["worker", "frontend"]);
    expect(inv.inventory.ssh?.hostKeyPolicy).toBe("strict");
    const st = await labStatus("lt-hosts");
    expect(st.hosts.every((h) => h.namespaceAlive && h.sshdAlive)).toBe(true);
  });

  it("refuses to bring up a lab whose name is already up", async () => {
    const err = await labUp({ name: "lt-hosts", hosts: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).oneLine()).toMatch(/already up.*kubesmith lab down --name lt-hosts/);
    // and the running lab was left alone
    const st = await labStatus("lt-hosts");
    expect(st.hosts.every((h) => h.namespaceAlive && h.sshdAlive)).toBe(true);
  });
});
