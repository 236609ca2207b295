// The simulator driven by @kubernetes/client-node, as kubesmith's installer drives a real cluster.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { expectStatus, startSim, type Sim } from "./helpers.js";
import { DEFAULT_K8S_VERSION } from "../../src/lab/apisim/discovery.js";

let sim: Sim;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  sim = await startSim();
  core = sim.kc.makeApiClient(CoreV1Api);
  apps = sim.kc.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(sim.kc);
});
afterAll(async () => {
  await sim?.close();
});

describe("client-node against the simulator", () => {
  it("has the default namespaces and reports the simulator's default version", async () => {
    const ns = await core.listNamespace();
    expect(ns.items.map((n) => n.metadata?.name).sort()).toEqual(["default", "kube-node-lease", "kube-public", "kube-system"]);
    const res = await fetchVersion();
    expect(res).toBe(DEFAULT_K8S_VERSION);
  });

  it("creates a namespace, then objects in it; create twice is 409 AlreadyExists", async () => {
    await core.createNamespace({ body: { metadata: { name: "team-a" } } });
    const created = await core.createNamespacedConfigMap({
      namespace: "team-a",
      body: { metadata: { name: "settings", labels: { app: "web", tier: "front" } }, data: { color: "blue" } },
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    const again = await expectStatus(core.createNamespacedConfigMap({ namespace: "team-a", body: { metadata: { name: "settings" } } }));
    expect(again).toMatchObject({ code: 409, reason: "AlreadyExists", message: 'configmaps "settings" already exists' });
    const got = await core.readNamespacedConfigMap({ name: "settings", namespace: "team-a" });
    expect(got.data).toEqual({ color: "blue" });
  });

  it("404s an object in a namespace that does not exist, like the real API", async () => {
    const st = await expectStatus(core.createNamespacedConfigMap({ namespace: "nowhere", body: { metadata: { name: "x" } } }));
    expect(st).toMatchObject({ code: 404, reason: "NotFound", message: 'namespaces "nowhere" not found' });
    const missing = await expectStatus(core.readNamespacedConfigMap({ name: "nope", namespace: "team-a" }));
    expect(missing).toMatchObject({ code: 404, message: 'configmaps "nope" not found' });
  });

  it("lists with label selectors (=, !=, in, notin, exists, !key) and a name field selector", async () => {
    for (const [name, labels] of [
      ["a", { app: "web", tier: "front" }],
      ["b", { app: "api", tier: "back" }],
      ["c", { app: "db" }],
    ] as const) {
      await core.createNamespacedConfigMap({ namespace: "team-a", body: { metadata: { name: `sel-${name}`, labels: { ...labels, sel: "yes" } } } });
    }
    const names = async (labelSelector: string, fieldSelector?: string): Promise<string[]> =>
      (await core.listNamespacedConfigMap({ namespace: "team-a", labelSelector: `sel=yes,${labelSelector}`, ...(fieldSelector ? { fieldSelector } : {}) })).items.map((i) => i.metadata!.name!).sort();
    expect(await names("app=web")).toEqual(["sel-a"]);
    expect(await names("app!=web")).toEqual(["sel-b", "sel-c"]);
    expect(await names("app in (web,db)")).toEqual(["sel-a", "sel-c"]);
    expect(await names("app notin (web,db)")).toEqual(["sel-b"]);
    expect(await names("tier")).toEqual(["sel-a", "sel-b"]);
    expect(await names("!tier")).toEqual(["sel-c"]);
    expect(await names("tier", "metadata.name=sel-b")).toEqual(["sel-b"]);
    const bad = await expectStatus(core.listNamespacedConfigMap({ namespace: "team-a", labelSelector: "app in web" }));
    expect(bad).toMatchObject({ code: 400, reason: "BadRequest" });
  });

  it("refuses a stale resourceVersion on update with 409 Conflict; bumps generation only on spec change", async () => {
    const d = await apps.createNamespacedDeployment({
      namespace: "team-a",
      body: {
        metadata: { name: "web" },
        spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } },
      },
    });
    expect(d.metadata?.generation).toBe(1);
    const fresh = await apps.readNamespacedDeployment({ name: "web", namespace: "team-a" });
    expect(fresh.status).toMatchObject({ readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    fresh.spec!.replicas = 3;
    const updated = await apps.replaceNamespacedDeployment({ name: "web", namespace: "team-a", body: fresh });
    expect(updated.metadata?.generation).toBe(2);
    const st = await expectStatus(apps.replaceNamespacedDeployment({ name: "web", namespace: "team-a", body: fresh }));
    expect(st).toMatchObject({ code: 409, reason: "Conflict" });
    expect(st.message).toContain("the object has been modified");
    const after = await apps.readNamespacedDeployment({ name: "web", namespace: "team-a" });
    expect(after.status?.readyReplicas).toBe(3);
    expect(after.status?.observedGeneration).toBe(2);
  });

  it("server-side apply: create, update, conflict with another manager, force", async () => {
    const cm = (data: Record<string, string>): KubernetesObject & { data: Record<string, string> } => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "ssa", namespace: "team-a", labels: { owner: "kubesmith" } },
      data,
    });
    const created = (await objects.patch(cm({ a: "1", b: "2" }), undefined, undefined, "kubesmith", undefined, PatchStrategy.ServerSideApply)) as KubernetesObject & { data?: Record<string, string> };
    expect(created.data).toEqual({ a: "1", b: "2" });
    expect(created.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([["kubesmith", "Apply"]]);

    // Re-applying the same configuration changes nothing (same resourceVersion).
    const same = await objects.patch(cm({ a: "1", b: "2" }), undefined, undefined, "kubesmith", undefined, PatchStrategy.ServerSideApply);
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    // Dropping a field from the applied configuration removes it.
    const updated = (await objects.patch(cm({ a: "10" }), undefined, undefined, "kubesmith", undefined, PatchStrategy.ServerSideApply)) as KubernetesObject & { data?: Record<string, string> };
    expect(updated.data).toEqual({ a: "10" });

    // Another manager setting a field kubesmith owns to another value: 409 naming the field and manager.
    const other = cm({ a: "99" });
    delete other.metadata!.labels;
    const st = await expectStatus(objects.patch(other, undefined, undefined, "someone-else", false, PatchStrategy.ServerSideApply));
    expect(st.code).toBe(409);
    expect(st.reason).toBe("Conflict");
    expect(st.message).toBe('Apply failed with 1 conflict: conflict with "kubesmith": .data.a');

    // The same value is shared ownership, not a conflict.
    const shared = cm({ a: "10" });
    delete shared.metadata!.labels;
    await objects.patch(shared, undefined, undefined, "someone-else", false, PatchStrategy.ServerSideApply);

    // Force takes the field over; kubesmith no longer owns it.
    const forced = (await objects.patch(other, undefined, undefined, "someone-else", true, PatchStrategy.ServerSideApply)) as KubernetesObject & { data?: Record<string, string> };
    expect(forced.data).toEqual({ a: "99" });
    const owners = Object.fromEntries((forced.metadata?.managedFields ?? []).map((m) => [m.manager, m.fieldsV1]));
    expect(owners["someone-else"]).toEqual({ "f:data": { "f:a": {} } });
    expect(owners["kubesmith"]).toEqual({ "f:metadata": { "f:labels": { "f:owner": {} } } });

    // A merge patch (Update operation) never conflicts and takes ownership of what it changed.
    const merged = (await objects.patch(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ssa", namespace: "team-a", labels: { owner: "me" } } },
      undefined,
      undefined,
      "editor",
      undefined,
      PatchStrategy.MergePatch,
    )) as KubernetesObject;
    expect(merged.metadata?.labels).toEqual({ owner: "me" });
    const mf = merged.metadata?.managedFields?.find((m) => m.manager === "editor");
    expect(mf?.operation).toBe("Update");
    const kubesmithNow = await expectStatus(objects.patch(cm({ a: "99" }), undefined, undefined, "kubesmith", false, PatchStrategy.ServerSideApply));
    expect(kubesmithNow.message).toContain('conflict with "editor"');
  });

  it("apply without a field manager is refused", async () => {
    const st = await expectStatus(objects.patch({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "nomgr", namespace: "team-a" } }, undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply));
    expect(st.code).toBe(422);
    expect(st.message).toContain("fieldManager: Required value");
  });

  it("a CRD appears in discovery once applied, and its custom objects keep every field", async () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }, subresources: { status: {} } }],
      },
    };
    const before = await fetchJson("/apis");
    expect(JSON.stringify(before)).not.toContain("example.com");
    await objects.patch(crd, undefined, undefined, "kubesmith", true, PatchStrategy.ServerSideApply);
    const applied = (await objects.read({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" } })) as KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } };
    expect(applied.status?.conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    const groups = (await fetchJson("/apis")) as { groups: { name: string; preferredVersion: { groupVersion: string } }[] };
    expect(groups.groups.find((g) => g.name === "example.com")?.preferredVersion.groupVersion).toBe("example.com/v1");
    const resources = (await fetchJson("/apis/example.com/v1")) as { resources: { name: string; kind: string; namespaced: boolean; shortNames?: string[] }[] };
    expect(resources.resources[0]).toMatchObject({ name: "widgets", kind: "Widget", namespaced: true, shortNames: ["wd"] });

    const widget = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1", namespace: "team-a" }, spec: { size: 3, colors: ["red", "blue"], nested: { deep: { value: true } } } };
    const w = (await objects.patch(widget, undefined, undefined, "kubesmith", true, PatchStrategy.ServerSideApply)) as KubernetesObject & { spec?: unknown };
    expect(w.spec).toEqual(widget.spec);
    const read = (await objects.read({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w1", namespace: "team-a" } })) as KubernetesObject & { spec?: unknown };
    expect(read.spec).toEqual(widget.spec);
    const list = await objects.list("example.com/v1", "Widget", "team-a");
    expect(list.items.map((i) => i.metadata?.name)).toEqual(["w1"]);

    // Deleting the CRD removes the resource from discovery and its objects with it.
    await objects.delete({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "widgets.example.com" } });
    expect(JSON.stringify(await fetchJson("/apis"))).not.toContain("example.com");
  });

  it("watch delivers ADDED, MODIFIED, DELETED for the selected objects", async () => {
    const events: string[] = [];
    const start = await core.listNamespacedConfigMap({ namespace: "team-a" });
    let resolveDone!: () => void;
    const sawDelete = new Promise<void>((r) => (resolveDone = r));
    const watch = new Watch(sim.kc);
    const ctl = await watch.watch(
      "/api/v1/namespaces/team-a/configmaps",
      { resourceVersion: start.metadata?.resourceVersion, labelSelector: "watched=yes" },
      (type, obj: KubernetesObject & { data?: Record<string, string> }) => {
        events.push(`${type} ${obj.metadata?.name} ${JSON.stringify(obj.data ?? {})}`);
        if (type === "DELETED") resolveDone();
      },
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: "team-a", body: { metadata: { name: "unwatched" } } });
    await core.createNamespacedConfigMap({ namespace: "team-a", body: { metadata: { name: "w", labels: { watched: "yes" } }, data: { v: "1" } } });
    // client-node's typed patch sends a JSON patch (RFC 6902)
    await core.patchNamespacedConfigMap({ name: "w", namespace: "team-a", body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await core.deleteNamespacedConfigMap({ name: "w", namespace: "team-a" });
    await sawDelete;
    ctl.abort();
    expect(events).toEqual(['ADDED w {"v":"1"}', 'MODIFIED w {"v":"2"}', 'DELETED w {"v":"2"}']);
  });

  it("deletes an object and then 404s it; deleting a namespace deletes its contents", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedSecret({ namespace: "doomed", body: { metadata: { name: "s" }, stringData: { k: "v" } } });
    await core.deleteNamespacedSecret({ name: "s", namespace: "doomed" });
    expect((await expectStatus(core.readNamespacedSecret({ name: "s", namespace: "doomed" }))).code).toBe(404);
    await core.createNamespacedSecret({ namespace: "doomed", body: { metadata: { name: "s2" } } });
    await core.deleteNamespace({ name: "doomed" });
    expect((await expectStatus(core.readNamespacedSecret({ name: "s2", namespace: "doomed" }))).code).toBe(404);
    expect((await expectStatus(core.deleteNamespace({ name: "kube-system" }))).code).toBe(403);
  });

  it("Services get a cluster IP and NodePorts; a taken NodePort is refused with the real error", async () => {
    const svc = (name: string, nodePort?: number) => ({
      metadata: { name },
      spec: { type: "NodePort", selector: { app: name }, ports: [{ port: 80, ...(nodePort ? { nodePort } : {}) }] },
    });
    const a = await core.createNamespacedService({ namespace: "team-a", body: svc("grafana", 30200) });
    expect(a.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(a.spec?.ports?.[0]?.nodePort).toBe(30200);
    const b = await core.createNamespacedService({ namespace: "team-a", body: svc("auto") });
    expect(b.spec?.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
    const clash = await expectStatus(core.createNamespacedService({ namespace: "team-a", body: svc("clash", 30200) }));
    expect(clash).toMatchObject({ code: 422, reason: "Invalid" });
    expect(clash.message).toBe('Service "clash" is invalid: spec.ports[0].nodePort: Invalid value: 30200: provided port is already allocated');
  });
});

async function fetchJson(path: string): Promise<unknown> {
  const { apiRequest, credentialsFromKubeconfig } = await import("../../src/lab/apisim/index.js");
  const r = await apiRequest(credentialsFromKubeconfig(sim.kubeconfig), "GET", path);
  return r.body;
}

async function fetchVersion(): Promise<string> {
  return String(((await fetchJson("/version")) as { gitVersion: string }).gitVersion);
}
