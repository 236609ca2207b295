// How the simulated kubeadm and kubelet find an address when none is given (src/lab/sim/netinfo.ts): the
// default route from /proc/net/route, /etc/hosts lookups, the kubelet's order (name is an IP, name lookup on
// a local non-loopback address, default route). Pure: files are written to a temp dir.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRouteAddress, defaultRouteInterface, hostsFileLookup, kubeletDefaultNodeIP, type NicInfo } from "../../src/lab/sim/netinfo.js";

const dir = mkdtempSync(join(tmpdir(), "netinfo-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const HEAD = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
// 198.19.255.0/24 on eth0, default via 198.19.255.2 (0x02FF13C6, little-endian) on eth0, 198.18.7.0/24 on eth1
const VAGRANT_ROUTES = `${HEAD}eth0\t00000000\t02FF13C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t00FF13C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth1\t000712C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`;
const NICS: NicInfo[] = [
  { name: "lo", ipv4: ["127.0.0.1/8"] },
  { name: "eth0", ipv4: ["198.19.255.15/24"], defaultRoute: true },
  { name: "eth1", ipv4: ["198.18.7.12/24"] },
];

describe("addresses a component finds by itself", () => {
  it("the default route's interface: the 0.0.0.0/0 entry that is up, lowest metric; none on a host without one", () => {
    expect(defaultRouteInterface(file("route-vagrant", VAGRANT_ROUTES))).toBe("eth0");
    expect(defaultRouteInterface(file("route-bridge", `${HEAD}eth0\t000712C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`))).toBeUndefined();
    expect(defaultRouteInterface(file("route-two", `${HEAD}eth0\t00000000\t02FF13C6\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth1\t00000000\t010712C6\t0003\t0\t0\t50\t00000000\t0\t0\t0\n`))).toBe("eth1");
    expect(defaultRouteAddress(NICS)).toBe("198.19.255.15");
    expect(defaultRouteAddress(NICS.map((n) => ({ ...n, defaultRoute: false })))).toBeUndefined();
  });

  it("/etc/hosts lookups: every IPv4 line naming the host, comments ignored", () => {
    const hosts = file("hosts", "127.0.0.1 localhost\n127.0.1.1\tlab-2\n198.18.7.12 lab-2 # private\n# 10.0.0.1 lab-2\n");
    expect(hostsFileLookup("lab-2", hosts)).toEqual(["127.0.1.1", "198.18.7.12"]);
    expect(hostsFileLookup("LAB-2", hosts)).toEqual(["127.0.1.1", "198.18.7.12"]);
    expect(hostsFileLookup("lab-9", hosts)).toEqual([]);
  });

  it("the kubelet without --node-ip: the name if an IP, else its local non-loopback address from the lookup, else the default route", () => {
    const listed = file("hosts-listed", "127.0.1.1 lab-2\n198.18.7.12 lab-2\n");
    const vagrant = file("hosts-vagrant", "127.0.1.1 lab-2\n");
    const foreign = file("hosts-foreign", "198.18.9.99 lab-2\n"); // not an address of this host
    expect(kubeletDefaultNodeIP("198.18.7.50", NICS, vagrant)).toBe("198.18.7.50");
    expect(kubeletDefaultNodeIP("lab-2", NICS, listed)).toBe("198.18.7.12");
    expect(kubeletDefaultNodeIP("lab-2", NICS, vagrant)).toBe("198.19.255.15");
    expect(kubeletDefaultNodeIP("lab-2", NICS, foreign)).toBe("198.19.255.15");
    expect(kubeletDefaultNodeIP("lab-2", NICS.map((n) => ({ ...n, defaultRoute: false })), vagrant)).toBeUndefined();
  });
});
