// The apply half of the add-on engine against the API simulator: create, a re-apply that changes
// nothing, prune (and what it must never touch), a failed rollout rolled back, CRDs before their
// objects, diff, remove. Renders are built by hand so this does not depend on the renderer.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRelease, type ApplyReleaseOptions } from "../../src/addons/apply.js";
import { diffRelease, diffIsEmpty, formatDiff } from "../../src/addons/diff.js";
import { AddonError } from "../../src/addons/errors.js";
import { historySecretName, readHistory } from "../../src/addons/history.js";
import { removeRelease } from "../../src/addons/remove.js";
import type { RenderedCluster } from "../../src/addons/types.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import type { Gate } from "../../src/phases/run.js";
import { startSim, type Sim } from "../apisim/helpers.js";
import { testRun } from "../helpers/gate.js";

function deployment(name: string, ns: string, image: string, opts: { notReady?: boolean; replicas?: number } = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(opts.notReady ? { annotations: { "sim.kubesmith.io/ready": "false" } } : {}) },
        spec: { containers: [{ name, image }] },
      },
    },
  };
}

function render(release: string, ns: string, objects: KubeObject[], bundle = "demo"): RenderedCluster {
  return { bundle, release: { name: release, namespace: ns }, objects };
}

function baseObjects(ns: string, image = "registry.example/web:1.0"): KubeObject[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web-config", namespace: ns }, data: { "app.conf": "port=8080\n" } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "web-creds", namespace: ns }, type: "Opaque", stringData: { password: "s3cret-value" } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: ns }, spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] } },
    deployment("web", ns, image),
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: `${ns}-reader` }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
  ];
}

describe("applyRelease / diffRelease / removeRelease against the API simulator", () => {
  let sim: Sim;
  let kube: KubeClient;
  const changes: string[] = [];
  /** Through the run's real gate; `changes` collects what went through it. */
  const gate = (dryRun = false): Gate => {
    const g = testRun(dryRun).gate;
    return { ...g, change: (w, fn) => (changes.push(w), g.change(w, fn)) };
  };
  const opts = (o: Partial<ApplyReleaseOptions> & { dryRun?: boolean } = {}): ApplyReleaseOptions => {
    const { dryRun, ...rest } = o;
    return { timeoutMs: 5_000, gate: gate(dryRun), ...rest };
  };

  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("creates a release, labels every object, records revision 1; a re-apply changes nothing", async () => {
    changes.length = 0;
    const r1 = await applyRelease(kube, render("web", "web", baseObjects("web")), opts());
    expect(r1.created).toEqual(["Namespace/web", "ConfigMap/web/web-config", "Secret/web/web-creds", "Service/web/web", "Deployment/web/web", "ClusterRole/web-reader"]);
    expect(r1.updated).toEqual([]);
    expect(r1.revision).toBe(1);
    expect(changes).toHaveLength(6);
    const dep = await kube.get("apps/v1", "Deployment", "web", "web");
    expect(dep?.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "kubesmith", "kubesmith.io/addon": "demo", "kubesmith.io/release": "web" });
    expect((dep?.metadata["managedFields"] as { manager: string }[]).map((m) => m.manager)).toContain("kubesmith");
    const cr = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "web-reader");
    expect(cr?.metadata.namespace).toBeUndefined();

    const h = await readHistory(kube, "demo", { name: "web", namespace: "web" });
    expect(h?.lastGood?.revision).toBe(1);
    expect(h?.lastGood?.objects.map((o) => o.metadata.name)).toContain("web-creds");
    expect(h?.kinds).toContain("apps/v1 Deployment");
    const secret = await kube.get("v1", "Secret", historySecretName({ name: "web", namespace: "web" }), "web");
    expect(secret?.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("kubesmith");

    changes.length = 0;
    const r2 = await applyRelease(kube, render("web", "web", baseObjects("web")), opts());
    expect(r2.created).toEqual([]);
    expect(r2.updated).toEqual([]);
    expect(r2.pruned).toEqual([]);
    expect(r2.unchanged).toBe(6);
    expect(r2.revision).toBe(1);
    expect(changes).toEqual([]);
    expect(diffIsEmpty(await diffRelease(kube, render("web", "web", baseObjects("web"))))).toBe(true);
  });

  it("a changed object is one update naming its field; a dry run changes nothing", async () => {
    changes.length = 0;
    const next = baseObjects("web", "registry.example/web:1.1");
    const dry = await applyRelease(kube, render("web", "web", next), opts({ dryRun: true }));
    expect(dry.updated).toEqual(["Deployment/web/web"]);
    expect(changes).toEqual(["web: update Deployment/web/web (spec.template.spec.containers[0].image)"]);
    const live = await kube.get("apps/v1", "Deployment", "web", "web");
    expect((live?.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image).toBe("registry.example/web:1.0");

    const r = await applyRelease(kube, render("web", "web", next), opts());
    expect(r.updated).toEqual(["Deployment/web/web"]);
    expect(r.revision).toBe(2);
  });

  it("a change made by someone else to a field we own shows as an update and is put back", async () => {
    await kube.mergePatch("v1", "ConfigMap", "web-config", { data: { "app.conf": "port=9999\n" } }, "web");
    const d = await diffRelease(kube, render("web", "web", baseObjects("web", "registry.example/web:1.1")));
    expect(d.update).toEqual([{ id: "ConfigMap/web/web-config", fields: ["data.app.conf"], changes: [{ path: "data.app.conf", before: "port=9999\n", after: "port=8080\n" }] }]);
    const r = await applyRelease(kube, render("web", "web", baseObjects("web", "registry.example/web:1.1")), opts());
    expect(r.updated).toEqual(["ConfigMap/web/web-config"]);
    expect((await kube.get("v1", "ConfigMap", "web-config", "web"))?.data).toEqual({ "app.conf": "port=8080\n" });
  });

  it("prunes an object the render dropped, never one without our labels", async () => {
    // Same kind and namespace, no release labels: someone else's.
    await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "theirs", namespace: "web" }, data: { a: "1" } }, { fieldManager: "someone" });
    // Our labels but another release: not ours to prune either.
    await kube.apply(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "other-release", namespace: "web", labels: { "kubesmith.io/release": "other", "kubesmith.io/addon": "demo" } }, data: {} },
      { fieldManager: "someone" },
    );
    const dropped = baseObjects("web", "registry.example/web:1.1").filter((o) => o.metadata.name !== "web-config" && o.kind !== "ClusterRole");
    const d = await diffRelease(kube, render("web", "web", dropped));
    expect(d.prune).toEqual(["ClusterRole/web-reader", "ConfigMap/web/web-config"]);
    expect(formatDiff(d)).toBe("web:\n  - ClusterRole/web-reader\n  - ConfigMap/web/web-config\n");

    changes.length = 0;
    const r = await applyRelease(kube, render("web", "web", dropped), opts());
    expect(r.pruned).toEqual(["ClusterRole/web-reader", "ConfigMap/web/web-config"]);
    expect(changes).toEqual(["web: delete ClusterRole/web-reader (no longer rendered)", "web: delete ConfigMap/web/web-config (no longer rendered)"]);
    expect(await kube.get("v1", "ConfigMap", "web-config", "web")).toBeUndefined();
    expect(await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "web-reader")).toBeUndefined();
    expect(await kube.get("v1", "ConfigMap", "theirs", "web")).toBeDefined();
    expect(await kube.get("v1", "ConfigMap", "other-release", "web")).toBeDefined();
    // The history Secret carries our managed-by label but is never pruned.
    expect(await kube.get("v1", "Secret", "kubesmith-release-web", "web")).toBeDefined();
    // And the same name re-created by someone else without our labels survives the next prune.
    await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web-config", namespace: "web" }, data: { mine: "yes" } }, { fieldManager: "someone" });
    const again = await applyRelease(kube, render("web", "web", dropped), opts());
    expect(again.pruned).toEqual([]);
    expect((await kube.get("v1", "ConfigMap", "web-config", "web"))?.data).toEqual({ mine: "yes" });
  });

  it("a failed rollout rolls back to the last good revision and throws naming the release and workload", async () => {
    const ns = "rb";
    const good = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
      deployment("api", ns, "registry.example/api:1.0"),
    ] as KubeObject[];
    const first = await applyRelease(kube, render("api", ns, good), opts());
    expect(first.revision).toBe(1);

    const bad = [
      good[0]!,
      deployment("api", ns, "registry.example/api:2.0-broken", { notReady: true }),
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "new-in-bad", namespace: ns }, data: {} },
    ] as KubeObject[];
    const logs: string[] = [];
    changes.length = 0;
    const err = await applyRelease(kube, render("api", ns, bad), opts({ log: (l) => logs.push(l) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonError);
    const e = err as AddonError;
    expect(e.release).toBe("api");
    expect(e.workload).toBe("Deployment/rb/api");
    expect(e.rolledBackTo).toBe(1);
    expect(e.exitCode).not.toBe(0);
    expect(e.oneLine()).toMatch(/release api: Deployment\/rb\/api did not roll out: ProgressDeadlineExceeded.*rolled back api to revision 1/);
    expect(logs).toContain("rolled back api to revision 1");
    expect(changes.some((c) => c.startsWith("rollback api: update Deployment/rb/api"))).toBe(true);

    const live = await kube.get("apps/v1", "Deployment", "api", ns);
    const tpl = (live?.spec as { template: { metadata: { annotations?: Record<string, string> }; spec: { containers: { image: string }[] } } }).template;
    expect(tpl.spec.containers[0]!.image).toBe("registry.example/api:1.0");
    expect(tpl.metadata.annotations?.["sim.kubesmith.io/ready"]).toBeUndefined();
    expect((live?.status as { availableReplicas?: number }).availableReplicas).toBe(1);
    // What only the failed revision had is gone again; the history still says revision 1.
    expect(await kube.get("v1", "ConfigMap", "new-in-bad", ns)).toBeUndefined();
    expect((await readHistory(kube, "demo", { name: "api", namespace: ns }))?.lastGood?.revision).toBe(1);
  });

  it("a first install that does not roll out fails without a rollback", async () => {
    const ns = "fresh";
    const objs = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, deployment("x", ns, "img:1", { notReady: true })] as KubeObject[];
    const err = await applyRelease(kube, render("fresh", ns, objs), opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonError);
    expect((err as AddonError).message).toMatch(/Deployment\/fresh\/x did not roll out.*no earlier revision/);
    expect((err as AddonError).rolledBackTo).toBeUndefined();
  });

  it("a DaemonSet that never becomes available times out", async () => {
    // One node, so the DaemonSet wants one pod that never becomes available.
    await kube.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    const ns = "dsns";
    const ds: KubeObject = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent", namespace: ns },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: { metadata: { labels: { app: "agent" }, annotations: { "sim.kubesmith.io/ready": "false" } }, spec: { hostNetwork: true, containers: [{ name: "a", image: "agent:1" }] } },
      },
    };
    const err = await applyRelease(kube, render("agent", ns, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, ds]), opts({ timeoutMs: 600 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonError);
    expect((err as AddonError).workload).toBe("DaemonSet/dsns/agent");
    expect((err as AddonError).message).toMatch(/not rolled out within 1 s \(0 of 1 updated pod\(s\) available\)/);
    await kube.delete("v1", "Node", "n1");
  });

  it("applies CRDs first and waits for Established before their custom resources", async () => {
    const ns = "crdtest";
    const crd: KubeObject = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
      },
    };
    // The custom resource comes FIRST in the render, with no namespace: apply must reorder and default it.
    const widget: KubeObject = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1" }, spec: { size: 3 } };
    const objs = [widget, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, crd] as KubeObject[];
    changes.length = 0;
    const dry = await applyRelease(kube, render("widgets", ns, objs), opts({ dryRun: true }));
    expect(dry.created).toEqual(["CustomResourceDefinition/widgets.example.com", "Namespace/crdtest", "Widget/crdtest/w1"]);
    expect(await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com")).toBeUndefined();

    const r = await applyRelease(kube, render("widgets", ns, objs), opts());
    expect(r.created).toEqual(["CustomResourceDefinition/widgets.example.com", "Namespace/crdtest", "Widget/crdtest/w1"]);
    const w = await kube.get("example.com/v1", "Widget", "w1", ns);
    expect(w?.spec).toEqual({ size: 3 });
    expect(w?.metadata.labels?.["kubesmith.io/release"]).toBe("widgets");
    const again = await applyRelease(kube, render("widgets", ns, objs), opts());
    expect(again.created.length + again.updated.length + again.pruned.length).toBe(0);
    expect((await readHistory(kube, "demo", { name: "widgets", namespace: ns }))?.kinds).toContain("example.com/v1 Widget");
  });

  it("diff lists create, update and prune with + ~ -", async () => {
    const ns = "dif";
    const v1 = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns }, data: { k: "1" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b", namespace: ns }, data: { k: "1" } },
    ] as KubeObject[];
    await applyRelease(kube, render("dif", ns, v1), opts());
    const v2 = [
      v1[0]!,
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns }, data: { k: "2" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns }, data: {} },
    ] as KubeObject[];
    const d = await diffRelease(kube, render("dif", ns, v2));
    expect(d).toEqual({ release: "dif", create: ["ConfigMap/dif/c"], update: [{ id: "ConfigMap/dif/a", fields: ["data.k"], changes: [{ path: "data.k", before: "1", after: "2" }] }], prune: ["ConfigMap/dif/b"] });
    expect(formatDiff(d)).toBe('dif:\n  + ConfigMap/dif/c\n  ~ ConfigMap/dif/a\n      data.k: "1" → "2"\n  - ConfigMap/dif/b\n');
    // diff changed nothing
    expect((await kube.get("v1", "ConfigMap", "a", ns))?.data).toEqual({ k: "1" });
    expect(await kube.get("v1", "ConfigMap", "c", ns)).toBeUndefined();
  });

  it("remove deletes every object of the release and its history, nothing else", async () => {
    const ns = "rm";
    const objs = [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns }, data: {} },
      deployment("d", ns, "img:1"),
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "rm-binding" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" }, subjects: [] },
    ] as KubeObject[];
    await applyRelease(kube, render("rm", ns, objs), opts());
    // Someone else's object in another namespace, same kind and name: untouched.
    await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default", labels: { "kubesmith.io/release": "rm" } }, data: {} }, { fieldManager: "x" });
    changes.length = 0;
    const removed = await removeRelease(kube, "demo", { name: "rm", namespace: ns }, { gate: gate() });
    expect(removed.sort()).toEqual(["ClusterRoleBinding/rm-binding", "ConfigMap/rm/c", "Deployment/rm/d", "Namespace/rm"]);
    expect(changes[0]).toMatch(/history Secret/);
    expect(await kube.get("v1", "Namespace", ns)).toBeUndefined();
    expect(await kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rm-binding")).toBeUndefined();
    expect(await kube.get("v1", "ConfigMap", "c", "default")).toBeDefined();
    expect(await readHistory(kube, "demo", { name: "rm", namespace: ns })).toBeUndefined();
  });

  it("a release in an existing namespace it does not render keeps its history there; two releases of one bundle stay apart", async () => {
    const a = render("one", "default", [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "one-cm" }, data: {} }], "multi");
    const b = render("two", "default", [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "two-cm" }, data: {} }], "multi");
    await applyRelease(kube, a, opts());
    await applyRelease(kube, b, opts());
    expect((await kube.get("v1", "ConfigMap", "one-cm", "default"))?.metadata.namespace).toBe("default");
    // Re-applying release one with nothing prunes nothing of release two.
    const r = await applyRelease(kube, render("one", "default", [], "multi"), opts());
    expect(r.pruned).toEqual(["ConfigMap/default/one-cm"]);
    expect(await kube.get("v1", "ConfigMap", "two-cm", "default")).toBeDefined();
  });

  it("every create, update and delete goes through the gate with the call that makes it; nothing else writes", async () => {
    // A recording gate: it keeps each change's function and calls none, and skips the follow-ups, as a
    // dry run does. The engine must then write nothing, and the kept functions must be the real changes.
    const ns = "gated";
    const kept: { what: string; fn: () => Promise<void> }[] = [];
    let followUps = 0;
    const recording: Gate = {
      change: async (what, fn) => void kept.push({ what, fn }),
      followUp: async () => void followUps++,
    };
    const v1 = [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns }, data: { v: "1" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b", namespace: ns }, data: { v: "1" } },
    ] as KubeObject[];
    const dry = await applyRelease(kube, render("gated", ns, v1), { timeoutMs: 5_000, gate: recording });
    expect(kept.map((k) => k.what)).toEqual(["gated: create Namespace/gated", "gated: create ConfigMap/gated/a", "gated: create ConfigMap/gated/b"]);
    expect(followUps).toBeGreaterThan(0);
    expect(dry.revision).toBeUndefined();
    expect(await kube.get("v1", "Namespace", ns)).toBeUndefined();
    expect(await readHistory(kube, "demo", { name: "gated", namespace: ns })).toBeUndefined();
    // The functions the gate was given make exactly those changes.
    for (const k of kept) await k.fn();
    expect((await kube.get("v1", "ConfigMap", "a", ns))?.data).toEqual({ v: "1" });
    expect((await kube.get("v1", "ConfigMap", "b", ns))?.data).toEqual({ v: "1" });

    // A real apply records the history; then an update and a prune, through the recording gate again.
    await applyRelease(kube, render("gated", ns, v1), opts());
    kept.length = 0;
    const v2 = [{ ...v1[0]!, data: { v: "2" } }] as KubeObject[];
    await applyRelease(kube, render("gated", ns, v2), { timeoutMs: 5_000, gate: recording });
    expect(kept.map((k) => k.what)).toEqual(["gated: update ConfigMap/gated/a (data.v)", "gated: delete ConfigMap/gated/b (no longer rendered)"]);
    expect((await kube.get("v1", "ConfigMap", "a", ns))?.data).toEqual({ v: "1" });
    expect(await kube.get("v1", "ConfigMap", "b", ns)).toBeDefined();
    for (const k of kept) await k.fn();
    expect((await kube.get("v1", "ConfigMap", "a", ns))?.data).toEqual({ v: "2" });
    expect(await kube.get("v1", "ConfigMap", "b", ns)).toBeUndefined();

    // remove: the same.
    kept.length = 0;
    const ids = await removeRelease(kube, "demo", { name: "gated", namespace: ns }, { gate: recording });
    expect(ids).toEqual(["ConfigMap/gated/a"]);
    expect(kept.map((k) => k.what)).toEqual(["gated: delete the release history Secret/gated/kubesmith-release-gated", "gated: delete ConfigMap/gated/a"]);
    expect(await kube.get("v1", "ConfigMap", "a", ns)).toBeDefined();
    for (const k of kept) await k.fn();
    expect(await kube.get("v1", "ConfigMap", "a", ns)).toBeUndefined();
    expect(await readHistory(kube, "demo", { name: "gated", namespace: ns })).toBeUndefined();
  });
});
