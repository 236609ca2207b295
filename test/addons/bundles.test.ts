// The built-in bundles (prometheus, grafana, traefik, filebeat, keepalived-edge, hello), loaded, checked and
// rendered by the real engine (catalog.ts, values.ts, render.ts): each renders with its defaults (plus the
// values the installer generates) to valid Kubernetes objects or host files; images are pinned; every
// container has requests/limits and probes; NodePorts are the documented ones; the real promtool and
// keepalived accept the rendered configurations; the schemas refuse typos and bad values.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { loadBundle } from "../../src/addons/catalog.js";
import { clusterFacts, defaultRelease, renderContextFor } from "../../src/addons/context.js";
import { renderAccess, renderCluster, renderHosts } from "../../src/addons/render.js";
import { controlPlaneKeepalivedConfig, GLOBAL_DEFS_LINES, vrrpInstanceLines, vrrpScriptLines } from "../../src/scripts/keepalived.js";
import type { Bundle, RenderContext, RenderedHosts } from "../../src/addons/types.js";
import { deepMerge, resolveValues } from "../../src/addons/values.js";
import { mustRunOn } from "../../src/addons/wait.js";
import { InventoryError } from "../../src/errors.js";
import { loadInventory } from "../../src/inventory/load.js";
import type { KubeObject } from "../../src/kube/client.js";
import { daemonSetFitsNode } from "../../src/lab/apisim/scheduling.js";
import { missingReason, programPath } from "../helpers/requirements.js";

const ADDONS = join(import.meta.dirname, "..", "..", "addons");
const BUNDLES = ["prometheus", "grafana", "traefik", "filebeat", "keepalived-edge", "hello"] as const;

const loaded = new Map<string, Bundle>();
beforeAll(async () => {
  for (const name of BUNDLES) loaded.set(name, await loadBundle(join(ADDONS, name)));
});
/** A built-in bundle, as the catalog reads it. */
function loadLocal(name: string): Bundle & { schema: Record<string, unknown> } {
  const b = loaded.get(name);
  if (!b?.schema) throw new Error(`bundle ${name} not loaded or without a values schema`);
  return b as Bundle & { schema: Record<string, unknown> };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const merge = deepMerge;

/** The values engine's verdict on defaults + overrides: one "/json/pointer message" line per issue, [] when valid. */
function schemaErrors(b: Bundle, overrides: Record<string, unknown>): string[] {
  try {
    resolveValues(b, overrides, "inventory.yaml");
    return [];
  } catch (err) {
    if (!(err instanceof InventoryError)) throw err;
    const prefix = `addons.${b.manifest.name}.values`;
    return err.issues.map((i) => `${i.path.startsWith(prefix) ? i.path.slice(prefix.length).replace(/\./g, "/") || "/" : i.path} ${i.message}${i.hint ? ` (${i.hint})` : ""}`);
  }
}

// The frontends are tainted (as inventories/example.yaml taints its frontend): edge-only nodes.
const EDGE_TAINT = { key: "example.com/edge", effect: "NoSchedule" as const };
const FRONTENDS = [
  { name: "edge1", address: "198.18.10.11", roles: ["worker", "frontend"], taints: [EDGE_TAINT] },
  { name: "edge2", address: "198.18.10.12", roles: ["worker", "frontend"], taints: [EDGE_TAINT] },
];
const CLUSTER: RenderContext["cluster"] = {
  name: "lab",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  edgeVIP: { vip: "198.18.10.100", interface: "eth0", prefix: 24 },
  hosts: [
    { name: "cp1", address: "198.18.10.1", roles: ["control-plane"], taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] },
    ...FRONTENDS,
    { name: "w1", address: "198.18.10.21", roles: ["worker"], taints: [] },
  ],
  frontendTaints: [EDGE_TAINT],
  access: { node: "198.18.10.11", frontend: "198.18.10.100" },
};

/** What `up` generates for values that have no default (writeOnly + required in the schema). */
const GENERATED: Record<string, Record<string, unknown>> = {
  grafana: { adminPassword: "S3cret-Gen-Pass" },
  traefik: { dashboard: { password: "An0ther-Gen-Pass" } },
  "keepalived-edge": { authPass: "Kx7pQ2wZ" },
};

/** Overrides that take each bundle's other template branches (values used only there are still used). */
const BRANCHES: Record<string, Record<string, unknown>[]> = {
  prometheus: [{ storage: { type: "pvc" } }],
  grafana: [{ storage: { type: "pvc" } }],
  traefik: [{ mode: "nodePort", tolerations: [{ key: "dedicated", operator: "Exists" }] }],
  filebeat: [{ output: { type: "elasticsearch", hosts: ["https://es.example.test:9200"] } }, { output: { type: "logstash", hosts: ["logstash.example.test:5044"] } }],
  "keepalived-edge": [{ track: { type: "tcp" } }, { vrrpVersion: 2, advertInt: 1 }, { unicast: false }],
};

function ctxFor(b: Bundle, values: Record<string, unknown>, cluster: RenderContext["cluster"] = CLUSTER): RenderContext {
  return { values, release: defaultRelease(b), images: { ...(b.manifest.images ?? {}) }, cluster };
}

/** Render with defaults + overrides, NOT checked against the schema (tests that bypass it on purpose). */
function renderUnchecked(b: Bundle, overrides: Record<string, unknown>, cluster: RenderContext["cluster"] = CLUSTER): KubeObject[] | RenderedHosts {
  const ctx = ctxFor(b, merge(b.defaults, overrides), cluster);
  return b.manifest.target === "cluster" ? renderCluster(b, ctx).objects : renderHosts(b, ctx);
}

/** Values resolved (schema-checked) as `up` does, then the cluster objects, validated by the renderer. */
function renderObjects(name: string, overrides: Record<string, unknown> = {}): KubeObject[] {
  const b = loadLocal(name);
  const values = resolveValues(b, merge(GENERATED[name] ?? {}, overrides), "inventory.yaml");
  return renderCluster(b, ctxFor(b, values)).objects;
}

// ---------------------------------------------------------------------------------------------------------
// Small accessors over rendered objects.
// ---------------------------------------------------------------------------------------------------------

interface Container {
  name: string;
  image: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  ports?: { name?: string; containerPort: number; hostPort?: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean; fsGroup?: number };
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  volumes?: { name: string; hostPath?: { path: string }; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string } }[];
  serviceAccountName?: string;
}
const WORKLOADS = new Set(["Deployment", "DaemonSet", "StatefulSet"]);

function podSpec(o: KubeObject): PodSpec {
  return (o.spec as { template: { spec: PodSpec } }).template.spec;
}
function podAnnotations(o: KubeObject): Record<string, string> {
  return (o.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {};
}
function find(objs: KubeObject[], kind: string, name?: string): KubeObject {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}${name ? `/${name}` : ""} among ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
  return o;
}
function nodePorts(objs: KubeObject[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of objs.filter((o) => o.kind === "Service")) {
    const ports = ((s.spec as { ports: { nodePort?: number }[] }).ports ?? []).map((p) => p.nodePort).filter((p): p is number => p !== undefined);
    if (ports.length) out[s.metadata.name] = ports;
  }
  return out;
}
function configData(objs: KubeObject[], name: string, key: string): string {
  const cm = find(objs, "ConfigMap", name) as KubeObject & { data?: Record<string, string> };
  const v = cm.data?.[key];
  if (v === undefined) throw new Error(`ConfigMap/${name} has no key ${key}`);
  return v;
}
function secretData(objs: KubeObject[], name: string, key: string): string {
  const s = find(objs, "Secret", name) as KubeObject & { data?: Record<string, string> };
  const v = s.data?.[key];
  if (v === undefined) throw new Error(`Secret/${name} has no key ${key}`);
  return Buffer.from(v, "base64").toString("utf8");
}

const tmp = mkdtempSync(join(tmpdir(), "kubesmith-bundles-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tool(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
const hasPromtool = !missingReason("promtool");
const hasKeepalived = !missingReason("keepalived");

// ---------------------------------------------------------------------------------------------------------
// Every bundle
// ---------------------------------------------------------------------------------------------------------

describe("every bundle", () => {
  for (const name of BUNDLES) {
    it(`${name}: metadata, pinned images, a valid schema and defaults the schema accepts`, () => {
      const b = loadLocal(name);
      expect(b.manifest.name).toBe(name);
      expect(b.manifest.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(b.manifest.description.length).toBeGreaterThan(10);
      expect(["cluster", "hosts"]).toContain(b.manifest.target);
      expect(b.manifest.access?.length ?? 0).toBeGreaterThan(0);
      for (const [key, image] of Object.entries(b.manifest.images ?? {})) {
        // registry/repo:tag with a version-looking tag, never latest (or a digest).
        expect(image, key).toMatch(/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:v?\d+\.\d+\.\d+[-.\w]*|@sha256:[a-f0-9]{64})$/);
        expect(image, key).not.toMatch(/:latest$/);
      }
      expect(b.schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(schemaErrors(b, GENERATED[name] ?? {})).toEqual([]);
    });

    it(`${name}: every object level of the schema refuses unknown keys`, () => {
      const b = loadLocal(name);
      const walk = (s: unknown, path: string): void => {
        if (!isObj(s)) return;
        // Objects with fixed keys refuse others; free-form maps (label selectors) constrain their keys.
        if (s.type === "object" || s.properties) {
          const map = isObj(s.additionalProperties) && isObj(s.propertyNames) && !s.properties;
          if (!map) expect(s.additionalProperties, `${path} additionalProperties`).toBe(false);
        }
        for (const [k, v] of Object.entries(s)) {
          if (k === "properties" && isObj(v)) for (const [p, ps] of Object.entries(v)) walk(ps, `${path}.${p}`);
          else if (k === "$defs" && isObj(v)) for (const [p, ps] of Object.entries(v)) walk(ps, `${path}#${p}`);
          else if (k === "items" || k === "then" || k === "else") walk(v, `${path}.${k}`);
        }
      };
      walk(b.schema, name);
      // And for real: a typo'd top-level key is refused, naming it.
      const errs = schemaErrors(b, { ...(GENERATED[name] ?? {}), reosurces: {} });
      expect(errs.join("\n")).toContain("reosurces");
    });

    it(`${name}: every template renders in strict mode, and every default value is used`, async () => {
      const b = loadLocal(name);
      const variants = [{}, ...(BRANCHES[name] ?? [])].map((v) => merge(GENERATED[name] ?? {}, v));
      for (const v of variants) {
        expect(schemaErrors(b, v)).toEqual([]);
        const r = renderUnchecked(b, v);
        expect(Array.isArray(r) ? r.length : Object.keys(r.files).length).toBeGreaterThan(0);
      }
      // The access lines render too (they are templates over the same values).
      const lines = renderAccess(b, ctxFor(b, merge(b.defaults, variants[0]!)));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).not.toMatch(/\{\{|\{%/);
      // No dead values: without any one top-level default, some variant's render breaks (strict variables)
      // or comes out different (a value only tested by {% if %}, which the engine reads leniently).
      const outputs = variants.map((v) => JSON.stringify(renderUnchecked(b, v)));
      for (const key of Object.keys(b.defaults)) {
        // A boolean default is flipped instead (false and absent read the same in an {% if %}).
        const flag = b.defaults[key];
        const changed = typeof flag === "boolean" ? { ...b.defaults, [key]: !flag } : Object.fromEntries(Object.entries(b.defaults).filter(([k]) => k !== key));
        const without = { ...b, defaults: changed };
        const used = variants.some((v, i) => {
          try {
            return JSON.stringify(renderUnchecked(without, v)) !== outputs[i];
          } catch (e) {
            return /undefined variable/.test((e as Error).message);
          }
        });
        expect(used, `${name}: value ${key} is never used by a template`).toBe(true);
      }
    });
  }

  for (const name of BUNDLES.filter((n) => n !== "keepalived-edge")) {
    it(`${name}: renders to valid Kubernetes objects; every container pinned, with requests/limits and probes`, async () => {
      const objs = await renderObjects(name, name === "hello" ? {} : {});
      expect(objs.length).toBeGreaterThan(0);
      const b = loadLocal(name);
      const pinned = new Set(Object.values(b.manifest.images ?? {}));
      const workloads = objs.filter((o) => WORKLOADS.has(o.kind));
      expect(workloads.length).toBeGreaterThan(0);
      for (const w of workloads) {
        const spec = podSpec(w);
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const id = `${w.kind}/${w.metadata.name} ${c.name}`;
          expect(pinned.has(c.image), `${id} uses ${c.image}, not one of addon.yaml's images`).toBe(true);
          expect(c.resources?.requests?.cpu, `${id} cpu request`).toBeTruthy();
          expect(c.resources?.requests?.memory, `${id} memory request`).toBeTruthy();
          expect(c.resources?.limits?.cpu, `${id} cpu limit`).toBeTruthy();
          expect(c.resources?.limits?.memory, `${id} memory limit`).toBeTruthy();
        }
        for (const c of spec.containers) {
          expect(c.livenessProbe, `${w.metadata.name}/${c.name} liveness`).toBeTruthy();
          expect(c.readinessProbe, `${w.metadata.name}/${c.name} readiness`).toBeTruthy();
          expect(c.securityContext?.capabilities?.drop, `${w.metadata.name}/${c.name} drops capabilities`).toContain("ALL");
        }
      }
      for (const o of objs) {
        expect(o.metadata.namespace === undefined || o.metadata.namespace === b.manifest.namespace, `${o.kind}/${o.metadata.name}`).toBe(true);
        expect(o.kind, "namespaces belong to the apply engine, not a release").not.toBe("Namespace");
      }
      // No credentials in ConfigMaps: every Secret reference resolves to a Secret in the render.
      for (const w of workloads)
        for (const c of podSpec(w).containers)
          for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) secretData(objs, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// prometheus
// ---------------------------------------------------------------------------------------------------------

describe("prometheus", () => {
  // Debian's promtool (2.42+ds) is built without the Kubernetes service discovery: it refuses the field
  // kubernetes_sd_configs as unknown. When that is the only complaint, the check is repeated on a copy where
  // each kubernetes_sd_configs block becomes a file_sd_configs block (skipped by --syntax-only), so promtool
  // still checks everything else (durations, relabel regexes, TLS and authorization, job names), and the
  // Kubernetes SD blocks themselves are checked here against the fields Prometheus documents. An upstream
  // promtool checks the file unchanged.
  const K8S_SD_ROLES = ["node", "service", "pod", "endpoints", "endpointslice", "ingress"];
  const promtool = (file: string): { code: number; out: string } => {
    const first = tool("/usr/bin/promtool", ["check", "config", "--syntax-only", file]);
    const unsupported = /field kubernetes_sd_configs not found/;
    if (first.code === 0 || !unsupported.test(first.out)) return first;
    const others = first.out.split("\n").filter((l) => /^\s*line \d+:/.test(l) && !unsupported.test(l));
    if (others.length) return first;
    const cfg = parseYaml(readFileSync(file, "utf8")) as { scrape_configs?: Record<string, unknown>[] };
    for (const job of cfg.scrape_configs ?? []) {
      const sd = job.kubernetes_sd_configs as Record<string, unknown>[] | undefined;
      if (!sd) continue;
      for (const s of sd) {
        const bad = Object.keys(s).filter((k) => !["role", "namespaces", "selectors", "api_server", "kubeconfig_file", "attach_metadata"].includes(k));
        if (bad.length || !K8S_SD_ROLES.includes(String(s.role))) return { code: 1, out: `FAILED: job ${String(job.job_name)}: bad kubernetes_sd_configs ${JSON.stringify(s)}` };
        const ns = s.namespaces as Record<string, unknown> | undefined;
        if (ns && (Object.keys(ns).some((k) => !["names", "own_namespace"].includes(k)) || !Array.isArray(ns.names ?? [])))
          return { code: 1, out: `FAILED: job ${String(job.job_name)}: bad namespaces ${JSON.stringify(ns)}` };
      }
      delete job.kubernetes_sd_configs;
      job.file_sd_configs = [{ files: [`/nonexistent/${String(job.job_name)}.json`] }];
    }
    const copy = `${file}.file-sd.yml`;
    writeFileSync(copy, stringifyYaml(cfg));
    return tool("/usr/bin/promtool", ["check", "config", "--syntax-only", copy]);
  };
  const renderedConfig = async (overrides: Record<string, unknown> = {}, checkSchema = true): Promise<string> => {
    const b = loadLocal("prometheus");
    if (checkSchema) expect(schemaErrors(b, overrides)).toEqual([]);
    const objs = renderUnchecked(b, overrides) as KubeObject[];
    return configData(objs, "prometheus-config", "prometheus.yml");
  };

  it.skipIf(!hasPromtool)("the rendered configuration passes the real promtool check config", async () => {
    const text = await renderedConfig();
    const file = join(tmp, "prometheus.yml");
    writeFileSync(file, text);
    const r = promtool(file);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code, r.out).toBe(0);
    const cfg = parseYaml(text) as { global: Record<string, string>; scrape_configs: { job_name: string; metrics_path?: string; kubernetes_sd_configs?: { role: string }[] }[] };
    expect(cfg.global.scrape_interval).toBe("30s");
    const jobs = Object.fromEntries(cfg.scrape_configs.map((j) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(["apiserver", "cadvisor", "kube-state-metrics", "kubelet", "node-exporter", "pods", "prometheus"]);
    expect(jobs.cadvisor?.metrics_path).toBe("/metrics/cadvisor");
    expect(jobs.kubelet?.kubernetes_sd_configs?.[0]?.role).toBe("node");
    expect(jobs.apiserver?.kubernetes_sd_configs?.[0]?.role).toBe("endpoints");
    // Annotated pods: scrape, port and path annotations all honoured.
    expect(text).toContain("__meta_kubernetes_pod_annotation_prometheus_io_scrape");
    expect(text).toContain("__meta_kubernetes_pod_annotation_prometheus_io_port");
    expect(text).toContain("__meta_kubernetes_pod_annotation_prometheus_io_path");
  });

  it.skipIf(!hasPromtool)("overrides reach the configuration, and the jobs of disabled exporters go away", async () => {
    const text = await renderedConfig({ scrapeInterval: "1m", scrapeTimeout: "20s", nodeExporter: { enabled: false }, kubeStateMetrics: { enabled: false } });
    const file = join(tmp, "prometheus-small.yml");
    writeFileSync(file, text);
    expect(promtool(file).code).toBe(0);
    const cfg = parseYaml(text) as { global: Record<string, string>; scrape_configs: { job_name: string }[] };
    expect(cfg.global).toMatchObject({ scrape_interval: "1m", scrape_timeout: "20s" });
    expect(cfg.scrape_configs.map((j) => j.job_name)).not.toContain("node-exporter");
    expect(cfg.scrape_configs.map((j) => j.job_name)).not.toContain("kube-state-metrics");
  });

  it.skipIf(!hasPromtool)("a bad scrape interval is refused by the schema, and promtool would refuse it too", async () => {
    const b = loadLocal("prometheus");
    const errs = schemaErrors(b, { scrapeInterval: "15 seconds" });
    expect(errs.join("\n")).toContain("/scrapeInterval");
    // Bypassing the schema, the real promtool catches it: the check is not vacuous.
    const text = await renderedConfig({ scrapeInterval: "15 seconds" }, false);
    const file = join(tmp, "prometheus-bad.yml");
    writeFileSync(file, text);
    const r = promtool(file);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/15 seconds/);
    // A timeout longer than the interval passes the schema but not promtool.
    const text2 = await renderedConfig({ scrapeInterval: "10s", scrapeTimeout: "20s" });
    writeFileSync(file, text2);
    const r2 = promtool(file);
    expect(r2.code).not.toBe(0);
    expect(r2.out).toMatch(/scrape timeout greater than scrape interval/i);
  });

  it("RBAC, NodePort 30900, non-root server, storage emptyDir or PVC, node-exporter and kube-state-metrics", async () => {
    const objs = await renderObjects("prometheus");
    expect(nodePorts(objs)).toEqual({ prometheus: [30900] });
    const role = find(objs, "ClusterRole", "monitoring-prometheus") as KubeObject & { rules: { resources?: string[]; nonResourceURLs?: string[]; verbs: string[] }[] };
    const resources = role.rules.flatMap((r) => r.resources ?? []);
    for (const r of ["nodes", "nodes/metrics", "services", "endpoints", "pods", "ingresses"]) expect(resources).toContain(r);
    expect(role.rules.find((r) => r.nonResourceURLs?.includes("/metrics"))?.verbs).toEqual(["get"]);
    for (const r of role.rules) if (r.resources) expect(r.verbs).toEqual(["get", "list", "watch"]);
    const binding = find(objs, "ClusterRoleBinding", "monitoring-prometheus") as KubeObject & { subjects: { name: string; namespace: string }[] };
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "monitoring" }]);

    const server = podSpec(find(objs, "Deployment", "prometheus"));
    expect(server.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    expect(server.serviceAccountName).toBe("prometheus");
    expect(server.volumes?.find((v) => v.name === "data")?.emptyDir).toBeTruthy();
    expect(objs.some((o) => o.kind === "PersistentVolumeClaim")).toBe(false);

    const ne = find(objs, "DaemonSet", "prometheus-node-exporter");
    expect(podSpec(ne)).toMatchObject({ hostNetwork: true, hostPID: true, tolerations: [{ operator: "Exists" }] });
    const ksm = find(objs, "Deployment", "prometheus-kube-state-metrics");
    expect(podSpec(ksm).serviceAccountName).toBe("prometheus-kube-state-metrics");
    find(objs, "ClusterRoleBinding", "monitoring-prometheus-kube-state-metrics");
    find(objs, "Service", "prometheus-kube-state-metrics");

    const pvc = await renderObjects("prometheus", { storage: { type: "pvc", size: "20Gi", storageClass: "fast" } });
    const claim = find(pvc, "PersistentVolumeClaim", "prometheus-data") as KubeObject & { spec: { storageClassName?: string; resources: { requests: { storage: string } } } };
    expect(claim.spec).toMatchObject({ storageClassName: "fast", resources: { requests: { storage: "20Gi" } } });
    expect(podSpec(find(pvc, "Deployment", "prometheus")).volumes?.find((v) => v.name === "data")?.persistentVolumeClaim?.claimName).toBe("prometheus-data");
    const noClass = await renderObjects("prometheus", { storage: { type: "pvc" } });
    expect((find(noClass, "PersistentVolumeClaim") as KubeObject & { spec: Record<string, unknown> }).spec.storageClassName).toBeUndefined();
    expect(schemaErrors(loadLocal("prometheus"), { storage: { type: "nfs" } }).join()).toContain("/storage/type");
  });

  it("a configuration change changes the pod template (the server restarts with it)", async () => {
    const a = podAnnotations(find(await renderObjects("prometheus"), "Deployment", "prometheus"));
    const b = podAnnotations(find(await renderObjects("prometheus", { scrapeInterval: "1m" }), "Deployment", "prometheus"));
    expect(a["kubesmith.io/config-sha256"]).toMatch(/^[a-f0-9]{64}$/);
    expect(a["kubesmith.io/config-sha256"]).not.toBe(b["kubesmith.io/config-sha256"]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// grafana
// ---------------------------------------------------------------------------------------------------------

describe("grafana", () => {
  it("provisions the Prometheus data source with the in-cluster DNS name derived from values", async () => {
    const objs = await renderObjects("grafana");
    const ds = parseYaml(configData(objs, "grafana-datasources", "prometheus.yaml")) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ type: "prometheus", url: "http://prometheus.monitoring.svc:9090", isDefault: true });
    const other = await renderObjects("grafana", { prometheus: { service: "prom", namespace: "metrics", port: 9091 } });
    const ds2 = parseYaml(configData(other, "grafana-datasources", "prometheus.yaml")) as { datasources: { url: string }[] };
    expect(ds2.datasources[0]?.url).toBe("http://prom.metrics.svc:9091");
    // The URL is written once (the data source), not repeated elsewhere in the render.
    const all = objs.map((o) => JSON.stringify(o)).join("\n");
    expect(all.split("prometheus.monitoring.svc").length - 1).toBe(1);
  });

  it("the admin password has no default: the schema requires it, and it goes only into a Secret", async () => {
    const b = loadLocal("grafana");
    expect("adminPassword" in b.defaults).toBe(false);
    expect(b.schema.required).toContain("adminPassword");
    expect((b.schema.properties as Record<string, { writeOnly?: boolean }>).adminPassword?.writeOnly).toBe(true);
    expect(schemaErrors(b, {}).join()).toContain("adminPassword");
    // Without it the render itself fails too (strict variables), so nothing half-configured is applied.
    expect(() => renderUnchecked(b, {})).toThrow(/undefined variable: values\.adminPassword/);

    const objs = await renderObjects("grafana", { adminPassword: "a-chosen-password" });
    expect(secretData(objs, "grafana-admin", "admin-password")).toBe("a-chosen-password");
    expect(secretData(objs, "grafana-admin", "admin-user")).toBe("admin");
    for (const o of objs.filter((x) => x.kind !== "Secret")) expect(JSON.stringify(o)).not.toContain("a-chosen-password");
    const env = podSpec(find(objs, "Deployment", "grafana")).containers[0]!.env ?? [];
    expect(env.find((e) => e.name === "GF_SECURITY_ADMIN_PASSWORD")?.valueFrom?.secretKeyRef).toEqual({ name: "grafana-admin", key: "admin-password" });
  });

  it("runs as uid 472 with /api/health probes, NodePort 30200, dashboards provisioned from our own JSON", async () => {
    const objs = await renderObjects("grafana");
    expect(nodePorts(objs)).toEqual({ grafana: [30200] });
    const spec = podSpec(find(objs, "Deployment", "grafana"));
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 472 });
    const c = spec.containers[0]!;
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: "/api/health" } });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: "/api/health" } });
    const providers = parseYaml(configData(objs, "grafana-dashboard-providers", "kubesmith.yaml")) as { providers: { type: string; options: { path: string } }[] };
    const path = providers.providers[0]!.options.path;
    expect(c.volumeMounts?.find((m) => m.mountPath === path)?.name).toBe("dashboards");
    expect(spec.volumes?.find((v) => v.name === "dashboards")?.configMap?.name).toBe("grafana-dashboards");
    const without = await renderObjects("grafana", { dashboards: { cluster: false } });
    expect(without.some((o) => o.kind === "ConfigMap" && o.metadata.name === "grafana-dashboards")).toBe(false);
  });

  it.skipIf(!hasPromtool)("the cluster dashboard is valid JSON whose every query is valid PromQL (promtool check rules)", async () => {
    const objs = await renderObjects("grafana");
    const dash = JSON.parse(configData(objs, "grafana-dashboards", "kubernetes-cluster.json")) as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string; legendFormat?: string }[] }[];
    };
    expect(dash.uid).toBe("kubesmith-cluster");
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(12);
    // What the issue asks the dashboard to show, from the exporters the prometheus bundle runs.
    const all = exprs.join("\n");
    for (const needle of ['up{job="kubelet"}', "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "kube_pod_info", "kube_node_status_condition", "container_cpu_usage_seconds_total"])
      expect(all).toContain(needle);
    expect(dash.panels.find((p) => p.title === "Pods by namespace")?.targets?.[0]?.legendFormat).toBe("{{namespace}}");
    // Every query as a recording rule: promtool parses each expression with the real PromQL parser.
    const rules = { groups: [{ name: "dashboard", rules: exprs.map((expr, i) => ({ record: `kubesmith:dashboard_query_${i}`, expr })) }] };
    const file = join(tmp, "dashboard-rules.yml");
    writeFileSync(file, stringifyYaml(rules));
    const r = tool("/usr/bin/promtool", ["check", "rules", file]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`${exprs.length} rules found`);
    // And the check bites: a broken query is refused.
    writeFileSync(file, stringifyYaml({ groups: [{ name: "bad", rules: [{ record: "x:y", expr: "sum by (instance (up)" }] }] }));
    expect(tool("/usr/bin/promtool", ["check", "rules", file]).code).not.toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// traefik
// ---------------------------------------------------------------------------------------------------------

describe("traefik", () => {
  it("an IngressClass, and RBAC for what Traefik v3's Kubernetes Ingress provider reads (EndpointSlices, not Endpoints)", async () => {
    const objs = await renderObjects("traefik");
    const ic = find(objs, "IngressClass", "traefik") as KubeObject & { spec: { controller: string } };
    expect(ic.spec.controller).toBe("traefik.io/ingress-controller");
    expect(ic.metadata.annotations?.["ingressclass.kubernetes.io/is-default-class"]).toBeUndefined();
    const role = find(objs, "ClusterRole") as KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    const can = (group: string, resource: string, verb: string) => role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    // doc.traefik.io, Kubernetes Ingress provider RBAC and the v3.0 -> v3.1 migration notes: EndpointSlices
    // (list, watch) replace Endpoints; Nodes (get, list, watch) are read for NodePort backends.
    for (const r of ["services", "secrets", "nodes"]) for (const v of ["get", "list", "watch"]) expect(can("", r, v), `${r} ${v}`).toBe(true);
    for (const v of ["list", "watch"]) expect(can("discovery.k8s.io", "endpointslices", v)).toBe(true);
    for (const r of ["ingresses", "ingressclasses"]) for (const v of ["get", "list", "watch"]) expect(can("networking.k8s.io", r, v), `${r} ${v}`).toBe(true);
    expect(can("networking.k8s.io", "ingresses/status", "update")).toBe(true);
    expect(role.rules.flatMap((r) => r.resources)).not.toContain("endpoints");
    expect(role.rules.flatMap((r) => r.verbs).filter((v) => !["get", "list", "watch"].includes(v))).toEqual(["update"]);
    const dflt = await renderObjects("traefik", { ingressClass: { default: true } });
    expect(find(dflt, "IngressClass").metadata.annotations?.["ingressclass.kubernetes.io/is-default-class"]).toBe("true");
    // A current v3 patch release.
    expect(loadLocal("traefik").manifest.images?.traefik).toMatch(/^docker\.io\/library\/traefik:v3\.\d+\.\d+$/);
  });

  it("only the frontend nodes, tolerating the frontend hosts' own taints, and it must run on every one of them", async () => {
    const ds = find(await renderObjects("traefik"), "DaemonSet", "traefik");
    const spec = podSpec(ds);
    expect(spec.nodeSelector).toEqual({ role: "frontend" });
    expect(spec.tolerations).toEqual([{ key: "example.com/edge", effect: "NoSchedule" }]);
    expect(spec.tolerations?.some((t) => t.operator === "Exists" && t.key === undefined)).toBe(false);
    expect(mustRunOn(ds)).toEqual(["edge1", "edge2"]);
    // Extra tolerations come after the hosts' own.
    const extra = find(await renderObjects("traefik", { tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }] }), "DaemonSet");
    expect(podSpec(extra).tolerations).toEqual([
      { key: "example.com/edge", effect: "NoSchedule" },
      { key: "dedicated", operator: "Exists", effect: "NoSchedule" },
    ]);
  });

  it("with inventories/example.yaml (frontend1 tainted example.com/edge:NoSchedule) the DaemonSet fits frontend1 and no other node", async () => {
    const { inventory } = await loadInventory(join(import.meta.dirname, "..", "..", "inventories", "example.yaml"));
    const b = loadLocal("traefik");
    const values = resolveValues(b, merge(GENERATED.traefik!, (inventory.addons?.traefik?.values as Record<string, unknown> | undefined) ?? {}), "example.yaml");
    const ds = find(renderCluster(b, renderContextFor(inventory, b, values)).objects, "DaemonSet", "traefik");
    // The nodes as kubesmith makes them: the role labels and the hosts' taints (clusterFacts: the inventory's,
    // kubeadm's control-plane taint otherwise). The predicate is the API simulator's, written after upstream.
    const nodes = clusterFacts(inventory).hosts.map((h) => ({
      metadata: { name: h.name, labels: (h.roles.includes("frontend") ? { role: "frontend", "node-role.kubernetes.io/frontend": "" } : {}) as Record<string, string> },
      spec: { taints: h.taints ?? [] },
    }));
    expect(nodes.find((n) => n.metadata.name === "frontend1")?.spec.taints).toEqual([{ key: "example.com/edge", effect: "NoSchedule" }]);
    expect(nodes.filter((n) => daemonSetFitsNode(ds, n)).map((n) => n.metadata.name)).toEqual(["frontend1"]);
    expect(mustRunOn(ds)).toEqual(["frontend1"]);
  });

  it("web and websecure on host ports 80/443 of the frontends (mapped to unprivileged container ports), no web NodePort; dashboard on 30088", async () => {
    const objs = await renderObjects("traefik");
    expect(nodePorts(objs)).toEqual({ "traefik-dashboard": [30088] });
    expect(objs.some((o) => o.kind === "Service" && o.metadata.name === "traefik")).toBe(false);
    const spec = podSpec(find(objs, "DaemonSet", "traefik"));
    const c = spec.containers[0]!;
    expect(c.ports?.find((p) => p.name === "web")).toMatchObject({ containerPort: 8000, hostPort: 80 });
    expect(c.ports?.find((p) => p.name === "websecure")).toMatchObject({ containerPort: 8443, hostPort: 443 });
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(c.securityContext?.capabilities).toEqual({ drop: ["ALL"] });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: "/ping", port: "web" } });
    // keepalived-edge's default check hits the same port, on the host itself.
    expect((loadLocal("keepalived-edge").defaults.track as { port: number }).port).toBe((loadLocal("traefik").defaults.hostPorts as { web: number }).web);
    const b = loadLocal("traefik");
    const access = renderAccess(b, ctxFor(b, merge(b.defaults, GENERATED.traefik!)));
    // the real addresses: the edge VIP for the frontends' host ports
    expect(access[0]).toMatch(/^Traefik web entry point: http:\/\/198\.18\.10\.100\/ and https:\/\/198\.18\.10\.100\/ /);
    const moved = renderAccess(b, ctxFor(b, merge(b.defaults, merge(GENERATED.traefik!, { hostPorts: { web: 8081, websecure: 8444 } }))));
    expect(moved[0]).toContain("http://198.18.10.100:8081/ and https://198.18.10.100:8444/");
    expect(schemaErrors(b, { ...GENERATED.traefik, mode: "hostport" }).join()).toContain("/mode");
  });

  it("nodePort mode, opt-in (a CNI without portmap): web on 30087/30443 with the Local traffic policy, no host ports", async () => {
    const objs = await renderObjects("traefik", { mode: "nodePort" });
    expect(nodePorts(objs)).toEqual({ traefik: [30087, 30443], "traefik-dashboard": [30088] });
    expect((find(objs, "Service", "traefik").spec as { externalTrafficPolicy?: string }).externalTrafficPolicy).toBe("Local");
    expect(podSpec(find(objs, "DaemonSet", "traefik")).containers[0]!.ports?.some((p) => p.hostPort !== undefined)).toBe(false);
    const b = loadLocal("traefik");
    const access = renderAccess(b, ctxFor(b, merge(b.defaults, merge(GENERATED.traefik!, { mode: "nodePort" }))));
    // NodePorts answer on every node: the first frontend's address
    expect(access[0]).toContain("http://198.18.10.11:30087/ and https://198.18.10.11:30443/ (NodePorts;");
  });

  it("the dashboard is never insecure: a basic-auth router with an htpasswd user from a Secret", async () => {
    const objs = await renderObjects("traefik", { dashboard: { user: "ops", password: "correct horse battery" } });
    const staticCfg = parseYaml(configData(objs, "traefik-config", "traefik.yml")) as Record<string, Record<string, unknown>>;
    expect(staticCfg.api).toEqual({ dashboard: true });
    expect(JSON.stringify(staticCfg)).not.toMatch(/insecure/i);
    expect(staticCfg.providers).toHaveProperty("kubernetesIngress");
    expect(staticCfg.ping).toEqual({ entryPoint: "web" });
    const dyn = parseYaml(configData(objs, "traefik-dynamic", "dashboard.yml")) as {
      http: { routers: Record<string, { entryPoints: string[]; service: string; middlewares: string[] }>; middlewares: Record<string, { basicAuth: { usersFile: string } }> };
    };
    const routers = Object.values(dyn.http.routers);
    expect(routers.filter((r) => r.service === "api@internal")).toHaveLength(1);
    for (const r of routers) expect(r.middlewares.length, "every router is authenticated").toBeGreaterThan(0);
    const usersFile = dyn.http.middlewares[routers[0]!.middlewares[0]!]!.basicAuth.usersFile;
    const c = podSpec(find(objs, "DaemonSet", "traefik")).containers[0]!;
    const mount = c.volumeMounts?.find((m) => usersFile.startsWith(`${m.mountPath}/`));
    expect(podSpec(find(objs, "DaemonSet", "traefik")).volumes?.find((v) => v.name === mount?.name)?.secret?.secretName).toBe("traefik-dashboard-auth");
    const line = secretData(objs, "traefik-dashboard-auth", "users");
    const sha1 = createHash("sha1").update("correct horse battery").digest("base64");
    expect(line).toBe(`ops:{SHA}${sha1}`);
    for (const o of objs) expect(JSON.stringify(o)).not.toContain("correct horse battery");
    // No default password: the schema requires it, and the default render refuses to go without it.
    const b = loadLocal("traefik");
    expect((b.defaults.dashboard as Record<string, unknown>).password).toBeUndefined();
    expect(schemaErrors(b, {}).join()).toContain("password");
    expect(() => renderUnchecked(b, {})).toThrow(/undefined variable: values\.dashboard\.password/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// filebeat
// ---------------------------------------------------------------------------------------------------------

describe("filebeat", () => {
  type FbConfig = {
    "filebeat.inputs": {
      type: string;
      id?: string;
      paths: string[];
      exclude_files?: string[];
      processors?: Record<string, unknown>[];
      parsers?: Record<string, unknown>[];
      "prospector.scanner.symlinks"?: boolean;
    }[];
    [k: string]: unknown;
  };
  const fbConfig = (objs: KubeObject[]) => parseYaml(configData(objs, "filebeat-config", "filebeat.yml")) as FbConfig;

  it("a DaemonSet on every node (all taints tolerated), running as root on purpose, reading both log sources", async () => {
    const objs = await renderObjects("filebeat");
    const ds = find(objs, "DaemonSet", "filebeat");
    const spec = podSpec(ds);
    expect(spec.tolerations).toEqual([{ operator: "Exists" }]);
    expect(spec.nodeSelector ?? {}).not.toHaveProperty("role");
    expect(spec.securityContext?.runAsUser).toBe(0);
    expect(readFileSync(join(ADDONS, "filebeat", "templates", "filebeat.yaml"), "utf8")).toMatch(/runs as root ON PURPOSE: it must read the host's log files/);
    const c = spec.containers[0]!;
    expect(c.securityContext?.capabilities).toEqual({ drop: ["ALL"], add: ["DAC_READ_SEARCH"] });
    const hostPaths = Object.fromEntries((spec.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.name, m]));
    expect(hostPaths.varlog).toBe("/var/log");
    expect(hostPaths.applogs).toBe("/var/log/apps");
    expect(mounts.varlog?.readOnly && mounts.applogs?.readOnly).toBe(true);

    const cfg = fbConfig(objs);
    const [containers, apps] = cfg["filebeat.inputs"];
    expect(containers?.paths).toEqual(["/var/log/containers/*.log"]);
    expect(JSON.stringify(containers?.processors)).toContain("add_kubernetes_metadata");
    // Its own container log is excluded (a console output would otherwise feed on itself).
    const own = "/var/log/containers/filebeat-x7k2p_logging_filebeat-0123456789abcdef.log";
    const other = "/var/log/containers/hello-5d9c_hello_hello-0123456789abcdef.log";
    const excluded = (f: string) => (containers?.exclude_files ?? []).some((re) => new RegExp(re).test(f));
    expect([excluded(own), excluded(other)]).toEqual([true, false]);
    expect(apps?.paths).toEqual(["/var/log/apps/**/*.log"]);
    expect(cfg["output.console"]).toBeTruthy();
    expect(objs.some((o) => o.kind === "Secret")).toBe(false);
    expect(c.env?.map((e) => e.name)).toEqual(["NODE_NAME"]);

    // Every inventory host must have a pod (a rollout on fewer nodes fails, naming the hosts).
    expect(mustRunOn(ds)).toEqual(CLUSTER.hosts.map((h) => h.name));
  });

  it("Filebeat 9: container logs through a filestream input with the container parser, not the disabled container input", async () => {
    // elastic.co, Filebeat reference "Container input": the container input is a preset of the log input,
    // disabled in 9.0; use filestream (a unique id per input) with its container parser, symlinks enabled
    // because /var/log/containers/*.log are symlinks.
    expect(loadLocal("filebeat").manifest.images?.filebeat).toMatch(/^docker\.elastic\.co\/beats\/filebeat:9\.\d+\.\d+$/);
    const inputs = fbConfig(await renderObjects("filebeat"))["filebeat.inputs"];
    expect(inputs.map((i) => i.type)).toEqual(["filestream", "filestream"]);
    const ids = inputs.map((i) => i.id);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const containers = inputs[0]!;
    expect(containers.parsers).toEqual([{ container: null }]);
    expect(containers["prospector.scanner.symlinks"]).toBe(true);
    const meta = containers.processors?.find((p) => "add_kubernetes_metadata" in p)?.add_kubernetes_metadata as { host?: string; matchers?: unknown[] };
    expect(meta.host).toBe("${NODE_NAME}");
    expect(meta.matchers).toEqual([{ logs_path: { logs_path: "/var/log/containers/" } }]);
  });

  it("RBAC: what add_kubernetes_metadata reads (pods, namespaces, nodes; ReplicaSets and Jobs for the owners), read-only", async () => {
    // elastic/beats deploy/kubernetes/filebeat-kubernetes.yaml grants these for the processor.
    const role = find(await renderObjects("filebeat"), "ClusterRole") as KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    const grants = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g || "core"}/${res}`))).sort();
    expect(grants).toEqual(["apps/replicasets", "batch/jobs", "core/namespaces", "core/nodes", "core/pods"]);
    for (const r of role.rules) expect(r.verbs).toEqual(["get", "list", "watch"]);
  });

  it("elasticsearch output: hosts in the configuration, credentials only in a Secret, read through the environment", async () => {
    const objs = await renderObjects("filebeat", { output: { type: "elasticsearch", hosts: ["https://es1.example.test:9200", "https://es2.example.test:9200"], username: "beat", password: "s3cr3t-pw" } });
    const cfg = fbConfig(objs);
    expect(cfg["output.elasticsearch"]).toEqual({ hosts: ["https://es1.example.test:9200", "https://es2.example.test:9200"], username: "${OUTPUT_USERNAME:}", password: "${OUTPUT_PASSWORD:}" });
    expect(cfg["output.console"]).toBeUndefined();
    expect(secretData(objs, "filebeat-output", "password")).toBe("s3cr3t-pw");
    expect(secretData(objs, "filebeat-output", "username")).toBe("beat");
    for (const o of objs.filter((x) => x.kind !== "Secret")) expect(JSON.stringify(o)).not.toContain("s3cr3t-pw");
    const env = podSpec(find(objs, "DaemonSet")).containers[0]!.env ?? [];
    expect(env.find((e) => e.name === "OUTPUT_PASSWORD")?.valueFrom?.secretKeyRef).toEqual({ name: "filebeat-output", key: "password" });
  });

  it("logstash output, a custom application directory, and what the schema refuses", async () => {
    const objs = await renderObjects("filebeat", { appLogDir: "/srv/logs", output: { type: "logstash", hosts: ["ls.example.test:5044"] } });
    const cfg = fbConfig(objs);
    expect(cfg["output.logstash"]).toEqual({ hosts: ["ls.example.test:5044"] });
    expect(cfg["filebeat.inputs"][1]?.paths).toEqual(["/srv/logs/**/*.log"]);
    expect(podSpec(find(objs, "DaemonSet")).volumes?.find((v) => v.name === "applogs")?.hostPath?.path).toBe("/srv/logs");
    const b = loadLocal("filebeat");
    expect(schemaErrors(b, { output: { type: "elasticsearch" } }).join()).toContain("/output/hosts");
    expect(schemaErrors(b, { output: { type: "kafka" } }).join()).toContain("/output/type");
    expect(schemaErrors(b, { output: { type: "logstash", hosts: ["x:5044"], password: "p" } }).join()).toContain("/output/password");
    expect(schemaErrors(b, { appLogDir: "/var/log" })).not.toEqual([]);
    expect(schemaErrors(b, { appLogDir: "relative/dir" })).not.toEqual([]);
    expect(schemaErrors(b, { output: { type: "console", hsots: [] } }).join()).toContain("hsots");
  });
});

// ---------------------------------------------------------------------------------------------------------
// keepalived-edge
// ---------------------------------------------------------------------------------------------------------

describe("keepalived-edge", () => {
  // keepalived -t checks the interface in the current network namespace and refuses lo for VRRP, so the
  // check runs in a private network namespace (unshare -n) holding one veth named like the inventory's
  // interface: nothing on the machine changes.
  const canNetns = hasKeepalived && spawnSync("unshare", ["-n", "ip", "link", "add", "kst0", "type", "veth", "peer", "name", "kst1"]).status === 0;
  const keepalivedTest = (file: string, iface: string) =>
    tool("unshare", ["-n", "sh", "-c", `ip link add "$1" type veth peer name kspeer0 && ip link set "$1" up && exec keepalived -t -f "$2"`, "sh", iface, file]);

  const frontends = CLUSTER.hosts.filter((h) => h.roles.includes("frontend"));
  const renderFor = async (overrides: Record<string, unknown> = {}, cluster = CLUSTER): Promise<Record<string, string>> => {
    const b = loadLocal("keepalived-edge");
    const values = resolveValues(b, merge(GENERATED["keepalived-edge"]!, overrides), "inventory.yaml");
    const r = renderHosts(b, ctxFor(b, values, cluster));
    expect(r.packages).toEqual({ apt: ["keepalived"], dnf: ["keepalived"] });
    expect(r.services).toEqual(["keepalived"]);
    const out: Record<string, string> = {};
    for (const [host, files] of Object.entries(r.files)) {
      expect(files.map((f) => [f.path, f.mode, f.secret, f.validate, f.restart])).toEqual([["/etc/keepalived/keepalived.conf", 0o600, true, "keepalived -t -f {{file}}", ["keepalived"]]]);
      out[host] = files[0]!.content;
    }
    return out;
  };

  it("the manifest: frontend hosts, keepalived package and service, a 0600 secret file validated and restarted", () => {
    const m = loadLocal("keepalived-edge").manifest;
    expect(m.target).toBe("hosts");
    expect(m.hosts).toEqual({ role: "frontend" });
    expect(m.packages).toEqual({ apt: ["keepalived"], dnf: ["keepalived"] });
    expect(m.services).toEqual(["keepalived"]);
    expect(m.files).toEqual([
      { template: "keepalived.conf", path: "/etc/keepalived/keepalived.conf", mode: "0600", secret: true, validate: "keepalived -t -f {{file}}", restart: ["keepalived"] },
    ]);
    expect(m.images ?? {}).toEqual({});
  });

  it("one configuration per frontend host: unicast peers are the other frontends, priority by host index", async () => {
    const confs = await renderFor();
    expect(Object.keys(confs)).toEqual(["edge1", "edge2"]);
    const field = (c: string, re: RegExp) => c.match(re)?.[1];
    expect(field(confs.edge1!, /priority (\d+)/)).toBe("200");
    expect(field(confs.edge2!, /priority (\d+)/)).toBe("190");
    expect(field(confs.edge1!, /unicast_src_ip (\S+)/)).toBe("198.18.10.11");
    expect(field(confs.edge1!, /unicast_peer \{\s*([^}]*?)\s*\}/)).toBe("198.18.10.12");
    expect(field(confs.edge2!, /unicast_peer \{\s*([^}]*?)\s*\}/)).toBe("198.18.10.11");
    // Each host checks ITS OWN Traefik: its own address, on Traefik's web host port (not a NodePort, which
    // kube-proxy would answer from another node's Traefik, and not at all on 127.0.0.1 in nftables mode).
    expect(confs.edge1).toContain('script "/usr/bin/curl -sf -o /dev/null --max-time 2 http://198.18.10.11:80/ping"');
    expect(confs.edge2).toContain('script "/usr/bin/curl -sf -o /dev/null --max-time 2 http://198.18.10.12:80/ping"');
    const tcp = await renderFor({ track: { type: "tcp" } });
    expect(tcp.edge2).toContain("</dev/tcp/198.18.10.12/80'");
    const named = await renderFor({ track: { host: "edge-check.local", port: 8080 } });
    expect(named.edge1).toContain("http://edge-check.local:8080/ping");
    for (const c of Object.values(confs)) {
      expect(c).toContain("198.18.10.100/24 dev eth0");
      expect(c).toContain("interface eth0");
      expect(c).toContain("virtual_router_id 251");
      // VRRPv3 by default: sub-second adverts, no authentication (the generated password is not written).
      expect(c).toContain("    version 3\n    advert_int 0.1\n");
      expect(c).not.toContain("auth_pass");
      expect(c).not.toContain("Kx7pQ2wZ");
      expect(c).toContain("    track_script {\n        check_traefik\n    }");
      expect(c).not.toContain("127.0.0.1");
      expect(c).not.toContain("30087");
      expect(c).toMatch(/weight -100/);
      expect(c).not.toContain("198.18.10.1\n"); // never the control plane or a plain worker
      expect(c).not.toContain("198.18.10.21");
    }
    // Without a prefix in the inventory the VIP is a /32; a lone frontend host has no unicast block.
    const { prefix: _p, ...noPrefix } = CLUSTER.edgeVIP!;
    const single = await renderFor({}, { ...CLUSTER, edgeVIP: noPrefix, hosts: [CLUSTER.hosts[0]!, frontends[0]!] });
    expect(single.edge1).toContain("198.18.10.100/32 dev eth0");
    expect(single.edge1).not.toContain("unicast_peer");
  });

  it("the vrrp_instance block is the control-plane VIP's renderer: VRRPv2 with PASS auth, multicast, the same text", async () => {
    const v2 = await renderFor({ vrrpVersion: 2, advertInt: 2 });
    expect(v2.edge1).toContain("    version 2\n    advert_int 2\n");
    expect(v2.edge1).toContain("    authentication {\n        auth_type PASS\n        auth_pass Kx7pQ2wZ\n    }");
    const multicast = await renderFor({ unicast: false, advertInt: 0.05 });
    expect(multicast.edge1).not.toContain("unicast");
    expect(multicast.edge1).toContain("advert_int 0.05\n");
    // Byte for byte what vrrpInstanceLines writes for the same settings.
    const confs = await renderFor({ nopreempt: true });
    const block = confs.edge2!.slice(confs.edge2!.indexOf("vrrp_instance edge_vip {"));
    expect(block).toBe(
      `${vrrpInstanceLines({
        name: "edge_vip",
        vip: "198.18.10.100",
        prefix: 24,
        interface: "eth0",
        routerId: 251,
        priority: 190,
        nopreempt: true,
        unicast: { self: "198.18.10.12", peers: ["198.18.10.11"] },
        trackScripts: ["check_traefik"],
      }).join("\n")}\n`,
    );
  });

  it("the health check and global_defs are the control-plane VIP's too: one HealthCheck model (vrrpScriptLines), byte for byte", async () => {
    const confs = await renderFor({});
    const c = confs.edge1!;
    const start = c.indexOf("vrrp_script check_traefik {");
    const block = c.slice(start, c.indexOf("}", start) + 1);
    expect(block).toBe(
      vrrpScriptLines({ name: "check_traefik", script: "/usr/bin/curl -sf -o /dev/null --max-time 2 http://198.18.10.11:80/ping", interval: 2, timeout: 3, fall: 2, rise: 2, weight: -100 }).join("\n"),
    );
    expect(c).toContain(GLOBAL_DEFS_LINES.join("\n"));
    const cp = controlPlaneKeepalivedConfig({ vip: "198.18.10.2", interface: "eth0", routerId: 51, priority: 150, self: "198.18.10.1", peers: [], healthCheck: "/etc/keepalived/check_apiserver.sh" });
    expect(cp).toContain(GLOBAL_DEFS_LINES.join("\n"));
    expect(cp).toContain(vrrpScriptLines({ name: "check_apiserver", script: "/etc/keepalived/check_apiserver.sh", interval: 3, timeout: 5, fall: 3, rise: 2, weight: -50 }).join("\n"));
    // the one model refuses what keepalived would misread, whichever VIP asks
    expect(() => vrrpScriptLines({ name: "x", script: 'curl "http://a"', interval: 1, timeout: 1, fall: 1, rise: 1, weight: -1 })).toThrow(/double quote/);
    expect(() => vrrpScriptLines({ name: "x", script: "true", interval: 0, timeout: 1, fall: 1, rise: 1, weight: -1 })).toThrow(/interval/);
  });

  it("the schema refuses a fractional interval with VRRPv2, and intervals keepalived does not take", () => {
    const b = loadLocal("keepalived-edge");
    const ok = { authPass: "Kx7pQ2wZ" };
    expect(schemaErrors(b, { ...ok, vrrpVersion: 2, advertInt: 0.5 }).join()).toContain("/advertInt");
    expect(schemaErrors(b, { ...ok, vrrpVersion: 2, advertInt: 3 })).toEqual([]);
    expect(schemaErrors(b, { ...ok, advertInt: 0.05 })).toEqual([]);
    expect(schemaErrors(b, { ...ok, advertInt: 0.001 }).join()).toContain("/advertInt");
    expect(schemaErrors(b, { ...ok, advertInt: 256 }).join()).toContain("/advertInt");
    expect(schemaErrors(b, { ...ok, vrrpVersion: 4 }).join()).toContain("/vrrpVersion");
    // What the schema cannot say (steps of 0.01 s) the renderer refuses.
    const values = resolveValues(b, merge(GENERATED["keepalived-edge"]!, { advertInt: 0.123 }), "inventory.yaml");
    expect(() => renderHosts(b, ctxFor(b, values))).toThrow(/^add-on keepalived-edge: templates\/keepalived\.conf:\d+:\d+: keepalived advertInt must be a multiple of 0\.01 s/);
  });

  it.skipIf(!canNetns)("the real keepalived -t accepts the rendered files (VRRPv3 0.1 s unicast, v2 with auth, multicast, tcp check, nopreempt)", async () => {
    const variants: Record<string, unknown>[] = [
      {},
      { track: { type: "tcp", port: 80 }, nopreempt: true, advertInt: 0.05 },
      { vrrpVersion: 2, advertInt: 2 },
      { unicast: false, advertInt: 0.3 },
    ];
    for (const v of variants) {
      const confs = await renderFor(v, { ...CLUSTER, edgeVIP: { vip: "198.18.10.100", interface: "edge0", prefix: 24 } });
      for (const [name, text] of Object.entries(confs)) {
        const file = join(tmp, `keepalived-${name}.conf`);
        writeFileSync(file, text);
        const r = keepalivedTest(file, "edge0");
        // Exit 0 and not a word: keepalived exits 5 on warnings, and prints them (a rounded interval, ignored auth).
        expect(r.code, `${name} ${JSON.stringify(v)}: ${r.out}\n${text}`).toBe(0);
        expect(r.out.trim(), `${name} ${JSON.stringify(v)}`).toBe("");
      }
    }
    // The check bites: a password keepalived would truncate (exit 5) is refused by the schema first...
    const b = loadLocal("keepalived-edge");
    expect(schemaErrors(b, { authPass: "much-too-long" }).join()).toContain("/authPass");
    // ...and keepalived itself refuses a file for an interface the host does not have.
    const confs = await renderFor({}, { ...CLUSTER, edgeVIP: { vip: "198.18.10.100", interface: "nosuch0" } });
    const file = join(tmp, "keepalived-bad.conf");
    writeFileSync(file, confs.edge1!);
    expect(keepalivedTest(file, "edge0").code).not.toBe(0);
  });

  it("a value that would inject keepalived syntax is refused at render, naming the bundle, template and value", () => {
    const b = loadLocal("keepalived-edge");
    const values = resolveValues(b, GENERATED["keepalived-edge"]!, "inventory.yaml");
    const injection = 'eth0\n}\nvrrp_script pwn {\n script "/bin/touch /tmp/pwned"\n';
    // The inventory loader refuses such an interface already; the template refuses it too, whatever the source.
    const render = (edgeVIP: NonNullable<RenderContext["cluster"]["edgeVIP"]>, cluster = CLUSTER) => () => renderHosts(b, ctxFor(b, values, { ...cluster, edgeVIP }));
    // The vrrp_instance filter passes every text argument through confval, naming the argument.
    expect(render({ vip: "198.18.10.100", interface: injection })).toThrow(
      /^add-on keepalived-edge: templates\/keepalived\.conf:\d+:\d+: confval: vrrp_instance interface = "eth0\\n}\\nvrrp_script pwn \{\\n script \\"\/bin\/touch \/tmp\/pwned\\"\\n" holds a line break/,
    );
    expect(render({ vip: "198.18.10.100", interface: "eth0 dev lo" })).toThrow(/vrrp_instance interface = "eth0 dev lo" holds a blank/);
    expect(render({ vip: "198.18.10.100\n}", interface: "eth0" })).toThrow(/vrrp_instance vip = .* holds a line break/);
    // ...then the renderer checks the form: a plain word that is no IPv4 address is refused too.
    expect(render({ vip: "not-an-ip", interface: "eth0" })).toThrow(/keepalived vip "not-an-ip" must be an IPv4 address/);
    const badHost = { ...CLUSTER, hosts: CLUSTER.hosts.map((h) => (h.name === "edge2" ? { ...h, address: '198.18.10.12"; touch /x' } : h)) };
    expect(render(CLUSTER.edgeVIP!, badHost)).toThrow(/confval: h\.address = .* holds '"'/);
    // Values the bundle's schema lets through still cannot smuggle syntax past confval.
    let message = "";
    try {
      renderHosts(b, ctxFor(b, { ...values, vrrpVersion: 2, advertInt: 1, authPass: "a}b" }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^add-on keepalived-edge: templates\/keepalived\.conf:\d+:\d+: confval: vrrp_instance authPass = "a}b" holds '}'/);
  });

  it("the VRRP password has no default and must be keepalived-safe", () => {
    const b = loadLocal("keepalived-edge");
    expect("authPass" in b.defaults).toBe(false);
    expect(schemaErrors(b, {}).join()).toContain("authPass");
    expect(schemaErrors(b, { authPass: "has space" })).not.toEqual([]);
    expect(schemaErrors(b, { authPass: "a#b" })).not.toEqual([]);
    expect(schemaErrors(b, { authPass: "Kx7pQ2wZ", vrrpVersion: 2, advertInt: 0.5 }).join()).toContain("/advertInt");
    expect(schemaErrors(b, { authPass: "Kx7pQ2wZ", track: { type: "icmp" } }).join()).toContain("/track/type");
  });
});

// ---------------------------------------------------------------------------------------------------------
// hello
// ---------------------------------------------------------------------------------------------------------

describe("hello", () => {
  it("off by default; scraped by Prometheus, logs to a host directory, routed by Traefik", async () => {
    const b = loadLocal("hello");
    expect(b.manifest.enabledByDefault).toBe(false);
    expect(b.manifest.namespace).toBe("hello");
    const objs = await renderObjects("hello");
    const dep = find(objs, "Deployment", "hello");
    const ann = podAnnotations(dep);
    expect(ann).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" });
    const spec = podSpec(dep);
    const c = spec.containers[0]!;
    expect(c.ports?.find((p) => p.name === "http")?.containerPort).toBe(Number(ann["prometheus.io/port"]));
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 100, readOnlyRootFilesystem: true });
    expect(c.args?.join(" ")).toMatch(/tee -a \/logs\/hello\.log/);
    expect(c.args?.join(" ")).toMatch(/exec \.\/podinfo .*--level=debug/);
    const logs = spec.volumes?.find((v) => v.name === "logs");
    expect(logs?.hostPath?.path).toBe("/var/log/apps/hello");
    // The log directory lies under filebeat's default application directory.
    expect(String(logs?.hostPath?.path).startsWith(`${String(loadLocal("filebeat").defaults.appLogDir)}/`)).toBe(true);
    const init = spec.initContainers?.[0];
    expect(init?.securityContext?.capabilities).toEqual({ drop: ["ALL"], add: ["CHOWN"] });

    const ing = find(objs, "Ingress", "hello") as KubeObject & { spec: { ingressClassName: string; rules: { host: string; http: { paths: { backend: { service: { name: string } } }[] } }[] } };
    expect(ing.spec.ingressClassName).toBe("traefik");
    expect(ing.spec.rules[0]?.host).toBe("hello.example.test");
    expect(ing.spec.rules[0]?.http.paths[0]?.backend.service.name).toBe("hello");
    find(objs, "Service", "hello");
    expect(nodePorts(objs)).toEqual({});

    const other = await renderObjects("hello", { host: "demo.lab.test" });
    expect((find(other, "Ingress").spec as { rules: { host: string }[] }).rules[0]?.host).toBe("demo.lab.test");
    expect(schemaErrors(b, { host: "Not A Host" }).join()).toContain("/host");
  });

  it("the annotated pod matches the prometheus bundle's pods job (annotation names it keeps on)", async () => {
    const cfg = configData(await renderObjects("prometheus"), "prometheus-config", "prometheus.yml");
    const pods = (parseYaml(cfg) as { scrape_configs: { job_name: string; relabel_configs: { source_labels?: string[]; regex?: string; action?: string }[] }[] }).scrape_configs.find((j) => j.job_name === "pods")!;
    const keep = pods.relabel_configs.find((r) => r.action === "keep")!;
    const ann = podAnnotations(find(await renderObjects("hello"), "Deployment", "hello"));
    const metaName = (k: string) => `__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9]/g, "_")}`;
    expect(keep.source_labels).toEqual([metaName("prometheus.io/scrape")]);
    expect(new RegExp(`^(?:${keep.regex})$`).test(ann["prometheus.io/scrape"]!)).toBe(true);
  });
});
