// calico-node's IPv4 autodetection and its address-conflict check (calico.ts calicoNodeIPv4 /
// calicoNodeFailures), on hosts shaped like Vagrant's VirtualBox VMs: eth0 the same NAT address on every
// host (with the default route), eth1 the private network. Checked against the REAL upstream manifest
// (its calico-node sets no IP_AUTODETECTION_METHOD: first-found) and against kubesmith's rendered manifest.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadCalicoManifest, renderCalico } from "../../src/addons/calico.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import {
  NODE_NOT_READY_MESSAGE,
  calicoNodeFailures,
  calicoNodeIPv4,
  registerNode,
  viewFromObjects,
  type CalicoNodeInput,
  type KObject,
  type NodeInterface,
} from "../../src/lab/apisim/index.js";
import { upstreamFile, upstreamSkipReason } from "../helpers/upstream.js";
import { startSim, type Sim } from "./helpers.js";

const UPSTREAM = "calico/calico-v3.32.1.yaml";
const SKIP = upstreamSkipReason(UPSTREAM);
const NAT = "198.19.255.15";

/** A Vagrant/VirtualBox VM's interfaces, in kernel order. */
const vagrantNics = (privateIp: string): NodeInterface[] => [
  { name: "lo", ipv4: ["127.0.0.1/8"] },
  { name: "eth0", ipv4: [`${NAT}/24`], defaultRoute: true },
  { name: "eth1", ipv4: [`${privateIp}/24`] },
];
const NODES: CalicoNodeInput[] = [
  { name: "cp1", internalIP: "198.18.7.11", interfaces: vagrantNics("198.18.7.11") },
  { name: "w1", internalIP: "198.18.7.12", interfaces: vagrantNics("198.18.7.12") },
];

function loadYaml(text: string): KObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KObject | null)
    .filter((o): o is KObject => !!o && typeof o === "object" && !!o.kind);
}
const calicoNodeDs = (objs: KObject[]): KObject => objs.find((o) => o.kind === "DaemonSet" && o.metadata.name === "calico-node")!;
function withEnv(objs: KObject[], name: string, value: string | undefined): KObject[] {
  const out = structuredClone(objs);
  const c = (calicoNodeDs(out) as any).spec.template.spec.containers.find((x: { name: string }) => x.name === "calico-node");
  c.env = (c.env as { name: string }[]).filter((e) => e.name !== name);
  if (value !== undefined) c.env.push({ name, value });
  return out;
}
async function productCalico(): Promise<KObject[]> {
  return renderCalico({ podCIDR: "10.244.0.0/16", manifest: await loadCalicoManifest({ manifest: "compact" }) }) as unknown as KObject[];
}
const failures = (objs: KObject[], nodes = NODES) => [...calicoNodeFailures(calicoNodeDs(objs), viewFromObjects(objs), nodes)].map(([n, v]) => `${n}: ${v.message}`);

describe("calico-node's address autodetection (checker alone)", () => {
  it("first-found takes the first interface not on the exclude list: eth0, the NAT address, on every VM", async () => {
    const objs = withEnv(await productCalico(), "IP_AUTODETECTION_METHOD", undefined);
    const ds = calicoNodeDs(objs);
    expect(calicoNodeIPv4(ds, viewFromObjects(objs), NODES[0]!)).toEqual({ address: NAT, method: "first-found" });
    expect(failures(objs)).toEqual([`w1: on node w1: Calico node 'cp1' is already using the IPv4 address ${NAT} (first-found); calico-node exits (IPv4 address conflict)`]);
  });

  it("kubesmith's rendered manifest (kubernetes-internal-ip) takes each Node's InternalIP: no conflict", async () => {
    const objs = await productCalico();
    expect(calicoNodeIPv4(calicoNodeDs(objs), viewFromObjects(objs), NODES[1]!)).toEqual({ address: "198.18.7.12", method: "kubernetes-internal-ip" });
    expect(failures(objs)).toEqual([]);
  });

  it("kubernetes-internal-ip with the kubelet's default InternalIP (no node-ip: the NAT address) conflicts as well", async () => {
    const nodes = NODES.map((n) => ({ ...n, internalIP: NAT }));
    expect(failures(await productCalico(), nodes)).toEqual([`w1: on node w1: Calico node 'cp1' is already using the IPv4 address ${NAT} (kubernetes-internal-ip); calico-node exits (IPv4 address conflict)`]);
  });

  it("the other methods: interface=, skip-interface=, cidr=, can-reach=, IP=, an unknown one", async () => {
    const base = await productCalico();
    const ipOf = (method: string | undefined, ip?: string) => {
      let objs = withEnv(base, "IP_AUTODETECTION_METHOD", method);
      if (ip !== undefined) objs = withEnv(objs, "IP", ip);
      return calicoNodeIPv4(calicoNodeDs(objs), viewFromObjects(objs), NODES[0]!);
    };
    expect(ipOf("interface=eth1").address).toBe("198.18.7.11");
    expect(ipOf("interface=ens.*,eth1").address).toBe("198.18.7.11");
    expect(ipOf("skip-interface=eth0").address).toBe("198.18.7.11"); // lo has only a loopback address
    expect(ipOf("cidr=198.18.0.0/16").address).toBe("198.18.7.11");
    expect(ipOf("can-reach=198.18.7.12").address).toBe("198.18.7.11");
    expect(ipOf("can-reach=192.0.2.1").address).toBe(NAT); // off-link: the default route's interface
    expect(ipOf("interface=wlan0")).toMatchObject({ error: expect.stringContaining("Couldn't autodetect an IPv4 address") });
    expect(ipOf("bogus")).toEqual({ method: "bogus", error: "Invalid IP autodetection method: bogus" });
    expect(ipOf(undefined, "none")).toEqual({ method: "IP=none" });
    expect(ipOf(undefined, "198.18.7.99")).toEqual({ address: "198.18.7.99", method: "IP" });
  });

  it("nodes made without an interface list are judged by their InternalIP alone (older tests' nodes)", async () => {
    const objs = withEnv(await productCalico(), "IP_AUTODETECTION_METHOD", undefined);
    expect(failures(objs, [{ name: "a", internalIP: "198.18.0.11" }, { name: "b", internalIP: "198.18.0.12" }, { name: "c" }])).toEqual([]);
  });
});

describe.skipIf(!!SKIP)(`in the simulator, with the upstream manifest${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  let sim: Sim | undefined;
  let kube: KubeClient | undefined;
  afterEach(async () => {
    kube?.close();
    await sim?.close();
  });

  it("on Vagrant-shaped hosts the second node stays NotReady (address conflict) until the method is kubernetes-internal-ip", async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    for (const n of NODES) await registerNode(sim.kubeconfig, { name: n.name, address: n.internalIP!, controlPlane: n.name === "cp1", interfaces: [...n.interfaces!] });
    const manifest = loadYaml(readFileSync(upstreamFile(UPSTREAM), "utf8"));
    for (const o of manifest) await kube.apply(o as KubeObject);
    const ready = async () =>
      Object.fromEntries(
        (await kube!.list("v1", "Node")).map((n) => {
          const c = ((n["status"] as { conditions: { type: string; status: string; message: string }[] }).conditions).find((x) => x.type === "Ready")!;
          return [n.metadata.name, c.status === "True" ? "Ready" : c.message];
        }),
      );
    expect(await ready()).toEqual({
      cp1: "Ready",
      w1: `${NODE_NOT_READY_MESSAGE}; calico-node (kube-system/calico-node) cannot start: on node w1: Calico node 'cp1' is already using the IPv4 address ${NAT} (first-found); calico-node exits (IPv4 address conflict)`,
    });
    const ds = (await kube.get("apps/v1", "DaemonSet", "calico-node", "kube-system"))!["status"] as { numberReady: number; desiredNumberScheduled: number; conditions: { reason: string }[] };
    expect([ds.numberReady, ds.desiredNumberScheduled, ds.conditions[0]!.reason]).toEqual([1, 2, "CrashLoopBackOff"]);

    const fixed = withEnv(manifest, "IP_AUTODETECTION_METHOD", "kubernetes-internal-ip");
    const spec = (calicoNodeDs(fixed) as any).spec.template.spec;
    await kube.mergePatch("apps/v1", "DaemonSet", "calico-node", { spec: { template: { spec: { containers: spec.containers } } } }, "kube-system");
    expect(await ready()).toEqual({ cp1: "Ready", w1: "Ready" });
  });
});
