// The simulator driven by the real kubectl client, unchanged.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_NOT_READY_MESSAGE, registerNode } from "../../src/lab/apisim/index.js";
import { calicoPrerequisites, toYamlDocs } from "./calico-fixture.js";
import { startSim, type Sim } from "./helpers.js";
import { missingReason, programPath } from "../helpers/requirements.js";
import { DEFAULT_K8S_VERSION } from "../../src/lab/apisim/discovery.js";

const run = promisify(execFile);
const KUBECTL = programPath("kubectl");
const NO_KUBECTL = missingReason("kubectl");

let sim: Sim;

async function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(KUBECTL!, ["--kubeconfig", sim.kubeconfig, "--cache-dir", path.join(sim.dir, "kube-cache"), ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function readiness(): Promise<Record<string, string>> {
  const r = await kubectl("get", "nodes", "-o", 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}');
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trim().split("\n").filter(Boolean).map((l) => l.split("=") as [string, string]));
}

async function applyFile(name: string, yaml: string, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const f = path.join(sim.dir, name);
  await writeFile(f, yaml);
  return kubectl("apply", "--server-side", ...flags, "-f", f);
}

// Calico's prerequisites (CRDs, ServiceAccounts, CNI-token RBAC) go in one file, the DaemonSet in another
// (its tolerations change between applies); together they satisfy the simulator's Calico contract.
const calicoPrereqs = toYamlDocs(calicoPrerequisites());
const calico = (tolerations: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: calico-node
  namespace: kube-system
  labels: {k8s-app: calico-node}
spec:
  selector: {matchLabels: {k8s-app: calico-node}}
  template:
    metadata: {labels: {k8s-app: calico-node}}
    spec:
      hostNetwork: true
      serviceAccountName: calico-node
      tolerations: ${tolerations}
      initContainers:
      - name: install-cni
        image: docker.io/calico/cni:v3.30.2
        env: [{name: SLEEP, value: "false"}]
        volumeMounts: [{name: cni-net-dir, mountPath: /host/etc/cni/net.d}]
      containers:
      - name: calico-node
        image: docker.io/calico/node:v3.30.2
        volumeMounts: [{name: cni-net-dir, mountPath: /host/etc/cni/net.d}]
      volumes: [{name: cni-net-dir, hostPath: {path: /etc/cni/net.d}}]
`;

describe.skipIf(!!NO_KUBECTL)(`real kubectl against the simulator ${NO_KUBECTL ?? ""}`, () => {
  beforeAll(async () => {
    sim = await startSim();
    await registerNode(sim.kubeconfig, { name: "cp1", address: "198.18.0.11", controlPlane: true });
    await registerNode(sim.kubeconfig, { name: "w1", address: "198.18.0.12" });
    await registerNode(sim.kubeconfig, { name: "fe1", address: "198.18.0.13", labels: { role: "frontend" }, taints: [{ key: "role", value: "frontend", effect: "NoSchedule" }] });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("get nodes: registered nodes, NotReady with kubelet's reason before any CNI", async () => {
    const r = await kubectl("get", "nodes");
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    expect(rows.slice(1).map((c) => [c[0], c[1], c[2], c[4]])).toEqual([
      ["cp1", "NotReady", "control-plane", DEFAULT_K8S_VERSION],
      ["fe1", "NotReady", "<none>", DEFAULT_K8S_VERSION],
      ["w1", "NotReady", "<none>", DEFAULT_K8S_VERSION],
    ]);
    const msg = await kubectl("get", "node", "w1", "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}');
    expect(msg.stdout).toBe(`KubeletNotReady: ${NODE_NOT_READY_MESSAGE}`);
  });

  it("apply --server-side a manifest with a Namespace, a ConfigMap and a Deployment; again is unchanged", async () => {
    const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: demo
  labels: {app: web}
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27.5
`;
    const r = await applyFile("demo.yaml", manifest);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["namespace/demo serverside-applied", "configmap/web-config serverside-applied", "deployment.apps/web serverside-applied"]);
    const status = await kubectl("get", "deployment", "web", "-n", "demo", "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas} gen={.metadata.generation}");
    // the nodes registered above are NotReady (no CNI yet): the pods stay Pending, as kube-scheduler leaves them
    expect(status.stdout).toBe("/2 gen=1");
    const pods = await kubectl("get", "pods", "-n", "demo", "-o", "jsonpath={range .items[*]}{.status.phase} {.status.conditions[0].reason}{\"\\n\"}{end}");
    expect(pods.stdout.trim().split("\n")).toEqual(["Pending Unschedulable", "Pending Unschedulable"]);
    const rv1 = (await kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.metadata.resourceVersion}")).stdout;
    expect((await applyFile("demo.yaml", manifest)).code).toBe(0);
    const rv2 = (await kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.metadata.resourceVersion}")).stdout;
    expect(rv2).toBe(rv1);
    // a CNI makes w1 Ready (cp1 and fe1 keep taints the pods do not tolerate): both pods run there
    const cni = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: test-cni, namespace: kube-system, labels: {kubesmith.io/cni: "true"}}
spec:
  selector: {matchLabels: {app: test-cni}}
  template:
    metadata: {labels: {app: test-cni}}
    spec:
      hostNetwork: true
      containers: [{name: cni, image: registry.example/cni:1}]
`;
    expect((await applyFile("cni.yaml", cni)).code).toBe(0);
    try {
      const rollout = await kubectl("rollout", "status", "deployment/web", "-n", "demo", "--timeout=10s");
      expect(rollout.code, rollout.stderr).toBe(0);
      expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
      const on = await kubectl("get", "pods", "-n", "demo", "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}");
      expect(on.stdout.trim().split("\n")).toEqual(["w1 Running", "w1 Running"]);
    } finally {
      await kubectl("delete", "daemonset", "test-cni", "-n", "kube-system");
    }
  });

  it("apply --server-side reports a conflict with another manager and --force-conflicts takes it", async () => {
    const other = `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: demo}
data: {greeting: bonjour}
`;
    const r = await applyFile("other.yaml", other, "--field-manager=someone-else");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .data.greeting');
    const forced = await applyFile("other.yaml", other, "--field-manager=someone-else", "--force-conflicts");
    expect(forced.code, forced.stderr).toBe(0);
    expect((await kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.data.greeting}")).stdout).toBe("bonjour");
  });

  it("label node, then get -l selects by it", async () => {
    const r = await kubectl("label", "node", "w1", "role=backend");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("node/w1 labeled");
    expect((await kubectl("get", "nodes", "-l", "role=backend", "-o", "name")).stdout.trim()).toBe("node/w1");
    expect((await kubectl("get", "nodes", "-l", "role in (frontend,backend)", "-o", "name")).stdout.trim().split("\n")).toEqual(["node/fe1", "node/w1"]);
    expect((await kubectl("get", "nodes", "-l", "!role", "-o", "name")).stdout.trim()).toBe("node/cp1");
    const unlabel = await kubectl("label", "node", "w1", "role-");
    expect(unlabel.stdout.trim()).toBe("node/w1 unlabeled");
    expect((await kubectl("get", "nodes", "-l", "role=backend", "-o", "name")).stdout.trim()).toBe("");
  });

  it("a calico-node DaemonSet makes the nodes it is scheduled on Ready; a taint it does not tolerate keeps a node NotReady", async () => {
    const onlyControlPlane = "[{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]";
    const prereqs = await applyFile("calico-prereqs.yaml", calicoPrereqs);
    expect(prereqs.code, prereqs.stderr).toBe(0);
    expect((await applyFile("calico.yaml", calico(onlyControlPlane))).code).toBe(0);
    expect(await readiness()).toEqual({ cp1: "True", fe1: "False", w1: "True" });
    const ds = await kubectl("get", "ds", "calico-node", "-n", "kube-system", "-o", "jsonpath={.status.desiredNumberScheduled} {.status.numberReady} {.status.observedGeneration}");
    expect(ds.stdout).toBe("2 2 1");

    const everything = "[{operator: Exists, effect: NoSchedule}, {operator: Exists, effect: NoExecute}]";
    expect((await applyFile("calico.yaml", calico(everything))).code).toBe(0);
    expect(await readiness()).toEqual({ cp1: "True", fe1: "True", w1: "True" });
    const ds2 = await kubectl("get", "ds", "calico-node", "-n", "kube-system", "-o", "jsonpath={.status.desiredNumberScheduled} {.status.numberReady} {.status.observedGeneration}");
    expect(ds2.stdout).toBe("3 3 2");
    const table = await kubectl("get", "nodes");
    expect(table.stdout).not.toContain("NotReady");
  });

  it("delete node removes it; getting it afterwards prints the API's NotFound", async () => {
    const r = await kubectl("delete", "node", "w1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('node "w1" deleted');
    expect((await kubectl("get", "nodes", "-o", "name")).stdout.trim().split("\n")).toEqual(["node/cp1", "node/fe1"]);
    const gone = await kubectl("get", "node", "w1");
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim()).toBe('Error from server (NotFound): nodes "w1" not found');
  });

  it("errors come back as Status objects kubectl prints", async () => {
    const r = await applyFile("nons.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: nowhere}\n");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('namespaces "nowhere" not found');
    const bad = await applyFile("badname.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: demo}\n");
    expect(bad.stderr).toContain('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"');
  });
});
