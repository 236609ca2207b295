// Calico's CNI contract in the API simulator, checked against the REAL upstream manifests
// (../shared/upstream/calico, projectcalico/calico manifests/calico.yaml at v3.31.7 and v3.32.1): applied
// unchanged, every node becomes Ready; with one upstream requirement taken out, the nodes stay NotReady and
// the reason names it. Also: kubesmith's own compact manifest, run through the same checker.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { loadCalicoManifest, renderCalico } from "../../src/addons/calico.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import {
  CALICO_NODE_CRDS,
  NODE_NOT_READY_MESSAGE,
  calicoContract,
  isCalicoDaemonSet,
  registerNode,
  viewFromObjects,
  type CalicoRule,
  type KObject,
} from "../../src/lab/apisim/index.js";
import { upstreamFile, upstreamSkipReason } from "../helpers/upstream.js";
import { startSim, type Sim } from "./helpers.js";

const VERSIONS = ["v3.31.7", "v3.32.1"] as const;
const FILES = VERSIONS.map((v) => `calico/calico-${v}.yaml`);
const SKIP = upstreamSkipReason(...FILES);
const POD_SUBNET = "10.244.0.0/16";

function loadYaml(text: string): KObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KObject | null)
    .filter((o): o is KObject => !!o && typeof o === "object" && !!o.kind);
}
const parsed = new Map<string, KObject[]>();
/** The upstream manifest's objects (a fresh copy each time; parsed once). */
function upstream(v: (typeof VERSIONS)[number]): KObject[] {
  if (!parsed.has(v)) parsed.set(v, loadYaml(readFileSync(upstreamFile(`calico/calico-${v}.yaml`), "utf8")));
  return structuredClone(parsed.get(v)!);
}

/** kube-system/kubeadm-config as kubeadm's upload-config phase writes it (only the fields read here). */
function kubeadmConfig(podSubnet: string): KObject {
  const cluster = { apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration", kubernetesVersion: "v1.33.4", networking: { dnsDomain: "cluster.local", podSubnet, serviceSubnet: "10.96.0.0/12" } };
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubeadm-config", namespace: "kube-system" }, data: { ClusterConfiguration: stringify(cluster) } };
}

// ---- mutations of a manifest (each removes one thing upstream requires)
type Objects = KObject[];
const clone = (o: Objects): Objects => structuredClone(o);
const find = (objs: Objects, kind: string, name: string): KObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} not in the manifest`);
  return o;
};
const dsSpec = (objs: Objects): { initContainers: Record<string, any>[]; containers: Record<string, any>[] } =>
  (find(objs, "DaemonSet", "calico-node") as any).spec.template.spec;
const withoutCrd = (plural: string) => (objs: Objects): Objects => objs.filter((o) => !(o.kind === "CustomResourceDefinition" && o.metadata.name === `${plural}.crd.projectcalico.org`));
const withoutCniSa = (objs: Objects): Objects => objs.filter((o) => !(o.kind === "ServiceAccount" && o.metadata.name === "calico-cni-plugin"));
const withoutTokenRule = (objs: Objects): Objects => {
  const out = clone(objs);
  const role = find(out, "ClusterRole", "calico-node");
  role["rules"] = (role["rules"] as { resources?: string[] }[]).filter((r) => !r.resources?.includes("serviceaccounts/token"));
  return out;
};
const withoutConfigMapGet = (objs: Objects): Objects => {
  const out = clone(objs);
  const role = find(out, "ClusterRole", "calico-node");
  role["rules"] = (role["rules"] as { resources?: string[] }[]).filter((r) => !r.resources?.includes("configmaps"));
  return out;
};
const withoutSleep = (objs: Objects): Objects => {
  const out = clone(objs);
  const cni = dsSpec(out).initContainers.find((c) => c["name"] === "install-cni")!;
  cni["env"] = (cni["env"] as { name: string }[]).filter((e) => e.name !== "SLEEP");
  return out;
};
const withoutNetDirMount = (objs: Objects): Objects => {
  const out = clone(objs);
  const node = dsSpec(out).containers.find((c) => c["name"] === "calico-node")!;
  node["volumeMounts"] = (node["volumeMounts"] as { name: string }[]).filter((m) => m.name !== "cni-net-dir");
  return out;
};
const withPoolCidr = (cidr: string) => (objs: Objects): Objects => {
  const out = clone(objs);
  const node = dsSpec(out).containers.find((c) => c["name"] === "calico-node")!;
  node["env"] = [...(node["env"] as unknown[]), { name: "CALICO_IPV4POOL_CIDR", value: cidr }];
  return out;
};

const MUTATIONS: { what: string; mutate: (o: Objects) => Objects; rule: CalicoRule; says: string; podState: string }[] = [
  { what: "the FelixConfiguration CRD removed", mutate: withoutCrd("felixconfigurations"), rule: "crds", says: "felixconfigurations.crd.projectcalico.org (missing)", podState: "CrashLoopBackOff" },
  { what: "the BGPFilter CRD removed", mutate: withoutCrd("bgpfilters"), rule: "crds", says: "bgpfilters.crd.projectcalico.org (missing)", podState: "Running, not Ready" },
  { what: "the calico-cni-plugin ServiceAccount removed", mutate: withoutCniSa, rule: "service-accounts", says: "ServiceAccount kube-system/calico-cni-plugin not found", podState: "Init:CrashLoopBackOff" },
  {
    what: "the CNI-token RBAC rule removed",
    mutate: withoutTokenRule,
    rule: "cni-token-rbac",
    says: 'User "system:serviceaccount:kube-system:calico-node" cannot create resource "serviceaccounts/token" in API group "" in the namespace "kube-system"',
    podState: "Init:CrashLoopBackOff",
  },
  { what: "SLEEP=false removed from install-cni", mutate: withoutSleep, rule: "install-cni-sleep", says: "init container install-cni has no SLEEP env", podState: "Init:CrashLoopBackOff" },
  { what: "the cni-net-dir mount removed from calico-node", mutate: withoutNetDirMount, rule: "cni-net-dir", says: "container calico-node does not mount hostPath /etc/cni/net.d", podState: "Running" },
  {
    what: "CALICO_IPV4POOL_CIDR outside the pod CIDR",
    mutate: withPoolCidr("10.99.0.0/16"),
    rule: "ipv4-pool-cidr",
    says: `IPv4 pool 10.99.0.0/16 (CALICO_IPV4POOL_CIDR) is not inside the cluster's pod CIDR ${POD_SUBNET}`,
    podState: "Running",
  },
];

const contractOf = (objs: Objects): ReturnType<typeof calicoContract> =>
  calicoContract(find(objs, "DaemonSet", "calico-node"), viewFromObjects(objs));

describe.skipIf(!!SKIP)(`Calico's contract over the upstream manifests${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  describe.each(VERSIONS)("calico %s (checker alone)", (v) => {
    const base = (): Objects => [...upstream(v), kubeadmConfig(POD_SUBNET)];

    it("the manifest as published meets it; its calico-node is recognised as Calico's", () => {
      const objs = base();
      expect(isCalicoDaemonSet(find(objs, "DaemonSet", "calico-node"))).toBe(true);
      expect(contractOf(objs)).toEqual([]);
      // every CRD the contract requires is in the manifest (the list is upstream's, not ours)
      const names = new Set(objs.filter((o) => o.kind === "CustomResourceDefinition").map((o) => o.metadata.name));
      expect(CALICO_NODE_CRDS.map((c) => `${c.plural}.crd.projectcalico.org`).filter((n) => !names.has(n))).toEqual([]);
    });

    it.each(MUTATIONS)("$what → $rule", ({ mutate, rule, says, podState }) => {
      const violations = contractOf(mutate(base()));
      expect(violations.map((x) => x.rule)).toEqual([rule]);
      expect(violations[0]!.message).toContain(says);
      expect(violations[0]!.podState).toBe(podState);
    });

    it("pool CIDR unset: taken from kubeadm-config when calico-node may read it, else 192.168.0.0/16", () => {
      // the manifests leave CALICO_IPV4POOL_CIDR commented out
      expect(contractOf(base())).toEqual([]);
      // no kubeadm-config: no pod CIDR known, nothing to compare against
      expect(contractOf(upstream(v))).toEqual([]);
      // kubeadm-config there but unreadable (Forbidden means "not kubeadm" to calico-node): the default pool
      const denied = contractOf(withoutConfigMapGet(base()));
      expect(denied.map((x) => x.message)).toEqual([`IPv4 pool 192.168.0.0/16 (calico-node's default) is not inside the cluster's pod CIDR ${POD_SUBNET} (kubeadm-config podSubnet)`]);
      // a kubeadm cluster whose pod CIDR is the default pool's
      expect(contractOf(withoutConfigMapGet([...upstream(v), kubeadmConfig("192.168.0.0/16")]))).toEqual([]);
    });

    it("an existing IPPool wins over CALICO_IPV4POOL_CIDR; disabled pools do not count; a bad CIDR crashes startup", () => {
      const pool = (cidr: string, disabled = false): KObject => ({ apiVersion: "crd.projectcalico.org/v1", kind: "IPPool", metadata: { name: `p-${cidr.replace(/[./]/g, "-")}` }, spec: { cidr, ...(disabled ? { disabled } : {}) } });
      expect(contractOf([...withPoolCidr("10.99.0.0/16")(base()), pool("10.244.0.0/17")])).toEqual([]);
      expect(contractOf([...base(), pool("10.244.0.0/17"), pool("172.16.0.0/16", true)])).toEqual([]);
      expect(contractOf([...base(), pool("172.16.0.0/16")]).map((x) => x.message)).toEqual([
        `IPv4 pool 172.16.0.0/16 (IPPool p-172-16-0-0-16) is not inside the cluster's pod CIDR ${POD_SUBNET} (kubeadm-config podSubnet)`,
      ]);
      expect(contractOf(withPoolCidr("10.244.0.0/33")(base()))).toMatchObject([{ rule: "ipv4-pool-cidr", podState: "CrashLoopBackOff" }]);
      expect(contractOf(withPoolCidr("none")(base()))).toEqual([]);
    });
  });

  describe.each(VERSIONS)("calico %s applied to the simulator", (v) => {
    let sim: Sim;
    let kube: KubeClient;
    let manifest: Objects;
    const apply = async (objs: Objects): Promise<void> => {
      for (const o of objs) await kube.apply(o as KubeObject);
    };
    const nodes = async (): Promise<{ name: string; ready: string; message: string }[]> =>
      (await kube.list("v1", "Node")).map((n) => {
        const c = ((n["status"] as { conditions?: { type: string; status: string; message: string }[] }).conditions ?? []).find((x) => x.type === "Ready")!;
        return { name: n.metadata.name, ready: c.status, message: c.message };
      });
    const daemonSet = async (): Promise<{ ready: number; desired: number; conditions: { type: string; reason: string; message: string }[] }> => {
      const ds = (await kube.get("apps/v1", "DaemonSet", "calico-node", "kube-system"))!;
      const st = ds["status"] as { numberReady: number; desiredNumberScheduled: number; conditions?: { type: string; reason: string; message: string }[] };
      return { ready: st.numberReady, desired: st.desiredNumberScheduled, conditions: st.conditions ?? [] };
    };
    const expectHealthy = async (): Promise<void> => {
      expect((await nodes()).map((n) => `${n.name}=${n.ready}`)).toEqual(["cp1=True", "w1=True"]);
      expect(await daemonSet()).toEqual({ ready: 2, desired: 2, conditions: [] });
    };
    const expectBroken = async (says: string, podState: string): Promise<void> => {
      for (const n of await nodes()) {
        expect(n.ready, n.name).toBe("False");
        expect(n.message.startsWith(`${NODE_NOT_READY_MESSAGE}; calico-node (kube-system/calico-node) cannot start: `), n.message).toBe(true);
        expect(n.message).toContain(says);
      }
      const ds = await daemonSet();
      expect(ds.ready).toBe(0);
      expect(ds.conditions).toHaveLength(1);
      expect(ds.conditions[0]!.type).toBe("PodsReady");
      expect(ds.conditions[0]!.message).toContain(`pods ${podState}: `);
      expect(ds.conditions[0]!.message).toContain(says);
    };

    beforeAll(async () => {
      sim = await startSim();
      await registerNode(sim.kubeconfig, { name: "cp1", address: "198.18.0.11", controlPlane: true });
      await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
      kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
      manifest = upstream(v);
      await apply([kubeadmConfig(POD_SUBNET), ...manifest]);
    });
    afterAll(async () => {
      kube?.close();
      await sim?.close();
    });

    it("every node becomes Ready, the DaemonSet reports its pods ready", async () => {
      await expectHealthy();
    });

    it("a CRD deleted → NotReady (calico-node's startup fails); applied again → Ready", async () => {
      await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "ippools.crd.projectcalico.org");
      await expectBroken("ippools.crd.projectcalico.org (missing)", "CrashLoopBackOff");
      expect((await daemonSet()).conditions[0]!.reason).toBe("CrashLoopBackOff");
      await apply([find(manifest, "CustomResourceDefinition", "ippools.crd.projectcalico.org")]);
      await expectHealthy();
    });

    it("the calico-cni-plugin ServiceAccount deleted → NotReady (install-cni cannot get a token)", async () => {
      await kube.delete("v1", "ServiceAccount", "calico-cni-plugin", "kube-system");
      await expectBroken("ServiceAccount kube-system/calico-cni-plugin not found", "Init:CrashLoopBackOff");
      expect((await daemonSet()).conditions[0]!.reason).toBe("Init:CrashLoopBackOff");
      await apply([find(manifest, "ServiceAccount", "calico-cni-plugin")]);
      await expectHealthy();
    });

    it("the calico-node ServiceAccount deleted → no pod can be created", async () => {
      await kube.delete("v1", "ServiceAccount", "calico-node", "kube-system");
      await expectBroken("ServiceAccount kube-system/calico-node not found", "FailedCreate");
      const ds = (await kube.get("apps/v1", "DaemonSet", "calico-node", "kube-system"))!["status"] as { currentNumberScheduled: number };
      expect(ds.currentNumberScheduled).toBe(0);
      await apply([find(manifest, "ServiceAccount", "calico-node")]);
      await expectHealthy();
    });

    it("the token rule taken out of ClusterRole calico-node → NotReady with the API server's refusal", async () => {
      const role = find(withoutTokenRule(manifest), "ClusterRole", "calico-node");
      await kube.mergePatch(RBAC_V1, "ClusterRole", "calico-node", { rules: role["rules"] });
      await expectBroken('serviceaccounts "calico-cni-plugin" is forbidden: User "system:serviceaccount:kube-system:calico-node" cannot create resource "serviceaccounts/token"', "Init:CrashLoopBackOff");
      await kube.mergePatch(RBAC_V1, "ClusterRole", "calico-node", { rules: find(manifest, "ClusterRole", "calico-node")["rules"] });
      await expectHealthy();
    });

    it("SLEEP=false, the cni-net-dir mount, the pool CIDR: each broken in the DaemonSet → NotReady naming it", async () => {
      const cases: [Objects, string, string][] = [
        [withoutSleep(manifest), "init container install-cni has no SLEEP env", "Init:CrashLoopBackOff"],
        [withoutNetDirMount(manifest), "container calico-node does not mount hostPath /etc/cni/net.d", "Running"],
        [withPoolCidr("10.99.0.0/16")(manifest), "IPv4 pool 10.99.0.0/16 (CALICO_IPV4POOL_CIDR) is not inside the cluster's pod CIDR 10.244.0.0/16", "Running"],
      ];
      const original = dsSpec(manifest);
      for (const [objs, says, podState] of cases) {
        const spec = dsSpec(objs);
        await kube.mergePatch("apps/v1", "DaemonSet", "calico-node", { spec: { template: { spec: { initContainers: spec.initContainers, containers: spec.containers } } } }, "kube-system");
        await expectBroken(says, podState);
        await kube.mergePatch("apps/v1", "DaemonSet", "calico-node", { spec: { template: { spec: { initContainers: original.initContainers, containers: original.containers } } } }, "kube-system");
        await expectHealthy();
      }
    });

    it("a kubesmith.io/cni=true label does not take calico-node around the contract", async () => {
      await kube.mergePatch("apps/v1", "DaemonSet", "calico-node", { metadata: { labels: { "kubesmith.io/cni": "true" } } }, "kube-system");
      await expectHealthy();
      await kube.delete("v1", "ServiceAccount", "calico-cni-plugin", "kube-system");
      await expectBroken("ServiceAccount kube-system/calico-cni-plugin not found", "Init:CrashLoopBackOff");
      await apply([find(manifest, "ServiceAccount", "calico-cni-plugin")]);
      await expectHealthy();
    });
  });
});

const RBAC_V1 = "rbac.authorization.k8s.io/v1";

describe("a CNI the simulator does not know (kubesmith.io/cni=true, not Calico's image)", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim();
    await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
  });
  afterAll(async () => {
    await sim?.close();
  });
  it("makes its nodes Ready with no Calico objects at all", async () => {
    const kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    try {
      await kube.apply({
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "flannel", namespace: "kube-system", labels: { "kubesmith.io/cni": "true" } },
        spec: {
          selector: { matchLabels: { app: "flannel" } },
          template: { metadata: { labels: { app: "flannel" } }, spec: { hostNetwork: true, containers: [{ name: "flannel", image: "ghcr.io/flannel-io/flannel:v0.26.7" }] } },
        },
      });
      const node = (await kube.get("v1", "Node", "w1"))!;
      expect(((node["status"] as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === "Ready"))!.status).toBe("True");
    } finally {
      kube.close();
    }
  });
  it("but the calico/node image makes it Calico's, renamed or not", async () => {
    const kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    try {
      await kube.apply({
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "my-cni", namespace: "kube-system", labels: { "kubesmith.io/cni": "true" } },
        spec: {
          selector: { matchLabels: { app: "my-cni" } },
          template: { metadata: { labels: { app: "my-cni" } }, spec: { hostNetwork: true, containers: [{ name: "calico-node", image: "quay.io/calico/node:v3.32.1" }] } },
        },
      });
      const node = (await kube.get("v1", "Node", "w1"))!;
      const ready = (node["status"] as { conditions: { type: string; status: string; message: string }[] }).conditions.find((c) => c.type === "Ready")!;
      expect(ready.status).toBe("False");
      expect(ready.message).toContain("calico-node (kube-system/my-cni) cannot start: ");
    } finally {
      kube.close();
    }
  });
});

// ---- kubesmith's own compact manifest (addons/calico/calico.yaml), rendered by the product's own code
// (loadCalicoManifest + renderCalico: the generated CRDs, the pool CIDR from the inventory's podCIDR),
// through the same checker and then through the simulator.
//
// KNOWN_PRODUCT_VIOLATIONS lists what the product's manifest still lacks (docs/lab-strictness.md). Before
// commit ba31876 it was ["service-accounts", "cni-token-rbac", "install-cni-sleep", "cni-net-dir", "crds"];
// the product was fixed there, so it is []. A change that breaks the contract again fails here first.
const KNOWN_PRODUCT_VIOLATIONS: CalicoRule[] = [];

async function productCalico(): Promise<Objects> {
  const manifest = await loadCalicoManifest({ manifest: "compact" });
  return renderCalico({ podCIDR: POD_SUBNET, manifest }) as unknown as Objects;
}

describe("kubesmith's compact Calico manifest (addons/calico/calico.yaml) against the contract", () => {
  it("violates exactly KNOWN_PRODUCT_VIOLATIONS", async () => {
    const violations = contractOf([...(await productCalico()), kubeadmConfig(POD_SUBNET)]);
    expect(violations.map((x) => x.rule)).toEqual(KNOWN_PRODUCT_VIOLATIONS);
  });

  it("applied to the simulator, its nodes become Ready exactly when it has no violation", async () => {
    const sim = await startSim();
    const kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    try {
      await registerNode(sim.kubeconfig, { name: "cp1", address: "198.18.0.11", controlPlane: true });
      await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
      for (const o of [kubeadmConfig(POD_SUBNET), ...(await productCalico())]) await kube.apply(o as KubeObject);
      const ready = (await kube.list("v1", "Node")).map(
        (n) => ((n["status"] as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === "Ready"))!.status,
      );
      expect(ready).toEqual(KNOWN_PRODUCT_VIOLATIONS.length ? ["False", "False"] : ["True", "True"]);
    } finally {
      kube.close();
      await sim.close();
    }
  });
});
