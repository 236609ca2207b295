// Pure parts of the lab: role layouts, fault rules and matching (no root needed).
import { describe, expect, it } from "vitest";
import { LabError } from "../../src/errors.js";
import { faultKey, matchFault, parseFaults } from "../../src/lab/faults.js";
import { layoutRoles } from "../../src/lab/layout.js";
import { labUp, renderInventory, subnetFor, type LabState } from "../../src/lab/lab.js";

describe("lab layout", () => {
  it("defaults: first host control plane, last a frontend worker from 3 hosts", () => {
    expect(layoutRoles(1)).toEqual([["control-plane"]]);
    expect(layoutRoles(2)).toEqual([["control-plane"], ["worker"]]);
    expect(layoutRoles(4)).toEqual([["control-plane"], ["worker"], ["worker"], ["worker", "frontend"]]);
  });
  it("counts like 3cp,3w,2fe", () => {
    const r = layoutRoles(8, "3cp,3w,2fe");
    expect(r.filter((x) => x.includes("control-plane"))).toHaveLength(3);
    expect(r.slice(6)).toEqual([["worker", "frontend"], ["worker", "frontend"]]);
    expect(() => layoutRoles(5, "3cp,3w")).toThrow(LabError);
    expect(() => layoutRoles(2, "2w")).toThrow(/no control plane/);
    expect(() => layoutRoles(2, "2x")).toThrow(/not a count and a role/);
  });
  it("derives a stable subnet from the name", () => {
    expect(subnetFor("kubesmith")).toBe(subnetFor("kubesmith"));
    expect(subnetFor("a")).not.toBe(subnetFor("b"));
    expect(subnetFor("kubesmith")).toBeGreaterThanOrEqual(0);
    expect(subnetFor("kubesmith")).toBeLessThan(256);
  });
});

describe("lab network", () => {
  it("an unknown network is refused before anything is built, naming the choices", async () => {
    await expect(labUp({ name: "vg-nonet", hosts: 1, network: "nat" as never })).rejects.toThrow("lab network 'nat' is not one of bridge, vagrant");
  });
  it("the vagrant network's inventory puts the VIPs on eth1, the private network", () => {
    const state = {
      name: "v", subnet: 7, keyFile: "/k", knownHostsFile: "/kh", passwordFile: "/p", user: { name: "kube", uid: 1001 },
      vips: { controlPlane: "198.18.7.2", edge: "198.18.7.3" },
      hosts: [{ name: "lab-1", address: "198.18.7.11", roles: ["control-plane"] }, { name: "lab-2", address: "198.18.7.12", roles: ["worker", "frontend"] }],
    } as unknown as LabState;
    expect(renderInventory(state)).toMatch(/controlPlaneEndpoint:\n\s+vip: 198\.18\.7\.2\n\s+interface: eth0/);
    const vagrant = renderInventory({ ...state, network: "vagrant" });
    expect(vagrant).toMatch(/controlPlaneEndpoint:\n\s+vip: 198\.18\.7\.2\n\s+interface: eth1/);
    expect(vagrant).toMatch(/edgeVIP:\n\s+vip: 198\.18\.7\.3\n\s+interface: eth1/);
  });
});

describe("lab faults", () => {
  it("parses YAML and matches by host and command prefix", () => {
    const faults = parseFaults("- host: lab-3\n  command: kubeadm join\n  exitCode: 3\n- command: apt-get\n  delayMs: 10\n");
    expect(matchFault(faults, "lab-3", ["kubeadm", "join", "x:6443"])?.exitCode).toBe(3);
    expect(matchFault(faults, "lab-2", ["kubeadm", "join"])).toBeUndefined();
    expect(matchFault(faults, "lab-2", ["apt-get", "update"])?.delayMs).toBe(10);
    expect(matchFault(faults, "lab-3", ["kubeadm", "init"])).toBeUndefined();
  });
  it("rejects bad entries with the field named", () => {
    expect(() => parseFaults("- command: x\n  exitCode: 300\n", "f.yaml")).toThrow(/f.yaml: faults\[0\].exitCode/);
    expect(() => parseFaults("- host: a\n", "f.yaml")).toThrow(/faults\[0\].command/);
    expect(() => parseFaults("- command: x\n  typo: 1\n", "f.yaml")).toThrow(/unknown field 'typo'/);
    expect(() => parseFaults("- command: apt-get\n  transient: flaky\n", "f.yaml")).toThrow(/faults\[0\].transient: must be one of lock, dns, 503, reset/);
    expect(() => parseFaults("- command: apt-get\n  transient: lock\n  exitCode: 1\n", "f.yaml")).toThrow(/transient brings its own message/);
    expect(() => parseFaults("- command: apt-get\n  times: 0\n  fail: x\n", "f.yaml")).toThrow(/faults\[0\].times/);
  });
  it("a fault with times applies that often on a host, then the next matching one does", () => {
    const faults = parseFaults("- command: apt-get install\n  transient: lock\n  times: 2\n- command: apt-get\n  delayMs: 5\n");
    const used: Record<string, number> = {};
    const take = () => {
      const f = matchFault(faults, "h", ["apt-get", "install", "-y", "socat"], used);
      if (f?.times !== undefined) used[faultKey(f, faults.indexOf(f))] = (used[faultKey(f, faults.indexOf(f))] ?? 0) + 1;
      return f;
    };
    expect(take()?.transient).toBe("lock");
    expect(take()?.transient).toBe("lock");
    expect(take()?.delayMs).toBe(5);
  });
});
