import { describe, expect, it } from "vitest";
import {
  cidrContains,
  cidrsOverlap,
  intToIpv4,
  ipv4ToInt,
  isAddressOrHostname,
  isIPv4,
  networkOf,
  parseCidr,
  suggestFreeCidr,
} from "../../src/inventory/net.js";

describe("net", () => {
  it("converts IPv4 addresses to integers and back", () => {
    expect(ipv4ToInt("0.0.0.0")).toBe(0);
    expect(ipv4ToInt("255.255.255.255")).toBe(4294967295);
    expect(ipv4ToInt("192.168.1.10")).toBe(0xc0a8010a);
    expect(intToIpv4(0xc0a8010a)).toBe("192.168.1.10");
    expect(intToIpv4(4294967295)).toBe("255.255.255.255");
    expect(() => ipv4ToInt("1.2.3")).toThrow(RangeError);
  });

  it("tells addresses from host names", () => {
    for (const ok of ["10.0.0.1", "node1", "node-1.example.com", "a.b.c.", "1node.example"]) expect(isAddressOrHostname(ok), ok).toBe(true);
    for (const bad of ["256.1.1.1", "1.2.3", "01.2.3.4x y", "-node", "node_1", "", "a..b", "1.2.3.4.5"]) expect(isAddressOrHostname(bad), bad).toBe(false);
    expect(isIPv4("010.1.1.1")).toBe(false);
  });

  it("parses CIDRs, clearing host bits", () => {
    expect(parseCidr("10.244.1.0/16")).toMatchObject({ base: ipv4ToInt("10.244.0.0"), prefix: 16 });
    expect(parseCidr("0.0.0.0/0").base).toBe(0);
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/1/2", "10.0.0/8"]) expect(() => parseCidr(bad), bad).toThrow(RangeError);
  });

  it("checks containment and overlap", () => {
    const lan = parseCidr("192.168.0.0/16");
    expect(cidrContains(lan, "192.168.255.1")).toBe(true);
    expect(cidrContains(lan, "192.169.0.1")).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0"), "8.8.8.8")).toBe(true);
    expect(cidrsOverlap(parseCidr("10.96.0.0/12"), parseCidr("10.100.0.0/16"))).toBe(true);
    expect(cidrsOverlap(parseCidr("10.96.0.0/12"), parseCidr("10.112.0.0/12"))).toBe(false);
    expect(cidrsOverlap(parseCidr("10.244.0.0/16"), parseCidr("10.96.0.0/12"))).toBe(false);
    expect(networkOf("192.168.56.11", 24).text).toBe("192.168.56.0/24");
    expect(networkOf("198.19.3.4", 15).text).toBe("198.18.0.0/15");
  });

  it("suggests a free private range", () => {
    expect(suggestFreeCidr(16, [], ["10.244.0.0/16"])).toBe("10.244.0.0/16");
    expect(suggestFreeCidr(16, ["10.244.3.4"], ["10.244.0.0/16"])).toBe("10.0.0.0/16");
    expect(suggestFreeCidr(16, [parseCidr("10.0.0.0/8")])).toBe("172.16.0.0/16");
    expect(suggestFreeCidr(8, [parseCidr("10.0.0.0/8")])).toBeUndefined();
  });
});
