// The lab's rocky-9 hosts bite like a real Rocky 9: SELinux enforcing, NetworkManager, and firewalld
// running with the public zone as REAL nftables rules in the host's namespace, so a port the zone does not
// allow turns a TCP connection away ("No route to host", firewalld's icmpx admin-prohibited) even though
// something listens there. firewall-cmd keeps runtime and permanent state apart; stopping firewalld
// removes the rules. A Debian host has none of it.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../../src/lab/types.js";
import { labSkip, requireRoot, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

/** Connect from the machine (the lab bridge's address) to host:port: "ok", or the error code. */
function connect(address: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve("timeout");
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve("ok");
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code ?? "error");
    });
  });
}

describe.skipIf(labSkip)("rocky-9 lab hosts: firewalld (real nftables rules), SELinux, NetworkManager", () => {
  let lab: StartedLab;
  let rocky: LabHost;
  let debian: LabHost;
  const listeners: ChildProcess[] = [];
  const sh = (h: LabHost, cmd: string) => ssh(lab.state, h.name, cmd);

  /** Something really listening on these ports inside the host's namespace. */
  async function listen(h: LabHost, ports: number[]): Promise<void> {
    const code = `const net=require("net");for(const p of ${JSON.stringify(ports)})net.createServer(s=>s.destroy()).listen(p,"0.0.0.0");setInterval(()=>{},1e9)`;
    const child = spawn("ip", ["netns", "exec", h.namespace, process.execPath, "-e", code], { stdio: "ignore" });
    listeners.push(child);
    const hex = ports.map((p) => `:${p.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A`);
    await waitFor(async () => {
      const r = await sh(h, "cat /proc/net/tcp");
      return hex.every((x) => r.stdout.includes(x));
    }, 10_000);
  }

  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "lt-rocky", hosts: 2, os: ["rocky-9", "debian-12"] });
    [rocky, debian] = lab.state.hosts as [LabHost, LabHost];
    await listen(rocky, [6443, 10250, 2379, 179, 30080]);
    await listen(debian, [6443]);
  }, 60_000);
  afterAll(async () => {
    for (const c of listeners) c.kill("SIGKILL");
    await lab?.down();
  });

  it("SELinux enforcing, NetworkManager present, firewalld running with Rocky's public zone", async () => {
    const r = await sh(rocky, [
      "getenforce",
      "grep '^SELINUX=' /etc/selinux/config",
      "test -d /etc/NetworkManager/conf.d && echo nm-conf.d",
      "systemctl is-active firewalld NetworkManager | tr '\\n' ' '; echo",
      "firewall-cmd --state",
      "firewall-cmd --list-services",
      "firewall-cmd --get-default-zone",
    ].join("; "));
    expect(r.stdout.trim().split("\n"), r.stderr).toEqual([
      "Enforcing",
      "SELINUX=enforcing",
      "nm-conf.d",
      "active active ",
      "running",
      "cockpit dhcpv6-client ssh",
      "public",
    ]);
  });

  it("closed ports really refuse: 6443, 10250, 2379, 179 and NodePorts are turned away, ssh is let in", async () => {
    for (const p of [6443, 10250, 2379, 179, 30080]) expect(await connect(rocky.address, p), `${p}`).toBe("EHOSTUNREACH");
    expect(await connect(rocky.address, 22)).toBe("ok");
    // the same listener on the Debian host answers: no firewall there
    expect(await connect(debian.address, 6443)).toBe("ok");
    // the rules are nftables rules in the host's own namespace, firewalld's table
    const nft = await sh(rocky, "nft list chain inet firewalld filter_INPUT");
    expect(nft.stdout).toMatch(/hook input priority filter \+ 10; policy accept;/);
    expect(nft.stdout).toContain("reject with icmpx admin-prohibited");
  });

  it("--add-port opens at runtime only; --permanent only after --reload; protocols (VRRP, IP-in-IP) become l4proto rules", async () => {
    let r = await sh(rocky, "firewall-cmd --add-port=6443/tcp && firewall-cmd --permanent --add-port=10250/tcp");
    expect(r.stdout.trim().split("\n"), r.stderr).toEqual(["success", "success"]);
    expect(await connect(rocky.address, 6443)).toBe("ok");
    expect(await connect(rocky.address, 10250)).toBe("EHOSTUNREACH");
    r = await sh(rocky, "firewall-cmd --reload && firewall-cmd --list-ports && firewall-cmd --permanent --list-ports");
    expect(r.stdout.trim().split("\n")).toEqual(["success", "10250/tcp", "10250/tcp"]);
    // the runtime-only 6443 is gone after the reload, as with firewalld
    expect(await connect(rocky.address, 6443)).toBe("EHOSTUNREACH");
    expect(await connect(rocky.address, 10250)).toBe("ok");
    r = await sh(rocky, "firewall-cmd --add-port=10250/tcp");
    expect(r.stderr).toContain("Warning: ALREADY_ENABLED: 10250:tcp");
    expect(r.code).toBe(0);
    r = await sh(rocky, "firewall-cmd --add-protocol=vrrp --add-protocol=4 && nft list chain inet firewalld filter_IN_public");
    // nft prints /etc/protocols names: vrrp is 112, ipencap is 4 (IP-in-IP; "ipip" there is 94)
    expect(r.stdout).toMatch(/meta l4proto (112|vrrp) ct state \{ new, untracked \} accept/);
    expect(r.stdout).toMatch(/meta l4proto (4|ipencap) ct state \{ new, untracked \} accept/);
    for (const [bad, code, msg] of [
      ["--add-port=6443", 102, "INVALID_PORT"],
      ["--add-protocol=nosuch", 103, "INVALID_PROTOCOL"],
      ["--zone=internal --list-all", 112, "INVALID_ZONE"],
    ] as const) {
      r = await sh(rocky, `firewall-cmd ${bad}`);
      expect(r.code, bad).toBe(code);
      expect(r.stderr).toContain(msg);
    }
    // not root: no changes
    r = await ssh(lab.state, rocky.name, "firewall-cmd --add-port=1/tcp", { user: "kube" });
    expect(r.code).toBe(253);
  });

  it("systemctl stop firewalld removes the rules; start loads the permanent zone again", async () => {
    let r = await sh(rocky, "systemctl stop firewalld; systemctl is-active firewalld; firewall-cmd --state; echo rc=$?");
    expect(r.stdout.trim().split("\n")).toEqual(["inactive", "not running", "rc=252"]);
    expect(await connect(rocky.address, 2379)).toBe("ok");
    expect((await sh(rocky, "firewall-cmd --permanent --add-port=1/tcp")).stderr).toContain("FirewallD is not running");
    r = await sh(rocky, "systemctl start firewalld && firewall-cmd --list-ports");
    expect(r.stdout.trim()).toBe("10250/tcp");
    expect(await connect(rocky.address, 2379)).toBe("EHOSTUNREACH");
    expect(await connect(rocky.address, 10250)).toBe("ok");
  });

  it("setenforce changes the running mode only; the config decides at boot", async () => {
    const r = await sh(rocky, "setenforce 0 && getenforce && grep '^SELINUX=' /etc/selinux/config && setenforce 1 && getenforce");
    expect(r.stdout.trim().split("\n"), r.stderr).toEqual(["Permissive", "SELINUX=enforcing", "Enforcing"]);
    const u = await ssh(lab.state, rocky.name, "setenforce 0", { user: "kube" });
    expect(u.code).toBe(1);
  });

  it("a Debian host has no firewalld, SELinux or NetworkManager", async () => {
    const r = await sh(debian, "getenforce; systemctl is-active firewalld; firewall-cmd --state; echo rc=$?; test -d /etc/NetworkManager || echo no-nm");
    expect(r.stdout.trim().split("\n")).toEqual(["Disabled", "inactive", "rc=127", "no-nm"]);
  });
});
