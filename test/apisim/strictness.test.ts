// The simulator refuses what a real cluster refuses: image pins (lab policy), images that are no real
// release (ImagePullBackOff), runAsNonRoot against the image's user, the RBAC each program needs, request
// authorization with impersonation, and readiness that takes time.
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KNOWN_IMAGES,
  parseImageRef,
  pinProblem,
  pullImage,
  registerNode,
  runAsNonRootProblem,
  type KObject,
} from "../../src/lab/apisim/index.js";
import { calicoNodeDaemonSet, calicoPrerequisites } from "./calico-fixture.js";
import { expectStatus, startSim, type Sim } from "./helpers.js";

describe("image references and the known-releases table", () => {
  it("normalizes references as containerd does", () => {
    expect(parseImageRef("traefik:v3.7.13")).toMatchObject({ registry: "docker.io", repository: "library/traefik", tag: "v3.7.13" });
    expect(parseImageRef("localhost:5000/a/b@sha256:abc")).toMatchObject({ registry: "localhost:5000", repository: "a/b", digest: "sha256:abc" });
    expect(parseImageRef("quay.io/prometheus/prometheus:v3.5.0")).toMatchObject({ registry: "quay.io", repository: "prometheus/prometheus", tag: "v3.5.0" });
  });
  it("pins: no tag or :latest refused, a tag or digest accepted", () => {
    expect(pinProblem("nginx")).toMatch(/has no tag/);
    expect(pinProblem("nginx:latest")).toMatch(/uses the tag latest/);
    expect(pinProblem("nginx:1.27.5")).toBeUndefined();
    expect(pinProblem("nginx@sha256:0123")).toBeUndefined();
  });
  it("every row has a source and real-looking tags", () => {
    for (const k of KNOWN_IMAGES) {
      expect(k.source.length, k.image).toBeGreaterThan(20);
      expect(k.tags.length, k.image).toBeGreaterThan(0);
    }
  });
  it("a tag that is no release fails with containerd's not found", () => {
    expect(pullImage("quay.io/prometheus/prometheus:v3.5.0")).toMatchObject({ ok: true, user: "nobody" });
    const r = pullImage("quay.io/prometheus/prometheus:v9.9.9");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('Failed to pull image "quay.io/prometheus/prometheus:v9.9.9": rpc error: code = NotFound desc = failed to pull and unpack image "quay.io/prometheus/prometheus:v9.9.9": failed to resolve reference "quay.io/prometheus/prometheus:v9.9.9": quay.io/prometheus/prometheus:v9.9.9: not found');
    expect(pullImage("registry.example/mine:1")).toMatchObject({ ok: true });
  });
  it("runAsNonRoot: kubelet's three refusals", () => {
    const c = { name: "app" };
    expect(runAsNonRootProblem({ securityContext: { runAsNonRoot: true } }, c, "", "ns/p")).toBe('container has runAsNonRoot and image will run as root (pod: "ns/p", container: app)');
    expect(runAsNonRootProblem({ securityContext: { runAsNonRoot: true } }, c, "nobody", "ns/p")).toMatch(/image has non-numeric user \(nobody\), cannot verify user is non-root/);
    expect(runAsNonRootProblem({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }, c, "472", "ns/p")).toMatch(/runAsUser breaks non-root policy/);
    expect(runAsNonRootProblem({ securityContext: { runAsNonRoot: true } }, c, "472", "ns/p")).toBeUndefined();
    expect(runAsNonRootProblem({ securityContext: { runAsNonRoot: true, runAsUser: 65534 } }, c, "", "ns/p")).toBeUndefined();
  });
});

function deployment(name: string, ns: string, spec: Record<string, unknown>): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } },
  };
}

describe("workloads in the simulator", () => {
  let sim: Sim;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let rbac: RbacAuthorizationV1Api;
  beforeAll(async () => {
    sim = await startSim();
    apps = sim.kc.makeApiClient(AppsV1Api);
    core = sim.kc.makeApiClient(CoreV1Api);
    rbac = sim.kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespace({ body: { metadata: { name: "monitoring" } } });
  });
  afterAll(async () => sim?.close());

  const podsReady = async (name: string): Promise<{ ready: number; cond?: { reason?: string; message?: string } }> => {
    const d = await apps.readNamespacedDeployment({ name, namespace: "monitoring" });
    const cond = (d.status?.conditions ?? []).find((c) => c.type === "PodsReady");
    return { ready: d.status?.readyReplicas ?? 0, ...(cond ? { cond: { reason: cond.reason!, message: cond.message! } } : {}) };
  };

  it("refuses an unpinned image at admission (422, the field named)", async () => {
    const s = await expectStatus(apps.createNamespacedDeployment({ namespace: "monitoring", body: deployment("x", "monitoring", { containers: [{ name: "x", image: "nginx:latest" }] }) as never }));
    expect(s.code).toBe(422);
    expect(s.message).toMatch(/spec\.template\.spec\.containers\[0\]\.image: Forbidden: image "nginx:latest" uses the tag latest/);
  });

  it("an image that is no real release: ImagePullBackOff, never ready", async () => {
    await apps.createNamespacedDeployment({ namespace: "monitoring", body: deployment("fake", "monitoring", { containers: [{ name: "p", image: "quay.io/prometheus/prometheus:v3.99.0" }] }) as never });
    const st = await podsReady("fake");
    expect(st.ready).toBe(0);
    expect(st.cond?.reason).toBe("ImagePullBackOff");
    expect(st.cond?.message).toContain('Back-off pulling image "quay.io/prometheus/prometheus:v3.99.0"');
  });

  it("runAsNonRoot with an image that runs as root and no runAsUser: CreateContainerConfigError", async () => {
    await apps.createNamespacedDeployment({
      namespace: "monitoring",
      body: deployment("rootly", "monitoring", { securityContext: { runAsNonRoot: true }, containers: [{ name: "t", image: "docker.io/library/traefik:v3.7.13" }] }) as never,
    });
    const st = await podsReady("rootly");
    expect(st.cond?.reason).toBe("CreateContainerConfigError");
    expect(st.cond?.message).toContain("container has runAsNonRoot and image will run as root");
  });

  it("Prometheus without list on endpointslices or endpoints: CrashLoopBackOff naming the refusal; granted → ready", async () => {
    await core.createNamespacedServiceAccount({ namespace: "monitoring", body: { metadata: { name: "prometheus" } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name: "prom" },
        rules: [
          { apiGroups: [""], resources: ["nodes", "nodes/metrics", "services", "pods"], verbs: ["get", "list", "watch"] },
          { nonResourceURLs: ["/metrics"], verbs: ["get"] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: "prom" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "prom" }, subjects: [{ kind: "ServiceAccount", name: "prometheus", namespace: "monitoring" }] },
    });
    await apps.createNamespacedDeployment({
      namespace: "monitoring",
      body: deployment("prometheus", "monitoring", { serviceAccountName: "prometheus", containers: [{ name: "prometheus", image: "quay.io/prometheus/prometheus:v3.5.0" }] }) as never,
    });
    const st = await podsReady("prometheus");
    expect(st.cond?.reason).toBe("CrashLoopBackOff");
    expect(st.cond?.message).toContain('endpoints is forbidden: User "system:serviceaccount:monitoring:prometheus" cannot list resource "endpoints" in API group "" at the cluster scope');
    await rbac.patchClusterRole({
      name: "prom",
      body: [{ op: "add", path: "/rules/-", value: { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] } }],
    });
    expect(await podsReady("prometheus")).toEqual({ ready: 1 });
  });

  it("a missing ServiceAccount: FailedCreate", async () => {
    await apps.createNamespacedDeployment({ namespace: "monitoring", body: deployment("nosa", "monitoring", { serviceAccountName: "ghost", containers: [{ name: "n", image: "nginx:1.27.5" }] }) as never });
    const st = await podsReady("nosa");
    expect(st.cond?.message).toContain('error looking up service account monitoring/ghost: serviceaccount "ghost" not found');
  });
});

describe("request authorization and impersonation", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(async () => sim?.close());


  it("the admin (kubeadm:cluster-admins) may do everything through the kubeadm:cluster-admins binding", async () => {
    const core = sim.kc.makeApiClient(CoreV1Api);
    await core.listNamespacedSecret({ namespace: "kube-system" });
    const crb = await sim.kc.makeApiClient(RbacAuthorizationV1Api).readClusterRoleBinding({ name: "kubeadm:cluster-admins" });
    expect(crb.subjects?.[0]).toMatchObject({ kind: "Group", name: "kubeadm:cluster-admins" });
  });

  it("impersonation: --as a user without rights gets the real 403; --as-group needs a user", async () => {
    const { credentialsFromKubeconfig } = await import("../../src/lab/apisim/index.js");
    const creds = credentialsFromKubeconfig(sim.kubeconfig);
    const { request } = await import("node:https");
    const call = (path: string, headers: Record<string, string | string[]>): Promise<{ status: number; body: Record<string, unknown> }> =>
      new Promise((resolve, reject) => {
        const req = request(new URL(path, creds.server), { ca: creds.ca, cert: creds.cert, key: creds.key, headers }, (res) => {
          let t = "";
          res.on("data", (c: Buffer) => (t += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as Record<string, unknown> }));
        });
        req.on("error", reject);
        req.end();
      });
    const denied = await call("/api/v1/namespaces/default/secrets", { "Impersonate-User": "jane" });
    expect(denied.status).toBe(403);
    expect(denied.body["message"]).toBe('secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"');
    const allowed = await call("/api/v1/namespaces/default/secrets", { "Impersonate-User": "jane", "Impersonate-Group": "system:masters" });
    expect(allowed.status).toBe(200);
    const groupsOnly = await call("/api/v1/namespaces", { "Impersonate-Group": "system:masters" });
    expect(groupsOnly.status).toBe(500);
  });
});

describe("readiness takes time (readyAfterMs)", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim({ readyAfterMs: 800 });
  });
  afterAll(async () => sim?.close());

  it("a node is NotReady right after its CNI is applied, Ready after the delay", async () => {
    await registerNode(sim.kubeconfig, { name: "n1", address: "198.18.0.10" });
    const { KubeClient } = await import("../../src/kube/client.js");
    const kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    for (const o of calicoPrerequisites()) await kube.apply(o as never);
    const t0 = Date.now();
    await kube.apply(calicoNodeDaemonSet() as never);
    const readyOf = async (): Promise<string | undefined> => {
      const n = await sim.kc.makeApiClient(CoreV1Api).readNode({ name: "n1" });
      return n.status?.conditions?.find((c) => c.type === "Ready")?.status;
    };
    expect(await readyOf()).toBe("False");
    let state = await readyOf();
    while (state !== "True" && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 25));
      state = await readyOf();
    }
    expect(state).toBe("True");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(790);
    kube.close();
  });
});
