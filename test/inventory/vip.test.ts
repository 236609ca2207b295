// The control-plane VIP's VRRP settings: version, advert interval (fractional with VRRPv3 only), unicast.
import { describe, expect, it } from "vitest";
import { at, inventory, issuesOf, load, onlyIssue } from "./helpers.js";

const cpe = (extra: string) => inventory({ cluster: `  controlPlaneEndpoint: { vip: 192.168.1.100, interface: eth0${extra} }` });

describe("controlPlaneEndpoint VRRP settings", () => {
  it("accepts VRRPv3 with a sub-second interval, VRRPv2 with whole seconds, unicast on or off", () => {
    for (const extra of ["", ", advertInt: 0.1", ", vrrpVersion: 3, advertInt: 0.01", ", vrrpVersion: 3, advertInt: 255", ", vrrpVersion: 2, advertInt: 3", ", vrrpVersion: 2", ", unicast: false"]) {
      const ep = load(cpe(extra)).inventory.cluster.controlPlaneEndpoint;
      expect(ep && "vip" in ep, extra).toBe(true);
    }
    const ep = load(cpe(", vrrpVersion: 3, advertInt: 0.25, unicast: false")).inventory.cluster.controlPlaneEndpoint;
    expect(ep).toMatchObject({ vrrpVersion: 3, advertInt: 0.25, unicast: false });
  });

  it("refuses a fractional interval with VRRPv2", () => {
    const text = cpe(", vrrpVersion: 2, advertInt: 0.5");
    expect(onlyIssue(issuesOf(text), "cluster.controlPlaneEndpoint.advertInt").message).toMatch(/whole seconds with vrrpVersion 2/);
  });

  it("refuses intervals keepalived does not take: below 0.01 s, above 255 s, finer than 0.01 s", () => {
    expect(onlyIssue(issuesOf(cpe(", advertInt: 0.005")), "cluster.controlPlaneEndpoint.advertInt")).toMatchObject(at(cpe(", advertInt: 0.005"), "0.005"));
    onlyIssue(issuesOf(cpe(", advertInt: 256")), "cluster.controlPlaneEndpoint.advertInt");
    expect(onlyIssue(issuesOf(cpe(", advertInt: 0.123")), "cluster.controlPlaneEndpoint.advertInt").message).toMatch(/multiple of 0\.01/);
  });

  it("refuses other VRRP versions and a password field (VRRPv2's password is generated, kept with the cluster's secrets)", () => {
    onlyIssue(issuesOf(cpe(", vrrpVersion: 4")), "cluster.controlPlaneEndpoint.vrrpVersion");
    expect(issuesOf(cpe(", authPass: secret1")).map((i) => i.path)).toContain("cluster.controlPlaneEndpoint.authPass");
  });
});
