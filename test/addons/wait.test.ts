// Rollout readiness of DaemonSets that must run on given hosts (kubesmith.io/must-run-on): "0 of 0 pods
// ready" is no success when the inventory says the DaemonSet must run on hosts. The pure helpers, the wait
// over a recorded client, and applyRelease against the API simulator (which schedules DaemonSets by
// nodeSelector and taints as upstream does).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRelease } from "../../src/addons/apply.js";
import { AddonError } from "../../src/addons/errors.js";
import { MUST_RUN_ON_ANNOTATION } from "../../src/addons/types.js";
import { mustRunOn, placementShortfall, waitForWorkloads, whyNotScheduled } from "../../src/addons/wait.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import { startSim, type Sim } from "../apisim/helpers.js";
import { testRun } from "../helpers/gate.js";

function daemonSet(opts: { ns?: string; mustRunOn?: string; tolerations?: unknown[]; nodeSelector?: Record<string, string>; status?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name: "edge",
      namespace: opts.ns ?? "edge",
      generation: 1,
      ...(opts.mustRunOn !== undefined ? { annotations: { [MUST_RUN_ON_ANNOTATION]: opts.mustRunOn } } : {}),
    },
    spec: {
      selector: { matchLabels: { app: "edge" } },
      template: {
        metadata: { labels: { app: "edge" } },
        spec: {
          ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
          ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
          containers: [{ name: "edge", image: "registry.example/edge:1.0.0" }],
        },
      },
    },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

function node(name: string, labels: Record<string, string> = {}, taints: { key: string; value?: string; effect: string }[] = []): KubeObject {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, spec: { taints } };
}

const observed = (desired: number, available = desired) => ({
  observedGeneration: 1,
  desiredNumberScheduled: desired,
  updatedNumberScheduled: desired,
  numberAvailable: available,
});

/** A client that answers get/list from fixed objects (the live DaemonSet's status changes per call if given a list). */
function fakeKube(objs: { ds: KubeObject | KubeObject[]; nodes?: KubeObject[]; pods?: KubeObject[] }): KubeClient {
  const versions = Array.isArray(objs.ds) ? [...objs.ds] : [objs.ds];
  const fake = {
    async get(_apiVersion: string, kind: string, name: string): Promise<KubeObject | undefined> {
      if (kind === "DaemonSet") return versions.length > 1 ? versions.shift() : versions[0];
      if (kind === "Node") return objs.nodes?.find((n) => n.metadata.name === name);
      return undefined;
    },
    async list(_apiVersion: string, kind: string): Promise<KubeObject[]> {
      return kind === "Pod" ? (objs.pods ?? []) : [];
    },
  };
  return fake as unknown as KubeClient;
}

const frontends = [
  node("fe1", { role: "frontend" }, [{ key: "example.com/edge", effect: "NoSchedule" }]),
  node("fe2", {}, []),
  node("w1", {}, []),
];

describe("must-run-on: the pure helpers", () => {
  it("reads the annotation (trimmed, deduplicated); none on other kinds or without it", () => {
    expect(mustRunOn(daemonSet({ mustRunOn: " fe1, fe2,,fe1 " }))).toEqual(["fe1", "fe2"]);
    expect(mustRunOn(daemonSet())).toBeUndefined();
    expect(mustRunOn({ ...daemonSet({ mustRunOn: "fe1" }), kind: "Deployment" })).toBeUndefined();
  });

  it("a shortfall only once the controller observed the generation, and only when fewer nodes than named", () => {
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(0) }))).toEqual({ want: ["fe1", "fe2"], desired: 0 });
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(1) }))).toEqual({ want: ["fe1", "fe2"], desired: 1 });
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(2) }))).toBeUndefined();
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(3) }))).toBeUndefined();
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: { observedGeneration: 0 } }))).toBeUndefined();
    expect(placementShortfall(daemonSet({ mustRunOn: "", status: observed(0) }))).toBeUndefined();
    expect(placementShortfall(daemonSet({ status: observed(0) }))).toBeUndefined();
  });

  it("hosts a partial up left out are not counted against must-run-on", () => {
    const excused = new Set(["fe2"]);
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(1) }), excused)).toBeUndefined();
    expect(placementShortfall(daemonSet({ mustRunOn: "fe1,fe2", status: observed(0) }), excused)).toEqual({ want: ["fe1"], desired: 0 });
    expect(placementShortfall(daemonSet({ mustRunOn: "fe2", status: observed(0) }), excused)).toBeUndefined();
  });

  it("says why a node gets no pod: an untolerated NoSchedule/NoExecute taint, a nodeSelector label, no Node", () => {
    const ds = daemonSet({ nodeSelector: { role: "frontend" } });
    expect(whyNotScheduled(ds, frontends[0])).toBe("taint example.com/edge:NoSchedule not tolerated");
    expect(whyNotScheduled(ds, frontends[1])).toBe("label role=frontend (nodeSelector) missing");
    expect(whyNotScheduled(ds, undefined)).toBe("no Node by that name in the cluster");
    // Tolerated by an Equal toleration without operator, or by Exists; PreferNoSchedule never refuses; the
    // node.kubernetes.io/* taints the DaemonSet controller tolerates by itself are not counted.
    const tainted = node("x", { role: "frontend" }, [
      { key: "example.com/edge", value: "lb", effect: "NoExecute" },
      { key: "soft", effect: "PreferNoSchedule" },
      { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
    ]);
    expect(whyNotScheduled(daemonSet({ nodeSelector: { role: "frontend" }, tolerations: [{ key: "example.com/edge", value: "lb", effect: "NoExecute" }] }), tainted)).toBeUndefined();
    expect(whyNotScheduled(daemonSet({ tolerations: [{ key: "example.com/edge", operator: "Exists" }] }), tainted)).toBeUndefined();
    expect(whyNotScheduled(daemonSet({ tolerations: [{ operator: "Exists" }] }), tainted)).toBeUndefined();
    expect(whyNotScheduled(daemonSet({ tolerations: [{ key: "example.com/edge", value: "other", effect: "NoExecute" }] }), tainted)).toBe(
      "taint example.com/edge=lb:NoExecute not tolerated",
    );
    expect(whyNotScheduled(daemonSet({ tolerations: [{ key: "example.com/edge", operator: "Exists", effect: "NoSchedule" }] }), tainted)).toBe(
      "taint example.com/edge=lb:NoExecute not tolerated",
    );
  });
});

describe("waitForWorkloads with must-run-on DaemonSets", () => {
  const opts = { timeoutMs: 2_000, pollMs: 5, maxPollMs: 20 };

  it("0 pods scheduled where the inventory says it must run is a failure naming the hosts and why, at once", async () => {
    const ds = daemonSet({ mustRunOn: "fe1,fe2", nodeSelector: { role: "frontend" }, status: observed(0) });
    const t0 = Date.now();
    const f = await waitForWorkloads(fakeKube({ ds, nodes: frontends }), [ds], opts);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(f).toEqual({
      workload: "DaemonSet/edge/edge",
      reason:
        "scheduled on 0 node(s) but the inventory puts it on 2 (fe1, fe2); no pod on fe1 (taint example.com/edge:NoSchedule not tolerated), fe2 (label role=frontend (nodeSelector) missing)",
      timedOut: false,
    });
  });

  it("without the annotation, 0 of 0 is still ready (nothing says where it must run)", async () => {
    const ds = daemonSet({ nodeSelector: { role: "frontend" }, status: observed(0) });
    expect(await waitForWorkloads(fakeKube({ ds, nodes: frontends }), [ds], opts)).toBeUndefined();
  });

  it("enough nodes: ready once available; before the controller observed it, it waits rather than fails", async () => {
    const ok = daemonSet({ mustRunOn: "fe1,fe2", status: observed(2) });
    expect(await waitForWorkloads(fakeKube({ ds: ok }), [ok], opts)).toBeUndefined();
    const unobserved = daemonSet({ mustRunOn: "fe1,fe2", status: { observedGeneration: 0, desiredNumberScheduled: 0 } });
    expect(await waitForWorkloads(fakeKube({ ds: [unobserved, unobserved, ok] }), [unobserved], opts)).toBeUndefined();
  });

  it("when the Nodes explain nothing (affinity, say), the hosts without one of its pods are named", async () => {
    const ds = daemonSet({ mustRunOn: "fe1,fe2", status: observed(1) });
    const nodes = [node("fe1"), node("fe2")];
    const pods: KubeObject[] = [{ apiVersion: "v1", kind: "Pod", metadata: { name: "edge-abcde", namespace: "edge" }, spec: { nodeName: "fe1" } }];
    const f = await waitForWorkloads(fakeKube({ ds, nodes, pods }), [ds], opts);
    expect(f?.reason).toBe("scheduled on 1 node(s) but the inventory puts it on 2 (fe1, fe2); no pod on fe2");
  });
});

describe("applyRelease against the API simulator: a DaemonSet that must run on a tainted host it does not tolerate", () => {
  let sim: Sim;
  let kube: KubeClient;
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    await kube.apply(node("frontend1", { role: "frontend" }, [{ key: "example.com/edge", effect: "NoSchedule" }]));
    await kube.apply(node("worker1", {}, []));
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  const release = (ds: KubeObject) => ({ bundle: "edge", release: { name: "edge", namespace: ds.metadata.namespace! }, objects: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ds.metadata.namespace! } }, ds] });
  const hostNet = (ds: KubeObject) => {
    // hostNetwork: the simulator counts such pods available without waiting for a Ready CNI.
    ((ds.spec as { template: { spec: Record<string, unknown> } }).template.spec).hostNetwork = true;
    return ds;
  };

  it("fails naming the host and the taint instead of reporting 0 of 0 ready", async () => {
    const ds = hostNet(daemonSet({ ns: "edge-a", mustRunOn: "frontend1", nodeSelector: { role: "frontend" } }));
    const err = await applyRelease(kube, release(ds), { timeoutMs: 5_000, gate: testRun().gate }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonError);
    expect((err as AddonError).message).toMatch(
      /DaemonSet\/edge-a\/edge did not roll out: scheduled on 0 node\(s\) but the inventory puts it on 1 \(frontend1\); no pod on frontend1 \(taint example\.com\/edge:NoSchedule not tolerated\)/,
    );
  });

  it("tolerating the host's taint, it rolls out on that host", async () => {
    const ds = hostNet(daemonSet({ ns: "edge-b", mustRunOn: "frontend1", nodeSelector: { role: "frontend" }, tolerations: [{ key: "example.com/edge", effect: "NoSchedule" }] }));
    const r = await applyRelease(kube, release(ds), { timeoutMs: 5_000, gate: testRun().gate });
    expect(r.created).toContain("DaemonSet/edge-b/edge");
    const live = await kube.get("apps/v1", "DaemonSet", "edge", "edge-b");
    expect((live?.status as { desiredNumberScheduled?: number }).desiredNumberScheduled).toBe(1);
  });
});
