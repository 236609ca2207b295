// offline.imageRepository: one registry for every image. The rewrite rule, every image of every rendered
// bundle (init containers included), and Calico's REAL upstream manifests with only image fields changed.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderCalico, type CalicoManifest } from "../../src/addons/calico.js";
import { findImages, redirectImage, redirectImages } from "../../src/addons/images.js";
import { loadAddonReleases } from "../../src/addons/releases.js";
import { loadInventory } from "../../src/inventory/load.js";
import type { Inventory } from "../../src/inventory/schema.js";
import type { KubeObject } from "../../src/kube/client.js";
import type { ClusterContext } from "../../src/phases/context.js";
import { upstreamFile, upstreamSkipReason } from "../helpers/upstream.js";

const REPO = "registry.corp.example:5000/mirror";

describe("the rewrite rule", () => {
  it.each([
    ["quay.io/calico/node:v3.32.1", `${REPO}/calico/node:v3.32.1`],
    ["docker.io/library/traefik:v3.7.13", `${REPO}/library/traefik:v3.7.13`],
    ["traefik:v3.7.13", `${REPO}/library/traefik:v3.7.13`],
    ["grafana/grafana:12.1.1", `${REPO}/grafana/grafana:12.1.1`],
    ["index.docker.io/grafana/grafana:12.1.1", `${REPO}/grafana/grafana:12.1.1`],
    ["registry.k8s.io/pause:3.10.1", `${REPO}/pause:3.10.1`],
    ["registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0", `${REPO}/kube-state-metrics/kube-state-metrics:v2.16.0`],
    ["localhost:5000/app:1", `${REPO}/app:1`],
    ["ghcr.io/stefanprodan/podinfo:6.9.2@sha256:" + "ab".repeat(32), `${REPO}/stefanprodan/podinfo:6.9.2@sha256:${"ab".repeat(32)}`],
    [`${REPO}/calico/node:v3.32.1`, `${REPO}/calico/node:v3.32.1`],
  ])("%s -> %s", (from, to) => {
    expect(redirectImage(from, REPO)).toBe(to);
    expect(redirectImage(from, `${REPO}/`)).toBe(to);
  });

  it("reaches init and ephemeral containers of any kind, and leaves other fields alone", () => {
    const o = {
      kind: "CronJob",
      spec: { jobTemplate: { spec: { template: { spec: { initContainers: [{ name: "i", image: "busybox:1.37" }], containers: [{ name: "c", image: "quay.io/x/y:1", args: ["quay.io/x/y:1"] }] } } } } },
    };
    expect(redirectImages([o], REPO)).toBe(2);
    expect(findImages(o).map((i) => i.image)).toEqual([`${REPO}/library/busybox:1.37`, `${REPO}/x/y:1`]);
    expect(o.spec.jobTemplate.spec.template.spec.containers[0]!.args).toEqual(["quay.io/x/y:1"]);
    expect(redirectImages([o], REPO)).toBe(0);
  });
});

/** Every bundle of the catalog rendered for a cluster with frontends, an edge VIP and every add-on enabled. */
async function renderAll(imageRepository?: string): Promise<Map<string, string[]>> {
  const loaded = await loadInventory(join(import.meta.dirname, "..", "..", "inventories", "example.yaml"));
  const inventory: Inventory = structuredClone(loaded.inventory);
  inventory.cluster.edgeVIP = { vip: "203.0.113.50", interface: "eth0" };
  inventory.addons = Object.fromEntries(["prometheus", "grafana", "filebeat", "traefik", "keepalived-edge", "hello"].map((n) => [n, { enabled: true }]));
  if (imageRepository) inventory.offline = { imageRepository };
  const stateDir = mkdtempSync(join(tmpdir(), "image-redirect-"));
  const ctx = { dryRun: true, stateDir, model: { name: inventory.cluster.name, inventory, loaded: { ...loaded, inventory } } } as unknown as ClusterContext;
  const out = new Map<string, string[]>();
  for (const r of (await loadAddonReleases(ctx)).flat()) {
    if (r.target !== "cluster") continue;
    out.set(r.rendered.bundle, r.rendered.objects.flatMap((o) => findImages(o).map((i) => String(i.image))));
  }
  return out;
}

describe("every rendered bundle", () => {
  it("pulls every image from offline.imageRepository, path and tag kept", async () => {
    const plain = await renderAll();
    const mirrored = await renderAll(REPO);
    expect([...mirrored.keys()].sort()).toEqual([...plain.keys()].sort());
    // the bundles that run containers, each with at least one image (init containers included)
    for (const b of ["prometheus", "grafana", "filebeat", "traefik", "hello"]) expect(mirrored.get(b)?.length, b).toBeGreaterThan(0);
    let n = 0;
    for (const [bundle, images] of mirrored) {
      for (const img of images) expect(img.startsWith(`${REPO}/`), `${bundle}: ${img}`).toBe(true);
      expect(images, bundle).toEqual(plain.get(bundle)!.map((i) => redirectImage(i, REPO)));
      n += images.length;
    }
    expect(n).toBeGreaterThanOrEqual(6);
    expect(mirrored.get("prometheus")).toContain(`${REPO}/kube-state-metrics/kube-state-metrics:v2.16.0`);
    expect(mirrored.get("traefik")).toContain(`${REPO}/library/traefik:v3.7.13`);
  });
});

const SKIP = upstreamSkipReason("calico/calico-v3.31.7.yaml", "calico/calico-v3.32.1.yaml");

/** JSON paths where two values differ. */
function diffPaths(a: unknown, b: unknown, path = ""): string[] {
  if (a === b) return [];
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return [path];
}

describe.skipIf(!!SKIP)(`Calico's upstream manifests with offline.imageRepository${SKIP ? ` (skipped: ${SKIP})` : ""}`, () => {
  it.each(["v3.31.7", "v3.32.1"])("%s: only the image fields change, each to REPO/calico/<name>:<tag>", (tag) => {
    const manifest: CalicoManifest = { text: readFileSync(upstreamFile(`calico/calico-${tag}.yaml`), "utf8"), source: tag };
    const plain = renderCalico({ podCIDR: "10.244.0.0/16", manifest });
    const mirrored = renderCalico({ podCIDR: "10.244.0.0/16", manifest, imageRepository: REPO });
    expect(mirrored.length).toBe(plain.length);
    const changed: string[] = [];
    plain.forEach((p: KubeObject, i) => {
      for (const d of diffPaths(p, mirrored[i])) if (!d.endsWith(".labels.kubesmith.io/revision")) changed.push(`${p.kind}/${p.metadata.name}${d}`);
    });
    expect(changed.length).toBe(5); // install-cni, upgrade-ipam, calico-node, mount-bpffs, kube-controllers
    for (const c of changed) expect(c).toMatch(/\.image$/);
    const images = mirrored.flatMap((o) => findImages(o).map((x) => x.image));
    expect(new Set(images)).toEqual(new Set([`${REPO}/calico/cni:${tag}`, `${REPO}/calico/node:${tag}`, `${REPO}/calico/kube-controllers:${tag}`]));
  });
});
