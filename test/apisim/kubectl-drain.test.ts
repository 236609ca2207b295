// The real `kubectl drain` against the simulator: the Eviction API as kubectl finds it (discovery lists
// pods/eviction in policy/v1), a PodDisruptionBudget that holds (kubectl's own retry message, then its
// timeout), and a drain that goes through once the budget allows one disruption.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerNode } from "../../src/lab/apisim/index.js";
import { KubeClient } from "../../src/kube/client.js";
import { startSim, type Sim } from "./helpers.js";
import { missingReason, programPath } from "../helpers/requirements.js";

const run = promisify(execFile);
const KUBECTL = programPath("kubectl");
const NO_KUBECTL = missingReason("kubectl");

let sim: Sim;
let kube: KubeClient;

async function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(KUBECTL!, ["--kubeconfig", sim.kubeconfig, "--cache-dir", path.join(sim.dir, "kube-cache"), ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe.skipIf(!!NO_KUBECTL)(`kubectl drain against the simulator ${NO_KUBECTL ?? ""}`, () => {
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    for (const [i, n] of ["w1", "w2", "w3"].entries()) await registerNode(sim.kubeconfig, { name: n, address: `198.18.0.${12 + i}` });
    await kube.apply({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "test-cni", namespace: "kube-system", labels: { "kubesmith.io/cni": "true" } },
      spec: { selector: { matchLabels: { app: "test-cni" } }, template: { metadata: { labels: { app: "test-cni" } }, spec: { hostNetwork: true, containers: [{ name: "cni", image: "registry.example/cni:1" }] } } },
    });
    await kube.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } } },
    });
    await kube.apply({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "web", namespace: "default" }, spec: { minAvailable: 2, selector: { matchLabels: { app: "web" } } } });
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("a budget that allows no disruption: kubectl retries on the 429 and gives up at its timeout", async () => {
    const r = await kubectl("drain", "w1", "--ignore-daemonsets", "--timeout=3s");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    expect(r.stdout).toContain("node/w1 cordoned");
    expect((await kubectl("get", "pdb", "web", "-o", "jsonpath={.status.disruptionsAllowed}/{.status.currentHealthy}/{.status.desiredHealthy}")).stdout).toBe("0/2/2");
  });

  it("with one disruption allowed the drain goes through and the pod runs on another node", async () => {
    await kube.mergePatch("policy/v1", "PodDisruptionBudget", "web", { spec: { minAvailable: 1 } }, "default");
    const r = await kubectl("drain", "w1", "--ignore-daemonsets", "--timeout=20s");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pod\/web-[0-9a-f]{10}-[a-z0-9]{5} evicted/);
    expect(r.stdout).toContain("node/w1 drained");
    const nodes = (await kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}")).stdout.split(" ");
    expect(nodes).toHaveLength(2);
    expect(nodes).not.toContain("w1");
  });
});
