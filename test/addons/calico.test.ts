// The Calico CNI: where the manifest comes from (pinned download with a cache, a local file, the compact
// offline one), and the patch, applied to the REAL upstream manifests in ../shared/upstream/calico/.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compactCrds, loadCalicoManifest, parseManifest, renderCalico, type CalicoManifest } from "../../src/addons/calico.js";
import { UsageError } from "../../src/errors.js";
import type { KubeObject } from "../../src/kube/client.js";
import { CALICO } from "../../src/versions.js";
import { upstreamFile, upstreamSkipReason } from "../helpers/upstream.js";

const SKIP = upstreamSkipReason("calico/calico-v3.31.7.yaml", "calico/calico-v3.32.1.yaml");
/** A test that reads ../shared/upstream: skipped with the reason when the files are absent (never under CI). */
const itUp = (title: string, fn: () => unknown) => it.skipIf(!!SKIP)(SKIP ? `${title} (skipped: ${SKIP})` : title, fn);

type Env = { name: string; value?: string };
type Ctr = { name: string; env?: Env[]; volumeMounts?: { name: string; mountPath: string }[] };
const podSpec = (o: KubeObject) => (o.spec as { template: { spec: { containers: Ctr[]; initContainers?: Ctr[]; serviceAccountName?: string } } }).template.spec;
const calicoNode = (objs: KubeObject[]) => objs.find((o) => o.kind === "DaemonSet" && o.metadata.name === "calico-node")!;
const envOf = (c: Ctr, n: string) => c.env?.find((e) => e.name === n)?.value;

let cache: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), "ks-cache-"));
  process.env.KUBESMITH_CACHE_DIR = cache;
});
afterEach(() => {
  delete process.env.KUBESMITH_CACHE_DIR;
});

describe("the compact manifest (offline labs) meets the contract of the official one", () => {
  const manifest = async () => loadCalicoManifest({ manifest: "compact" });

  it("has Calico's CRDs, the calico-cni-plugin ServiceAccount and its token RBAC, SLEEP=false and the CNI dir in calico-node", async () => {
    const objs = renderCalico({ podCIDR: "10.42.0.0/16", manifest: await manifest() });
    const crds = objs.filter((o) => o.kind === "CustomResourceDefinition").map((o) => o.metadata.name);
    expect(crds).toContain("clusterinformations.crd.projectcalico.org");
    expect(crds).toContain("felixconfigurations.crd.projectcalico.org");
    expect(crds).toContain("ippools.crd.projectcalico.org");
    expect(crds).toContain("blockaffinities.crd.projectcalico.org");
    expect(crds).toContain("caliconodestatuses.crd.projectcalico.org");
    expect(objs.some((o) => o.kind === "ServiceAccount" && o.metadata.name === "calico-cni-plugin")).toBe(true);
    const role = objs.find((o) => o.kind === "ClusterRole" && o.metadata.name === "calico-node") as unknown as { rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[] };
    expect(role.rules.some((r) => r.resources.includes("serviceaccounts/token") && r.resourceNames?.includes("calico-cni-plugin") && r.verbs.includes("create"))).toBe(true);
    const spec = podSpec(calicoNode(objs));
    expect(envOf(spec.initContainers!.find((c) => c.name === "install-cni")!, "SLEEP")).toBe("false");
    const node = spec.containers.find((c) => c.name === "calico-node")!;
    expect(node.volumeMounts?.find((m) => m.name === "cni-net-dir")?.mountPath).toBe("/host/etc/cni/net.d");
    expect(envOf(node, "CALICO_IPV4POOL_CIDR")).toBe("10.42.0.0/16");
    expect(envOf(node, "IP_AUTODETECTION_METHOD")).toBe("kubernetes-internal-ip");
    // images pinned to the same release as the official manifest, never latest
    const images = JSON.stringify(objs).match(/"image":"[^"]+"/g) ?? [];
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) expect(i).toMatch(new RegExp(`:${CALICO.version}"$`));
  });

  it("labels every object as ours with a revision that follows the content", async () => {
    const m = await manifest();
    const a = renderCalico({ podCIDR: "10.42.0.0/16", manifest: m });
    for (const o of a) {
      expect(o.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("kubesmith");
      expect(o.metadata.labels?.["kubesmith.io/revision"]).toMatch(/^[a-f0-9]{16}$/);
    }
    const b = renderCalico({ podCIDR: "10.43.0.0/16", manifest: m });
    expect(calicoNode(b).metadata.labels?.["kubesmith.io/revision"]).not.toBe(calicoNode(a).metadata.labels?.["kubesmith.io/revision"]);
  });

  itUp("generates the same Calico CRD names as the official manifest", () => {
    const file = upstreamFile(`calico/calico-${CALICO.version}.yaml`);
    const upstream = parseManifest(readFileSync(file, "utf8"), file)
      .filter((o) => o.kind === "CustomResourceDefinition" && o.metadata.name.endsWith(".crd.projectcalico.org"))
      .map((o) => [o.metadata.name, (o.spec as { scope: string }).scope]);
    const ours = compactCrds().map((o) => [o.metadata.name, (o.spec as { scope: string }).scope]);
    expect(ours.sort()).toEqual(upstream.sort());
  });
});

describe.each(["v3.31.7", "v3.32.1"])("the official manifest %s, patched", (version) => {
  itUp("only the pool CIDR and the address autodetection change in calico-node; everything else is the file as published", () => {
    const file = upstreamFile(`calico/calico-${version}.yaml`);
    const text = readFileSync(file, "utf8");
    const original = parseManifest(text, file);
    const objs = renderCalico({ podCIDR: "10.244.0.0/16", manifest: { text, source: file } });
    expect(objs).toHaveLength(original.length);
    const strip = (o: KubeObject) => {
      const c = structuredClone(o);
      const labels = { ...(c.metadata.labels ?? {}) };
      for (const k of ["app.kubernetes.io/managed-by", "kubesmith.io/addon", "kubesmith.io/revision"]) delete labels[k];
      c.metadata.labels = Object.keys(labels).length ? labels : undefined;
      if (!c.metadata.labels) delete c.metadata.labels;
      return c;
    };
    for (let i = 0; i < objs.length; i++) {
      const got = strip(objs[i]!);
      const want = original[i]!;
      if (got.kind === "DaemonSet" && got.metadata.name === "calico-node") {
        const node = podSpec(got).containers.find((c) => c.name === "calico-node")!;
        expect(envOf(node, "CALICO_IPV4POOL_CIDR")).toBe("10.244.0.0/16");
        expect(envOf(node, "IP_AUTODETECTION_METHOD")).toBe("kubernetes-internal-ip");
        node.env = node.env!.filter((e) => e.name !== "CALICO_IPV4POOL_CIDR" && e.name !== "IP_AUTODETECTION_METHOD");
        const wantNode = podSpec(want).containers.find((c) => c.name === "calico-node")!;
        wantNode.env = wantNode.env!.filter((e) => e.name !== "CALICO_IPV4POOL_CIDR" && e.name !== "IP_AUTODETECTION_METHOD");
      }
      expect(got, `${want.kind}/${want.metadata.name}`).toEqual(want);
    }
  });
});

describe("where the manifest comes from", () => {
  const upstreamText = () => readFileSync(upstreamFile(`calico/calico-${CALICO.version}.yaml`), "utf8");

  itUp("the pin is the sha256 of the real file", () => {
    const text = upstreamText();
    expect(createHash("sha256").update(text).digest("hex")).toBe(CALICO.sha256);
  });

  itUp("by default: the pinned release is downloaded once, checked, cached, and read from the cache next time", async () => {
    const text = upstreamText();
    const urls: string[] = [];
    const m1 = await loadCalicoManifest(undefined, async (u) => (urls.push(u), text));
    expect(urls).toEqual([CALICO.url]);
    expect(m1.text).toBe(text);
    expect(existsSync(join(cache, "calico", `${CALICO.sha256}.yaml`))).toBe(true);
    const m2 = await loadCalicoManifest({}, async () => {
      throw new Error("offline");
    });
    expect(m2.text).toBe(text);
    expect(m2.source).toMatch(/cached/);
  });

  it("refuses a download whose sha256 differs", async () => {
    await expect(loadCalicoManifest({ manifest: "upstream" }, async () => "kind: Evil\n")).rejects.toThrow(/has sha256 [a-f0-9]{64}, not the pinned/);
  });

  itUp("does not trust a cached copy that was changed: it downloads again", async () => {
    const text = upstreamText();
    await loadCalicoManifest(undefined, async () => text);
    writeFileSync(join(cache, "calico", `${CALICO.sha256}.yaml`), `${text}\n# changed\n`);
    let fetched = 0;
    await loadCalicoManifest(undefined, async () => (fetched++, text));
    expect(fetched).toBe(1);
  });

  it("offline without a cache: one line that says to use manifest.file", async () => {
    const err = await loadCalicoManifest(undefined, async () => {
      throw new Error("getaddrinfo ENOTFOUND raw.githubusercontent.com");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).oneLine()).toMatch(/cannot download the Calico manifest .*ENOTFOUND.*set addons\.calico\.values\.manifest\.file/);
  });

  it("a local file is read, and refused when its pinned sha256 differs; bad values name the field", async () => {
    const f = join(mkdtempSync(join(tmpdir(), "cal-")), "calico.yaml");
    writeFileSync(f, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n");
    const m: CalicoManifest = await loadCalicoManifest({ manifest: { file: f } });
    expect(m.text).toContain("ConfigMap");
    expect(() => renderCalico({ podCIDR: "10.244.0.0/16", manifest: m })).toThrow(/no calico-node DaemonSet/);
    await expect(loadCalicoManifest({ manifest: { file: f, sha256: "0".repeat(64) } })).rejects.toThrow(/has sha256 .*not the pinned 0{64}/);
    await expect(loadCalicoManifest({ manifest: { file: join(f, "nope") } })).rejects.toThrow(/addons\.calico\.values\.manifest\.file: cannot read/);
    await expect(loadCalicoManifest({ manifest: { url: "https://example.invalid/calico.yaml" } })).rejects.toThrow(/^addons\.calico\.values\.manifest/);
    await expect(loadCalicoManifest({ manifest: "latest" })).rejects.toThrow(UsageError);
    await expect(loadCalicoManifest({ mainfest: "compact" })).rejects.toThrow(/addons\.calico\.values/);
  });
});
