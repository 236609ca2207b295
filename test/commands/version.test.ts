import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main.js";
import { CALICO, KUBERNETES } from "../../src/versions.js";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (out += s) });
  return { code, out };
}

describe("kubesmith version", () => {
  it("shows kubesmith's version, the default and supported Kubernetes, Calico, containerd and Node", async () => {
    const r = await run(["version"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kubesmith\s+\d+\.\d+\.\d+$/m);
    expect(r.out).toContain(`kubernetes  ${KUBERNETES.default} (default; supported: ${KUBERNETES.supported.join(", ")})`);
    expect(r.out).toContain(`calico      ${CALICO.version}`);
    expect(r.out).toContain(`node        ${process.version}`);
  });
  it("-o json and -o yaml give the same fields", async () => {
    const j = JSON.parse((await run(["version", "-o", "json"])).out) as Record<string, unknown>;
    const y = parse((await run(["version", "-o", "yaml"])).out) as Record<string, unknown>;
    expect(y).toEqual(j);
    expect(j["calico"]).toBe(CALICO.version);
    expect((j["kubernetes"] as { default: string }).default).toBe(KUBERNETES.default);
  });
});

describe("confirmation names the cluster and its hosts", () => {
  it("down without a terminal: exit 14 (not 130), naming the cluster, its hosts and --yes", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "ks-confirm-"));
    const inv = join(dir, "inv.yaml");
    const hosts = ["cp1", "w1", "w2", "w3", "w4", "w5", "w6"].map((n, i) => `  - name: ${n}\n    address: 198.18.200.${10 + i}\n    roles: [${i ? "worker" : "control-plane"}]\n`).join("");
    writeFileSync(inv, `apiVersion: kubesmith.io/v1alpha1\nkind: Cluster\ncluster:\n  name: prod\n  kubernetesVersion: "1.36"\nhosts:\n${hosts}`);
    const prev = process.env.CI;
    process.env.CI = "true";
    try {
      const r = await run(["down", "-i", inv]);
      expect(r.code).toBe(14);
      expect(r.out).toContain(`Tear down cluster 'prod' (cp1, w1, w2, w3, w4 and 2 more, from ${inv}) and reset those hosts needs confirmation`);
      expect(r.out).toMatch(/--yes/);
    } finally {
      if (prev === undefined) delete process.env.CI;
      else process.env.CI = prev;
    }
  });
});
