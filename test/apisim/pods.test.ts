// Pods in the API simulator (pods.ts) and the Eviction API with PodDisruptionBudgets (disruption.ts):
// controllers make real Pod objects bound to nodes, recreate deleted ones, respect cordons; evictions are
// refused with the API server's 429 while a budget allows no disruption; RBAC on pods/eviction.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_RESOURCES, issueClientCert, kubeconfigYaml, registerNode, type KObject } from "../../src/lab/apisim/index.js";
import { toTable } from "../../src/lab/apisim/tables.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import { ApiError } from "../../src/errors.js";
import { startSim, type Sim } from "./helpers.js";

let sim: Sim;
let kube: KubeClient;

const NS = "default";
const cni: KubeObject = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "test-cni", namespace: "kube-system", labels: { "kubesmith.io/cni": "true" } },
  spec: {
    selector: { matchLabels: { app: "test-cni" } },
    template: { metadata: { labels: { app: "test-cni" } }, spec: { hostNetwork: true, containers: [{ name: "cni", image: "registry.example/cni:1" }] } },
  },
};

function deployment(name: string, replicas: number, image = "registry.example/web:1"): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, tier: "web" } }, spec: { containers: [{ name: "web", image }] } },
    },
  };
}

function pdb(name: string, app: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name, namespace: NS }, spec: { selector: { matchLabels: { app } }, ...spec } };
}

interface Pod extends KubeObject {
  spec: { nodeName?: string; tolerations?: { key?: string }[] };
  status: {
    phase: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { name: string; ready: boolean; state: { waiting?: { reason: string; message?: string }; running?: unknown } }[];
  };
}

async function podsOf(app: string): Promise<Pod[]> {
  return (await kube.list("v1", "Pod", { namespace: NS, labelSelector: `app=${app}` })) as Pod[];
}

const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

async function evict(name: string, client = kube): Promise<unknown> {
  return client.request("POST", `/api/v1/namespaces/${NS}/pods/${name}/eviction`, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: NS } });
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected the request to fail");
}

describe("pods in the API simulator", () => {
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    await registerNode(sim.kubeconfig, { name: "cp1", address: "198.18.0.11", controlPlane: true });
    await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
    await registerNode(sim.kubeconfig, { name: "w2", address: "198.18.0.13" });
    await kube.apply(cni);
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("a DaemonSet has one pod per node it fits (not the tainted control plane), bound there, owned by it, with the controller's tolerations", async () => {
    const pods = (await kube.list("v1", "Pod", { namespace: "kube-system", labelSelector: "app=test-cni" })) as Pod[];
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["w1", "w2"]);
    for (const p of pods) {
      const owner = (p.metadata["ownerReferences"] as { kind: string; name: string; controller: boolean }[])[0]!;
      expect(owner).toMatchObject({ kind: "DaemonSet", name: "test-cni", controller: true });
      expect(p.spec.tolerations?.some((t) => t.key === "node.kubernetes.io/unschedulable")).toBe(true);
      expect(p.status.phase).toBe("Running");
      expect(ready(p)).toBe(true);
    }
    const ds = await kube.get("apps/v1", "DaemonSet", "test-cni", "kube-system");
    expect(ds!["status"]).toMatchObject({ numberReady: 2, desiredNumberScheduled: 2, currentNumberScheduled: 2 });
  });

  it("a Deployment's pods: template labels, spread over the Ready workers (the control plane's taint is not tolerated), status consistent", async () => {
    await kube.apply(deployment("web", 2));
    const pods = await podsOf("web");
    expect(pods).toHaveLength(2);
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["w1", "w2"]);
    for (const p of pods) {
      expect(p.metadata.labels).toMatchObject({ app: "web", tier: "web" });
      expect(p.metadata.labels?.["pod-template-hash"]).toMatch(/^[0-9a-f]{10}$/);
      expect(p.metadata.name).toMatch(new RegExp(`^web-${p.metadata.labels?.["pod-template-hash"]}-[a-z0-9]{5}$`));
      expect((p.metadata["ownerReferences"] as { kind: string }[])[0]!.kind).toBe("Deployment");
      expect(p.status.containerStatuses?.[0]).toMatchObject({ name: "web", ready: true });
    }
    const d = (await kube.get("apps/v1", "Deployment", "web", NS))!["status"] as { readyReplicas: number; replicas: number };
    expect(d).toMatchObject({ readyReplicas: 2, replicas: 2 });
  });

  it("a deleted pod is made again; on a cordoned node's only alternative, or Pending when every node is cordoned", async () => {
    const before = await podsOf("web");
    const onW1 = before.find((p) => p.spec.nodeName === "w1")!;
    await kube.mergePatch("v1", "Node", "w1", { spec: { unschedulable: true } });
    await kube.delete("v1", "Pod", onW1.metadata.name, NS);
    let pods = await podsOf("web");
    expect(pods).toHaveLength(2);
    expect(pods.map((p) => p.metadata.name)).not.toContain(onW1.metadata.name);
    expect(pods.map((p) => p.spec.nodeName)).toEqual(["w2", "w2"]);
    // DaemonSet pods stay on the cordoned node
    const daemon = (await kube.list("v1", "Pod", { namespace: "kube-system", labelSelector: "app=test-cni" })) as Pod[];
    expect(daemon.map((p) => p.spec.nodeName).sort()).toEqual(["w1", "w2"]);

    await kube.mergePatch("v1", "Node", "w2", { spec: { unschedulable: true } });
    await kube.delete("v1", "Pod", pods[0]!.metadata.name, NS);
    pods = await podsOf("web");
    const pending = pods.find((p) => !p.spec.nodeName)!;
    expect(pending.status.phase).toBe("Pending");
    expect(pending.status.conditions?.[0]).toMatchObject({
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable.",
    });
    const d = (await kube.get("apps/v1", "Deployment", "web", NS))!["status"] as { readyReplicas: number; unavailableReplicas: number };
    expect(d).toMatchObject({ readyReplicas: 1, unavailableReplicas: 1 });
    // uncordoned: the pending pod is bound
    await kube.mergePatch("v1", "Node", "w1", { spec: { unschedulable: null } });
    await kube.mergePatch("v1", "Node", "w2", { spec: { unschedulable: null } });
    pods = await podsOf("web");
    expect(pods.every((p) => p.spec.nodeName && ready(p))).toBe(true);
  });

  it("pods of an image that is no release wait in ImagePullBackOff with kubelet's message; the Deployment is not ready", async () => {
    await kube.apply(deployment("broken", 1, "nginx:0.0.0-nosuch"));
    const [p] = await podsOf("broken");
    expect(p!.status.phase).toBe("Pending");
    const waiting = p!.status.containerStatuses?.[0]?.state.waiting;
    expect(waiting?.reason).toBe("ImagePullBackOff");
    expect(waiting?.message).toContain('Back-off pulling image "nginx:0.0.0-nosuch"');
    expect(ready(p!)).toBe(false);
    // kubectl get pods prints the waiting reason as STATUS, the node with -o wide
    const table = toTable(BUILTIN_RESOURCES.find((r) => r.resource === "pods")!, [p as unknown as KObject], { include: "None", resourceVersion: "1" });
    const cols = (table["columnDefinitions"] as { name: string }[]).map((c) => c.name);
    const row = (table["rows"] as { cells: unknown[] }[])[0]!.cells;
    expect(row[cols.indexOf("Status")]).toBe("ImagePullBackOff");
    expect(row[cols.indexOf("Node")]).toBe(p!.spec.nodeName);
    const d = (await kube.get("apps/v1", "Deployment", "broken", NS))!["status"] as { readyReplicas?: number };
    expect(d.readyReplicas).toBeUndefined();
    await kube.delete("apps/v1", "Deployment", "broken", NS);
    expect(await podsOf("broken")).toEqual([]);
  });

  it("a StatefulSet's pods are <name>-0 … <name>-(n-1)", async () => {
    await kube.apply({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace: NS },
      spec: { replicas: 2, serviceName: "db", selector: { matchLabels: { app: "db" } }, template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "db", image: "registry.example/db:1" }] } } },
    });
    expect((await podsOf("db")).map((p) => p.metadata.name)).toEqual(["db-0", "db-1"]);
    const s = (await kube.get("apps/v1", "StatefulSet", "db", NS))!["status"] as { readyReplicas: number };
    expect(s.readyReplicas).toBe(2);
  });
});

describe("the Eviction API and PodDisruptionBudgets", () => {
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
    await registerNode(sim.kubeconfig, { name: "w2", address: "198.18.0.13" });
    await kube.apply(cni);
    await kube.apply(deployment("web", 2));
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("minAvailable 2 of 2: the budget's status, and the API server's 429 with its message and cause", async () => {
    await kube.apply(pdb("web", "web", { minAvailable: 2 }));
    const st = (await kube.get("policy/v1", "PodDisruptionBudget", "web", NS))!["status"] as Record<string, unknown>;
    expect(st).toMatchObject({ currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2, observedGeneration: 1 });
    expect((st["conditions"] as { type: string; status: string; reason: string }[])[0]).toMatchObject({ type: "DisruptionAllowed", status: "False", reason: "InsufficientPods" });
    const [victim] = await podsOf("web");
    const e = await refusal(evict(victim!.metadata.name));
    expect(e.status).toBe(429);
    expect(e.message).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    // the cause, as the real server sends it
    const raw = await fetchStatus(victim!.metadata.name);
    expect(raw.reason).toBe("TooManyRequests");
    expect(raw.details.causes).toEqual([{ reason: "DisruptionBudget", message: "The disruption budget web needs 2 healthy pods and has 2 currently" }]);
    expect((await podsOf("web")).map((p) => p.metadata.name)).toContain(victim!.metadata.name);
  });

  it("maxUnavailable 50% of 2 allows one disruption: the eviction is answered 201 and the pod is replaced", async () => {
    await kube.request("DELETE", `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/web`);
    await kube.apply(pdb("web-half", "web", { maxUnavailable: "50%" }));
    const st = (await kube.get("policy/v1", "PodDisruptionBudget", "web-half", NS))!["status"] as Record<string, unknown>;
    expect(st).toMatchObject({ currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2 });
    const [victim] = await podsOf("web");
    const ok = (await evict(victim!.metadata.name)) as { kind: string; status: string };
    expect(ok).toMatchObject({ kind: "Status", status: "Success" });
    const after = await podsOf("web");
    expect(after.map((p) => p.metadata.name)).not.toContain(victim!.metadata.name);
    expect(after).toHaveLength(2);
  });

  it("two budgets over one pod: 500 with the server's message; a name mismatch: 400", async () => {
    await kube.apply(pdb("web-other", "web", { minAvailable: 1 }));
    const [victim] = await podsOf("web");
    const e = await refusal(evict(victim!.metadata.name));
    expect(e.status).toBe(500);
    expect(e.message).toContain("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    await kube.request("DELETE", `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/web-other`);
    const bad = await refusal(kube.request("POST", `/api/v1/namespaces/${NS}/pods/${victim!.metadata.name}/eviction`, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "other" } }));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("name in URL does not match name in Eviction object");
  });

  it("RBAC: eviction is create on pods/eviction", async () => {
    const issued = await issueClientCert(sim.pki, "drainer");
    const text = kubeconfigYaml({ clusterName: "lab", server: sim.server.url, caPem: readFileSync(path.join(sim.pki, "ca.crt"), "utf8"), user: "drainer", certPem: issued.certPem, keyPem: issued.keyPem });
    const drainer = await KubeClient.fromKubeconfig(text);
    try {
      await kube.apply({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pod-reader", namespace: NS }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] });
      await kube.apply({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "drainer", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" }, subjects: [{ kind: "User", name: "drainer", apiGroup: "rbac.authorization.k8s.io" }] });
      const [victim] = await podsOf("web");
      const e = await refusal(evict(victim!.metadata.name, drainer));
      expect(e.status).toBe(403);
      expect(e.message).toContain(`pods "${victim!.metadata.name}" is forbidden: User "drainer" cannot create resource "pods/eviction" in API group "" in the namespace "default"`);
      await kube.apply({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pod-reader", namespace: NS }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }, { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] }] });
      expect(await evict(victim!.metadata.name, drainer)).toMatchObject({ status: "Success" });
    } finally {
      drainer.close();
    }
  });

  it("on a node whose NetworkManager manages Calico's interfaces, a pod with an httpGet readiness probe is Running, not Ready; one without a probe is Ready", async () => {
    await registerNode(sim.kubeconfig, { name: "w3", address: "198.18.0.14", networkManagerManages: ["cali*", "tunl*", "vxlan.calico"] });
    const probed = deployment("probed", 1);
    const spec = (probed["spec"] as any).template.spec;
    spec.nodeSelector = { "kubernetes.io/hostname": "w3" };
    spec.containers[0].ports = [{ name: "http", containerPort: 8080 }];
    spec.containers[0].readinessProbe = { httpGet: { path: "/", port: "http" } };
    const plain = deployment("plain", 1);
    (plain["spec"] as any).template.spec.nodeSelector = { "kubernetes.io/hostname": "w3" };
    await kube.apply(probed);
    await kube.apply(plain);
    try {
      const [p] = await podsOf("probed");
      expect(p!.spec.nodeName).toBe("w3");
      expect(p!.status.phase).toBe("Running");
      expect(ready(p!)).toBe(false);
      // running, as a pod whose probe fails is (kubelet reports the probe's message as an Event, not in the status)
      expect(p!.status.containerStatuses?.[0]?.state.running).toBeDefined();
      expect(p!.status.conditions?.find((c) => c.type === "Ready")?.message).toBe("containers with unready status: [web]");
      const [q] = await podsOf("plain");
      expect(ready(q!)).toBe(true);
    } finally {
      await kube.delete("apps/v1", "Deployment", "probed", NS);
      await kube.delete("apps/v1", "Deployment", "plain", NS);
    }
  });
});

/** The raw Status body of a refused eviction (the client keeps only the message). */
async function fetchStatus(name: string): Promise<{ reason: string; details: { causes: unknown[] } }> {
  const https = await import("node:https");
  const { credentialsFromKubeconfig } = await import("../../src/lab/apisim/index.js");
  const c = credentialsFromKubeconfig(sim.kubeconfig);
  const url = new URL(`${sim.server.url}/api/v1/namespaces/${NS}/pods/${name}/eviction`);
  const body = JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: NS } });
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: "POST", ca: c.ca, cert: c.cert, key: c.key, headers: { "Content-Type": "application/json" } }, (res) => {
      let t = "";
      res.on("data", (d: Buffer) => (t += d.toString()));
      res.on("end", () => resolve(JSON.parse(t) as { reason: string; details: { causes: unknown[] } }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
