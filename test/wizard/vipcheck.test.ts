// The VIP check's parser, on the output iputils arping 20221126 and iproute2 `ip neigh` really print
// (captured on Debian 12 between two network namespaces), and its shell script's syntax.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { interfaceForVip, parseVipCheck, vipCheckScript } from "../../src/wizard/vipcheck.js";

const M = "kubesmith-vip-check";

describe("parseVipCheck", () => {
  it("arping -D: a reply (exit 1) is taken, by the MAC that answered", () => {
    const out = [
      `${M} method=arping`,
      "ARPING 10.250.7.2 from 0.0.0.0 wz4va",
      "Unicast reply from 10.250.7.2 [8A:F9:69:30:09:8D]  0.561ms",
      "Sent 1 probes (1 broadcast(s))",
      "Received 1 response(s)",
      `${M} exit=1`,
    ].join("\n");
    expect(parseVipCheck(out, "10.250.7.2")).toEqual({ method: "arping", taken: true, mac: "8a:f9:69:30:09:8d" });
  });

  it("arping -D: no reply (exit 0) is free", () => {
    const out = [`${M} method=arping`, "ARPING 10.250.7.9 from 0.0.0.0 wz4va", "Sent 2 probes (2 broadcast(s))", "Received 0 response(s)", `${M} exit=0`].join("\n");
    expect(parseVipCheck(out, "10.250.7.9")).toEqual({ method: "arping", taken: false });
  });

  it("arping failing (exit 2, a bad interface) is an error naming arping's reason, not 'free'", () => {
    const r = parseVipCheck([`${M} method=arping`, "arping: Device nosuch not available.", `${M} exit=2`].join("\n"), "10.250.7.9");
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toBe("arping exited 2: arping: Device nosuch not available.");
  });

  it("exit 1 without a reply line for the VIP is not 'taken by nobody'", () => {
    expect(parseVipCheck([`${M} method=arping`, "Received 0 response(s)", `${M} exit=1`].join("\n"), "10.250.7.9")).toBeInstanceOf(Error);
  });

  it("ip neigh: an lladdr is taken; INCOMPLETE or FAILED is free", () => {
    expect(parseVipCheck([`${M} method=neigh`, "10.250.7.2 lladdr 8a:f9:69:30:09:8d REACHABLE ", `${M} exit=0`].join("\n"), "10.250.7.2")).toEqual({
      method: "neigh",
      taken: true,
      mac: "8a:f9:69:30:09:8d",
    });
    expect(parseVipCheck([`${M} method=neigh`, "10.250.7.9 INCOMPLETE ", `${M} exit=0`].join("\n"), "10.250.7.9")).toEqual({ method: "neigh", taken: false });
    expect(parseVipCheck([`${M} method=neigh`, "10.250.7.9 FAILED ", `${M} exit=0`].join("\n"), "10.250.7.9")).toEqual({ method: "neigh", taken: false });
    expect(parseVipCheck([`${M} method=neigh`, `${M} exit=0`].join("\n"), "10.250.7.9")).toEqual({ method: "neigh", taken: false });
    // another address's entry says nothing about the VIP
    expect(parseVipCheck([`${M} method=neigh`, "10.250.7.22 lladdr 8a:f9:69:30:09:8d REACHABLE", `${M} exit=0`].join("\n"), "10.250.7.2")).toEqual({
      method: "neigh",
      taken: false,
    });
  });

  it("a host with no way to make its kernel ask is an error, not 'free'", () => {
    const r = parseVipCheck([`${M} method=neigh`, `${M} no-trigger`, `${M} exit=0`].join("\n"), "10.250.7.9");
    expect(r).toBeInstanceOf(Error);
  });

  it("output without the markers (the script did not run) is an error", () => {
    expect(parseVipCheck("sh: 1: syntax error", "10.0.0.1")).toBeInstanceOf(Error);
  });
});

describe("interfaceForVip", () => {
  const ifs = [
    { name: "eth0", address: "192.168.1.10", prefix: 24 },
    { name: "eth1", address: "10.0.0.5", prefix: 8 },
    { name: "eth2", address: "10.1.2.5", prefix: 24 },
  ];
  it("the interface whose subnet holds the VIP, the longest prefix first", () => {
    expect(interfaceForVip("192.168.1.100", ifs)?.name).toBe("eth0");
    expect(interfaceForVip("10.1.2.100", ifs)?.name).toBe("eth2");
    expect(interfaceForVip("10.9.9.9", ifs)?.name).toBe("eth1");
    expect(interfaceForVip("172.16.0.1", ifs)).toBeUndefined();
  });
});

describe("vipCheckScript", () => {
  it("is valid POSIX sh and runs iputils arping in DAD mode on the interface", () => {
    const s = vipCheckScript("198.18.3.100", "eth0");
    expect(spawnSync("sh", ["-n", "-c", s]).status).toBe(0);
    expect(s).toContain("arping -D -c 2 -w 3 -I 'eth0' '198.18.3.100'");
    expect(s).toContain("ip neigh show to '198.18.3.100' dev 'eth0'");
  });
});
