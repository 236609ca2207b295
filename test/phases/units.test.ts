import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import type { ClusterHost } from "../../src/cluster/model.js";
import { desiredLabels, mergeKubeconfig, nodePatch, MANAGED_LABELS_ANNOTATION } from "../../src/phases/api.js";
import { caCertHash, randomToken, routerIdFor } from "../../src/phases/controlplane.js";
import type { KubeObject } from "../../src/kube/client.js";

function host(over: Partial<ClusterHost> & { labels?: Record<string, string>; taints?: { key: string; value?: string; effect: "NoSchedule" }[] } = {}): ClusterHost {
  return {
    name: "fe1",
    address: "198.18.0.31",
    nodeIP: "198.18.0.31",
    isControlPlane: false,
    isWorker: true,
    isFrontend: true,
    target: {} as never,
    spec: { name: "fe1", address: "198.18.0.31", roles: ["worker", "frontend"], ...(over.labels ? { labels: over.labels } : {}), ...(over.taints ? { taints: over.taints } : {}) },
    ...over,
  };
}
const node = (labels: Record<string, string>, annotations: Record<string, string> = {}, taints: unknown[] = []): KubeObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "fe1", labels, annotations },
  spec: { taints },
});

describe("node labels and taints", () => {
  it("frontend nodes get role=frontend and the node-role labels", () => {
    expect(desiredLabels(host({ labels: { tier: "edge" } }))).toEqual({
      tier: "edge",
      "node-role.kubernetes.io/worker": "",
      "node-role.kubernetes.io/frontend": "",
      role: "frontend",
    });
  });

  it("patches only what differs and nothing when it all matches", () => {
    const h = host();
    const p = nodePatch(node({ "kubernetes.io/hostname": "fe1" }), h)!;
    expect((p.metadata as { labels: Record<string, string> }).labels).toEqual({
      "node-role.kubernetes.io/worker": "",
      "node-role.kubernetes.io/frontend": "",
      role: "frontend",
    });
    const applied = node(
      { "kubernetes.io/hostname": "fe1", ...desiredLabels(h) },
      { [MANAGED_LABELS_ANNOTATION]: Object.keys(desiredLabels(h)).sort().join(","), "kubesmith.io/managed-taints": "" },
    );
    expect(nodePatch(applied, h)).toBeUndefined();
  });

  it("removes a label it managed once the inventory drops it, never a label it did not set", () => {
    const h = host();
    const keys = [...Object.keys(desiredLabels(h)), "tier"].sort().join(",");
    const live = node({ ...desiredLabels(h), tier: "edge", "team.example.com/owner": "ops" }, { [MANAGED_LABELS_ANNOTATION]: keys });
    const p = nodePatch(live, h)!;
    expect((p.metadata as { labels: Record<string, string | null> }).labels).toEqual({ tier: null });
  });

  it("adds inventory taints, keeps foreign ones, removes ones it managed", () => {
    const h = host({ taints: [{ key: "edge", value: "true", effect: "NoSchedule" }] });
    const live = node(desiredLabels(h), { "kubesmith.io/managed-taints": "old:NoSchedule" }, [
      { key: "old", effect: "NoSchedule" },
      { key: "foreign", effect: "NoExecute" },
    ]);
    const p = nodePatch(live, h)!;
    expect((p.spec as { taints: unknown[] }).taints).toEqual([
      { key: "foreign", effect: "NoExecute" },
      { key: "edge", value: "true", effect: "NoSchedule" },
    ]);
  });
});

describe("kubeadm helpers", () => {
  it("the CA hash matches openssl's SPKI digest", () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kubernetes", "-days", "1", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.crt")], { stdio: "ignore" });
    const want = execFileSync("sh", ["-c", `openssl x509 -pubkey -in ${join(dir, "ca.crt")} | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'`], { encoding: "utf8" }).trim();
    expect(caCertHash(readFileSync(join(dir, "ca.crt"), "utf8"))).toBe(`sha256:${want}`);
  });

  it("tokens have kubeadm's form and differ; router ids are stable and in range", () => {
    const a = randomToken();
    expect(a).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(randomToken()).not.toBe(a);
    expect(routerIdFor("prod")).toBe(routerIdFor("prod"));
    for (const n of ["a", "b", "lab", "prod", "x".repeat(60)]) expect(routerIdFor(n)).toBeGreaterThanOrEqual(1), expect(routerIdFor(n)).toBeLessThanOrEqual(250);
  });
});

describe("kubeconfig merge", () => {
  it("adds the cluster as a context, keeps other entries, 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "kc-"));
    const target = join(dir, ".kube", "config");
    const admin = (server: string) => `apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster: {server: "${server}"}\nusers:\n- name: kubernetes-admin\n  user: {token: x}\ncontexts:\n- name: kubernetes-admin@kubernetes\n  context: {cluster: kubernetes, user: kubernetes-admin}\ncurrent-context: kubernetes-admin@kubernetes\n`;
    mergeKubeconfig(admin("https://a:6443"), "one", target);
    mergeKubeconfig(admin("https://b:6443"), "two", target);
    mergeKubeconfig(admin("https://c:6443"), "one", target);
    const kc = parse(readFileSync(target, "utf8")) as { clusters: { name: string; cluster: { server: string } }[]; contexts: { name: string }[]; "current-context": string };
    expect(kc.clusters.map((c) => [c.name, c.cluster.server]).sort()).toEqual([["one", "https://c:6443"], ["two", "https://b:6443"]]);
    expect(kc.contexts.map((c) => c.name).sort()).toEqual(["one", "two"]);
    expect(kc["current-context"]).toBe("one");
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });
});

