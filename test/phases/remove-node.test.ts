// remove-node's decisions without a cluster: etcd's quorum rule for a control plane leaving, the health
// output of etcdctl, which Nodes up warns about, and the model of the cluster that stays.
import { describe, expect, it } from "vitest";
import { leaveOut } from "../../src/cluster/leave.js";
import { buildModel } from "../../src/cluster/model.js";
import type { EtcdMemberInfo } from "../../src/cluster/etcd.js";
import { QuorumError, UsageError } from "../../src/errors.js";
import type { LoadedInventory } from "../../src/inventory/load.js";
import type { Inventory } from "../../src/inventory/schema.js";
import type { KubeObject } from "../../src/kube/client.js";
import { kubeletGone, parseEndpointHealth, quorumRefusal, strayNodeNames } from "../../src/phases/remove-node.js";
import type { SshTarget } from "../../src/ssh/types.js";

const member = (name: string, i: number): EtcdMemberInfo => ({ id: `${i}`.repeat(16), name, peerURLs: [`https://10.0.0.${i}:2380`] });
const [m1, m2, m3, m4] = ["cp1", "cp2", "cp3", "cp4"].map((n, i) => member(n, i + 1)) as [EtcdMemberInfo, EtcdMemberInfo, EtcdMemberInfo, EtcdMemberInfo];
const healthy = (...ms: EtcdMemberInfo[]) => new Set(ms.map((m) => m.id));

describe("quorumRefusal: may this etcd member leave?", () => {
  it("one of three healthy members may leave, and so may an unhealthy one", () => {
    expect(quorumRefusal([m1, m2, m3], healthy(m1, m2, m3), m3)).toBeUndefined();
    expect(quorumRefusal([m1, m2, m3], healthy(m1, m2), m3)).toBeUndefined();
  });
  it("refuses one of two (etcd would lose its quorum), naming the members", () => {
    expect(quorumRefusal([m1, m2], healthy(m1, m2), m2)).toBe("etcd would lose its quorum: 2 members (cp1 healthy, cp2 healthy) need 2 up, and without cp2 1 healthy would be left");
  });
  it("refuses a healthy member while another one is unhealthy", () => {
    expect(quorumRefusal([m1, m2, m3], healthy(m1, m3), m3)).toBe("etcd would lose its quorum: 3 members (cp1 healthy, cp2 unhealthy, cp3 healthy) need 2 up, and without cp3 1 healthy would be left");
    expect(quorumRefusal([m1, m2, m3, m4], healthy(m1, m2, m4), m4)).toMatch(/^etcd would lose its quorum: 4 members .* need 3 up, and without cp4 2 healthy would be left$/);
  });
  it("refuses the last member", () => {
    expect(quorumRefusal([m1], healthy(m1), m1)).toBe("cp1 is etcd's last member (the cluster's state lives in it)");
  });
});

describe("parseEndpointHealth", () => {
  it("reads healthy and unhealthy lines, also run together without line breaks", () => {
    const out =
      "https://10.0.0.1:2379 is healthy: successfully committed proposal: took = 2.1ms\n" +
      "https://10.0.0.2:2379 is unhealthy: failed to commit proposal: context deadline exceededhttps://10.0.0.3:2379 is healthy: successfully committed proposal: took = 9ms\nError: unhealthy cluster\n";
    expect([...parseEndpointHealth(out)].sort()).toEqual(["https://10.0.0.1:2379", "https://10.0.0.3:2379"]);
  });
});

describe("strayNodeNames", () => {
  it("names the Nodes the inventory does not list, sorted", () => {
    const nodes = ["w9", "cp1", "w1", "old"].map((name) => ({ apiVersion: "v1", kind: "Node", metadata: { name } }) as KubeObject);
    expect(strayNodeNames(nodes, ["cp1", "w1"])).toEqual(["old", "w9"]);
    expect(strayNodeNames(nodes, ["cp1", "w1", "w9", "old"])).toEqual([]);
  });
});

describe("kubeletGone: a Node whose pods could not be drained", () => {
  const node = (ready?: string) => ({ apiVersion: "v1", kind: "Node", metadata: { name: "w1" }, status: { conditions: ready ? [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: ready }] : [] } }) as KubeObject;
  it("is true only when the node controller set Ready to Unknown", () => {
    expect(kubeletGone(node("Unknown"))).toBe(true);
    expect(kubeletGone(node("True"))).toBe(false);
    expect(kubeletGone(node("False"))).toBe(false);
    expect(kubeletGone(node())).toBe(false);
  });
});

describe("leaveOut: the cluster that stays", () => {
  const inv = (endpoint: boolean): Inventory =>
    ({
      cluster: { name: "c", ...(endpoint ? { controlPlaneEndpoint: { vip: "10.0.0.100", interface: "eth0" } } : {}) },
      hosts: [
        { name: "cp1", address: "10.0.0.1", roles: ["control-plane"] },
        { name: "cp2", address: "10.0.0.2", roles: ["control-plane"] },
        { name: "w1", address: "10.0.0.3", roles: ["worker"] },
      ],
    }) as unknown as Inventory;
  const model = (endpoint: boolean) => {
    const i = inv(endpoint);
    return buildModel({ inventory: i, file: "inv.yaml" } as LoadedInventory, i.hosts.map((h) => ({ name: h.name }) as SshTarget));
  };

  it("leaves the hosts out of the model and of its inventory (what keepalived and the add-ons render from)", () => {
    const { model: m, leaving } = leaveOut(model(true), ["cp1", "w1"], "inv.yaml");
    expect(leaving.map((h) => h.name)).toEqual(["cp1", "w1"]);
    expect(m.hosts.map((h) => h.name)).toEqual(["cp2"]);
    expect(m.controlPlanes.map((h) => h.name)).toEqual(["cp2"]);
    expect(m.workers).toEqual([]);
    expect(m.first.name).toBe("cp2");
    expect(m.inventory.hosts.map((h) => h.name)).toEqual(["cp2"]);
    expect(m.endpoint).toEqual({ host: "10.0.0.100", port: 6443, kind: "vip" });
  });
  it("refuses to leave no control plane (exit 16)", () => {
    expect(() => leaveOut(model(true), ["cp1", "cp2"], "inv.yaml")).toThrow(QuorumError);
    expect(() => leaveOut(model(true), ["cp1", "cp2"], "inv.yaml")).toThrow(/^refusing to remove cp1, cp2: no control plane of inv\.yaml would be left/);
  });
  it("refuses the first control plane when it is the endpoint (no VIP or load balancer)", () => {
    expect(() => leaveOut(model(false), ["cp1"], "inv.yaml")).toThrow(UsageError);
    expect(leaveOut(model(false), ["cp2"], "inv.yaml").model.first.name).toBe("cp1");
  });
});
