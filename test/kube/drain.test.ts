// The product's drain (src/kube/drain.ts) against the API simulator in-process: cordon, DaemonSet pods
// left alone, evictions through the Eviction API, a PodDisruptionBudget that holds until the timeout (one
// line naming the node, the pod and the budget, exit 11), and --force deleting what eviction cannot.
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerNode } from "../../src/lab/apisim/index.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import { drainNode, podsOnNode, selectorMatches, skipReason } from "../../src/kube/drain.js";
import { ApiError, ExitCode } from "../../src/errors.js";
import { startSim, type Sim } from "../apisim/helpers.js";

let sim: Sim;
let kube: KubeClient;

const cni: KubeObject = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "test-cni", namespace: "kube-system", labels: { "kubesmith.io/cni": "true" } },
  spec: { selector: { matchLabels: { app: "test-cni" } }, template: { metadata: { labels: { app: "test-cni" } }, spec: { hostNetwork: true, containers: [{ name: "cni", image: "registry.example/cni:1" }] } } },
};
const web: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default" },
  spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } } },
};
const pdb = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "web", namespace: "default" }, spec: { selector: { matchLabels: { app: "web" } }, ...spec } });
const names = async (node: string) => (await podsOnNode(kube, node)).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();

describe("drainNode against the API simulator", () => {
  beforeEach(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    for (const [i, n] of ["w1", "w2", "w3"].entries()) await registerNode(sim.kubeconfig, { name: n, address: `198.18.0.${12 + i}` });
    await kube.apply(cni);
    await kube.apply(web);
  });
  afterEach(async () => {
    kube?.close();
    await sim?.close();
  });

  it("cordons, leaves the DaemonSet pod, evicts the rest; the replacement runs elsewhere", async () => {
    const before = await podsOnNode(kube, "w1");
    const webPods = before.filter((p) => !skipReason(p));
    expect(webPods).toHaveLength(1);
    const r = await drainNode(kube, "w1", { timeoutMs: 5_000, backoffMs: 20 });
    expect(r.evicted).toEqual([`default/${webPods[0]!.metadata.name}`]);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]).toMatch(/^kube-system\/test-cni-/);
    expect(r.deleted).toEqual([]);
    const node = await kube.get("v1", "Node", "w1");
    expect((node!["spec"] as { unschedulable?: boolean }).unschedulable).toBe(true);
    expect((await names("w1")).filter((n) => n.startsWith("default/"))).toEqual([]);
    const all = (await kube.list("v1", "Pod", { namespace: "default" })) as (KubeObject & { spec: { nodeName?: string } })[];
    expect(all).toHaveLength(2);
    expect(all.every((p) => p.spec.nodeName && p.spec.nodeName !== "w1")).toBe(true);
  });

  it("a budget that allows no disruption holds: after the timeout one line names the node, the pod and the budget (exit 11)", async () => {
    await kube.apply(pdb({ minAvailable: 2 }));
    const [victim] = (await podsOnNode(kube, "w2")).filter((p) => !skipReason(p));
    let err: unknown;
    try {
      await drainNode(kube, "w2", { timeoutMs: 300, backoffMs: 20, forceHint: "run 'kubesmith down --force' to delete them" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.exitCode).toBe(ExitCode.Api);
    expect(e.oneLine()).toBe(
      `w2: drain timed out after 0.3 s; still on the node: default/${victim!.metadata.name} (PodDisruptionBudget default/web allows 0 disruption(s): needs 2 healthy pods, has 2) (run 'kubesmith down --force' to delete them)`,
    );
    expect(await names("w2")).toContain(`default/${victim!.metadata.name}`);
  });

  it("force: what eviction cannot remove is deleted when the time is up, and said so", async () => {
    await kube.apply(pdb({ minAvailable: 2 }));
    const [victim] = (await podsOnNode(kube, "w2")).filter((p) => !skipReason(p));
    const warnings: string[] = [];
    const r = await drainNode(kube, "w2", { timeoutMs: 200, backoffMs: 20, force: true, warn: (m) => warnings.push(m) });
    expect(r.evicted).toEqual([]);
    expect(r.deleted).toEqual([`default/${victim!.metadata.name}`]);
    expect(warnings).toEqual([`w2: pod default/${victim!.metadata.name} deleted without eviction (--force): its disruption budget did not allow eviction`]);
    expect((await names("w2")).filter((n) => n.startsWith("default/"))).toEqual([]);
  });

  it("a budget allowing one disruption (maxUnavailable 1): the drain goes through", async () => {
    await kube.apply(pdb({ maxUnavailable: 1 }));
    const r = await drainNode(kube, "w1", { timeoutMs: 5_000, backoffMs: 20 });
    expect(r.evicted).toHaveLength(1);
  });
});

describe("drain's pod filters", () => {
  it("DaemonSet and mirror pods are skipped; an empty selector matches nothing", () => {
    const pod = (meta: Record<string, unknown>): KubeObject => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", ...meta } });
    expect(skipReason(pod({ ownerReferences: [{ kind: "DaemonSet", controller: true }] }))).toBe("DaemonSet pod");
    expect(skipReason(pod({ annotations: { "kubernetes.io/config.mirror": "x" } }))).toBe("mirror pod");
    expect(skipReason(pod({ ownerReferences: [{ kind: "ReplicaSet", controller: true }] }))).toBeUndefined();
    expect(selectorMatches({}, { app: "web" })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }, { app: "web" })).toBe(true);
  });
});
