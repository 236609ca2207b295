// The installer's API client against the API simulator: discovery-driven apply/get/list/patch/delete,
// fields of a custom resource kept, errors typed; and the same through an SSH tunnel.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { KubeClient } from "../../src/kube/client.js";
import { SshRunner } from "../../src/ssh/connection.js";
import { generateKey, startServer, type TestServer } from "../ssh/server.js";
import { startSim, type Sim } from "../apisim/helpers.js";

describe("KubeClient against the API simulator", () => {
  let sim: Sim;
  let kube: KubeClient;
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
  });
  afterAll(async () => {
    kube?.close();
    await sim?.close();
  });

  it("applies, reads, lists by label, patches and deletes", async () => {
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } });
    const cm = await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c1", namespace: "web", labels: { app: "x" } }, data: { a: "1" } });
    expect(cm.metadata.name).toBe("c1");
    await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c2", namespace: "web", labels: { app: "y" } }, data: {} });
    expect((await kube.list("v1", "ConfigMap", { namespace: "web", labelSelector: "app=x" })).map((o) => o.metadata.name)).toEqual(["c1"]);
    await kube.mergePatch("v1", "ConfigMap", "c1", { data: { b: "2" } }, "web");
    expect((await kube.get("v1", "ConfigMap", "c1", "web"))?.data).toEqual({ a: "1", b: "2" });
    expect(await kube.delete("v1", "ConfigMap", "c1", "web")).toBe(true);
    expect(await kube.delete("v1", "ConfigMap", "c1", "web")).toBe(false);
    expect(await kube.get("v1", "ConfigMap", "c1", "web")).toBeUndefined();
  });

  it("a namespaced object in a missing namespace is a typed API error", async () => {
    const err = await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "nope" } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).message).toMatch(/namespaces "nope" not found/);
  });

  it("keeps every field of a custom resource (no model-based dropping)", async () => {
    await kube.apply({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { kind: "Widget", plural: "widgets", singular: "widget" },
        scope: "Namespaced",
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
      },
    });
    const w = await kube.apply({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", namespace: "default" }, spec: { size: 3, deep: { list: [1, 2] } } });
    expect(w.spec).toEqual({ size: 3, deep: { list: [1, 2] } });
    expect((await kube.get("example.com/v1", "Widget", "w", "default"))?.spec).toEqual({ size: 3, deep: { list: [1, 2] } });
  });

  it("an unknown kind names itself", async () => {
    await expect(kube.get("example.com/v1", "Gadget", "g")).rejects.toThrow(/does not serve Gadget in example.com\/v1/);
  });

  it("works through an SSH tunnel (direct-tcpip), TLS end to end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tunnel-"));
    const key = generateKey();
    writeFileSync(join(dir, "id"), key.private, { mode: 0o600 });
    const ssh: TestServer = await startServer({ users: { root: { publicKey: key.public } }, cwd: dir, allowForwarding: true });
    const runner = new SshRunner({
      name: "cp1",
      address: ssh.host,
      port: ssh.port,
      user: "root",
      auth: { privateKeyPath: join(dir, "id") },
      sudo: { enabled: false },
      hostKeyPolicy: "accept-new",
      knownHostsFile: join(dir, "known_hosts"),
      connectTimeoutMs: 5000,
      commandTimeoutMs: 10_000,
      keepaliveIntervalMs: 15_000,
      connectRetries: 0,
    });
    const viaTunnel = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"), { tunnel: (h, p) => runner.forward(h, p) });
    try {
      const v = await viaTunnel.request<{ gitVersion: string }>("GET", "/version");
      expect(v?.gitVersion).toMatch(/^v1\.\d+/);
      expect((await viaTunnel.list("v1", "Namespace")).map((n) => n.metadata.name)).toContain("kube-system");
      expect(ssh.stats.forwards.length).toBeGreaterThanOrEqual(1);
      expect(ssh.stats.forwards[0]).toContain(`${new URL(sim.server.url).port}`);
    } finally {
      viaTunnel.close();
      await runner.close();
      await ssh.close();
    }
  });
});
