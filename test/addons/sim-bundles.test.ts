// Every cluster bundle in addons/, rendered with its defaults by the product's own engine (catalog,
// values, render) and applied with the product's applyRelease to the API simulator, on nodes made Ready by
// the product's compact Calico manifest: every workload must become ready. The simulator judges the pods as
// a real node would (test/apisim/strictness.test.ts; docs/lab-strictness.md): real image releases,
// runAsNonRoot against the image's user, the RBAC each program needs, probe ports. A readiness delay is on,
// so the product's wait logic meets "not yet" before "ready".
//
// KNOWN_PRODUCT_DEFECTS lists what the product still breaks (bundle → the simulator's message); a fix
// empties it, a regression fails here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { applyRelease } from "../../src/addons/apply.js";
import { loadCalicoManifest, renderCalico } from "../../src/addons/calico.js";
import { loadBundle } from "../../src/addons/catalog.js";
import { defaultRelease } from "../../src/addons/context.js";
import { renderCluster } from "../../src/addons/render.js";
import type { Bundle, RenderContext } from "../../src/addons/types.js";
import { resolveValues } from "../../src/addons/values.js";
import { KubeClient, type KubeObject } from "../../src/kube/client.js";
import { registerNode } from "../../src/lab/apisim/index.js";
import { startSim, type Sim } from "../apisim/helpers.js";
import { testRun } from "../helpers/gate.js";

const ADDONS = join(import.meta.dirname, "..", "..", "addons");
/** Cluster bundles in dependency order (keepalived-edge is a host bundle: no API objects). */
const BUNDLES = ["prometheus", "grafana", "traefik", "filebeat", "hello"] as const;
const POD_CIDR = "10.244.0.0/16";

const EDGE_TAINT = { key: "example.com/edge", effect: "NoSchedule" as const };
const CP_TAINT = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" as const };
const HOSTS: RenderContext["cluster"]["hosts"] = [
  { name: "cp1", address: "198.18.10.1", roles: ["control-plane"], taints: [CP_TAINT] },
  { name: "edge1", address: "198.18.10.11", roles: ["worker", "frontend"], taints: [EDGE_TAINT] },
  { name: "w1", address: "198.18.10.21", roles: ["worker"], taints: [] },
];
const CLUSTER: RenderContext["cluster"] = {
  name: "lab",
  podCIDR: POD_CIDR,
  serviceCIDR: "10.96.0.0/12",
  edgeVIP: { vip: "198.18.10.100", interface: "eth0", prefix: 24 },
  hosts: HOSTS,
  frontendTaints: [EDGE_TAINT],
  access: { node: "198.18.10.11", frontend: "198.18.10.100" },
};
/** What `up` generates for values without a default (as test/addons/bundles.test.ts). */
const GENERATED: Record<string, Record<string, unknown>> = {
  grafana: { adminPassword: "S3cret-Gen-Pass" },
  traefik: { dashboard: { password: "An0ther-Gen-Pass" } },
};

/** Product defects the simulator still finds: bundle → the start of the failure. Empty when all is well. */
const KNOWN_PRODUCT_DEFECTS: Record<string, string> = {};

function kubeadmConfig(): KubeObject {
  const cluster = { apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration", networking: { podSubnet: POD_CIDR, serviceSubnet: "10.96.0.0/12" } };
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubeadm-config", namespace: "kube-system" }, data: { ClusterConfiguration: stringify(cluster) } };
}

describe("the product's bundles in the API simulator", () => {
  let sim: Sim;
  let kube: KubeClient;
  const bundles = new Map<string, Bundle>();

  beforeAll(async () => {
    for (const name of BUNDLES) bundles.set(name, await loadBundle(join(ADDONS, name)));
    sim = await startSim({ readyAfterMs: 40 });
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    for (const h of HOSTS) {
      await registerNode(sim.kubeconfig, {
        name: h.name,
        address: h.address,
        controlPlane: h.roles.includes("control-plane"),
        taints: h.taints,
        // the product's labels phase: role=<role> for the inventory's roles (traefik's nodeSelector)
        labels: Object.fromEntries(h.roles.filter((r) => r !== "control-plane").map((r) => [r === "frontend" ? "role" : `node-role.kubernetes.io/${r}`, r === "frontend" ? "frontend" : ""])),
      });
    }
    const manifest = await loadCalicoManifest({ manifest: "compact" });
    for (const o of [kubeadmConfig(), ...renderCalico({ podCIDR: POD_CIDR, manifest })]) await kube.apply(o);
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("the compact Calico makes every node Ready (after the readiness delay) and its own workloads ready", async () => {
    const deadline = Date.now() + 5000;
    let states: string[] = [];
    for (;;) {
      states = (await kube.list("v1", "Node")).map((n) => `${n.metadata.name}=${(n["status"] as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === "Ready")!.status}`);
      if (states.every((s) => s.endsWith("=True")) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(states).toEqual(HOSTS.map((h) => `${h.name}=True`));
    await new Promise((r) => setTimeout(r, 100));
    const kc = (await kube.list("apps/v1", "Deployment", { namespace: "kube-system" })).find((d) => d.metadata.name === "calico-kube-controllers");
    if (kc) expect((kc["status"] as { conditions?: { type: string; message?: string }[] }).conditions?.find((c) => c.type === "PodsReady")?.message).toBeUndefined();
  });

  for (const name of BUNDLES) {
    it(`${name}: applied with its defaults, every workload becomes ready`, async () => {
      const b = bundles.get(name)!;
      const values = resolveValues(b, GENERATED[name] ?? {}, "inventory.yaml");
      const rendered = renderCluster(b, { values, release: defaultRelease(b), images: { ...(b.manifest.images ?? {}) }, cluster: CLUSTER });
      const outcome = await applyRelease(kube, rendered, { timeoutMs: 5_000, gate: testRun().gate }).then(
        () => "ready",
        (e: unknown) => (e as Error).message,
      );
      if (KNOWN_PRODUCT_DEFECTS[name]) {
        expect(outcome).toContain(KNOWN_PRODUCT_DEFECTS[name]);
        return;
      }
      // on failure, say what the simulator saw on the pods
      let why = "";
      if (outcome !== "ready") {
        for (const kind of ["Deployment", "DaemonSet", "StatefulSet"]) {
          for (const w of await kube.list("apps/v1", kind, { namespace: rendered.release.namespace })) {
            const c = (w["status"] as { conditions?: { type: string; message?: string }[] } | undefined)?.conditions?.find((x) => x.type === "PodsReady");
            if (c) why += `\n${kind}/${w.metadata.name}: ${c.message}`;
          }
        }
      }
      expect(`${outcome}${why}`).toBe("ready");
    });
  }
});
